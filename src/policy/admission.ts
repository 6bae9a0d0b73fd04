/**
 * The request-admission policy of a node (README "Who may do what"): the proxy asks it about
 * every request it is about to forward (RFC 3261 16.3 step 6, "Proxy-Authorization check"), the
 * node asks it about every REGISTER (cooling-off, and counting the registrar's failed digests).
 * The rules themselves are decide() (decide.ts); this module gathers the facts (trusted networks,
 * the destination, the overlay's peers), checks Proxy-Authorization with the one
 * DigestAuthenticator the registrar uses too, keeps the failed-authentication counts and says so
 * in counters and rate-limited log lines.
 */
import type { Logger } from '../common/logger.js';
import type { AdmissionRequest, AdmissionVerdict } from '../proxy/types.js';
import type { DigestAuthenticator, VerifyFailure } from '../registrar/digest.js';
import { SipHeaders, parseNameAddr, tagOf, type SipRequest } from '../sip/message/index.js';
import type { Endpoint } from '../sip/transport/index.js';
import { AuthFailures } from './auth-failures.js';
import { inNetworks, type Cidr } from './cidr.js';
import { decide, type AcceptRule, type Destination, type SourceKind } from './decide.js';

export interface AdmissionPolicyOptions {
  /** The `trust` setting. */
  readonly trustedNetworks: readonly Cidr[];
  /** The `dnsRouting` setting: false refuses requests to other domains with 404. */
  readonly dnsRouting: boolean;
  /** The node's digest authenticator (users file); none: nothing to challenge with. */
  readonly auth?: DigestAuthenticator;
  readonly failures: AuthFailures;
  /** Where a request goes, after route preprocessing (the node knows its registrar and overlay). */
  readonly destinationOf: (pre: SipRequest) => Destination;
  /** Is this source a peer of the overlay's routing table (closed overlay: enrolled peers only)? */
  readonly isPeer: (source: Endpoint) => boolean;
  readonly now: () => number;
  readonly log: Logger;
  /** At most one log line per kind of refusal per this many ms. Default 10 000. */
  readonly logIntervalMs?: number;
}

/** Digest failures that count towards a cooling-off: a wrong guess, not a stale nonce or a first try. */
const COUNTED: ReadonlySet<VerifyFailure> = new Set(['bad-response', 'unknown-user', 'replay', 'opaque', 'uri-mismatch', 'malformed']);

export interface AdmissionStats {
  /** 407 challenges sent (first tries, stale nonces and failures alike). */
  challenges407: number;
  /** 401 challenges the registrar sent. */
  challenges401: number;
  /** Credentials that were wrong (COUNTED reasons), REGISTER and proxied requests together. */
  authFailures: number;
  /** Sources that entered a cooling-off. */
  coolingOffStarted: number;
  /** Requests refused 403 because their source was cooling off. */
  coolingOffRefusals: number;
  /** 403 Not Relaying: no users file and an untrusted source. */
  notRelaying: number;
  /** 404 to another domain with DNS routing off. */
  dnsRoutingRefusals: number;
  /** ACKs for 2xx not relayed: they did not come by our Record-Route nor from a sender we relay for. */
  acksDropped: number;
  /** Requests admitted, by the rule that admitted them (`authenticated` after a good digest). */
  accepted: Record<AcceptRule | 'authenticated', number>;
}

export class AdmissionPolicy {
  readonly stats: AdmissionStats = {
    challenges407: 0,
    challenges401: 0,
    authFailures: 0,
    coolingOffStarted: 0,
    coolingOffRefusals: 0,
    notRelaying: 0,
    dnsRoutingRefusals: 0,
    acksDropped: 0,
    accepted: { 'ack-cancel': 0, 'in-dialog': 0, terminating: 0, trusted: 0, 'overlay-peer': 0, authenticated: 0 },
  };
  readonly #o: AdmissionPolicyOptions;
  readonly #lastLog = new Map<string, { at: number; suppressed: number }>();

  constructor(opts: AdmissionPolicyOptions) {
    this.#o = opts;
  }

  get trustedNetworks(): readonly Cidr[] {
    return this.#o.trustedNetworks;
  }

  /** Sources in cooling-off now. */
  coolingOffNow(): number {
    return this.#o.failures.coolingCount(this.#o.now());
  }

