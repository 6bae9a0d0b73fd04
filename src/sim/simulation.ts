/**
 * N overlay nodes in one process over the simulated network, in virtual time: build the overlay,
 * publish records from random nodes, then measure FIND_VALUE lookups from random live nodes while
 * nodes come and go (optional churn), optionally with a share of hostile nodes (hostile.ts).
 * Everything is drawn from one seed, so the same options give the same report (wall time and heap
 * aside).
 */
import { DEFAULT_CONFIG, hour, minute, second, type OverlayConfig } from '../overlay/constants.js';
import type { Contact } from '../overlay/contact.js';
import type { NodeId } from '../overlay/id.js';
import { OverlayNode } from '../overlay/node.js';
import { peerIdFromAddress, resourceId } from '../overlay/peer-id.js';
import { SeededRandom } from '../overlay/random.js';
import { RecentClients } from '../common/load.js';
import { quantile, weibull } from './distributions.js';
import { EventQueue } from './event-queue.js';
import { Accomplices, ECLIPSE_TRIES, hostileHandle, minedId, SimRecordPolicy, type Attack } from './hostile.js';
import { SimNetwork } from './network.js';
import { AddressPool, type SimAddress } from './population.js';
import { VirtualClock } from './virtual-clock.js';

export interface SimulationOptions {
  nodes: number;
  seed: number;
  /** Probability that a datagram is lost. */
  loss: number;
  /** Median session length in minutes; undefined: no churn. */
  churnMedianMin?: number;
  /** Weibull shape of session lengths. */
  churnShape: number;
  /** Share of departures that are crashes (the rest leave gracefully). */
  crashFraction: number;
  records: number;
  lookups: number;
  /** Virtual time between two joins while the overlay is built. */
  joinIntervalMs: number;
  /** Length of the measured phase (lookups spread over it, churn during it). */
  measureMs: number;
  recordTtlMs: number;
  /** Share of nodes willing to serve STUN (advertised as DHT-PeerID stun=IP:3478). */
  willingFraction: number;
  /** Share of the nodes that are hostile (0: none); newcomers under churn are hostile as often. */
  malicious: number;
  /** What the hostile nodes do (hostile.ts). */
  attack: Attack;
  config?: Partial<OverlayConfig>;
}

export const DEFAULT_SIMULATION: SimulationOptions = {
  nodes: 1000,
  seed: 1,
  loss: 0,
  churnShape: 0.6,
  crashFraction: 1,
  records: 1000,
  lookups: 2000,
  joinIntervalMs: 50,
  measureMs: 10 * minute,
  recordTtlMs: 4 * hour,
  willingFraction: 0,
  malicious: 0,
  attack: 'drop',
};

export interface SimulationReport {
  nodes: number;
  lookups: number;
  success_ratio: number;
  rounds_p50: number;
  rounds_p99: number;
  latency_ms_p50: number;
  latency_ms_p99: number;
  msgs_per_lookup: number;
  /** RPCs of a measured lookup that failed (timeouts mostly), per lookup. */
  failures_per_lookup: number;
  /** Queries of a measured lookup that passed the soft timeout, per lookup. */
  stalls_per_lookup: number;
  /** Measured lookups slower than 1 s, and the shares of those that met a failed or a stalled RPC. */
  slow_lookups: number;
  slow_with_failure: number;
  slow_with_stall: number;
  /** The live nodes' soft timeouts at the end (SRTT + 4 * RTTVAR, bounded), median and p99. */
  soft_timeout_ms_p50: number;
  soft_timeout_ms_p99: number;
  records_stored: number;
  records_lost: number;
  replicas_mean: number;
  joins: number;
  departures: number;
  live_nodes_end: number;
  loss: number;
  churn_median_min: number | null;
  virtual_minutes: number;
  events: number;
  seed: number;
  /** Share of hostile nodes, their attack (null: none), and how many were live at the end. */
  malicious_ratio: number;
  attack: Attack | null;
  hostile_nodes_end: number;
  /** Disjoint paths of every lookup (OverlayConfig.disjointPaths). */
  disjoint: number;
  /** Bindings measured lookups returned that their publisher never published: must be 0. */
  forged_accepted: number;
  /** Forged bindings answers carried that the record policy dropped, per lookup. */
  forged_dropped_per_lookup: number;
  /** eclipse: the victim keys (the measured lookups look up only these). */
  eclipse_victims?: number;
}

