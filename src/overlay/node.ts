/**
 * A Kademlia peer without I/O of its own: routing table, record store and lookups, reaching the
 * world only through the injected transport and clock. The SIP node (src/node) and the simulator
 * (src/sim) run this same class.
 */
import type { Clock, TimerHandle } from '../common/clock.js';
import { MAX_LOAD } from '../common/load.js';
import { DEFAULT_CONFIG, second, type OverlayConfig } from './constants.js';
import type { Contact, PeerAddress } from './contact.js';
import { CandidateTable, candidateIp, candidateOf, MAX_CANDIDATES, PRIORITY_SELF } from './candidates.js';
import { bucketIndex, randomIdInBucket, type NodeId } from './id.js';
import { Lookup, type LookupKind, type LookupResult } from './lookup.js';
import type { Binding, Candidate, OverlayRequest, OverlayResponse, RequestEnvelope, RoutingMode, RpcResult } from './messages.js';
import type { Random } from './random.js';
import { RecordStore } from './record-store.js';
import { RoutingTable } from './routing-table.js';
import { RttEstimator } from './rtt.js';
import type { OverlayTransport, RequestHandler } from './transport.js';

/** Requests that carry DHT-Candidates-Wanted when the node asks for candidates (draft-jiang 4-6). */
const CANDIDATE_CARRIERS = new Set<OverlayRequest['op']>(['JOIN', 'PING', 'FIND_NODE', 'FIND_VALUE', 'STORE']);
/** Candidates a node keeps from what it received. */
const MAX_DISCOVERED = 64;

/** Records handed over at once while leaving (each costs a lookup and k STOREs). */
const LEAVE_HANDOVER_CONCURRENCY = 8;

export type NodeState = 'idle' | 'joining' | 'joined' | 'leaving' | 'stopped';

/** Notable events, for logs and metrics; the core itself never logs. */
export type OverlayEvent =
  | { type: 'joined'; contacts: number }
  | { type: 'join-failed'; reason: string }
  | { type: 'contact-dropped'; contact: Contact }
  | { type: 'handed-over'; to: Contact; records: number }
  | { type: 'store-refused'; from: Contact; reason: string }
  | { type: 'left'; records: number }
  | { type: 'candidates'; from: Contact; count: number };

export interface OverlayNodeOptions {
  self: Contact;
  transport: OverlayTransport;
  clock: Clock;
  random: Random;
  config?: Partial<OverlayConfig>;
  onEvent?: (event: OverlayEvent) => void;
  /**
   * This node's current STUN/TURN load figure (src/common/load.ts), read whenever it describes
   * itself; only a willing node (self.stun) advertises one.
   */
  load?: () => number;
}

export interface PublishResult {
  /** Peers (this one included) that confirmed the STORE. */
  storedAt: number;
  lookup: LookupResult;
}

export interface NodeStats {
  rpcsSent: number;
  rpcsFailed: number;
  requestsHandled: number;
}

interface Publication {
  expiresAt: number;
  nextRepublishAt: number;
}

export class OverlayNode implements RequestHandler {
  /** Who this node is, without a load figure; `self` adds the current one. */
  private readonly base: Contact;
  private readonly load?: () => number;
  private lastSelf: Contact;
  readonly config: OverlayConfig;
  readonly routingTable: RoutingTable;
  readonly store: RecordStore;
  readonly stats: NodeStats = { rpcsSent: 0, rpcsFailed: 0, requestsHandled: 0 };
  private stateValue: NodeState = 'idle';
  private readonly transport: OverlayTransport;
  private readonly clock: Clock;
  private readonly random: Random;
  private readonly onEvent: (event: OverlayEvent) => void;
  /** Contacts being pinged (ping-before-evict or verification), so each is pinged once at a time. */
  private readonly pinging = new Set<NodeId>();
  /** What this node published itself and keeps alive: key -> value -> schedule. */
  private readonly published = new Map<NodeId, Map<string, Publication>>();
  private maintenanceTimer?: TimerHandle;
  readonly candidates: CandidateTable;
  /** STUN/TURN candidates received from other peers, by IP (draft-jiang 4.1 step 2: saved for later use). */
  private readonly discovered = new Map<string, Candidate>();
  /** Round trips of this node's answered iterative RPCs: the lookups' soft timeout. */
  readonly rtt: RttEstimator;

