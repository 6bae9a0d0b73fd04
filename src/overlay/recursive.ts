/**
 * Recursive routing (Request-Disposition: proxy): the asker sends one request to the closest peer
 * it knows, and each peer passes it on to a peer closer to the target and relays the answer back
 * along the same path; the last peer answers itself.
 */
import { MAX_CANDIDATES } from './candidates.js';
import type { NodeContext, RpcSender } from './context.js';
import type { NodeId } from './id.js';
import type { LookupKind } from './lookup.js';
import type { OverlayRequest, OverlayResponse, RequestEnvelope } from './messages.js';

/** 404 when this node is among the k closest to key it knows of (and holds nothing), else 302. */
export function closestOrNotFound(ctx: NodeContext, key: NodeId, exclude: NodeId): OverlayResponse {
  const contacts = ctx.routingTable.closest(key, ctx.config.k, exclude);
  const selfDistance = ctx.self.id ^ key;
  const closer = contacts.filter((c) => (c.id ^ key) < selfDistance).length;
  return closer < ctx.config.k ? { kind: 'not-found', contacts } : { kind: 'nodes', contacts };
}

export class RecursiveRouting {
  constructor(
    private readonly ctx: NodeContext,
    private readonly rpc: RpcSender,
  ) {}

  /**
   * The asker's side: one request to the closest known peer, which proxies it on hop by hop
   * towards the target; the final answer comes back along the same path. Cheaper in messages for
   * the asker, and what a NATed node uses when it cannot reach peers directly.
   */
  find(target: NodeId, kind: LookupKind, done: (response: OverlayResponse | null) => void): void {
    const { ctx } = this;
    if (kind === 'value') {
      const local = ctx.store.get(target, ctx.clock.now());
      if (local.length > 0) {
        done({ kind: 'value', bindings: local });
        return;
      }
    }
    const first = ctx.routingTable.closest(target, 1)[0];
    if (!first) {
      done(null);
      return;
    }
    const request: OverlayRequest = kind === 'node' ? { op: 'FIND_NODE', target } : { op: 'FIND_VALUE', key: target };
    // Each hop has its own deadline; the asker waits for the whole path.
    const timeoutMs = ctx.config.rpcTimeoutMs * 4;
    this.rpc.send(first, request, 'recursive', (result) => done(result.ok ? this.believed(target, result.response) : null), 0, timeoutMs);
  }

  /**
   * A value answer keeps only the bindings the record policy accepts (RecordPolicy.acceptFetched);
   * one with nothing but forged bindings is as good as none found.
   */
  private believed(key: NodeId, response: OverlayResponse): OverlayResponse {
    if (response.kind !== 'value') return response;
    const { ctx } = this;
    const now = ctx.clock.now();
    const bindings = response.bindings.filter((b) => ctx.records.acceptFetched(key, b, now));
    if (bindings.length === response.bindings.length) return response;
    return bindings.length > 0 ? { ...response, bindings } : { kind: 'not-found' };
  }

  /**
   * A relay's side: pass the request to the closest peer that is closer to the target than this
   * one and relay its answer; the last peer answers itself.
   */
  forward(envelope: RequestEnvelope, target: NodeId, respond: (response: OverlayResponse) => void): void {
    const { ctx } = this;
    if (envelope.hops >= ctx.config.maxRecursiveHops) {
      respond({ kind: 'error', reason: 'loop' });
      return;
    }
    const selfDistance = ctx.self.id ^ target;
    const nextHops = ctx.routingTable
      .closest(target, 3, envelope.from.id)
      .filter((c) => (c.id ^ target) < selfDistance);
    // The last hop lists itself too: in recursive mode the asker does not see who answered.
    const answerHere = (): void => {
      if (envelope.request.op === 'FIND_VALUE') {
        respond(closestOrNotFound(ctx, target, envelope.from.id));
        return;
      }
      const contacts = [ctx.self, ...ctx.routingTable.closest(target, ctx.config.k - 1, envelope.from.id)];
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
        ? { wanted, set: ctx.candidates.fill(wanted, envelope.candidates ?? [], ctx.routingTable.all(), envelope.from.stun ?? envelope.from.address) }
        : undefined;
      this.rpc.send(next, envelope.request, 'recursive', (result) => {
        if (result.ok) respond(result.response);
        else tryHop(i + 1);
      }, envelope.hops + 1, ctx.config.rpcTimeoutMs, carried);
    };
    tryHop(0);
  }
}