export interface SimPeer {
  readonly node: OverlayNode;
  readonly contact: Contact;
  /** A willing peer's STUN service: the clients it served lately, its advertised load figure. */
  readonly clients?: RecentClients;
  joined: boolean;
  alive: boolean;
  /** A hostile node (hostile.ts): never a publisher, a requester or a bootstrap of the measured work. */
  readonly hostile?: true;
}

interface PublishedRecord {
  readonly key: NodeId;
  readonly value: string;
  readonly publisher: SimPeer;
  stored: boolean;
  /** eclipse: one of the keys the hostile nodes placed themselves around. */
  readonly victim?: true;
}

interface LookupSample {
  success: boolean;
  rounds: number;
  latencyMs: number;
  rpcs: number;
  failures: number;
  stalls: number;
  /** Bindings returned that are not the publisher's (forged and believed). */
  forged: number;
  /** Forged bindings the record policy dropped. */
  dropped: number;
}

export class Simulation {
  readonly options: SimulationOptions;
  readonly queue = new EventQueue();
  private readonly clock = new VirtualClock(this.queue);
  private readonly random: SeededRandom;
  private readonly network: SimNetwork;
  private readonly addresses: AddressPool;
  /** Live peers, in an array for uniform random picks (swap-remove on departure). */
  private readonly live: SimPeer[] = [];
  private readonly liveIndex = new Map<SimPeer, number>();
  private readonly records: PublishedRecord[] = [];
  private readonly samples: LookupSample[] = [];
  private joins = 0;
  private departures = 0;
  private churning = false;
  /** Runs with hostile nodes only: their own random stream, so the honest draws stay those of the seed. */
  private readonly hostileRandom?: SeededRandom;
  private readonly policy?: SimRecordPolicy;
  private readonly accomplices = new Accomplices();
  /** Join indices (of the build) that are hostile. */
  private readonly hostileJoins = new Set<number>();
  /** eclipse: the victim keys, and which one the next hostile node is placed at. */
  private readonly victimKeys: NodeId[] = [];
  private hostileCount = 0;

  constructor(options: Partial<SimulationOptions> = {}) {
    this.options = { ...DEFAULT_SIMULATION, ...options };
    this.random = new SeededRandom(this.options.seed);
    this.network = new SimNetwork(this.queue, this.random.fork(), { loss: this.options.loss, maxTransmissions: 3 });
    this.addresses = new AddressPool(this.random.fork());
    const { malicious, nodes } = this.options;
    if (!(malicious >= 0 && malicious < 1)) throw new RangeError(`malicious share out of [0, 1): ${malicious}`);
    if (malicious > 0) {
      const hostile = (this.hostileRandom = new SeededRandom((this.options.seed ^ 0x5bd1e995) >>> 0));
      this.policy = new SimRecordPolicy(Buffer.from(hostile.bits(128).toString(16), 'hex'));
      // Exactly round(share * nodes) of the build's joins, never the first (it starts the overlay).
      const indices = Array.from({ length: Math.max(0, nodes - 1) }, (_, i) => i + 1);
      const count = Math.min(indices.length, Math.round(malicious * nodes));
      for (let i = 0; i < count; i++) {
        const j = i + hostile.int(indices.length - i);
        [indices[i], indices[j]] = [indices[j]!, indices[i]!];
        this.hostileJoins.add(indices[i]!);
      }
      if (this.options.attack === 'eclipse') {
        // k hostile nodes per victim key: enough to fill its k closest when the mining works.
        const k = this.options.config?.k ?? DEFAULT_CONFIG.k;
        const victims = Math.max(1, Math.min(this.options.records, Math.floor(count / k)));
        for (let i = 0; i < victims; i++) this.victimKeys.push(resourceId(recordAor(i)));
      }
    }
  }

  get livePeers(): readonly SimPeer[] {
    return this.live;
  }