  constructor(options: OverlayNodeOptions) {
    this.base = options.self;
    this.lastSelf = options.self;
    if (options.self.stun && options.load) this.load = options.load;
    this.config = { ...DEFAULT_CONFIG, ...options.config };
    this.transport = options.transport;
    this.clock = options.clock;
    this.random = options.random;
    this.onEvent = options.onEvent ?? (() => {});
    const ceilingMs = this.config.rpcTimeoutMs;
    this.rtt = new RttEstimator({
      floorMs: Math.min(Math.max(1, this.config.stallFloorMs), ceilingMs),
      ceilingMs,
      initialMs: Math.min(second, ceilingMs),
    });
    this.routingTable = new RoutingTable(this.self.id, this.config.k, this.config.replacementCacheSize, this.clock.now());
    this.candidates = new CandidateTable(() => (this.base.stun ? candidateOf(this.self, this.config.role, PRIORITY_SELF) : null), this.random);
    this.store = new RecordStore({
      maxRecords: this.config.maxRecords,
      maxBindingsPerRecord: this.config.maxBindingsPerRecord,
      maxValueBytes: this.config.maxValueBytes,
      maxTtlMs: this.config.maxRecordTtlMs,
    });
  }

  /** This node as it describes itself now: with its current load figure when it has one. */
  get self(): Contact {
    if (this.load) {
      const load = Math.min(MAX_LOAD, Math.max(0, Math.floor(this.load())));
      if (load !== this.lastSelf.load) this.lastSelf = { ...this.base, load };
    }
    return this.lastSelf;
  }

  get state(): NodeState {
    return this.stateValue;
  }

  // ---------------------------------------------------------------- membership

  /**
   * Joins through the bootstrap peers (none: this node starts a new overlay). Sends JOIN to the
   * bootstraps, looks itself up, sends JOIN to the k closest found (each hands over the records the
   * newcomer is now responsible for), then refreshes the buckets farther than its closest neighbour.
   * A client (role 'client') only attaches: it PINGs the bootstraps, and those that answer are the
   * peers it asks; it does not JOIN, so nobody hands records over to it.
   */
  join(bootstraps: readonly PeerAddress[], done: (error: Error | null) => void): void {
    if (this.stateValue !== 'idle') {
      done(new Error(`cannot join from state ${this.stateValue}`));
      return;
    }
    this.stateValue = 'joining';
    this.startMaintenance();
    if (bootstraps.length === 0) {
      this.stateValue = 'joined';
      this.onEvent({ type: 'joined', contacts: 0 });
      done(null);
      return;
    }
    const seeds: Contact[] = [];
    const joined = new Set<NodeId>();
    // What each bootstrap that did not admit us said: a refusal is not silence, and the operator
    // needs to tell "nobody there" from "it answered 400 Invalid DHT-PeerID".
    const refusals: string[] = [];
    let pending = bootstraps.length;
    const client = this.config.role === 'client';
    for (const bootstrap of bootstraps) {
      this.rpc(bootstrap, { op: client ? 'PING' : 'JOIN' }, 'iterative', (result) => {
        if (result.ok && result.response.kind === 'ok') {
          joined.add(result.from.id);
          seeds.push(...(result.response.contacts ?? []));
        } else {
          refusals.push(`${bootstrap.address} ${describeFailure(result)}`);
        }
        if (--pending > 0) return;
        if (joined.size === 0) {
          this.stateValue = 'idle';
          this.stopMaintenance();
          const reason = `no bootstrap peer admitted this node: ${refusals.join('; ')}`;
          this.onEvent({ type: 'join-failed', reason });
          done(new Error(reason));
          return;
        }
        if (client) {
          this.stateValue = 'joined';
          this.onEvent({ type: 'joined', contacts: this.routingTable.size });
          done(null);
          return;
        }
        this.completeJoin(seeds, joined, done);
      });
    }
  }

