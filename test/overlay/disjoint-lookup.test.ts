import { describe, expect, it } from 'vitest';
import type { Contact } from '../../src/overlay/contact.js';
import { DisjointLookup } from '../../src/overlay/disjoint-lookup.js';
import { Lookup } from '../../src/overlay/lookup.js';
import type { Binding } from '../../src/overlay/messages.js';

const c = (id: number): Contact => ({ id: BigInt(id), address: `n${id}` });
const genuine = (b: Binding): boolean => b.proof === 'good';

describe('DisjointLookup (S/Kademlia disjoint paths)', () => {
  it('deals the starting contacts among the paths, closest first, round robin', () => {
    const lookup = new DisjointLookup(0n, 'node', 1000n, 2, 1, 10, 3);
    lookup.add([c(6), c(1), c(5), c(2), c(4), c(3)], 1);
    // Alpha 1 per path: each path asks its closest, paths 1, 2, 3 hold {1, 4}, {2, 5}, {3, 6}.
    expect(lookup.next().map((q) => q.contact.id)).toEqual([1n, 2n, 3n]);
    lookup.onAnswer(1n, { kind: 'nodes', contacts: [] });
    expect(lookup.next().map((q) => q.contact.id)).toEqual([4n]);
  });

  it('never asks a peer twice: a contact named to one path that another path asked is skipped', () => {
    const lookup = new DisjointLookup(0n, 'node', 1000n, 3, 1, 10, 2);
    lookup.add([c(10), c(20)], 1);
    expect(lookup.next().map((q) => q.contact.id)).toEqual([10n, 20n]);
    // Path 2 (asked 20) hears of 10, which path 1 asked already, and of 7, which nobody asked.
    lookup.onAnswer(20n, { kind: 'nodes', contacts: [c(10), c(7)] });
    lookup.onAnswer(10n, { kind: 'nodes', contacts: [c(7), c(8)] });
    const asked = lookup.next().map((q) => q.contact.id);
    // 7 goes to one path only (path 1 takes it first: it deals first); path 2 has nothing left.
    expect(asked).toEqual([7n]);
    lookup.onAnswer(7n, { kind: 'nodes', contacts: [] });
    expect(lookup.next().map((q) => q.contact.id)).toEqual([8n]);
    lookup.onAnswer(8n, { kind: 'nodes', contacts: [] });
    expect(lookup.next()).toEqual([]);
    expect(lookup.done).toBe(true);
    const result = lookup.result();
    expect(result.rpcs).toBe(4); // 10, 20, 7, 8: each once
    expect(result.closest.map((x) => x.id)).toEqual([7n, 8n, 10n]); // merged over both paths, k = 3
  });

  it('one path fed only by a lying peer does not mislead the other: the value comes through the honest path', () => {
    const lookup = new DisjointLookup(0n, 'value', 1000n, 20, 1, 60, 2, genuine);
    lookup.add([c(40), c(50)], 1);
    expect(lookup.next().map((q) => q.contact.id)).toEqual([40n, 50n]);
    // 40 is hostile: it names only its accomplices (which then stay silent).
    lookup.onAnswer(40n, { kind: 'nodes', contacts: [c(41), c(42)] });
    lookup.onAnswer(50n, { kind: 'nodes', contacts: [c(3)] });
    expect(lookup.next().map((q) => q.contact.id)).toEqual([41n, 3n]);
    lookup.onAnswer(3n, { kind: 'value', bindings: [{ value: 'sip:alice@a', ttlMs: 1, proof: 'good' }] });
    expect(lookup.done).toBe(true);
    expect(lookup.result()).toMatchObject({ bindings: [{ value: 'sip:alice@a' }], valueFrom: c(3), rounds: 2 });
  });

  it('drops forged bindings and goes on; the forger holds no place among the closest', () => {
    const lookup = new DisjointLookup(0n, 'value', 1000n, 20, 1, 60, 2, genuine);
    lookup.add([c(4), c(9)], 1);
    lookup.next();
    lookup.onAnswer(4n, { kind: 'value', bindings: [{ value: 'sip:alice@evil', ttlMs: 1, proof: 'made-up' }] });
    expect(lookup.done).toBe(false);
    lookup.onAnswer(9n, { kind: 'value', bindings: [{ value: 'sip:alice@evil', ttlMs: 1 }, { value: 'sip:alice@a', ttlMs: 1, proof: 'good' }] });
    expect(lookup.done).toBe(true);
    const result = lookup.result();
    expect(result.bindings.map((b) => b.value)).toEqual(['sip:alice@a']);
    expect(result.forged).toBe(2);
    expect(result.closest.map((x) => x.id)).toEqual([9n]);
  });
});

describe('Lookup with a record policy (one path)', () => {
  it('a forged value answer is as good as none: the lookup asks on and ends with nothing when nobody has the genuine one', () => {
    const lookup = new Lookup(0n, 'value', 1000n, 20, 1, 60, { accept: genuine });
    lookup.add([c(2), c(5)], 1);
    lookup.next();
    lookup.onAnswer(2n, { kind: 'value', bindings: [{ value: 'sip:alice@evil', ttlMs: 1 }] });
    expect(lookup.done).toBe(false);
    expect(lookup.next().map((q) => q.contact.id)).toEqual([5n]);
    lookup.onAnswer(5n, { kind: 'not-found', contacts: [] });
    expect(lookup.done).toBe(true);
    expect(lookup.result()).toMatchObject({ bindings: [], forged: 1, closest: [c(5)] });
  });
});

describe('DisjointLookup and stalled queries', () => {
  it('a FIND_NODE ends once k contacts answered over all paths and the rest wait only on stalled queries', () => {
    const lookup = new DisjointLookup(0n, 'node', 1000n, 2, 1, 10, 3);
    lookup.add([c(1), c(2), c(3)], 1);
    expect(lookup.next().map((q) => q.contact.id)).toEqual([1n, 2n, 3n]);
    expect(lookup.onStall(1n)).toBe(true);
    lookup.onAnswer(2n, { kind: 'nodes', contacts: [] });
    expect(lookup.done).toBe(false); // one answer of k = 2
    lookup.onAnswer(3n, { kind: 'nodes', contacts: [] });
    expect(lookup.done).toBe(true);
    expect(lookup.result().closest.map((x) => x.id)).toEqual([2n, 3n]);
  });

  it('a FIND_VALUE waits for a stalled query: it may bring the value', () => {
    const lookup = new DisjointLookup(0n, 'value', 1000n, 2, 1, 10, 3);
    lookup.add([c(1), c(2), c(3)], 1);
    lookup.next();
    lookup.onStall(1n);
    lookup.onAnswer(2n, { kind: 'not-found', contacts: [] });
    lookup.onAnswer(3n, { kind: 'not-found', contacts: [] });
    expect(lookup.done).toBe(false);
    lookup.onAnswer(1n, { kind: 'value', bindings: [{ value: 'v', ttlMs: 1 }] });
    expect(lookup.done).toBe(true);
    expect(lookup.result().valueFrom).toEqual(c(1));
  });
});
