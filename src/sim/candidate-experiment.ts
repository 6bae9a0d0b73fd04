/**
 * draft-jiang section 3.3.3 for Kademlia: with a share f of nodes willing to serve STUN, how often
 * does a lookup that asks for candidates (DHT-Candidates-Wanted: 10, piggybacked on FIND_VALUE)
 * come back with at least one, how many does it bring, and how evenly are the candidates used?
 * A discovery is what the asker receives for one lookup: the candidates of every answer to its
 * requests, including the answers still in flight when a FIND_VALUE's value arrived (the node
 * keeps those too); `success_at_value` is the share counted at the value alone.
 *
 * Load is modelled as the protocol sees it. A willing peer counts the clients that use its STUN
 * service (RecentClients, as the real server does) and advertises the count on every message it
 * sends or answers; everyone else knows the figure it last heard from that peer, as stale as that.
 * An asker that chose a candidate sends it a STUN Binding, which reaches it one one-way delay later
 * and raises its count from then on. With `probe` n > 0 the asker first sends a load query (STUN
 * Binding with KADSIP-LOAD, src/nat/stun) to n candidates of the best priority, waits for the
 * answers (one RTT each, in parallel; each carries the count when the query arrived) and takes the
 * least loaded; a query is not counted as a use. With `probe` 0 it chooses by the advertised
 * figures alone (chooseCandidate). Nothing reads a figure the asker could not have received.
 */
import type { Candidate } from '../overlay/messages.js';
import { chooseCandidate, leastLoaded, probeOrder } from '../overlay/candidates.js';
import type { LookupResult } from '../overlay/lookup.js';
import { Simulation, type SimPeer } from './simulation.js';

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
  /** Candidates asked for their current load before choosing (0: choose by advertised figures). */
  probe?: number;
  /** Virtual time over which the discoveries are spread; default 60 s. */
  windowMs?: number;
}

export interface CandidateReport {
  nodes: number;
  f: number;
  willing: number;
  discoveries: number;
  success_ratio: number;
  candidates_mean: number;
  candidates_min: number;
  /** Most picks of one candidate over the mean picks per willing node (picks made, not discoveries). */
  load_spread: number;
  /**
   * FIND_VALUE: the success ratio counted when the value arrived, without the candidates of the
   * answers still in flight then (which the node receives and keeps a moment later).
   */
  success_at_value?: number;
  /** Share of the willing nodes that were picked at least once. */
  used_ratio: number;
  seed: number;
  carrier: 'find_value' | 'find_node';
  probe: number;
  window_s: number;
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
  const servers = new Map<string, SimPeer>();
  for (const p of sim.livePeers) if (p.contact.stun && p.clients && !servers.has(p.contact.stun)) servers.set(p.contact.stun, p);
  const carrier = options.carrier ?? 'find_value';
  const probe = options.probe ?? 0;
  const windowMs = options.windowMs ?? 60_000;
  const counts: number[] = [];
  /** FIND_VALUE: candidates in hand when the value arrived (answers still in flight not yet in). */
  const countsAtValue: number[] = [];
  const picks = new Map<string, number>();
  const records = sim.publishedRecords.filter((r) => r.stored);
  let started = 0;
  let finished = 0;
  /** The asker binds to its chosen server: counted there when the request arrives. */
  const use = (asker: SimPeer, chosen: Candidate): void => {
    picks.set(chosen.stun, (picks.get(chosen.stun) ?? 0) + 1);
    const server = servers.get(chosen.stun);
    if (server) sim.queue.schedule(sim.latencyMs(asker.contact.address, server.contact.address), () => server.clients!.note(asker.contact.address, sim.now));
  };
  /** Load queries to the probed candidates, in parallel; the least loaded answer wins. */
  const probeAndUse = (asker: SimPeer, received: Candidate[]): void => {
    const probed = probeOrder(received, sim.rng, probe);
    const answers: Candidate[] = [];
    let pending = probed.length;
    for (const candidate of probed) {
      const server = servers.get(candidate.stun);
      const oneWay = server ? sim.latencyMs(asker.contact.address, server.contact.address) : 0;
      sim.queue.schedule(oneWay, () => {
        const load = server?.clients?.count(sim.now);
        sim.queue.schedule(oneWay, () => {
          answers.push(load === undefined ? candidate : { ...candidate, load });
          if (--pending === 0) use(asker, leastLoaded(answers, sim.rng)!);
        });
      });
    }
  };
  for (let i = 0; i < options.discoveries; i++) {
    sim.queue.schedule(sim.rng.next() * windowMs, () => {
      const asker = sim.livePeers[sim.rng.int(sim.livePeers.length)];
      // A record the asker holds itself is answered locally and asks nobody: not a discovery.
      let record = records[sim.rng.int(records.length)];
      for (let tries = 0; tries < 10 && record && asker?.node.holds(record.key, sim.now); tries++) record = records[sim.rng.int(records.length)];
      if (!asker || !record || asker.node.holds(record.key, sim.now)) return;
      started++;
      // The asker itself, when willing, is never offered to itself; a local hit asks nobody.
      const receivedBy = (result: LookupResult): Candidate[] => (result.candidates ?? []).filter((c) => c.stun !== asker.contact.stun);
      const settled = (result: LookupResult): void => {
        finished++;
        const received = receivedBy(result);
        counts.push(received.length);
        if (received.length === 0) return;
        if (probe > 0) probeAndUse(asker, received);
        else use(asker, chooseCandidate(received, sim.rng)!);
      };
      if (carrier === 'find_node') asker.node.findNode(sim.rng.bits(160), settled);
      else asker.node.findValue(record.key, (result) => countsAtValue.push(receivedBy(result).length), settled);
    });
  }
  const deadline = sim.now + 10 * 60_000;
  await sim.queue.runSliced(sim.now + windowMs + 1);
  sim.queue.runUntil(() => finished === started, deadline);
  // Let the last load queries and Bindings arrive (a few RTTs).
  await sim.queue.runSliced(sim.now + 5_000);
  const successes = counts.filter((c) => c > 0).length;
  // Mean over the picks made: a discovery that brought no candidate loads nobody.
  const meanPicks = willing === 0 ? 0 : [...picks.values()].reduce((a, b) => a + b, 0) / willing;
  const maxPicks = Math.max(0, ...picks.values());
  const round = (v: number): number => Math.round(v * 1000) / 1000;
  return {
    nodes: options.nodes,
    f: options.f,
    willing,
    discoveries: counts.length,
    success_ratio: counts.length === 0 ? 0 : round(successes / counts.length),
    ...(carrier === 'find_value' && countsAtValue.length > 0 ? { success_at_value: round(countsAtValue.filter((c) => c > 0).length / countsAtValue.length) } : {}),
    candidates_mean: round(counts.reduce((a, b) => a + b, 0) / Math.max(1, counts.length)),
    candidates_min: counts.length === 0 ? 0 : Math.min(...counts),
    load_spread: meanPicks === 0 ? 0 : round(maxPicks / meanPicks),
    used_ratio: willing === 0 ? 0 : round(picks.size / willing),
    seed: options.seed,
    carrier,
    probe,
    window_s: windowMs / 1000,
  };
}