  private completeJoin(seeds: Contact[], joined: Set<NodeId>, done: (error: Error | null) => void): void {
    this.lookup(this.self.id, 'node', (selfLookup) => {
      const admitters = selfLookup.closest.filter((c) => !joined.has(c.id));
      let pending = admitters.length + 1;
      const step = (): void => {
        if (--pending > 0) return;
        if (this.config.refreshOnJoin) this.refreshFartherBuckets();
        if (this.stateValue === 'joining') this.stateValue = 'joined';
        this.onEvent({ type: 'joined', contacts: this.routingTable.size });
        done(null);
      };
      for (const admitter of admitters) this.rpc(admitter, { op: 'JOIN' }, 'iterative', step);
      step();
    }, seeds);
  }

  /** Kademlia paper 2.3: after joining, refresh the buckets farther than the closest neighbours. */
  private refreshFartherBuckets(): void {
    for (const index of this.routingTable.idleBuckets(this.clock.now(), 0)) this.refreshBucket(index);
  }

  /**
   * Leaves gracefully: looks up the k closest peers of every record it holds (its own table may not
   * list them: a bucket keeps only k) and STOREs the record there, so the peer that becomes
   * responsible in its place has it; then tells every contact of its table goodbye, and stops.
   */
  leave(done: () => void): void {
    if (this.stateValue === 'stopped') {
      done();
      return;
    }
    this.stateValue = 'leaving';
    // Alone in the overlay there is nobody to hand anything to.
    const keys = this.routingTable.size === 0 ? [] : [...this.store.keys()];
    this.onEvent({ type: 'left', records: keys.length });
    let next = 0;
    let running = 0;
    // A trampoline: a lookup may answer synchronously (no peer left to ask), and a plain recursive
    // call per record would overflow the stack with thousands of records.
    let pumping = false;
    let again = false;
    let finished = false;
    const handOverNext = (): void => {
      if (pumping) {
        again = true;
        return;
      }
      pumping = true;
      do {
        again = false;
        while (running < LEAVE_HANDOVER_CONCURRENCY && next < keys.length) {
          const key = keys[next++]!;
          const bindings = this.store.get(key, this.clock.now());
          if (bindings.length === 0) continue;
          running++;
          this.lookup(key, 'node', (lookup) => {
            let pending = lookup.closest.length + 1;
            const stored = (): void => {
              if (--pending > 0) return;
              running--;
              handOverNext();
            };
            for (const contact of lookup.closest) this.rpc(contact, { op: 'STORE', key, bindings }, 'iterative', stored);
            stored();
          });
        }
      } while (again);
      pumping = false;
      if (!finished && running === 0 && next >= keys.length) {
        finished = true;
        sayGoodbye();
      }
    };
    const sayGoodbye = (): void => {
      // Everyone in the routing table hears goodbye (one datagram each): they are the peers most
      // likely to hold this one in their own tables.
      let pending = 1;
      const step = (): void => {
        if (--pending > 0) return;
        this.stop();
        done();
      };
      for (const contact of this.routingTable.all()) {
        pending++;
        this.rpc(contact, { op: 'LEAVE' }, 'iterative', step);
      }
      step();
    };
    handOverNext();
  }

  /** Stops at once, without goodbye (also what a crash looks like to the others). */
  stop(): void {
    this.stateValue = 'stopped';
    this.stopMaintenance();
  }

  // ---------------------------------------------------------------- lookups and storage

  /** OPTIONS ping; the answerer (a bootstrap whose ID was unknown, say) enters the routing table. */
  ping(to: PeerAddress, done: (answerer: Contact | null) => void): void {
    this.rpc(to, { op: 'PING' }, 'iterative', (result) => done(result.ok && result.response.kind === 'ok' ? result.from : null));
  }

