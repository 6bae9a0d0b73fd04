/**
 * RPC deadlines: every request the node sends goes through here, with the core's own timer (a
 * transport that never answers cannot stall a lookup), the node's RPC counters, the round-trip
 * samples of the soft timeout, and the routing-table bookkeeping of who answered and who failed.
 */
import type { Contact, PeerAddress } from './contact.js';
import { CANDIDATE_CARRIERS, type CarriedCandidates, type NodeContext, type RpcSender } from './context.js';
import type { Candidate, OverlayRequest, RequestEnvelope, RoutingMode, RpcResult } from './messages.js';

/** Who is told that a peer answered the request sent to it (ping-before-evict, liveness.ts). */
export interface ReachedListener {
  heardFrom(contact: Contact): void;
}

/** Whoever keeps the STUN/TURN candidates that answers carry (draft-jiang 4.1 step 2). */
export interface CandidateKeeper {
  keep(from: Contact, received: readonly Candidate[]): void;
}

export class Rpc implements RpcSender {
  private reached?: ReachedListener;

  constructor(
    private readonly ctx: NodeContext,
    private readonly keeper: CandidateKeeper,
  ) {}

  /**
   * Who hears of answering peers. Set once the listener exists: it sends its own pings through
   * this layer, so the two are built one after the other.
   */
  onReached(listener: ReachedListener): void {
    this.reached = listener;
  }

  /**
   * Sends one request with the core's own deadline. Whoever answers is, by answering, reached: it
   * enters the routing table. A contact that fails is counted towards its removal.
   */
  send(
    to: PeerAddress,
    request: OverlayRequest,
    mode: RoutingMode,
    onResult: (result: RpcResult) => void,
    hops = 0,
    timeoutMs = this.ctx.config.rpcTimeoutMs,
    carried?: CarriedCandidates,
  ): void {
    const { ctx } = this;
    if (ctx.state === 'stopped') {
      onResult({ ok: false, reason: 'unreachable', detail: 'node stopped' });
      return;
    }
    ctx.stats.rpcsSent++;
    const sentAt = ctx.clock.now();
    let settled = false;
    const timer = ctx.clock.setTimer(timeoutMs, () => settle({ ok: false, reason: 'timeout' }));
    const settle = (result: RpcResult): void => {
      if (settled) return;
      settled = true;
      timer.cancel();
      if (ctx.state === 'stopped') {
        onResult({ ok: false, reason: 'unreachable', detail: 'node stopped' });
        return;
      }
      if (result.ok && result.response.kind === 'error' && result.response.reason === 'leaving') {
        // It is on its way out: as good as its LEAVE, and it must not re-enter the table.
        ctx.routingTable.remove(result.from.id);
      } else if (result.ok) {
        // A recursive request's answer took several hops: not one round trip.
        if (mode === 'iterative') ctx.rtt.sample(ctx.clock.now() - sentAt);
        if (to.id === undefined || result.from.id === to.id) this.reached?.heardFrom(result.from);
        if (result.response.candidates && result.response.candidates.length > 0) this.keeper.keep(result.from, result.response.candidates);
      } else {
        ctx.stats.rpcsFailed++;
        if (to.id !== undefined && result.reason !== 'rejected' && ctx.routingTable.markFailed(to.id, ctx.config.maxFailures)) {
          const dropped = { id: to.id, address: to.address };
          ctx.onEvent({ type: 'contact-dropped', contact: dropped });
        }
      }
      onResult(result);
    };
    const wanted = ctx.config.candidatesWanted > 0 && CANDIDATE_CARRIERS.has(request.op) ? ctx.config.candidatesWanted : 0;
    const envelope: RequestEnvelope = {
      from: ctx.self,
      mode,
      hops,
      request,
      ...(ctx.config.role === 'client' ? { role: 'client' as const } : {}),
      ...(wanted > 0 || carried ? { candidatesWanted: wanted || carried!.wanted } : {}),
      ...(carried && carried.set.length > 0 ? { candidates: carried.set } : {}),
    };
    ctx.transport.sendRequest(to, envelope, settle);
  }
}
