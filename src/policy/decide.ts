/**
 * Who may do what on the phone side (README "Who may do what"): one pure function from the facts
 * of a request to what the node does with it, in the order Kamailio's default configuration
 * (kamailio.cfg: WITHINDLG, then AUTH with IP trust, then "403 Not relaying") applies its checks.
 * REGISTER is not decided here: the registrar challenges it with 401 whenever a users file exists
 * (src/registrar/registrar.ts); this function is for requests the proxy would forward.
 *
 * 1. ACK and CANCEL are never challenged (RFC 3261 section 22.1: they cannot be resubmitted with
 *    credentials). A CANCEL only ever cancels an INVITE transaction of ours that itself passed. An
 *    ACK (for a 2xx: a stray for the proxy) follows rules 2-6 and is dropped where anything else
 *    would be challenged or refused: as in Kamailio, it is relayed when it came by our
 *    Record-Route, not when its Route set merely points elsewhere (no open relay through Route).
 * 2. In-dialog requests (To tag) that reached us by our own Record-Route (RFC 3261 16.4: we popped
 *    our Route value) pass, as in Kamailio's WITHINDLG: the dialog was admitted when it was created.
 * 3. Requests to other domains (RFC 3263) when DNS routing is off: 404 (RFC 3261 21.4.4, "the
 *    domain in the Request-URI does not match any of the domains handled by the recipient"),
 *    whoever sends them. Not 403: phones read 403 after a challenge as "wrong password".
 * 4. Requests to a phone registered at this node: accepted from anyone (terminating calls; the
 *    overlay's peers deliver calls for this node's phones here, and so may any SIP server).
 * 5. A trusted source (the `trust` networks): accepted.
 * 6. To an overlay user registered at another node, from a peer in this node's routing table
 *    (a closed overlay admits only enrolled peers there): accepted, since any peer may reach the
 *    callee's node directly anyway (a stale record, a phone that just moved).
 * 7. Everything else leaves the node on someone's behalf: with a users file, digest-challenged
 *    (407, RFC 3261 22.3); without one, nothing to challenge with: 403 "Not Relaying".
 */

/** Where the request goes after route preprocessing (RFC 3261 16.4). */
export type Destination =
  /** An AoR with a binding at this node's registrar. */
  | 'registered-here'
  /** An AoR of the overlay (an overlay domain or a node's address) not registered here. */
  | 'overlay'
  /** Another DNS domain, or an IP address outside the overlay (RFC 3263). */
  | 'foreign'
  /** A Route set that goes on past us: the Route decides the next hop. */
  | 'routed';

/** What the node knows of the sender. */
export type SourceKind = 'trusted' | 'peer' | 'other';

export interface AdmissionFacts {
  readonly method: string;
  /** The To header has a tag (RFC 3261 12: an in-dialog request). */
  readonly inDialog: boolean;
  /** Our Record-Route value was the top Route (or a strict router's Request-URI), popped in 16.4. */
  readonly viaOurRoute: boolean;
  readonly destination: Destination;
  readonly source: SourceKind;
  /** A users file is configured: there is something to challenge with. */
  readonly canAuthenticate: boolean;
  /** The `dnsRouting` setting. */
  readonly dnsRouting: boolean;
}

export type Decision =
  | { readonly action: 'accept'; readonly rule: AcceptRule }
  | { readonly action: 'authenticate' }
  | { readonly action: 'refuse'; readonly status: 403 | 404; readonly reason: string; readonly rule: RefuseRule };

export type AcceptRule = 'ack-cancel' | 'in-dialog' | 'terminating' | 'trusted' | 'overlay-peer';
export type RefuseRule = 'dns-routing-off' | 'no-users-file' | 'ack-not-ours';

export const NOT_RELAYING = 'Not Relaying';
export const NO_DNS_ROUTING = 'No Routing To Other Domains';

export function decide(f: AdmissionFacts): Decision {
  const method = f.method.toUpperCase();
  if (method === 'CANCEL') return { action: 'accept', rule: 'ack-cancel' };
  if (f.inDialog && f.viaOurRoute) return { action: 'accept', rule: 'in-dialog' };
  if (f.destination === 'foreign' && !f.dnsRouting) return { action: 'refuse', status: 404, reason: NO_DNS_ROUTING, rule: 'dns-routing-off' };
  if (f.destination === 'registered-here') return { action: 'accept', rule: 'terminating' };
  if (f.source === 'trusted') return { action: 'accept', rule: 'trusted' };
  if (f.destination === 'overlay' && f.source === 'peer') return { action: 'accept', rule: 'overlay-peer' };
  // Nobody answers an ACK: the proxy drops it (the status is never sent).
  if (method === 'ACK') return { action: 'refuse', status: 403, reason: NOT_RELAYING, rule: 'ack-not-ours' };
  if (f.canAuthenticate) return { action: 'authenticate' };
  return { action: 'refuse', status: 403, reason: NOT_RELAYING, rule: 'no-users-file' };
}