  findNode(target: NodeId, done: (result: LookupResult) => void): void {
    this.lookup(target, 'node', done);
  }

  /**
   * FIND_VALUE: answers from the local store at once (0 rounds) when this node holds the key.
   * `settled`, when given, is called once the requests still in flight at the first value have
   * been answered too (or failed): its result has every candidate the answers brought, the late
   * ones included (the node keeps those as well; draft-jiang counts them as discovered).
   */
  findValue(key: NodeId, done: (result: LookupResult) => void, settled?: (result: LookupResult) => void): void {
    const local = this.store.get(key, this.clock.now());
    if (local.length > 0) {
      const result: LookupResult = { target: key, kind: 'value', closest: [], bindings: local, valueFrom: this.self, rounds: 0, rpcs: 0, failures: 0, stalls: 0 };
      done(result);
      settled?.(result);
      return;
    }
    this.lookup(key, 'value', done, [], settled);
  }

  /**
   * Recursive routing (Request-Disposition: proxy): one request to the closest known peer, which
   * proxies it on hop by hop towards the target; the final answer comes back along the same path.
   * Cheaper in messages for the asker, and what a NATed node uses when it cannot reach peers directly.
   */
  findRecursive(target: NodeId, kind: LookupKind, done: (response: OverlayResponse | null) => void): void {
    if (kind === 'value') {
      const local = this.store.get(target, this.clock.now());
      if (local.length > 0) {
        done({ kind: 'value', bindings: local });
        return;
      }
    }
    const first = this.routingTable.closest(target, 1)[0];
    if (!first) {
      done(null);
      return;
    }
    const request: OverlayRequest = kind === 'node' ? { op: 'FIND_NODE', target } : { op: 'FIND_VALUE', key: target };
    // Each hop has its own deadline; the asker waits for the whole path.
    const timeoutMs = this.config.rpcTimeoutMs * 4;
    this.rpc(first, request, 'recursive', (result) => done(result.ok ? result.response : null), 0, timeoutMs);
  }

  /**
   * Stores bindings on the k closest peers (this one too when it is among them) and keeps them
   * alive: republished every republishIntervalMs until their TTL runs out or `unpublish`.
   */
  publish(key: NodeId, bindings: readonly Binding[], done: (result: PublishResult) => void): void {
    const now = this.clock.now();
    let values = this.published.get(key);
    if (!values) this.published.set(key, (values = new Map()));
    for (const b of bindings) {
      values.set(b.value, { expiresAt: now + b.ttlMs, nextRepublishAt: now + this.config.republishIntervalMs });
    }
    this.storeOnClosest(key, bindings, done);
  }

  /** Stops republishing and removes the values from the k closest peers. */
  unpublish(key: NodeId, values: readonly string[], done: (removedAt: number) => void): void {
    const mine = this.published.get(key);
    if (mine) {
      for (const v of values) mine.delete(v);
      if (mine.size === 0) this.published.delete(key);
    }
    this.lookup(key, 'node', (lookup) => {
      this.store.remove(key, values);
      let removed = 0;
      let pending = lookup.closest.length + 1;
      const step = (ok: boolean): void => {
        if (ok) removed++;
        if (--pending === 0) done(removed);
      };
      for (const contact of lookup.closest) {
        this.rpc(contact, { op: 'REMOVE', key, values: [...values] }, 'iterative', (r) => step(r.ok && r.response.kind === 'ok'));
      }
      step(false);
    });
  }

