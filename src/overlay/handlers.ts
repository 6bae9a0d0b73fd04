/**
 * Incoming requests: one handler per operation (a table keyed by op, so adding an RPC is adding a
 * row), behind a dispatcher that does what every request shares: a stopped node stays silent, a
 * leaving one refuses all but LEAVE, the requester is checked for the routing table
 * (liveness.ts), and a request asking for candidates gets its answer topped up (draft-jiang 4.2,
 * 5.2, 6.2).
 */
import { MAX_CANDIDATES } from './candidates.js';
import type { NodeContext } from './context.js';
import type { Contact } from './contact.js';
import type { Liveness } from './liveness.js';
import type { Membership } from './membership.js';
import type { OverlayRequest, OverlayResponse, RequestEnvelope } from './messages.js';
import { believed, type PolicyVerdict } from './record-policy.js';
import { closestOrNotFound, type RecursiveRouting } from './recursive.js';

export type OverlayOp = OverlayRequest['op'];

/** A request envelope whose request is the one operation `Op`. */
export type EnvelopeOf<Op extends OverlayOp> = RequestEnvelope & { request: Extract<OverlayRequest, { op: Op }> };

/** What a handler works with: the node's context and the jobs that answer some requests. */
export interface HandlerDeps {
  readonly ctx: NodeContext;
  readonly membership: Membership;
  readonly recursive: RecursiveRouting;
}

export type OpHandler<Op extends OverlayOp> = (node: HandlerDeps, envelope: EnvelopeOf<Op>, respond: (response: OverlayResponse) => void, now: number) => void;

/** One handler for each operation of the wire (PROTOCOL.md section 3). */
export type OpHandlers = { readonly [Op in OverlayOp]: OpHandler<Op> };

/** Ops answered even by a leaving node, and without checking the requester first. */
const ANSWERED_WHILE_LEAVING: ReadonlySet<OverlayOp> = new Set<OverlayOp>(['LEAVE']);

/** The handlers: one table for every node (they take the node they answer for as an argument). */
export const OP_HANDLERS: OpHandlers = {
    LEAVE: ({ ctx }, { from }, respond) => {
      if (ctx.routingTable.remove(from.id)) ctx.onEvent({ type: 'contact-dropped', contact: from });
      respond({ kind: 'ok' });
    },
    PING: (_node, _envelope, respond) => respond({ kind: 'ok' }),
    JOIN: ({ ctx, membership }, envelope, respond) => {
      respond({ kind: 'ok', contacts: ctx.routingTable.closest(envelope.from.id, ctx.config.k, envelope.from.id) });
      if (envelope.role !== 'client') membership.handOver(envelope.from); // a client holds no records for others
    },
    FIND_NODE: ({ ctx, recursive }, envelope, respond) => {
      const { target } = envelope.request;
      if (target === ctx.self.id) {
        respond({ kind: 'ok' });
        return;
      }
      if (envelope.mode === 'recursive') {
        recursive.forward(envelope, target, respond);
        return;
      }
      respond({ kind: 'nodes', contacts: ctx.routingTable.closest(target, ctx.config.k, envelope.from.id) });
    },
    FIND_VALUE: ({ ctx, recursive }, envelope, respond, now) => {
      const { key } = envelope.request;
      // What this holder still believes (a proof that expired since is served to nobody).
      const bindings = believed(ctx.records, key, ctx.store.get(key, now), now);
      if (bindings.length > 0) {
        respond({ kind: 'value', bindings });
        return;
      }
      if (envelope.mode === 'recursive') {
        recursive.forward(envelope, key, respond);
        return;
      }
      respond(closestOrNotFound(ctx, key, envelope.from.id));
    },
    STORE: ({ ctx }, { from, request }, respond, now) => {
      // The node's RecordPolicy first (signed or MACed bindings, PROTOCOL.md section 11.4): a
      // refused STORE changes nothing, as a STORE over the store's bounds does.
      const verdict = ctx.records.admitStore(request.key, request.bindings, ctx.store.get(request.key, now), now);
      if (!verdict.ok) {
        refuseByPolicy(ctx, from, verdict, respond);
        return;
      }
      const put = ctx.store.put(request.key, request.bindings, now);
      if (put.ok) {
        respond({ kind: 'stored', bindings: put.stored });
      } else {
        ctx.onEvent({ type: 'store-refused', from, reason: put.reason });
        respond({ kind: 'error', reason: put.reason });
      }
    },
    REMOVE: ({ ctx }, { from, request }, respond, now) => {
      // Only whoever may (the policy: the same signer, or a higher sequence from another authorized one).
      const verdict = ctx.records.admitRemove(request.key, request.removals, ctx.store.get(request.key, now), now);
      if (!verdict.ok) {
        refuseByPolicy(ctx, from, verdict, respond, 'REMOVE');
        return;
      }
      ctx.store.remove(request.key, request.removals.map((r) => r.value));
      respond({ kind: 'ok' });
    },
};

/** A STORE or REMOVE the RecordPolicy refused: reported as an event, answered with the policy's reason. */
function refuseByPolicy(
  ctx: NodeContext,
  from: Contact,
  verdict: Extract<PolicyVerdict, { ok: false }>,
  respond: (response: OverlayResponse) => void,
  op: 'STORE' | 'REMOVE' = 'STORE',
): void {
  const detail = verdict.detail !== undefined ? { detail: verdict.detail } : {};
  const reason = verdict.detail !== undefined ? `${verdict.reason}: ${verdict.detail}` : verdict.reason;
  ctx.onEvent({ type: 'store-refused', from, reason, ...(op === 'REMOVE' ? { op } : {}) });
  respond({ kind: 'error', reason: verdict.reason, ...detail });
}

export class RequestDispatcher implements HandlerDeps {
  constructor(
    readonly ctx: NodeContext,
    private readonly liveness: Liveness,
    readonly membership: Membership,
    readonly recursive: RecursiveRouting,
    private readonly handlers: OpHandlers = OP_HANDLERS,
  ) {}

  handle(envelope: RequestEnvelope, respondPlain: (response: OverlayResponse) => void): void {
    const { ctx } = this;
    if (ctx.state === 'stopped') return; // a stopped node is silent, like a dead one
    ctx.stats.requestsHandled++;
    const { from, request } = envelope;
    if (envelope.role === 'client') ctx.candidates.noteClient(from);
    // draft-jiang 4.2 / 5.2 / 6.2: whoever handles a request that asks for candidates tops the set up.
    const wanted = Math.min(envelope.candidatesWanted ?? 0, MAX_CANDIDATES);
    const respond = wanted > 0
      ? (response: OverlayResponse): void =>
          respondPlain({ ...response, candidates: ctx.candidates.fill(wanted, response.candidates ?? envelope.candidates ?? [], ctx.routingTable.all(), from.stun ?? from.address) })
      : respondPlain;
    const now = ctx.clock.now();
    if (!ANSWERED_WHILE_LEAVING.has(request.op)) {
      if (ctx.state === 'leaving') {
        respond({ kind: 'error', reason: 'leaving' });
        return;
      }
      if (envelope.role !== 'client') this.liveness.requestFrom(from);
    }
    // The table is keyed by op, so the handler's request type is the envelope's: one cast for all.
    const handler = this.handlers[request.op] as OpHandler<OverlayOp>;
    handler(this, envelope as EnvelopeOf<OverlayOp>, respond, now);
  }
}
