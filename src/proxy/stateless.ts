/**
 * What this proxy forwards outside any transaction (RFC 3261 16.11 rules applied by a stateful
 * proxy to what its transactions do not own):
 *   - the ACK for a 2xx (13.2.2.4: end to end, a transaction of its own at neither end; 17.2.3 hands
 *     it to us as a stray): routed like any request by Route (16.4, 16.6 steps 6-7) or Request-URI,
 *     with Max-Forwards decremented and our own Via (fresh branch) added, no Record-Route;
 *   - a 2xx to an INVITE that no client transaction matches any more (retransmissions, further 2xx
 *     from a forking proxy downstream, 16.7 step 5): our Via removed, sent to the next Via by its
 *     received/rport (18.2.2, RFC 3581).
 */
import {
  getMaxForwards,
  getTopVia,
  parseUri,
  type SipRequest,
  type SipResponse,
  type SipUri,
  type Uri,
} from '../sip/message/index.js';
import type { TransactionLayer } from '../sip/transaction/index.js';
import type { Endpoint, Logger } from '../sip/transport/index.js';
import { decrementMaxForwards } from './forward-request.js';
import { firstRoute, numericEndpoint, postprocessRoutes, preprocessRoutes } from './route.js';
import type { SelfAddresses } from './self.js';
import type { TargetResolver } from './types.js';
import { viaDestination } from './via.js';

export interface StatelessDeps {
  readonly layer: TransactionLayer;
  readonly self: SelfAddresses;
  readonly resolver: TargetResolver;
  readonly log: Logger;
  /** Counts what went out. */
  sent(): void;
}

/** Sends a response (our Via already removed) to where its now-topmost Via points. */
export function forwardResponseByVia(response: SipResponse, deps: StatelessDeps): void {
  let dest: Endpoint | undefined;
  try {
    dest = viaDestination(getTopVia(response));
  } catch {
    dest = undefined;
  }
  if (dest === undefined) {
    deps.log.debug({ status: response.status }, 'response with no usable next Via dropped');
    return;
  }
  deps.sent();
  deps.layer.sendStateless(response, dest, (e) => deps.log.debug({ err: e.message }, 'stateless response forward failed'));
}

/** Where a host name goes: the resolver's next-hop helper if it has one. */
export async function resolveHop(uri: Uri, resolver: TargetResolver): Promise<Endpoint | undefined> {
  const numeric = numericEndpoint(uri);
  if (numeric !== undefined) return numeric;
  if (uri.kind !== 'sip' || uri.hostKind !== 'domain' || resolver.resolveNextHop === undefined) return undefined;
  return resolver.resolveNextHop(uri as SipUri);
}

/** Forwards an ACK for a 2xx. Resolves once sent or dropped; never rejects. */
export async function forwardAck(ack: SipRequest, deps: StatelessDeps): Promise<void> {
  try {
    // 16.3 step 3: nothing with Max-Forwards 0 is forwarded (an ACK gets no 483).
    if (getMaxForwards(ack) === 0) return;
    const copy = preprocessRoutes(ack, deps.self);
    const routed = firstRoute(copy) !== undefined;
    if (!routed && deps.self.isLocalRequestUri(copy.uri)) return; // for a 2xx our local handler sent
    decrementMaxForwards(copy);
    const hop = postprocessRoutes(copy) ?? copy.uri;
    let dest: Endpoint | undefined;
    if (routed || !deps.self.isSelfUri(hop)) dest = await resolveHop(hop, deps.resolver);
    // The last hop is a NATed phone's Contact: over its registration flow (TargetResolver.flowOf).
    if (!routed && dest !== undefined) dest = deps.resolver.flowOf?.(hop) ?? dest;
    if (dest === undefined && !routed) {
      // A Request-URI we are responsible for (or a name without a next-hop helper): as for the INVITE.
      const found = await deps.resolver.resolve(copy);
      if (Array.isArray(found)) {
        const best = [...found].sort((a, b) => (b.q ?? 1) - (a.q ?? 1))[0];
        const uri = best === undefined ? undefined : parseUri(best.uri);
        if (best !== undefined && uri !== undefined && uri.ok) {
          copy.uri = uri.value;
          dest = best.destination;
        }
      }
    }
    if (dest === undefined) {
      deps.log.debug({ uri: copy.uriRaw }, 'ACK with no reachable next hop dropped');
      return;
    }
    deps.sent();
    deps.layer.sendAck(copy, dest, (e) => deps.log.debug({ err: e.message }, 'ACK forward failed'));
  } catch (e) {
    deps.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'ACK forwarding failed');
  }
}
