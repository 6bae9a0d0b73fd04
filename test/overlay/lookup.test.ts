import { describe, expect, it } from 'vitest';
import type { Contact } from '../../src/overlay/contact.js';
import { Lookup } from '../../src/overlay/lookup.js';

const c = (id: number): Contact => ({ id: BigInt(id), address: `n${id}` });

describe('Lookup', () => {
  it('keeps alpha queries in flight, closest first', () => {
    const lookup = new Lookup(0n, 'node', 1000n, 3, 2, 10);
    lookup.add([c(8), c(2), c(4), c(6)], 1);
    expect(lookup.next().map((q) => q.contact.id)).toEqual([2n, 4n]);
    expect(lookup.next()).toEqual([]); // alpha reached
    lookup.onAnswer(2n, { kind: 'nodes', contacts: [c(1)] });
    expect(lookup.next()).toEqual([{ contact: c(1), round: 2 }]);
  });

  it('ends when the k closest seen have answered, skipping failed ones', () => {
    const lookup = new Lookup(0n, 'node', 1000n, 2, 3, 10);
    lookup.add([c(1), c(2), c(3)], 1);
    expect(lookup.next().length).toBe(2); // only the k closest not asked yet
    lookup.onFailure(1n);
    lookup.onAnswer(2n, { kind: 'nodes', contacts: [] });
    expect(lookup.done).toBe(false);
    expect(lookup.next().map((q) => q.contact.id)).toEqual([3n]);
    lookup.onAnswer(3n, { kind: 'nodes', contacts: [] });
    expect(lookup.done).toBe(true);
    const result = lookup.result();
    expect(result.closest.map((x) => x.id)).toEqual([2n, 3n]);
    expect(result.failures).toBe(1);
    expect(result.rpcs).toBe(3);
  });

  it('stops at the first value and counts its round', () => {
    const lookup = new Lookup(0n, 'value', 1000n, 20, 3, 60);
    lookup.add([c(9)], 1);
    lookup.next();
    lookup.onAnswer(9n, { kind: 'nodes', contacts: [c(5)] });
    lookup.next();
    lookup.onAnswer(5n, { kind: 'value', bindings: [{ value: 'sip:a@b', ttlMs: 1 }] });
    expect(lookup.done).toBe(true);
    expect(lookup.result()).toMatchObject({ rounds: 2, bindings: [{ value: 'sip:a@b', ttlMs: 1 }], valueFrom: c(5) });
  });

  it('ignores itself, duplicates and answers it did not ask for, and bounds its shortlist', () => {
    const lookup = new Lookup(0n, 'node', 7n, 3, 3, 4);
    lookup.add([c(7), c(1), c(1)], 1);
    lookup.onAnswer(1n, { kind: 'nodes', contacts: [c(2)] }); // not asked yet: ignored
    expect(lookup.next().map((q) => q.contact.id)).toEqual([1n]);
    lookup.add(Array.from({ length: 50 }, (_, i) => c(100 + i)), 2);
    lookup.onAnswer(1n, { kind: 'nodes', contacts: [] });
    expect(lookup.next().map((q) => q.contact.id)).toEqual([100n, 101n]);
    // 4 entries kept at most (those answered or in flight are never dropped).
    lookup.onAnswer(100n, { kind: 'nodes', contacts: Array.from({ length: 50 }, (_, i) => c(200 + i)) });
    expect(lookup.result().closest.length).toBeLessThanOrEqual(4);
  });

  it('a stalled query frees its slot: one more is asked, and the stalled one no longer holds a place among the k', () => {
    const lookup = new Lookup(0n, 'node', 1000n, 2, 1, 10);
    lookup.add([c(1), c(2), c(3)], 1);
    expect(lookup.next().map((q) => q.contact.id)).toEqual([1n]);
    expect(lookup.next()).toEqual([]); // alpha = 1
    expect(lookup.onStall(1n)).toBe(true);
    expect(lookup.onStall(1n)).toBe(false); // once
    expect(lookup.inFlight).toBe(1);
    expect(lookup.stalled).toBe(1);
    expect(lookup.next().map((q) => q.contact.id)).toEqual([2n]);
    lookup.onAnswer(2n, { kind: 'nodes', contacts: [] });
    // 3 is inside the k = 2 window now that 1 is stalled.
    expect(lookup.next().map((q) => q.contact.id)).toEqual([3n]);
    lookup.onAnswer(3n, { kind: 'nodes', contacts: [] });
    expect(lookup.done).toBe(true); // k = 2 answered; the stalled one is not waited for
    expect(lookup.result().closest.map((x) => x.id)).toEqual([2n, 3n]);
  });

  it('a late answer from a stalled query still counts: its contacts are asked and its value ends the lookup', () => {
    const lookup = new Lookup(0n, 'value', 1000n, 20, 1, 60);
    lookup.add([c(9), c(12)], 1);
    lookup.next();
    lookup.onStall(9n);
    expect(lookup.next().map((q) => q.contact.id)).toEqual([12n]);
    lookup.onAnswer(9n, { kind: 'nodes', contacts: [c(4)] }); // late, but before the hard timeout
    expect(lookup.stalled).toBe(0);
    expect(lookup.next()).toEqual([]); // 12 still makes progress: alpha = 1
    lookup.onAnswer(12n, { kind: 'nodes', contacts: [] });
    expect(lookup.next()).toEqual([{ contact: c(4), round: 2 }]);
    lookup.onStall(4n);
    expect(lookup.done).toBe(false); // nothing else to ask: the stalled query may still bring the value
    lookup.onAnswer(4n, { kind: 'value', bindings: [{ value: 'sip:a@b', ttlMs: 1 }] });
    expect(lookup.done).toBe(true);
    expect(lookup.result()).toMatchObject({ valueFrom: c(4), rounds: 2, rpcs: 3, failures: 0 });
  });

  it('a stalled query that then fails is a failure, and ends the wait', () => {
    const lookup = new Lookup(0n, 'node', 1000n, 20, 3, 60);
    lookup.add([c(1)], 1);
    lookup.next();
    lookup.onStall(1n);
    expect(lookup.done).toBe(false);
    lookup.onFailure(1n);
    expect(lookup.inFlight).toBe(0);
    expect(lookup.done).toBe(true);
    expect(lookup.result()).toMatchObject({ closest: [], failures: 1 });
  });
});
