import { describe, expect, it } from 'vitest';
import { CandidateTable, candidateIp, chooseCandidate, leastLoaded, MAX_CANDIDATES, probeOrder, PRIORITY_CLIENT, PRIORITY_ROUTING_STATE, PRIORITY_SELF } from '../../src/overlay/candidates.js';
import type { Contact } from '../../src/overlay/contact.js';
import type { Candidate } from '../../src/overlay/messages.js';
import { SeededRandom } from '../../src/overlay/random.js';

const peer = (i: number, willing = true): Contact => ({ id: BigInt(i), address: `10.0.0.${i}:5060`, ...(willing ? { stun: `10.0.0.${i}:3478` } : {}) });
const self: Candidate = { stun: '10.9.9.9:3478', role: 'peer', priority: PRIORITY_SELF };

describe('CandidateTable (draft-jiang 3.3.1, 4.2)', () => {
  it('offers routing state first, then itself, then its willing clients, unique by IP', () => {
    const table = new CandidateTable(() => self, new SeededRandom(1));
    table.noteClient({ id: 99n, address: '10.1.1.1:5060', stun: '10.1.1.1:3478' });
    table.noteClient({ id: 98n, address: '10.0.0.2:5070', stun: '10.0.0.2:3479' }); // same IP as a peer
    const set = table.fill(10, [], [peer(1), peer(2), peer(3, false)]);
    expect(set.map((c) => c.priority)).toEqual([PRIORITY_ROUTING_STATE, PRIORITY_ROUTING_STATE, PRIORITY_SELF, PRIORITY_CLIENT]);
    expect(new Set(set.map((c) => candidateIp(c.stun))).size).toBe(set.length);
    expect(set.map((c) => c.stun)).not.toContain('10.0.0.3:3478'); // not willing
    expect(set.find((c) => c.role === 'client')?.stun).toBe('10.1.1.1:3478');
  });

  it('tops up what the request already carries, up to N, and never offers the asker itself', () => {
    const table = new CandidateTable(() => null, new SeededRandom(1));
    const already: Candidate[] = [{ stun: '10.0.0.1:3478', role: 'peer', priority: 1 }];
    const set = table.fill(3, already, [peer(1), peer(2), peer(3), peer(4)], '10.0.0.2:3478');
    expect(set.length).toBe(3);
    expect(set[0]).toEqual(already[0]);
    expect(set.map((c) => c.stun)).not.toContain('10.0.0.2:3478');
    expect(table.fill(3, set, [peer(5)])).toEqual(set); // already full: unchanged
    expect(table.fill(1000, [], Array.from({ length: 100 }, (_, i) => peer(i + 1))).length).toBe(MAX_CANDIDATES);
  });

  it('chooses at random among equals, so the load spreads', () => {
    const table = new CandidateTable(() => null, new SeededRandom(3));
    const routing = Array.from({ length: 50 }, (_, i) => peer(i + 1));
    const seen = new Map<string, number>();
    for (let i = 0; i < 2000; i++) {
      for (const c of table.fill(1, [], routing)) seen.set(c.stun, (seen.get(c.stun) ?? 0) + 1);
    }
    expect(seen.size).toBe(50);
    expect(Math.max(...seen.values())).toBeLessThan(2.5 * (2000 / 50));
    const random = new SeededRandom(4);
    const mixed: Candidate[] = [{ stun: 'a:1', role: 'client', priority: 3 }, { stun: 'b:1', role: 'peer', priority: 1 }, { stun: 'c:1', role: 'peer', priority: 1 }];
    const chosen = new Set(Array.from({ length: 100 }, () => chooseCandidate(mixed, random)!.stun));
    expect(chosen).toEqual(new Set(['b:1', 'c:1']));
    expect(chooseCandidate([], random)).toBeUndefined();
  });

  it('prefers the less loaded within one priority, yet still spreads among them', () => {
    const table = new CandidateTable(() => null, new SeededRandom(5));
    // Ten idle candidates and ten that advertised 9 clients each: weights 1 and 1/10.
    const routing = Array.from({ length: 20 }, (_, i): Contact => ({ ...peer(i + 1), load: i < 10 ? 0 : 9 }));
    const seen = new Map<string, number>();
    for (let i = 0; i < 4000; i++) {
      for (const c of table.fill(1, [], routing)) seen.set(c.stun, (seen.get(c.stun) ?? 0) + 1);
    }
    const idle = routing.slice(0, 10).map((c) => seen.get(c.stun!) ?? 0);
    const busy = routing.slice(10).map((c) => seen.get(c.stun!) ?? 0);
    expect(idle.reduce((a, b) => a + b, 0)).toBeGreaterThan(8 * busy.reduce((a, b) => a + b, 0));
    expect(Math.min(...busy)).toBeGreaterThan(0); // stale figures must not shut anyone out
    expect(Math.max(...idle)).toBeLessThan(2 * Math.min(...idle)); // random among equals
    // The figure travels with the candidate; one that advertised none counts as the mean.
    expect(table.fill(20, [], routing).find((c) => c.stun === routing[12]!.stun)?.load).toBe(9);
  });

  it('chooses by load among the best priority only: probe order, then the least loaded', () => {
    const random = new SeededRandom(6);
    const set: Candidate[] = [
      { stun: 'a:1', role: 'client', priority: 3, load: 0 },
      { stun: 'b:1', role: 'peer', priority: 1, load: 7 },
      { stun: 'c:1', role: 'peer', priority: 1, load: 2 },
    ];
    for (let i = 0; i < 50; i++) {
      expect(probeOrder(set, random, 3).map((c) => c.stun).sort()).toEqual(['b:1', 'c:1']);
      expect(chooseCandidate(set, random)?.stun).toBe('c:1'); // two of the best priority: the idler one
    }
    expect(leastLoaded([{ stun: 'x:1', role: 'peer', priority: 1 }, { stun: 'y:1', role: 'peer', priority: 1, load: 40 }], random)?.stun).toBe('y:1');
    const ties = new Set(Array.from({ length: 50 }, () => leastLoaded([set[1]!, { ...set[1]!, stun: 'd:1' }], random)!.stun));
    expect(ties).toEqual(new Set(['b:1', 'd:1']));
  });

  it('forgets a client that withdraws and bounds how many it keeps', () => {
    const table = new CandidateTable(() => null, new SeededRandom(1));
    table.noteClient({ id: 1n, address: '10.1.1.1:5060', stun: '10.1.1.1:3478' });
    table.noteClient({ id: 1n, address: '10.1.1.1:5060' });
    expect(table.fill(5, [], [])).toEqual([]);
    for (let i = 0; i < 1000; i++) table.noteClient({ id: BigInt(i), address: `11.0.${i >> 8}.${i & 255}:5060`, stun: `11.0.${i >> 8}.${i & 255}:3478` });
    expect(table.fill(MAX_CANDIDATES, [], []).length).toBe(MAX_CANDIDATES);
  });
});