  /** Stored records with their publishers (for experiments that look them up). */
  get publishedRecords(): readonly { key: NodeId; value: string; publisher: SimPeer; stored: boolean }[] {
    return this.records;
  }

  /** The simulation's own random stream (experiments draw from it to stay deterministic). */
  get rng(): SeededRandom {
    return this.random;
  }

  get now(): number {
    return this.queue.now;
  }

  /**
   * Adds one node (at a drawn address unless one is given) and starts its join through a random
   * live joined peer (none: a new overlay).
   */
  addNode(at?: SimAddress, hostile = false): SimPeer {
    const { ip, port } = at ?? this.addresses.next();
    const willing = this.options.willingFraction > 0 && this.random.next() < this.options.willingFraction;
    let id = peerIdFromAddress(ip, port);
    if (hostile && this.options.attack === 'eclipse' && this.victimKeys.length > 0) {
      id = minedId(this.victimKeys[this.hostileCount % this.victimKeys.length]!, ECLIPSE_TRIES, this.hostileRandom!);
    }
    const contact: Contact = { id, address: `${ip}:${port}`, ...(willing ? { stun: `${ip}:3478` } : {}) };
    const clients = willing ? new RecentClients() : undefined;
    const node = this.attachNode(contact, this.options.config, clients, hostile ? this.options.attack : undefined);
    const peer: SimPeer = { node, contact, joined: false, alive: true, ...(clients ? { clients } : {}), ...(hostile ? { hostile: true as const } : {}) };
    if (hostile) {
      this.hostileCount++;
      this.accomplices.add(contact);
    }
    this.liveIndex.set(peer, this.live.length);
    this.live.push(peer);
    this.joins++;
    const bootstrap = this.randomJoinedPeer(peer);
    node.join(bootstrap ? [bootstrap.contact] : [], (error) => {
      if (!error && peer.alive) peer.joined = true;
    });
    if (this.churning) this.scheduleDeparture(peer);
    return peer;
  }

  /**
   * A P2PSIP client (role=client) attached to the network but not to the population: it joins
   * nothing, and peers must not put it in their routing tables.
   */
  addClient(at: SimAddress): { node: OverlayNode; contact: Contact } {
    const contact: Contact = { id: peerIdFromAddress(at.ip, at.port), address: `${at.ip}:${at.port}` };
    return { node: this.attachNode(contact, { ...this.options.config, role: 'client' }), contact };
  }

  /**
   * An OverlayNode on the network at its contact's address. A willing one advertises how many
   * clients its STUN service counted (`clients`), on every message it sends and answers.
   */
  private attachNode(contact: Contact, config: Partial<OverlayConfig> | undefined, clients?: RecentClients, attack?: Attack): OverlayNode {
    let node: OverlayNode | undefined;
    const accomplices = this.accomplices;
    const transport = this.network.attach(contact, {
      handleRequest: attack
        ? (e, respond) => node && hostileHandle(attack, node, accomplices, e, respond)
        : (e, respond) => node?.handleRequest(e, respond),
      get self() {
        return node?.self;
      },
    });
    node = new OverlayNode({
      self: contact,
      transport,
      clock: this.clock,
      random: this.random.fork(),
      ...(config ? { config } : {}),
      ...(clients ? { load: () => clients.count(this.now) } : {}),
      ...(this.policy ? { records: this.policy } : {}),
    });
    return node;
  }

  /** One-way delay between two hosts in ms, without jitter (for experiments that model a STUN exchange). */
  latencyMs(a: string, b: string): number {
    return this.network.latency(a, b);
  }

  /** Builds the overlay: one node every joinIntervalMs, then lets joins settle. */
  async build(): Promise<void> {
    for (let i = 0; i < this.options.nodes; i++) {
      this.queue.schedule(i * this.options.joinIntervalMs, () => this.addNode(undefined, this.hostileJoins.has(i)));
    }
    await this.queue.runSliced(this.now + this.options.nodes * this.options.joinIntervalMs + 30 * second);
  }

