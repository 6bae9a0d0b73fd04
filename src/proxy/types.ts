/**
 * Vocabulary of the stateful proxy core (RFC 3261 section 16): what it asks of the element that
 * finds targets (location service, overlay lookup, RFC 3263), and how it is configured.
 */
import type { Clock } from '../common/clock.js';
import type { SipRequest, SipUri, Uri } from '../sip/message/index.js';
import type { ServerTransaction, TransactionLayer } from '../sip/transaction/index.js';
import type { Endpoint, Logger, Protocol } from '../sip/transport/index.js';

export type { Endpoint, Logger, Protocol };

/** One element of the target set (16.5), already resolved to a transport address. */
export interface ProxyTarget {
  /** The new Request-URI of this branch (16.6 step 2), as text. */
  readonly uri: string;
  /** Where to send it when no Route header remains (16.6 step 7). */
  readonly destination: Endpoint;
  /** Contact q-value; with more targets than branches allowed the highest are kept. */
  readonly q?: number;
  /**
   * Further addresses of the same server set, in the order to try them (RFC 3263 4.3: the SRV/A
   * records after the first). The branch moves to the next one when the current one fails: a
   * transport error, a timeout, a 503, or, for an INVITE, no response at all within 4*T1 (a live
   * next hop answers an INVITE within 200 ms, RFC 3261 17.2.1). Present, even empty, marks a
   * located server set: when every address failed, the branch ends with 480 and Retry-After.
   */
  readonly failover?: readonly Endpoint[];
}

/** A failure the resolver wants answered as is, e.g. 480/503 with Retry-After (overlay unreachable), 604. */
export interface ResolveFailure {
  readonly status: number;
  readonly reason: string;
  readonly retryAfterS?: number;
}

export interface TargetResolver {
  /**
   * Targets for a request whose Request-URI is not this proxy and which carries no Route after 16.4
   * (or whose Request-URI host is a name): [] gives 404, a ResolveFailure gives that status.
   * A rejection gives 500; taking longer than ProxyOptions.timers.resolve gives 503.
   */
  resolve(request: SipRequest): Promise<ProxyTarget[] | ResolveFailure>;
  /**
   * Optional: the transport address of a next hop named by host name (a Route URI or an ACK's
   * Request-URI with a domain). Without it such hops fail with 503 (numeric hosts need no help).
   */
  resolveNextHop?(uri: SipUri): Promise<Endpoint | undefined>;
  /**
   * Optional: does this Request-URI name something the resolver serves although its host:port is
   * not this proxy? (kadsip: `sip:bob@IP:PORT` where IP hosts an overlay, or another peer's port.)
   * An out-of-dialog request for such a URI goes to the resolver instead of straight to IP:PORT.
   */
  isResponsibleFor?(uri: Uri): boolean;
  /**
   * Optional: where a Request-URI that is a registered phone's Contact really goes, when that phone
   * is reached only over the flow it registered on (behind NAT). In-dialog requests (and ACKs for
   * 2xx) name the phone's Contact, which may be a private address; undefined: the URI's address.
   */
  flowOf?(uri: Uri): Endpoint | undefined;
}

/** One address this proxy answers on. Port is the number in our Via and Record-Route. */
export interface SelfAddress {
  readonly host: string;
  readonly port: number;
  readonly protocol: Protocol;
}

/**
 * RFC 5658: which of this proxy's addresses (one of ProxyOptions.self, host and port) the element at
 * `remote` reaches it at. A node behind NAT: its private address for the private side, its reflexive
 * address for everyone else.
 */
export type AddressFacing = (remote: Endpoint) => { readonly host: string; readonly port: number };

export type LocalHandler = (request: SipRequest, txn: ServerTransaction) => void;

/** What the proxy tells its admission policy about a request it is about to forward (16.3 step 6). */
export interface AdmissionRequest {
  /** As received (its Proxy-Authorization, Request-URI and Route as the sender wrote them). */
  readonly request: SipRequest;
  /** After route preprocessing (16.4): what would be forwarded. */
  readonly pre: SipRequest;
  /** Where it came from (the transport source, not what the Via says). */
  readonly source: Endpoint;
  /** 16.4 removed a Route value of ours (or undid a strict router's Request-URI): it came by our Record-Route. */
  readonly viaOurRoute: boolean;
}

/** Forward it (`request`: a replacement for `pre`, e.g. without consumed credentials), or answer this. */
export type AdmissionVerdict =
  | { readonly admit: true; readonly request?: SipRequest }
  | { readonly admit: false; readonly status: number; readonly reason: string; readonly headers?: ReadonlyArray<readonly [string, string]> };

export type Admission = (request: AdmissionRequest) => AdmissionVerdict;

export interface ProxyTimers {
  /**
   * Timer C (16.6 step 11) of this proxy, restarted by every provisional other than 100 (16.7 step 2).
   * The transaction layer's own Timer C (TimerValues.C) always applies too: the shorter one wins.
   * Default: none of our own (the layer's alone).
   */
  readonly C?: number;
  /** For the 64*T1 wait after CANCELling a branch (9.1). Default 500. */
  readonly T1?: number;
  /** Longest wait for the resolver before answering 503. Default 10 000. */
  readonly resolve?: number;
}

export interface ProxyLimits {
  /** Branches per request (16.6); targets beyond it (lowest q first) are dropped. Default 10. */
  readonly maxBranches?: number;
  /** Response contexts alive at once; beyond it new requests get 503 with Retry-After. Default 10 000. */
  readonly maxContexts?: number;
}

export interface ProxyOptions {
  readonly transactions: TransactionLayer;
  /** This proxy's own addresses: Route/Request-URI recognition (16.4), loop detection (16.3), Record-Route. */
  readonly self: readonly SelfAddress[];
  /** Record-Route every request that may create a dialog (16.6 step 4). Default true. */
  readonly recordRoute?: boolean;
  /**
   * The address of ours facing a given previous or next hop (RFC 5658). When the request came in
   * on one address and leaves by another, the proxy record-routes both. Default: the first own
   * address of the hop's protocol, the same whatever the hop, so one Record-Route value.
   */
  readonly addressFacing?: AddressFacing;
  readonly resolver: TargetResolver;
  /** Option tags we accept in Proxy-Require (16.3 step 5); others give 420. Default none. */
  readonly supportedExtensions?: readonly string[];
  /** Clock for the proxy's own timers. Default the real clock. */
  readonly clock?: Clock;
  readonly timers?: ProxyTimers;
  readonly limits?: ProxyLimits;
  readonly logger?: Logger;
  /**
   * 16.3 step 6 and local policy: asked about every request the proxy would forward (after the
   * other checks of 16.3, before 100 Trying). Default: everything is forwarded.
   */
  readonly admission?: Admission;
  /**
   * Requests whose Request-URI is this proxy itself (no user part), after 16.4: OPTIONS pings,
   * REGISTER, ... Default: 200 for OPTIONS, 404 for anything else.
   */
  readonly local?: LocalHandler;
}

export interface ProxyStats {
  /** Response contexts alive now. */
  readonly contexts: number;
  /** Requests forwarded statefully (one per request, whatever the number of branches). */
  readonly forwarded: number;
  /** Branches (client transactions) started. */
  readonly branches: number;
  /** ACKs and 2xx forwarded statelessly. */
  readonly statelessForwarded: number;
  /** Requests answered by the proxy itself with an error (4xx-6xx it generated). */
  readonly rejected: number;
}
