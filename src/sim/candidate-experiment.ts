/**
 * draft-jiang section 3.3.3 for Kademlia: with a share f of nodes willing to serve STUN, how often
 * does a lookup that asks for candidates (DHT-Candidates-Wanted: 10, piggybacked on FIND_VALUE)
 * come back with at least one, how many does it bring, and how evenly are the candidates used?
 */
import { chooseCandidate } from '../overlay/candidates.js';
import type { LookupResult } from '../overlay/lookup.js';
import { Simulation } from './simulation.js';

export interface CandidateExperimentOptions {
  nodes: number;
  /** Share of nodes willing to serve STUN. */
  f: number;
  discoveries: number;
  seed: number;
  candidatesWanted: number;
  /**
   * The traffic the request for candidates rides on: FIND_VALUE (a call's lookup; it stops at the
   * first value, so few peers answer) or FIND_NODE (maintenance: a bucket refresh asks until the k
   * closest have answered).
   */
  carrier?: 'find_value' | 'find_node';
}

export interface CandidateReport {
  nodes: number;
  f: number;
  willing: number;
  discoveries: number;
  success_ratio: number;
  candidates_mean: number;
  candidates_min: number;
  /** Most picks of one candidate over the mean picks per willing node. */
  load_spread: number;
  /** Share of the willing nodes that were picked at least once. */
  used_ratio: number;
  seed: number;
  carrier: 'find_value' | 'find_node';
}

export async function runCandidateExperiment(options: CandidateExperimentOptions): Promise<CandidateReport> {
  const sim = new Simulation({
    nodes: options.nodes,
    seed: options.seed,
    willingFraction: options.f,
    records: Math.min(options.nodes, 2000),
    lookups: 0,
    config: { candidatesWanted: options.candidatesWanted },
  });
  await sim.build();
  await sim.publishRecords();
  const willing = sim.livePeers.filter((p) => p.contact.stun).length;
  const carrier = options.carrier ?? 'find_value';
  const counts: number[] = [];
  const picks = new Map<string, number>();
  const records = sim.publishedRecords.filter((r) => r.stored);
  let started = 0;
  let finished = 0;
  for (let i = 0; i < options.discoveries; i++) {
    sim.queue.schedule(sim.rng.next() * 60_000, () => {
      const asker = sim.livePeers[sim.rng.int(sim.livePeers.length)];
      // A record the asker holds itself is answered locally and asks nobody: not a discovery.
      let record = records[sim.rng.int(records.length)];
      for (let tries = 0; tries < 10 && record && asker?.node.store.has(record.key, sim.now); tries++) record = records[sim.rng.int(records.length)];
      if (!asker || !record || asker.node.store.has(record.key, sim.now)) return;
      started++;
      const done = (result: LookupResult): void => {
        finished++;
        // The asker itself, when willing, is never offered to itself; a local hit asks nobody.
        const received = (result.candidates ?? []).filter((c) => c.stun !== asker.contact.stun);
        counts.push(received.length);
        const chosen = chooseCandidate(received, sim.rng, result.candidateOffers);
        if (chosen) picks.set(chosen.stun, (picks.get(chosen.stun) ?? 0) + 1);
      };
      if (carrier === 'find_node') asker.node.findNode(sim.rng.bits(160), done);
      else asker.node.findValue(record.key, done);
    });
  }
  const deadline = sim.now + 10 * 60_000;
  await sim.queue.runSliced(sim.now + 60_001);
  sim.queue.runUntil(() => finished === started, deadline);
  const successes = counts.filter((c) => c > 0).length;
  const meanPicks = willing === 0 ? 0 : counts.length / willing;
  const maxPicks = Math.max(0, ...picks.values());
  const round = (v: number): number => Math.round(v * 1000) / 1000;
  return {
    nodes: options.nodes,
    f: options.f,
    willing,
    discoveries: counts.length,
    success_ratio: counts.length === 0 ? 0 : round(successes / counts.length),
    candidates_mean: round(counts.reduce((a, b) => a + b, 0) / Math.max(1, counts.length)),
    candidates_min: counts.length === 0 ? 0 : Math.min(...counts),
    load_spread: meanPicks === 0 ? 0 : round(maxPicks / meanPicks),
    used_ratio: willing === 0 ? 0 : round(picks.size / willing),
    seed: options.seed,
    carrier,
  };
}
