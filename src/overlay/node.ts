/**
 * A Kademlia peer without I/O of its own: routing table, record store and lookups, reaching the
 * world only through the injected transport and clock. The SIP node (src/node) and the simulator
 * (src/sim) run this same class.
 *
 * This class is a facade: each job is a module of its own, composed here over one NodeContext
 * (context.ts): membership.ts (join, hand-over, leave), lookups.ts (iterative lookups),
 * publications.ts (what this node published, republished), rpc.ts (deadlines, counters),
 * liveness.ts (ping-before-evict), handlers.ts (incoming requests, one handler per operation),
 * recursive.ts (recursive routing), maintenance.ts (the periodic tick) and candidates.ts
 * (STUN/TURN candidates). Outside code reads the node through `view()` and the read-only
 * accessors below, never its tables.
 */
import type { Contact, PeerAddress } from './contact.js';
import { DiscoveredCandidates, type CandidateTable } from './candidates.js';
import type { OverlayConfig } from './constants.js';
import { NodeContext, type NodeState, type NodeStats, type OverlayNodeOptions } from './context.js';
import { RequestDispatcher } from './handlers.js';
import type { NodeId } from './id.js';
import { Liveness } from './liveness.js';
import type { LookupKind, LookupResult } from './lookup.js';
import { Lookups } from './lookups.js';
import { Maintenance } from './maintenance.js';
import { Membership } from './membership.js';
import type { Binding, Candidate, OverlayResponse, RequestEnvelope } from './messages.js';
import { Publications, type PublishResult } from './publications.js';
import type { RecordStore } from './record-store.js';
import { RecursiveRouting } from './recursive.js';
import type { RoutingTable } from './routing-table.js';
import { Rpc } from './rpc.js';
import type { RequestHandler } from './transport.js';

export type { NodeState, NodeStats, OverlayEvent, OverlayNodeOptions } from './context.js';
export type { PublishResult } from './publications.js';

/**
 * A read-only snapshot of one node, for status pages, metrics, the simulator's report and tests:
 * plain figures, taken when `view()` is called (later changes do not show in it).
 */
export interface OverlayView {
  readonly state: NodeState;
  /** This node as it describes itself now (with its current load figure). */
  readonly self: Contact;
  /** Contacts in the routing table. */
  readonly contacts: number;
  /** Contacts per non-empty bucket, by bucket index. */
  readonly contactsPerBucket: Readonly<Record<number, number>>;
  /** Records this node holds (for itself and for others). */
  readonly recordsHeld: number;
  /** Keys this node published itself and keeps alive. */
  readonly recordsPublished: number;
  /** The lookups' soft timeout now, from the round trips of answered iterative RPCs. */
  readonly rttTimeoutMs: number;
  /** The smoothed round trip, once there is a sample. */
  readonly rttSmoothedMs: number | undefined;
  readonly rpc: Readonly<NodeStats>;
}

/** Read by `testAccess` from inside the class (it sees the private context; nothing else does). */
let contextOf: (node: OverlayNode) => NodeContext;

/**
 * For tests and experiments that plant state a node would otherwise learn over the wire (a contact
 * in its routing table, records in its store). Not part of the package's API: src/index.ts does not
 * export it, and running code reads a node through `view()` and its accessors.
 */
export function testAccess(node: OverlayNode): { readonly routingTable: RoutingTable; readonly store: RecordStore } {
  const ctx = contextOf(node);
  return { routingTable: ctx.routingTable, store: ctx.store };
}

export class OverlayNode implements RequestHandler {
  static {
    contextOf = (node) => node.ctx;
  }

  private readonly ctx: NodeContext;
  private readonly lookups: Lookups;
  private readonly publications: Publications;
  private readonly membership: Membership;
  private readonly recursive: RecursiveRouting;
  private readonly dispatcher: RequestDispatcher;
  private readonly discovered: DiscoveredCandidates;
  readonly config: OverlayConfig;
  /** Counters of RPCs sent, failed and handled since start (live: they keep counting). */
  readonly stats: NodeStats;
  readonly candidates: CandidateTable;

  constructor(options: OverlayNodeOptions) {
    const ctx = (this.ctx = new NodeContext(options));
    this.config = ctx.config;
    this.stats = ctx.stats;
    this.candidates = ctx.candidates;
    // No closures per node here: a simulation runs thousands of nodes, and each closure costs
    // hundreds of bytes where an object's field costs eight.
    this.discovered = new DiscoveredCandidates(ctx.onEvent);
    const rpc = new Rpc(ctx, this.discovered);
    // The RPC layer tells ping-before-evict who answered, and that one sends its pings through the
    // RPC layer: the loop is closed at run time (onReached), not in the imports.
    const liveness = new Liveness(ctx, rpc);
    rpc.onReached(liveness);
    this.lookups = new Lookups(ctx, rpc);
    this.publications = new Publications(ctx, rpc, this.lookups);
    const maintenance = new Maintenance(ctx, this.lookups, this.publications);
    this.membership = new Membership(ctx, rpc, this.lookups, maintenance);
    this.recursive = new RecursiveRouting(ctx, rpc);
    this.dispatcher = new RequestDispatcher(ctx, liveness, this.membership, this.recursive);
  }