  private storeOnClosest(key: NodeId, bindings: readonly Binding[], done: (result: PublishResult) => void): void {
    this.lookup(key, 'node', (lookup) => {
      // The k closest of those found and this node itself: the lookup never lists its asker.
      const { k } = this.config;
      // A client stores nothing, not even its own records: peers never look it up.
      const holders = this.config.role === 'client' ? [...lookup.closest] : [...lookup.closest, this.self];
      const targets = holders.sort((a, b) => ((a.id ^ key) < (b.id ^ key) ? -1 : 1)).slice(0, k);
      let storedAt = 0;
      let pending = targets.length + 1;
      const step = (): void => {
        if (--pending === 0) done({ storedAt, lookup });
      };
      for (const contact of targets) {
        if (contact.id === this.self.id) {
          if (this.store.put(key, bindings, this.clock.now()).ok) storedAt++;
          step();
          continue;
        }
        this.rpc(contact, { op: 'STORE', key, bindings: [...bindings] }, 'iterative', (r) => {
          if (r.ok && r.response.kind === 'stored') storedAt++;
          step();
        });
      }
      step();
    });
  }

  /** Runs one iterative lookup to its end. */
  private lookup(
    target: NodeId,
    kind: LookupKind,
    done: (result: LookupResult) => void,
    seeds: readonly Contact[] = [],
    settled?: (result: LookupResult) => void,
  ): void {
    const { k, alpha, maxShortlist } = this.config;
    const lookup = new Lookup(target, kind, this.self.id, k, alpha, maxShortlist);
    // Seed with more than k known contacts, so that a lookup whose k closest are all dead (a crashed
    // neighbourhood) still has live peers to go on with.
    lookup.add(this.routingTable.closest(target, maxShortlist), 1);
    lookup.add(seeds, 1);
    const index = bucketIndex(this.self.id, target);
    if (index >= 0) this.routingTable.touch(index, this.clock.now());
    const request: OverlayRequest = kind === 'node' ? { op: 'FIND_NODE', target } : { op: 'FIND_VALUE', key: target };
    let finished = false;
    const finish = (): void => {
      finished = true;
      done(lookup.result());
    };
    const pump = (): void => {
      if (finished) {
        if (settled && lookup.inFlight === 0) {
          const report = settled;
          settled = undefined;
          report(lookup.result());
        }
        return;
      }
      if (lookup.done) {
        finish();
        pump();
        return;
      }
      for (const query of lookup.next()) {
        const id = query.contact.id;
        // Soft timeout: past it the query is stalled, and the lookup asks one more peer beside it.
        const stall = this.config.stallFloorMs > 0
          ? this.clock.setTimer(this.rtt.timeoutMs, () => {
              if (lookup.onStall(id)) pump();
            })
          : undefined;
        this.rpc(query.contact, request, 'iterative', (result) => {
          stall?.cancel();
          if (result.ok) lookup.onAnswer(id, result.response);
          else lookup.onFailure(id);
          pump();
        });
      }
      if (lookup.inFlight === 0 && !finished) {
        finish();
        pump();
      }
    };
    pump();
  }

  // ---------------------------------------------------------------- RPC plumbing

  /**
   * Sends one request with the core's own deadline. Whoever answers is, by answering, reached: it
   * enters the routing table. A contact that fails is counted towards its removal.
   */
  private rpc(
    to: PeerAddress,
    request: OverlayRequest,
    mode: RoutingMode,
    onResult: (result: RpcResult) => void,
    hops = 0,
    timeoutMs = this.config.rpcTimeoutMs,
    carried?: { wanted: number; set: Candidate[] },
  ): void {
    if (this.stateValue === 'stopped') {
      onResult({ ok: false, reason: 'unreachable', detail: 'node stopped' });
      return;
    }
    this.stats.rpcsSent++;
    const sentAt = this.clock.now();
    let settled = false;
    const timer = this.clock.setTimer(timeoutMs, () => settle({ ok: false, reason: 'timeout' }));
    const settle = (result: RpcResult): void => {
      if (settled) return;
      settled = true;
      timer.cancel();
      if (this.stateValue === 'stopped') {
        onResult({ ok: false, reason: 'unreachable', detail: 'node stopped' });
        return;
      }
      if (result.ok && result.response.kind === 'error' && result.response.reason === 'leaving') {
        // It is on its way out: as good as its LEAVE, and it must not re-enter the table.
        this.routingTable.remove(result.from.id);
      } else if (result.ok) {
        // A recursive request's answer took several hops: not one round trip.
        if (mode === 'iterative') this.rtt.sample(this.clock.now() - sentAt);
        if (to.id === undefined || result.from.id === to.id) this.heardFrom(result.from);
        if (result.response.candidates && result.response.candidates.length > 0) this.keepCandidates(result.from, result.response.candidates);
      } else {
        this.stats.rpcsFailed++;
        if (to.id !== undefined && result.reason !== 'rejected' && this.routingTable.markFailed(to.id, this.config.maxFailures)) {
          const dropped = { id: to.id, address: to.address };
          this.onEvent({ type: 'contact-dropped', contact: dropped });
        }
      }
      onResult(result);
    };
    const wanted = this.config.candidatesWanted > 0 && CANDIDATE_CARRIERS.has(request.op) ? this.config.candidatesWanted : 0;
    const envelope: RequestEnvelope = {
      from: this.self,
      mode,
      hops,
      request,
      ...(this.config.role === 'client' ? { role: 'client' as const } : {}),
      ...(wanted > 0 || carried ? { candidatesWanted: wanted || carried!.wanted } : {}),
      ...(carried && carried.set.length > 0 ? { candidates: carried.set } : {}),
    };
    this.transport.sendRequest(to, envelope, settle);
  }

