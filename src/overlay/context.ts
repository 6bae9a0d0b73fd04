/**
 * What the parts of one overlay node share: who it is, its state, its routing table, record store
 * and round-trip estimate, and the injected clock, randomness and transport. Every job of the node
 * (membership, lookups, publications, RPCs, handlers, recursive routing, maintenance) is a module
 * of its own that reads and writes this one context; none of them imports another's context, so
 * the modules form no cycle (test/overlay/no-cycles.test.ts checks that).
 */
import type { Clock } from '../common/clock.js';
import { MAX_LOAD } from '../common/load.js';
import { DEFAULT_CONFIG, second, type OverlayConfig } from './constants.js';
import type { Contact, PeerAddress } from './contact.js';
import { CandidateTable, candidateOf, PRIORITY_SELF } from './candidates.js';
import type { NodeId } from './id.js';
import type { Candidate, OverlayRequest, RoutingMode, RpcResult } from './messages.js';
import type { Random } from './random.js';
import { OPEN_RECORD_POLICY, type RecordPolicy } from './record-policy.js';
import { RecordStore } from './record-store.js';
import { RoutingTable } from './routing-table.js';
import { RttEstimator } from './rtt.js';
import type { OverlayTransport } from './transport.js';

export type NodeState = 'idle' | 'joining' | 'joined' | 'leaving' | 'stopped';

/** Notable events, for logs and metrics; the core itself never logs. */
export type OverlayEvent =
  | { type: 'joined'; contacts: number }
  | { type: 'join-failed'; reason: string }
  | { type: 'contact-dropped'; contact: Contact }
  | { type: 'handed-over'; to: Contact; records: number }
  /** A STORE (or, with op REMOVE, a REMOVE) this node refused: its bounds, or its RecordPolicy. */
  | { type: 'store-refused'; from: Contact; reason: string; op?: 'STORE' | 'REMOVE' }
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
  /** Who may store and remove what, and which fetched bindings to believe; default: the open policy. */
  records?: RecordPolicy;
}

export interface NodeStats {
  rpcsSent: number;
  rpcsFailed: number;
  requestsHandled: number;
}

/** Requests that carry DHT-Candidates-Wanted when the node asks for candidates (draft-jiang 4-6). */
export const CANDIDATE_CARRIERS: ReadonlySet<OverlayRequest['op']> = new Set<OverlayRequest['op']>(['JOIN', 'PING', 'FIND_NODE', 'FIND_VALUE', 'STORE']);

/** The set of candidates a forwarded request carries (recursive mode, draft-jiang 3.3.2). */
export interface CarriedCandidates {
  wanted: number;
  set: Candidate[];
}

/** What the node's jobs send their requests through: the RPC layer (src/overlay/rpc.ts). */
export interface RpcSender {
  /**
   * Sends one request with the core's own deadline. `hops` and `timeoutMs` matter for recursive
   * routing only; `carried` is the candidate set a forwarded request carries.
   */
  send(
    to: PeerAddress,
    request: OverlayRequest,
    mode: RoutingMode,
    onResult: (result: RpcResult) => void,
    hops?: number,
    timeoutMs?: number,
    carried?: CarriedCandidates,
  ): void;
}

export class NodeContext {
  /** Who this node is, without a load figure; `self` adds the current one. */
  private readonly base: Contact;
  private readonly load?: () => number;
  private lastSelf: Contact;
  readonly config: OverlayConfig;
  readonly routingTable: RoutingTable;
  readonly store: RecordStore;
  /** Round trips of this node's answered iterative RPCs: the lookups' soft timeout. */
  readonly rtt: RttEstimator;
  readonly candidates: CandidateTable;
  readonly records: RecordPolicy;
  readonly stats: NodeStats = { rpcsSent: 0, rpcsFailed: 0, requestsHandled: 0 };
  state: NodeState = 'idle';
  readonly transport: OverlayTransport;
  readonly clock: Clock;
  readonly random: Random;
  readonly onEvent: (event: OverlayEvent) => void;
  /** Contacts being pinged (ping-before-evict or verification), so each is pinged once at a time. */
  readonly pinging = new Set<NodeId>();

  constructor(options: OverlayNodeOptions) {
    this.base = options.self;
    this.lastSelf = options.self;
    if (options.self.stun && options.load) this.load = options.load;
    this.config = { ...DEFAULT_CONFIG, ...options.config };
    this.transport = options.transport;
    this.clock = options.clock;
    this.random = options.random;
    this.onEvent = options.onEvent ?? (() => {});
    this.records = options.records ?? OPEN_RECORD_POLICY;
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
}
