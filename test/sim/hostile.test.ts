/**
 * Hostile nodes in the simulator (src/sim/hostile.ts) and what disjoint lookups do against them
 * (PROTOCOL.md 11.5). Small overlays with fixed seeds: each figure is a pure function of the seed.
 */
import { describe, expect, it } from 'vitest';
import type { Contact } from '../../src/overlay/contact.js';
import { resourceId } from '../../src/overlay/peer-id.js';
import { SeededRandom } from '../../src/overlay/random.js';
import { Accomplices, minedId, SimRecordPolicy } from '../../src/sim/hostile.js';
import { Simulation, type SimulationOptions } from '../../src/sim/simulation.js';

function run(options: Partial<SimulationOptions>) {
  return new Simulation({ nodes: 300, seed: 2, lookups: 400, records: 300, ...options }).run();
}

describe('hostile simulator parts', () => {
  it('accomplices: the k hostile nodes closest to a target by XOR, as a brute force finds them', () => {
    const random = new SeededRandom(7);
    const accomplices = new Accomplices();
    const all: Contact[] = [];
    for (let i = 0; i < 500; i++) {
      const contact = { id: random.bits(160), address: `h${i}` };
      all.push(contact);
      accomplices.add(contact);
    }
    accomplices.remove(all[3]!);
    const live = all.filter((c) => c !== all[3]);
    for (let i = 0; i < 50; i++) {
      const target = random.bits(160);
      const exclude = live[i]!.id;
      const expected = live
        .filter((c) => c.id !== exclude)
        .sort((a, b) => ((a.id ^ target) < (b.id ^ target) ? -1 : 1))
        .slice(0, 20);
      expect(accomplices.closest(target, 20, exclude)).toEqual(expected);
    }
  });

  it('the record policy believes only bindings its publishers made: a forged, altered or unproven one fails', () => {
    const policy = new SimRecordPolicy(Buffer.from('overlay key of the run'));
    const key = resourceId('sip:alice@sim.kadsip.invalid');
    const value = 'sip:alice@192.0.2.1:5060';
    const proof = policy.proof(key, value);
    expect(policy.acceptFetched(key, { value, ttlMs: 1, proof })).toBe(true);
    expect(policy.acceptFetched(key, { value: 'sip:alice@203.0.113.66:5060', ttlMs: 1, proof })).toBe(false);
    expect(policy.acceptFetched(resourceId('sip:bob@sim.kadsip.invalid'), { value, ttlMs: 1, proof })).toBe(false);
    expect(policy.acceptFetched(key, { value, ttlMs: 1 })).toBe(false);
    expect(new SimRecordPolicy(Buffer.from('another key')).acceptFetched(key, { value, ttlMs: 1, proof })).toBe(false);
  });

  it('a mined Peer-ID is as close to its key as the best of that many tries', () => {
    const random = new SeededRandom(3);
    const key = random.bits(160);
    const distances = Array.from({ length: 200 }, () => Number((minedId(key, 65_536, random) ^ key) >> 100n) / 2 ** 60);
    const mean = distances.reduce((a, b) => a + b, 0) / distances.length;
    expect(mean).toBeGreaterThan(0.5 / 65_536);
    expect(mean).toBeLessThan(2 / 65_536);
  });
});

describe('lookups among hostile nodes', () => {
  it('misroute at 30 %: some lookups fail over one path; over 3 disjoint paths every one succeeds', async () => {
    const one = await run({ malicious: 0.3, attack: 'misroute', config: { disjointPaths: 1 } });
    const three = await run({ malicious: 0.3, attack: 'misroute', config: { disjointPaths: 3 } });
    expect(one).toMatchObject({ malicious_ratio: 0.3, attack: 'misroute', disjoint: 1, forged_accepted: 0 });
    expect(one.success_ratio).toBeLessThan(1);
    expect(three).toMatchObject({ disjoint: 3, success_ratio: 1, forged_accepted: 0 });
    expect(three.msgs_per_lookup).toBeGreaterThan(one.msgs_per_lookup); // what the paths cost
  });

  it('forge: forged answers are dropped and the lookup goes on to the genuine binding; none is ever believed', async () => {
    const report = await run({ malicious: 0.2, attack: 'forge', config: { disjointPaths: 1 } });
    expect(report.forged_dropped_per_lookup).toBeGreaterThan(0);
    expect(report.forged_accepted).toBe(0);
    expect(report.success_ratio).toBe(1);
  });

  it('drop: the silent nodes hold nothing, and the lookups find every record on the honest replicas', async () => {
    const sim = new Simulation({ nodes: 300, seed: 2, lookups: 400, records: 300, malicious: 0.2, attack: 'drop' });
    const report = await sim.run();
    const hostile = sim.livePeers.filter((p) => p.hostile);
    expect(hostile.length).toBe(60);
    expect(hostile.every((p) => p.node.heldKeys().length === 0)).toBe(true);
    expect(report).toMatchObject({ hostile_nodes_end: 60, success_ratio: 1, forged_accepted: 0 });
  });

  it('eclipse: mined Peer-IDs take most of the k closest places of each victim key', async () => {
    const sim = new Simulation({ nodes: 300, seed: 2, lookups: 0, records: 300, malicious: 0.2, attack: 'eclipse' });
    await sim.build();
    expect(sim.report().eclipse_victims).toBe(3); // 60 hostile nodes, k = 20 per victim
    for (let i = 0; i < 3; i++) {
      const key = resourceId(`sip:user${i}@sim.kadsip.invalid`);
      const closest = [...sim.livePeers].sort((a, b) => ((a.contact.id ^ key) < (b.contact.id ^ key) ? -1 : 1)).slice(0, 20);
      expect(closest.filter((p) => p.hostile).length).toBeGreaterThanOrEqual(15);
    }
  });

  it('without hostile nodes the report says so', async () => {
    const report = await run({ nodes: 100, lookups: 50, records: 100 });
    expect(report).toMatchObject({ malicious_ratio: 0, attack: null, hostile_nodes_end: 0, forged_accepted: 0, forged_dropped_per_lookup: 0 });
  });
});