  /** A contact we reached: add it, or ping the oldest of its full bucket (ping-before-evict). */
  private heardFrom(contact: Contact): void {
    const observed = this.routingTable.observe(contact, this.clock.now());
    if (observed.kind !== 'full') return;
    const oldest = observed.oldest;
    if (this.pinging.has(oldest.id)) return;
    this.pinging.add(oldest.id);
    this.rpc(oldest, { op: 'PING' }, 'iterative', (result) => {
      this.pinging.delete(oldest.id);
      if (result.ok) return; // heardFrom already moved it to the tail; the newcomer stays a replacement
      if (this.routingTable.remove(oldest.id)) this.onEvent({ type: 'contact-dropped', contact: oldest });
    });
  }

  /**
   * A peer sent us a request. A peer we know at that address is refreshed. An unknown one whose
   * bucket has room is pinged first, because a peer never stores a contact it has not reached itself.
   */
  private requestFrom(contact: Contact): void {
    const known = this.routingTable.get(contact.id);
    if (known && known.address === contact.address) {
      // Its DHT-PeerID is the newest word on what it offers (stun=, turn=, load=): keep that.
      this.routingTable.observe(contact, this.clock.now());
      return;
    }
    if (!this.routingTable.hasRoomFor(contact.id) || this.pinging.has(contact.id)) return;
    if (contact.id === this.self.id) return;
    this.pinging.add(contact.id);
    this.rpc(contact, { op: 'PING' }, 'iterative', () => this.pinging.delete(contact.id));
  }

  // ---------------------------------------------------------------- incoming requests