  /** This node as it describes itself now: with its current load figure when it has one. */
  get self(): Contact {
    return this.ctx.self;
  }

  get state(): NodeState {
    return this.ctx.state;
  }

  // ---------------------------------------------------------------- read-only view

  view(): OverlayView {
    const { ctx } = this;
    return {
      state: ctx.state,
      self: ctx.self,
      contacts: ctx.routingTable.size,
      contactsPerBucket: ctx.routingTable.bucketSizes(),
      recordsHeld: ctx.store.size,
      recordsPublished: this.publications.keys().length,
      rttTimeoutMs: ctx.rtt.timeoutMs,
      rttSmoothedMs: ctx.rtt.smoothedMs,
      rpc: { ...ctx.stats },
    };
  }

  /** The contacts of the routing table, nearest bucket first (a copy). */
  contactList(): Contact[] {
    return [...this.ctx.routingTable.all()];
  }

  /** The routing table's contact with this ID, if any. */
  contact(id: NodeId): Contact | undefined {
    return this.ctx.routingTable.get(id);
  }

  /** Whether the routing table lists this ID. */
  knows(id: NodeId): boolean {
    return this.ctx.routingTable.has(id);
  }

  /**
   * Takes a peer out of the routing table (and its replacement cache) at once: the SIP layer's
   * verdict that it is no longer a member (its certificate expired or was revoked). Whether it was listed.
   */
  evict(id: NodeId): boolean {
    const contact = this.ctx.routingTable.get(id);
    if (!this.ctx.routingTable.remove(id)) return false;
    if (contact) this.ctx.onEvent({ type: 'contact-dropped', contact });
    return true;
  }

  /** Keys of the records this node holds (a copy). */
  heldKeys(): NodeId[] {
    return [...this.ctx.store.keys()];
  }

  /** The unexpired bindings this node holds under key at `now` (a copy). */
  heldBindings(key: NodeId, now: number): Binding[] {
    return this.ctx.store.get(key, now);
  }

  /** Whether this node holds an unexpired binding under key at `now`. */
  holds(key: NodeId, now: number): boolean {
    return this.ctx.store.has(key, now);
  }

  // ---------------------------------------------------------------- membership

  /**
   * Joins through the bootstrap peers (none: this node starts a new overlay); see membership.ts.
   * A client (role 'client') only attaches: it PINGs the bootstraps and does not JOIN.
   */
  join(bootstraps: readonly PeerAddress[], done: (error: Error | null) => void): void {
    this.membership.join(bootstraps, done);
  }

  /** Leaves gracefully: hands its records to their new holders, says goodbye, stops. */
  leave(done: () => void): void {
    this.membership.leave(done);
  }

  /** Stops at once, without goodbye (also what a crash looks like to the others). */
  stop(): void {
    this.membership.stop();
  }

  // ---------------------------------------------------------------- lookups and storage

  /** OPTIONS ping; the answerer (a bootstrap whose ID was unknown, say) enters the routing table. */
  ping(to: PeerAddress, done: (answerer: Contact | null) => void): void {
    this.membership.ping(to, done);
  }

  findNode(target: NodeId, done: (result: LookupResult) => void): void {
    this.lookups.findNode(target, done);
  }

  /**
   * FIND_VALUE: answers from the local store at once (0 rounds) when this node holds the key.
   * `settled`, when given, is called once the requests still in flight at the first value have
   * been answered too (or failed), with every candidate the answers brought.
   */
  findValue(key: NodeId, done: (result: LookupResult) => void, settled?: (result: LookupResult) => void): void {
    this.lookups.findValue(key, done, settled);
  }

  /** Recursive routing (Request-Disposition: proxy); see recursive.ts. */
  findRecursive(target: NodeId, kind: LookupKind, done: (response: OverlayResponse | null) => void): void {
    this.recursive.find(target, kind, done);
  }

  /** Stores bindings on the k closest peers and keeps them alive; see publications.ts. */
  publish(key: NodeId, bindings: readonly Binding[], done: (result: PublishResult) => void): void {
    this.publications.publish(key, bindings, done);
  }

  /** Stops republishing and removes the values from the k closest peers (with their removal proofs, value -> proof). */
  unpublish(key: NodeId, values: readonly string[], done: (removedAt: number) => void, removalProofs?: ReadonlyMap<string, string>): void {
    this.publications.unpublish(key, values, done, removalProofs);
  }

  /** What this node published and still keeps alive (for the SIP layer and the simulator). */
  publishedKeys(): NodeId[] {
    return this.publications.keys();
  }

  // ---------------------------------------------------------------- incoming requests

  handleRequest(envelope: RequestEnvelope, respond: (response: OverlayResponse) => void): void {
    this.dispatcher.handle(envelope, respond);
  }

  // ---------------------------------------------------------------- candidates

  /** Candidates received so far (the NAT layer tries them with STUN Binding). */
  discoveredCandidates(): Candidate[] {
    return this.discovered.list();
  }

  /** A candidate stopped answering STUN: it leaves the table of received candidates. */
  forgetCandidate(stunAddress: string): void {
    this.discovered.forget(stunAddress);
  }
}