  isTrusted(host: string): boolean {
    return inNetworks(host, this.#o.trustedNetworks);
  }

  /** For ProxyOptions.admission. */
  readonly admit = (r: AdmissionRequest): AdmissionVerdict => {
    const o = this.#o;
    const source: SourceKind = this.isTrusted(r.source.host) ? 'trusted' : 'other';
    const destination = o.destinationOf(r.pre);
    const decision = decide({
      method: r.request.method,
      inDialog: hasToTag(r.request),
      viaOurRoute: r.viaOurRoute,
      destination,
      // Asked only when it matters: the routing table is read per request.
      source: source === 'other' && destination === 'overlay' && o.isPeer(r.source) ? 'peer' : source,
      canAuthenticate: o.auth !== undefined,
      dnsRouting: o.dnsRouting,
    });
    if (decision.action === 'accept') {
      this.stats.accepted[decision.rule]++;
      return { admit: true };
    }
    if (decision.action === 'refuse') {
      if (decision.rule === 'no-users-file') this.stats.notRelaying++;
      else if (decision.rule === 'ack-not-ours') this.stats.acksDropped++;
      else this.stats.dnsRoutingRefusals++;
      this.#note(decision.rule, { source: r.source.host, method: r.request.method, uri: r.request.uriRaw, status: decision.status }, `${decision.status} ${decision.reason}`);
      return { admit: false, status: decision.status, reason: decision.reason };
    }
    return this.#authenticate(r, o.auth!);
  };

  /**
   * A REGISTER from a source in cooling-off gets this 403 (its credentials are not checked);
   * undefined: let the registrar handle it.
   */
  refuseRegister(source: Endpoint): AdmissionVerdict | undefined {
    return this.#cooling(source, 'REGISTER');
  }

  /** What the registrar did with a REGISTER: its 401s and failed digests count as the proxy's do. */
  registerOutcome(source: Endpoint, status: number, failure: VerifyFailure | undefined): void {
    if (status === 401) this.stats.challenges401++;
    if (failure !== undefined) this.#failed(source, failure, 'REGISTER');
    else if (status < 300) this.#o.failures.succeed(source.host);
  }

  #authenticate(r: AdmissionRequest, auth: DigestAuthenticator): AdmissionVerdict {
    const refused = this.#cooling(r.source, r.request.method);
    if (refused) return refused;
    const now = this.#o.now();
    const v = auth.verify(r.request, now, true);
    if (v.ok) {
      this.#o.failures.succeed(r.source.host);
      this.stats.accepted.authenticated++;
      return { admit: true, request: withoutCredentials(r.pre, auth) };
    }
    if (this.#failed(r.source, v.reason, r.request.method)) return this.#cooling(r.source, r.request.method)!;
    // RFC 3261 22.3: 407 with Proxy-Authenticate; stale=true when only the nonce was old
    // (RFC 7616 3.3), so the phone retries without asking its user.
    this.stats.challenges407++;
    return {
      admit: false,
      status: 407,
      reason: 'Proxy Authentication Required',
      headers: auth.challenge(now, v.stale).map((c): [string, string] => ['Proxy-Authenticate', c]),
    };
  }

  /** Counts a failure; true when it started the source's cooling-off. */
  #failed(source: Endpoint, reason: VerifyFailure, method: string): boolean {
    if (!COUNTED.has(reason)) return false;
    this.stats.authFailures++;
    const started = this.#o.failures.fail(source.host, this.#o.now());
    if (started) {
      this.stats.coolingOffStarted++;
      const f = this.#o.failures;
      // Once per cooling-off: the line an operator (or fail2ban) acts on.
      this.#o.log.warn(
        { source: source.host, method, failures: f.limit, windowS: f.windowMs / 1000, coolingOffS: f.coolingOffMs / 1000 },
        'too many failed authentications: source refused (403) for the cooling-off time',
      );
    } else {
      this.#o.log.debug({ source: source.host, method, reason }, 'digest authentication failed');
    }
    return started;
  }

  #cooling(source: Endpoint, method: string): AdmissionVerdict | undefined {
    // Trusted networks are never locked out by a misconfigured phone among them.
    if (this.isTrusted(source.host) || !this.#o.failures.coolingOff(source.host, this.#o.now())) return undefined;
    this.stats.coolingOffRefusals++;
    this.#note('cooling-off', { source: source.host, method }, '403 to a source cooling off after failed authentications');
    return {
      admit: false,
      status: 403,
      reason: 'Forbidden',
      headers: [['Warning', '399 kadsip "too many failed authentications from this address; try later"']],
    };
  }

  /** One info line per kind at most every logIntervalMs, saying how many were not logged. */
  #note(kind: string, fields: Record<string, unknown>, message: string): void {
    const now = this.#o.now();
    const interval = this.#o.logIntervalMs ?? 10_000;
    const last = this.#lastLog.get(kind);
    if (last !== undefined && now - last.at < interval) {
      last.suppressed++;
      return;
    }
    this.#o.log.info({ ...fields, ...(last?.suppressed ? { notLogged: last.suppressed } : {}) }, message);
    this.#lastLog.set(kind, { at: now, suppressed: 0 });
  }
}

function hasToTag(req: SipRequest): boolean {
  const to = parseNameAddr(req.headers.get('to') ?? '');
  return to.ok && tagOf(to.value) !== undefined;
}

/**
 * The request to forward without the Proxy-Authorization values for our realm: we consumed them
 * (RFC 3261 22.3: a value "MUST NOT be consumed by any proxy whose realm does not match"), so
 * other realms' credentials, meant for a proxy further on, go on untouched.
 */
function withoutCredentials(pre: SipRequest, auth: DigestAuthenticator): SipRequest {
  const fields = pre.headers.entries();
  const kept = fields.filter((f) => f.key !== 'proxy-authorization' || !auth.isOwnCredentials(f.value));
  if (kept.length === fields.length) return pre;
  return { ...pre, headers: new SipHeaders(kept.map((f) => ({ name: f.name, value: f.value }))) };
}