  handleRequest(envelope: RequestEnvelope, respondPlain: (response: OverlayResponse) => void): void {
    if (this.stateValue === 'stopped') return; // a stopped node is silent, like a dead one
    this.stats.requestsHandled++;
    const { from, request } = envelope;
    if (envelope.role === 'client') this.candidates.noteClient(from);
    // draft-jiang 4.2 / 5.2 / 6.2: whoever handles a request that asks for candidates tops the set up.
    const wanted = Math.min(envelope.candidatesWanted ?? 0, MAX_CANDIDATES);
    const respond = wanted > 0
      ? (response: OverlayResponse): void =>
          respondPlain({ ...response, candidates: this.candidates.fill(wanted, response.candidates ?? envelope.candidates ?? [], this.routingTable.all(), from.stun ?? from.address) })
      : respondPlain;
    const now = this.clock.now();
    if (request.op === 'LEAVE') {
      if (this.routingTable.remove(from.id)) this.onEvent({ type: 'contact-dropped', contact: from });
      respond({ kind: 'ok' });
      return;
    }
    if (this.stateValue === 'leaving') {
      respond({ kind: 'error', reason: 'leaving' });
      return;
    }
    if (envelope.role !== 'client') this.requestFrom(from);
    switch (request.op) {
      case 'PING':
        respond({ kind: 'ok' });
        return;
      case 'JOIN':
        respond({ kind: 'ok', contacts: this.routingTable.closest(from.id, this.config.k, from.id) });
        if (envelope.role !== 'client') this.handOver(from); // a client holds no records for others
        return;
      case 'FIND_NODE':
        if (request.target === this.self.id) {
          respond({ kind: 'ok' });
          return;
        }
        if (envelope.mode === 'recursive') {
          this.forward(envelope, request.target, respond);
          return;
        }
        respond({ kind: 'nodes', contacts: this.routingTable.closest(request.target, this.config.k, from.id) });
        return;
      case 'FIND_VALUE': {
        const bindings = this.store.get(request.key, now);
        if (bindings.length > 0) {
          respond({ kind: 'value', bindings });
          return;
        }
        if (envelope.mode === 'recursive') {
          this.forward(envelope, request.key, respond);
          return;
        }
        respond(this.closestOrNotFound(request.key, from.id));
        return;
      }
      case 'STORE': {
        const put = this.store.put(request.key, request.bindings, now);
        if (put.ok) {
          respond({ kind: 'stored', bindings: put.stored });
        } else {
          this.onEvent({ type: 'store-refused', from, reason: put.reason });
          respond({ kind: 'error', reason: put.reason });
        }
        return;
      }
      case 'REMOVE':
        this.store.remove(request.key, request.values);
        respond({ kind: 'ok' });
        return;
    }
  }

  /** 404 when this node is among the k closest to key it knows of (and holds nothing), else 302. */
  private closestOrNotFound(key: NodeId, exclude: NodeId): OverlayResponse {
    const contacts = this.routingTable.closest(key, this.config.k, exclude);
    const selfDistance = this.self.id ^ key;
    const closer = contacts.filter((c) => (c.id ^ key) < selfDistance).length;
    return closer < this.config.k ? { kind: 'not-found', contacts } : { kind: 'nodes', contacts };
  }

  /**
   * Recursive routing (Request-Disposition: proxy): pass the request to the closest peer that is
   * closer to the target than this one and relay its answer; the last peer answers itself.
   */
  private forward(envelope: RequestEnvelope, target: NodeId, respond: (response: OverlayResponse) => void): void {
    if (envelope.hops >= this.config.maxRecursiveHops) {
      respond({ kind: 'error', reason: 'loop' });
      return;
    }
    const selfDistance = this.self.id ^ target;
    const nextHops = this.routingTable
      .closest(target, 3, envelope.from.id)
      .filter((c) => (c.id ^ target) < selfDistance);
    // The last hop lists itself too: in recursive mode the asker does not see who answered.
    const answerHere = (): void => {
      if (envelope.request.op === 'FIND_VALUE') {
        respond(this.closestOrNotFound(target, envelope.from.id));
        return;
      }
      const contacts = [this.self, ...this.routingTable.closest(target, this.config.k - 1, envelope.from.id)];
      contacts.sort((a, b) => ((a.id ^ target) < (b.id ^ target) ? -1 : 1));
      respond({ kind: 'nodes', contacts });
    };
    const tryHop = (i: number): void => {
      const next = nextHops[i];
      if (!next) {
        answerHere();
        return;
      }
      // Recursive mode: the set gathered so far rides on the forwarded request (draft-jiang 3.3.2).
      const wanted = Math.min(envelope.candidatesWanted ?? 0, MAX_CANDIDATES);
      const carried = wanted > 0
        ? { wanted, set: this.candidates.fill(wanted, envelope.candidates ?? [], this.routingTable.all(), envelope.from.stun ?? envelope.from.address) }
        : undefined;
      this.rpc(next, envelope.request, 'recursive', (result) => {
        if (result.ok) respond(result.response);
        else tryHop(i + 1);
      }, envelope.hops + 1, this.config.rpcTimeoutMs, carried);
    };
    tryHop(0);
  }