  /** Publishes the records from random live nodes and waits for the STOREs. */
  async publishRecords(): Promise<void> {
    for (let i = 0; i < this.options.records; i++) {
      this.queue.schedule(this.random.next() * minute, () => {
        const publisher = this.randomJoinedPeer();
        if (!publisher) return;
        const key = resourceId(recordAor(i));
        const value = `sip:user${i}@${publisher.contact.address}`;
        const record: PublishedRecord = { key, value, publisher, stored: false, ...(i < this.victimKeys.length ? { victim: true as const } : {}) };
        this.records.push(record);
        const proof = this.policy ? { proof: this.policy.proof(key, value) } : {};
        publisher.node.publish(key, [{ value, ttlMs: this.options.recordTtlMs, ...proof }], (r) => {
          record.stored = r.storedAt > 0;
        });
      });
    }
    await this.queue.runSliced(this.now + 2 * minute);
  }

  /** The measured phase: lookups spread over measureMs, with churn when asked for. */
  async measure(): Promise<void> {
    const start = this.now;
    if (this.options.churnMedianMin !== undefined) {
      this.churning = true;
      for (const peer of [...this.live]) this.scheduleDeparture(peer);
    }
    for (let i = 0; i < this.options.lookups; i++) {
      this.queue.schedule(this.random.next() * this.options.measureMs, () => this.measureOneLookup());
    }
    await this.queue.runSliced(start + this.options.measureMs);
    this.churning = false;
    // Let the last lookups finish (each is bounded by RPC timeouts).
    await this.queue.runSliced(this.now + 30 * second);
  }

  async run(): Promise<SimulationReport> {
    await this.build();
    await this.publishRecords();
    await this.measure();
    return this.report();
  }

  report(): SimulationReport {
    const ok = this.samples.filter((s) => s.success);
    const checked = this.records.filter((r) => r.stored && r.publisher.alive);
    // One pass over every live store (not one per record: that is records x nodes).
    const wanted = new Map<NodeId, Set<string>>();
    for (const record of checked) {
      let values = wanted.get(record.key);
      if (!values) wanted.set(record.key, (values = new Set()));
      values.add(record.value);
    }
    const holders = new Map<string, number>();
    for (const peer of this.live) {
      for (const key of peer.node.heldKeys()) {
        const values = wanted.get(key);
        if (!values) continue;
        for (const b of peer.node.heldBindings(key, this.now)) {
          if (values.has(b.value)) holders.set(b.value, (holders.get(b.value) ?? 0) + 1);
        }
      }
    }
    let lost = 0;
    let replicas = 0;
    for (const record of checked) {
      const count = holders.get(record.value) ?? 0;
      replicas += count;
      if (count === 0) lost++;
    }
    const round = (v: number): number => Math.round(v * 1000) / 1000;
    const slow = ok.filter((s) => s.latencyMs > second);
    const softTimeouts = this.live.map((p) => p.node.view().rttTimeoutMs);
    return {
      nodes: this.options.nodes,
      lookups: this.samples.length,
      success_ratio: this.samples.length === 0 ? 0 : round(ok.length / this.samples.length),
      rounds_p50: quantile(ok.map((s) => s.rounds), 0.5),
      rounds_p99: quantile(ok.map((s) => s.rounds), 0.99),
      latency_ms_p50: Math.round(quantile(ok.map((s) => s.latencyMs), 0.5)),
      latency_ms_p99: Math.round(quantile(ok.map((s) => s.latencyMs), 0.99)),
      msgs_per_lookup: round(this.samples.reduce((a, s) => a + s.rpcs, 0) / Math.max(1, this.samples.length)),
      failures_per_lookup: round(this.samples.reduce((a, s) => a + s.failures, 0) / Math.max(1, this.samples.length)),
      stalls_per_lookup: round(this.samples.reduce((a, s) => a + s.stalls, 0) / Math.max(1, this.samples.length)),
      slow_lookups: slow.length,
      slow_with_failure: round(slow.filter((s) => s.failures > 0).length / Math.max(1, slow.length)),
      slow_with_stall: round(slow.filter((s) => s.stalls > 0).length / Math.max(1, slow.length)),
      soft_timeout_ms_p50: Math.round(quantile(softTimeouts, 0.5)),
      soft_timeout_ms_p99: Math.round(quantile(softTimeouts, 0.99)),
      records_stored: checked.length,
      records_lost: lost,
      replicas_mean: round(replicas / Math.max(1, checked.length)),
      joins: this.joins,
      departures: this.departures,
      live_nodes_end: this.live.length,
      loss: this.options.loss,
      churn_median_min: this.options.churnMedianMin ?? null,
      virtual_minutes: round(this.now / minute),
      events: this.queue.processed,
      seed: this.options.seed,
      malicious_ratio: this.options.malicious,
      attack: this.options.malicious > 0 ? this.options.attack : null,
      hostile_nodes_end: this.live.filter((p) => p.hostile).length,
      disjoint: this.options.config?.disjointPaths ?? DEFAULT_CONFIG.disjointPaths,
      forged_accepted: this.samples.reduce((a, s) => a + s.forged, 0),
      forged_dropped_per_lookup: round(this.samples.reduce((a, s) => a + s.dropped, 0) / Math.max(1, this.samples.length)),
      ...(this.victimKeys.length > 0 ? { eclipse_victims: this.victimKeys.length } : {}),
    };
  }

