import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { MinHeap } from '../../src/common/min-heap.js';

describe('MinHeap', () => {
  it('pops by key, equal keys in insertion order, whatever the pushes and pops', () => {
    // A step is a push of a small key (many ties) or a pop; the model is a sorted list.
    const step = fc.oneof(fc.integer({ min: 0, max: 5 }), fc.constant<'pop'>('pop'));
    fc.assert(
      fc.property(fc.array(step, { maxLength: 200 }), (steps) => {
        const heap = new MinHeap<number>();
        const model: Array<{ key: number; id: number }> = [];
        let id = 0;
        for (const s of steps) {
          if (s === 'pop') {
            model.sort((a, b) => a.key - b.key || a.id - b.id);
            expect(heap.peekKey()).toBe(model[0]?.key);
            expect(heap.pop()).toBe(model.shift()?.id);
          } else {
            heap.push(s, id);
            model.push({ key: s, id: id++ });
          }
          expect(heap.size).toBe(model.length);
        }
      }),
    );
  });

  it('peek shows the next value without taking it; clear empties', () => {
    const heap = new MinHeap<string>();
    expect(heap.pop()).toBeUndefined();
    heap.push(2, 'b');
    heap.push(1, 'a');
    expect(heap.peek()).toBe('a');
    expect(heap.size).toBe(2);
    heap.clear();
    expect(heap.size).toBe(0);
    expect(heap.peek()).toBeUndefined();
  });
});
