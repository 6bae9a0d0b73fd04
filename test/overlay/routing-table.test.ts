import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Contact } from '../../src/overlay/contact.js';
import { bucketIndex, ID_MAX, type NodeId } from '../../src/overlay/id.js';
import { RoutingTable } from '../../src/overlay/routing-table.js';

const contact = (id: NodeId): Contact => ({ id, address: `h${id.toString(16)}:5060` });
const K = 4;
const CACHE = 2;

/** Contacts in the same bucket (159) of self = 0: top bit set, the rest chosen. */
const far = (low: number): Contact => contact((1n << 159n) | BigInt(low));

function checkInvariants(table: RoutingTable, self: NodeId): void {
  const seen = new Set<NodeId>();
  let total = 0;
  for (let i = 0; i < 160; i++) {
    const bucket = table.bucketContents(i);
    expect(bucket.length).toBeLessThanOrEqual(K);
    for (const c of bucket) {
      expect(bucketIndex(self, c.id)).toBe(i);
      expect(c.id).not.toBe(self);
      expect(seen.has(c.id)).toBe(false);
      seen.add(c.id);
    }
    const replacements = table.replacementContents(i);
    expect(replacements.length).toBeLessThanOrEqual(CACHE);
    for (const r of replacements) expect(bucket.some((c) => c.id === r.id)).toBe(false);
    total += bucket.length;
  }
  expect(table.size).toBe(total);
}

describe('RoutingTable', () => {
  it('keeps least-recently-seen order and asks to ping the oldest when full', () => {
    const table = new RoutingTable(0n, K, CACHE, 0);
    for (let i = 1; i <= K; i++) expect(table.observe(far(i), i).kind).toBe('added');
    expect(table.bucketContents(159).map((c) => Number(c.id & 0xffn))).toEqual([1, 2, 3, 4]);
    expect(table.observe(far(2), 10).kind).toBe('updated');
    expect(table.bucketContents(159).map((c) => Number(c.id & 0xffn))).toEqual([1, 3, 4, 2]);
    const full = table.observe(far(9), 11);
    expect(full).toEqual({ kind: 'full', oldest: far(1) });
    expect(table.has(far(9).id)).toBe(false);
    expect(table.replacementContents(159).map((c) => c.id)).toEqual([far(9).id]);
  });

  it('evicts a dead oldest contact for the most recent replacement, alive ones stay', () => {
    const table = new RoutingTable(0n, K, CACHE, 0);
    for (let i = 1; i <= K; i++) table.observe(far(i), i);
    table.observe(far(8), 5);
    table.observe(far(9), 6);
    table.markAlive(far(1), 7); // the pinged oldest answered: it moves to the tail
    expect(table.bucketContents(159).at(-1)!.id).toBe(far(1).id);
    expect(table.remove(far(3).id)).toBe(true); // the ping failed
    expect(table.has(far(9).id)).toBe(true); // most recent replacement promoted
    expect(table.has(far(8).id)).toBe(false);
    expect(table.size).toBe(K);
  });

  it('drops a contact only after maxFailures consecutive failures', () => {
    const table = new RoutingTable(0n, K, CACHE, 0);
    table.observe(far(1), 0);
    expect(table.markFailed(far(1).id, 2)).toBe(false);
    table.observe(far(1), 1); // an answer resets the count
    expect(table.markFailed(far(1).id, 2)).toBe(false);
    expect(table.markFailed(far(1).id, 2)).toBe(true);
    expect(table.has(far(1).id)).toBe(false);
  });

  it('bounds the replacement cache', () => {
    const table = new RoutingTable(0n, K, CACHE, 0);
    for (let i = 1; i <= K + 10; i++) table.observe(far(i), i);
    expect(table.replacementContents(159).map((c) => Number(c.id & 0xffn))).toEqual([K + 9, K + 10]);
  });

  it('never holds itself', () => {
    const table = new RoutingTable(5n, K, CACHE, 0);
    expect(table.observe(contact(5n), 0).kind).toBe('self');
    expect(table.size).toBe(0);
  });

  const op = fc.oneof(
    fc.record({ kind: fc.constant('observe' as const), id: fc.bigInt({ min: 0n, max: ID_MAX }) }),
    // Small IDs too, so buckets fill up and overflow.
    fc.record({ kind: fc.constant('observe' as const), id: fc.bigInt({ min: 0n, max: 63n }) }),
    fc.record({ kind: fc.constant('fail' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('remove' as const), pick: fc.nat() }),
  );

  it('keeps its invariants under any sequence of operations (property)', () => {
    fc.assert(
      fc.property(fc.bigInt({ min: 0n, max: 63n }), fc.array(op, { maxLength: 200 }), (self, ops) => {
        const table = new RoutingTable(self, K, CACHE, 0);
        const known: NodeId[] = [];
        ops.forEach((o, t) => {
          if (o.kind === 'observe') {
            table.observe(contact(o.id), t);
            known.push(o.id);
          } else if (known.length > 0) {
            const id = known[o.pick % known.length]!;
            if (o.kind === 'fail') table.markFailed(id, 2);
            else table.remove(id);
          }
          checkInvariants(table, self);
        });
      }),
    );
  });

  it('returns exactly the n closest contacts, closest first (property, against brute force)', () => {
    fc.assert(
      fc.property(
        fc.bigInt({ min: 0n, max: ID_MAX }),
        fc.array(fc.bigInt({ min: 0n, max: ID_MAX }), { maxLength: 300 }),
        fc.array(fc.bigInt({ min: 0n, max: 255n }), { maxLength: 30 }),
        fc.oneof(fc.bigInt({ min: 0n, max: ID_MAX }), fc.bigInt({ min: 0n, max: 255n })),
        fc.integer({ min: 1, max: 25 }),
        (self, ids, nearIds, target, n) => {
          const table = new RoutingTable(self, 20, 4, 0);
          for (const id of [...ids, ...nearIds.map((x) => self ^ x)]) table.observe(contact(id), 0);
          const all = [...table.all()];
          const expected = all.sort((a, b) => ((a.id ^ target) < (b.id ^ target) ? -1 : 1)).slice(0, n);
          expect(table.closest(target, n).map((c) => c.id)).toEqual(expected.map((c) => c.id));
          expect(table.closest(self, n).map((c) => c.id)).toEqual(
            [...table.all()].sort((a, b) => ((a.id ^ self) < (b.id ^ self) ? -1 : 1)).slice(0, n).map((c) => c.id),
          );
          const excluded = expected[0]?.id;
          if (excluded !== undefined) expect(table.closest(target, n, excluded).map((c) => c.id)).not.toContain(excluded);
        },
      ),
    );
  });

  it('reports idle buckets from the k-th closest neighbour outward', () => {
    const table = new RoutingTable(0n, 2, CACHE, 0);
    table.observe(contact(1n), 0); // bucket 0: a neighbour on the same IP, say
    table.observe(contact(1n << 100n), 0);
    table.observe(contact(1n << 150n), 0);
    // k = 2: the 2nd closest is in bucket 100 and the farthest known in 150: buckets 100..150.
    expect(table.idleBuckets(1000, 500)).toEqual(Array.from({ length: 51 }, (_, i) => 100 + i));
    table.touch(120, 900);
    expect(table.idleBuckets(1000, 500)).not.toContain(120);
    const small = new RoutingTable(0n, 2, CACHE, 0);
    small.observe(contact(1n << 150n), 0);
    expect(small.idleBuckets(1000, 500)).toEqual([]); // fewer than k known: nothing to refresh
  });
});