  private measureOneLookup(): void {
    const requester = this.randomJoinedPeer();
    if (!requester) return;
    // A record stored earlier by another node that is still alive and republishing it.
    // eclipse: only the victims' records, the ones the attack is after.
    const records = this.victimKeys.length > 0 ? this.records.filter((r) => r.victim) : this.records;
    let record: PublishedRecord | undefined;
    for (let tries = 0; tries < 20 && !record; tries++) {
      const candidate = records[this.random.int(records.length)];
      if (candidate && candidate.stored && candidate.publisher.alive && candidate.publisher !== requester) record = candidate;
    }
    if (!record) return;
    const chosen = record;
    const started = this.now;
    requester.node.findValue(chosen.key, (result) => {
      if (!requester.alive) return; // the requester crashed meanwhile: nobody is waiting
      this.samples.push({
        success: result.bindings.some((b) => b.value === chosen.value),
        rounds: result.rounds,
        latencyMs: this.now - started,
        rpcs: result.rpcs,
        failures: result.failures,
        stalls: result.stalls,
        forged: result.bindings.filter((b) => b.value !== chosen.value).length,
        dropped: result.forged ?? 0,
      });
    });
  }

  private scheduleDeparture(peer: SimPeer): void {
    const sessionMs = weibull(this.random, this.options.churnMedianMin! * minute, this.options.churnShape);
    this.queue.schedule(sessionMs, () => {
      if (!peer.alive || !this.churning) return;
      this.depart(peer, this.random.next() < this.options.crashFraction);
      // A newcomer keeps the population steady (hostile as often as the share says).
      this.addNode(undefined, this.hostileRandom ? this.hostileRandom.next() < this.options.malicious : false);
    });
  }

  /** Takes a peer out: a crash is silent; a graceful leave hands records over first. */
  depart(peer: SimPeer, crash: boolean): void {
    if (!peer.alive) return;
    peer.alive = false;
    peer.joined = false;
    this.departures++;
    const at = this.liveIndex.get(peer)!;
    const last = this.live.pop()!;
    if (last !== peer) {
      this.live[at] = last;
      this.liveIndex.set(last, at);
    }
    this.liveIndex.delete(peer);
    if (peer.hostile) this.accomplices.remove(peer.contact);
    if (crash) {
      peer.node.stop();
      this.network.detach(peer.contact.address);
    } else {
      peer.node.leave(() => this.network.detach(peer.contact.address));
    }
  }

  private randomJoinedPeer(exclude?: SimPeer): SimPeer | undefined {
    for (let tries = 0; tries < 50 && this.live.length > 0; tries++) {
      const peer = this.live[this.random.int(this.live.length)]!;
      if (peer.joined && peer !== exclude && !peer.hostile) return peer;
    }
    return this.live.find((p) => p.joined && p !== exclude && !p.hostile);
  }
}

/** The AoR of the simulation's i-th record. */
function recordAor(i: number): string {
  return `sip:user${i}@sim.kadsip.invalid`;
}
