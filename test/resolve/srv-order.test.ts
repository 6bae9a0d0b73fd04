/** RFC 2782 target selection: priority order and the weighted-random distribution (unit tests, no DNS). */
import { describe, expect, it } from 'vitest';
import { orderSrv } from '../../src/resolve/index.js';
import { scriptedRandom, seededRandom } from './helpers.js';

interface Rec {
  id: string;
  priority: number;
  weight: number;
}

const rec = (id: string, priority: number, weight: number): Rec => ({ id, priority, weight });

describe('orderSrv (RFC 2782)', () => {
  it('sorts by ascending priority, whatever the weights', () => {
    const out = orderSrv([rec('c', 30, 100), rec('a', 10, 0), rec('b', 20, 50)], () => 0.5);
    expect(out.map((r) => r.id)).toEqual(['a', 'b', 'c']);
  });

  it('draws an integer in [0, sum] and takes the first record whose running sum reaches it', () => {
    const group = [rec('a', 1, 60), rec('b', 1, 30), rec('c', 1, 10)];
    // 0.95 * 101 -> 95 -> c (running 60, 90, 100); 0.8 * 91 -> 72 -> b; then a.
    expect(orderSrv(group, scriptedRandom([0.95, 0.8, 0])).map((r) => r.id)).toEqual(['c', 'b', 'a']);
    // 0.6 * 101 -> 60 -> a (running 60 >= 60).
    expect(orderSrv(group, scriptedRandom([0.6, 0.9])).map((r) => r.id)).toEqual(['a', 'c', 'b']);
  });

  it('puts weight-0 records first in the arrangement: picked only on a draw of exactly 0', () => {
    const group = [rec('w', 1, 10), rec('z', 1, 0)];
    expect(orderSrv(group, () => 0).map((r) => r.id)).toEqual(['z', 'w']);
    expect(orderSrv(group, () => 0.5).map((r) => r.id)).toEqual(['w', 'z']);
  });

  it('all weights 0: the received order', () => {
    expect(orderSrv([rec('a', 1, 0), rec('b', 1, 0), rec('c', 1, 0)], () => 0.99).map((r) => r.id)).toEqual(['a', 'b', 'c']);
  });

  it('tolerates a random source outside [0, 1)', () => {
    const out = orderSrv([rec('a', 1, 5), rec('b', 1, 5)], scriptedRandom([1, -1, Number.NaN]));
    expect(out.map((r) => r.id).sort()).toEqual(['a', 'b']);
  });

  it('first choice is proportional to weight: (w+1)/(sum+1) for the first record, w/(sum+1) for the rest', () => {
    const group = [rec('a', 1, 60), rec('b', 1, 30), rec('c', 1, 10)];
    const random = seededRandom(12345);
    const n = 20_000;
    const first: Record<string, number> = { a: 0, b: 0, c: 0 };
    for (let i = 0; i < n; i++) {
      const id = orderSrv(group, random)[0]!.id;
      first[id] = (first[id] ?? 0) + 1;
    }
    const expected = { a: 61 / 101, b: 30 / 101, c: 10 / 101 };
    for (const id of ['a', 'b', 'c'] as const) {
      // 4 standard deviations of a binomial proportion.
      const p = expected[id];
      const tolerance = 4 * Math.sqrt((p * (1 - p)) / n);
      expect(Math.abs(first[id]! / n - p)).toBeLessThan(tolerance);
    }
  });

  it('every record appears exactly once, priority groups stay contiguous', () => {
    const random = seededRandom(7);
    const records = Array.from({ length: 12 }, (_, i) => rec(`r${i}`, i % 3, (i * 7) % 11));
    for (let k = 0; k < 200; k++) {
      const out = orderSrv(records, random);
      expect(out).toHaveLength(records.length);
      expect(new Set(out.map((r) => r.id)).size).toBe(records.length);
      expect(out.map((r) => r.priority)).toEqual([...out.map((r) => r.priority)].sort((x, y) => x - y));
    }
  });
});