  /** Hand-over on join: STORE at the newcomer every record it is now among the k closest for. */
  private handOver(newcomer: Contact): void {
    const now = this.clock.now();
    let records = 0;
    for (const key of this.store.keys()) {
      const closest = this.routingTable.closest(key, this.config.k, newcomer.id);
      const kth = closest[this.config.k - 1];
      if (kth && (newcomer.id ^ key) >= (kth.id ^ key)) continue;
      const bindings = this.store.get(key, now);
      if (bindings.length === 0) continue;
      records++;
      this.rpc(newcomer, { op: 'STORE', key, bindings }, 'iterative', () => {});
    }
    if (records > 0) this.onEvent({ type: 'handed-over', to: newcomer, records });
  }

  // ---------------------------------------------------------------- maintenance

  private startMaintenance(): void {
    const tick = (): void => {
      this.maintain();
      this.maintenanceTimer = this.clock.setTimer(this.config.maintenanceIntervalMs, tick);
    };
    // Spread the nodes' ticks so that they do not all fire at once.
    this.maintenanceTimer = this.clock.setTimer(this.random.int(this.config.maintenanceIntervalMs) + 1, tick);
  }

  private stopMaintenance(): void {
    this.maintenanceTimer?.cancel();
    this.maintenanceTimer = undefined;
  }

  /** Expires records, refreshes idle buckets and republishes what this node published. */
  private maintain(): void {
    if (this.stateValue !== 'joined') return;
    const now = this.clock.now();
    this.store.expire(now);
    for (const index of this.routingTable.idleBuckets(now, this.config.bucketRefreshMs)) this.refreshBucket(index);
    for (const [key, values] of this.published) {
      const due: Binding[] = [];
      for (const [value, pub] of values) {
        if (pub.expiresAt <= now) {
          values.delete(value);
          continue;
        }
        if (pub.nextRepublishAt > now) continue;
        pub.nextRepublishAt = now + this.config.republishIntervalMs;
        due.push({ value, ttlMs: pub.expiresAt - now });
      }
      if (values.size === 0) this.published.delete(key);
      if (due.length > 0) this.storeOnClosest(key, due, () => {});
    }
  }

  private refreshBucket(index: number): void {
    const target = randomIdInBucket(this.self.id, index, (bits) => this.random.bits(bits));
    this.findNode(target, () => {});
  }

  private keepCandidates(from: Contact, received: readonly Candidate[]): void {
    for (const candidate of received.slice(0, MAX_CANDIDATES)) {
      const ip = candidateIp(candidate.stun);
      if (this.discovered.has(ip) || this.discovered.size < MAX_DISCOVERED) this.discovered.set(ip, candidate);
    }
    this.onEvent({ type: 'candidates', from, count: received.length });
  }

  /** Candidates received so far (the NAT layer tries them with STUN Binding). */
  discoveredCandidates(): Candidate[] {
    return [...this.discovered.values()];
  }

  /** A candidate stopped answering STUN: it leaves the table of received candidates. */
  forgetCandidate(stunAddress: string): void {
    this.discovered.delete(candidateIp(stunAddress));
  }

  /** What this node published and still keeps alive (for the SIP layer and the simulator). */
  publishedKeys(): NodeId[] {
    return [...this.published.keys()];
  }
}

/** A bootstrap's answer to JOIN (or a client's PING) that did not admit the node, in words. */
function describeFailure(result: RpcResult): string {
  if (result.ok) {
    const r = result.response;
    return r.kind === 'error' ? `refused it: ${r.reason}${r.detail ? ` (${r.detail})` : ''}` : `answered ${r.kind}`;
  }
  if (result.reason === 'timeout') return 'did not answer';
  if (result.reason === 'unreachable') return `is unreachable${result.detail ? ` (${result.detail})` : ''}`;
  return `refused it${result.detail ? `: ${result.detail}` : ''}`;
}
