/**
 * The registrar of RFC 3261 section 10.3 for unmodified phones, sans-IO: handle() takes a parsed
 * REGISTER, where it came from and `now`, and returns the response to send plus the binding
 * changes, from which the node derives when to publish or withdraw AoR -> itself in the overlay
 * (aorBecameReachable / aorBecameUnreachable in binding-store.ts). No timers: the node calls
 * expire(now) periodically; lookups and responses ignore bindings past their expiry anyway.
 *
 * Choices where the RFC leaves one:
 * - Request-URI domain not ours (10.3 step 1): this node does not forward REGISTER, so it
 *   answers 403 "Not a domain of this registrar".
 * - Out-of-order Call-ID/CSeq (10.3 step 7 only says "the request fails"): 500 "Out of order
 *   CSeq", the code RFC 3261 12.2.2 prescribes for an out-of-order in-dialog request.
 * - More bindings than maxBindingsPerAor: 403 "Too many registrations" (a policy refusal that a
 *   retry will not change); the store holding maxAors AoRs: 503 with Retry-After (capacity).
 * - The To AoR must be a SIP/SIPS URI with a user part in one of our domains, else 404 (step 5).
 * - With digest, the authenticated user must equal the To user (step 4) unless `authorize` says
 *   otherwise: else 403.
 * - A REGISTER is all-or-nothing: every Contact is checked (423, 400, 500, limits) before any
 *   binding changes, and additions are applied before removals so that replacing a Contact in one
 *   REGISTER never makes the AoR look unreachable in between.
 */
import {
  HeaderError,
  canonicalAor,
  checkRequestSemantics,
  createResponse,
  getCSeq,
  getCallId,
  getContacts,
  getTo,
  percentDecode,
  serializeNameAddr,
  serializeUri,
  type NameAddr,
  type SipRequest,
  type SipResponse,
  type SipUri,
  type Uri,
} from '../sip/message/index.js';
import type { Endpoint } from '../sip/transport/index.js';
import { BindingStore, type RegistrarBinding, type BindingChange } from './binding-store.js';
import {
  contactInstanceId,
  contactQ,
  contactRegId,
  expiresHeader,
  requestedExpires,
} from './contact-fields.js';
import type { DigestAuthenticator, VerifyFailure } from './digest.js';
import { uriEquals } from './uri-equal.js';

export interface RegistrarOptions {
  /**
   * Which hosts are ours: the node's own addresses and the overlay domains. Called with the host
   * of the Request-URI and of the To URI, lower-cased, an IPv6 reference with its brackets.
   */
  readonly domains: (host: string) => boolean;
  /** Shortest accepted non-zero interval; shorter gives 423 with Min-Expires. Default 60. */
  readonly minExpiresS?: number;
  /** Longer requested intervals are shortened to this (10.3 step 6). Default 3600. */
  readonly maxExpiresS?: number;
  /** Interval when neither the Contact nor an Expires header gives one. Default 3600. */
  readonly defaultExpiresS?: number;
  /** Digest authentication (steps 3 and 4); none when absent. */
  readonly auth?: DigestAuthenticator;
  /** May `user` (authenticated) register bindings for `to`? Default: same user part. */
  readonly authorize?: (user: string, to: SipUri, aor: string) => boolean;
  /** Is the AoR one of our users? When absent, any user of our domains is (step 5). */
  readonly isKnownAor?: (aor: string, to: SipUri) => boolean;
  /** Option tags we support; any other in Require gives 420 (step 2). Default none. */
  readonly supportedExtensions?: readonly string[];
  readonly maxAors?: number;
  readonly maxBindingsPerAor?: number;
  /** Wall time in ms since 1970 for the Date header (the `now` of handle() may be monotonic). Default Date.now. */
  readonly wallClock?: () => number;
  /** Seconds announced in Retry-After when the store is full. Default 300. */
  readonly retryAfterS?: number;
}

export interface RegisterResult {
  readonly response: SipResponse;
  /** In order: expired bindings swept, then additions/refreshes, then removals. */
  readonly changes: BindingChange[];
  /** The canonical AoR, once the To header was read. */
  readonly aor?: string;
  /** The authenticated user, when digest is configured and succeeded. */
  readonly user?: string;
  /** Why the digest check failed, when it did (the node counts failures per source: src/policy). */
  readonly authFailure?: VerifyFailure;
}

/** A Contact of the request, checked, ready to apply. */
interface PlannedContact {
  readonly na: NameAddr;
  readonly uri: Uri;
  readonly expiresS: number;
  readonly q: number;
  readonly existing: RegistrarBinding | undefined;
}

export class Registrar {
  readonly minExpiresS: number;
  readonly maxExpiresS: number;
  readonly defaultExpiresS: number;
  readonly store: BindingStore;
  readonly #opts: RegistrarOptions;
  readonly #wallClock: () => number;

  constructor(opts: RegistrarOptions) {
    this.#opts = opts;
    this.minExpiresS = opts.minExpiresS ?? 60;
    this.maxExpiresS = opts.maxExpiresS ?? 3600;
    this.defaultExpiresS = opts.defaultExpiresS ?? 3600;
    if (!(this.minExpiresS <= this.defaultExpiresS && this.defaultExpiresS <= this.maxExpiresS)) {
      throw new RangeError('expected minExpiresS <= defaultExpiresS <= maxExpiresS');
    }
    this.#wallClock = opts.wallClock ?? Date.now;
    this.store = new BindingStore({
      ...(opts.maxAors !== undefined ? { maxAors: opts.maxAors } : {}),
      ...(opts.maxBindingsPerAor !== undefined ? { maxBindingsPerAor: opts.maxBindingsPerAor } : {}),
    });
  }

  /** Processes one REGISTER (RFC 3261 section 10.3, steps 1-8). */
  handle(req: SipRequest, source: Endpoint, now: number): RegisterResult {
    const changes: BindingChange[] = [];
    let aor: string | undefined;
    let user: string | undefined;
    const reply = (status: number, reason?: string, headers: Array<[string, string]> = []): RegisterResult => ({
      response: createResponse(req, status, { ...(reason !== undefined ? { reason } : {}), headers }),
      changes,
      ...(aor !== undefined ? { aor } : {}),
      ...(user !== undefined ? { user } : {}),
    });

    if (req.method !== 'REGISTER') return reply(405, undefined, [['Allow', 'REGISTER']]);
    // 8.2.2 checks a UAS owes before the registrar ones: 416 scheme, 400 CSeq, 420 Require (step 2).
    const problem = checkRequestSemantics(req, { supportedExtensions: this.#opts.supportedExtensions ?? [] });
    if (problem) {
      const extra: Array<[string, string]> = problem.unsupported ? [['Unsupported', problem.unsupported.join(', ')]] : [];
      return reply(problem.status, problem.reason, extra);
    }
    // Step 1: the Request-URI names the domain of the registrar (10.2: sip:domain, no user part;
    // a user part is tolerated and ignored).
    if (req.uri.kind !== 'sip') return reply(416, 'Unsupported URI Scheme');
    if (!this.#opts.domains(req.uri.host.toLowerCase())) return reply(403, 'Not a domain of this registrar');

    // Headers parseMessage has validated; a hand-built request may still lack them.
    let to: NameAddr;
    let callId: string;
    let cseq: number;
    let contacts: ReturnType<typeof getContacts>;
    try {
      to = getTo(req);
      callId = getCallId(req);
      cseq = getCSeq(req).seq;
      contacts = getContacts(req);
    } catch (e) {
      if (e instanceof HeaderError) return reply(400, `Invalid ${e.header} header`);
      throw e;
    }
    const expiresHdr = expiresHeader(req.headers.get('expires'));

    // Step 5 (the AoR) is read before steps 3-4 because authorization needs it; its 404 still
    // comes after authentication, so an unauthenticated sender learns nothing about our users.
    const toUri = to.uri;
    const aorValid = toUri.kind === 'sip' && toUri.user !== null && this.#opts.domains(toUri.host.toLowerCase());

    // Steps 3 and 4: authentication and authorization.
    const auth = this.#opts.auth;
    if (auth !== undefined) {
      const v = auth.verify(req, now);
      if (!v.ok) {
        const challenged = reply(401, undefined, auth.challenge(now, v.stale).map((c): [string, string] => ['WWW-Authenticate', c]));
        return { ...challenged, authFailure: v.reason };
      }
      user = v.user;
      if (toUri.kind === 'sip' && toUri.user !== null) {
        const allowed = this.#opts.authorize
          ? this.#opts.authorize(v.user, toUri, canonicalAor(toUri))
          : percentDecode(toUri.user) === v.user;
        if (!allowed) return reply(403, 'Not allowed to register this address-of-record');
      }
    }

    // Step 5: the address-of-record.
    if (!aorValid || toUri.kind !== 'sip') return reply(404, 'Not a valid address-of-record');
    const theAor = canonicalAor(toUri);
    aor = theAor;
    if (this.#opts.isKnownAor && !this.#opts.isKnownAor(theAor, toUri)) return reply(404, 'Not Found');

    changes.push(...this.store.expireAor(theAor, now));

    // Step 6 without Contact: a query; the 200 lists the current bindings (10.2.3).
    if (contacts === undefined) return this.#ok(req, theAor, now, changes, user);

    if (contacts.star) {
      // "Contact: *" only alone and with Expires: 0 (10.3 step 6), else 400.
      if (req.headers.count('contact') !== 1 || expiresHdr !== 0) {
        return reply(400, 'Contact "*" requires Expires: 0 and no other Contact');
      }
      const current = this.store.all(theAor).slice();
      // Step 7 for every binding: same Call-ID with a CSeq not higher aborts the request.
      if (current.some((b) => b.callId === callId && cseq <= b.cseq)) return reply(500, 'Out of order CSeq');
      for (const b of current) {
        const c = this.store.remove(b, 'removed');
        if (c) changes.push(c);
      }
      return this.#ok(req, theAor, now, changes, user);
    }

    // Steps 6 and 7 for each Contact, checked before anything changes.
    const planned: PlannedContact[] = [];
    let tooBrief = false;
    for (const na of contacts.values) {
      const q = contactQ(na);
      if (q === null) return reply(400, 'Invalid q value in Contact');
      const requested = requestedExpires(na, expiresHdr, this.defaultExpiresS);
      if (requested > 0 && requested < this.minExpiresS) tooBrief = true;
      const expiresS = Math.min(requested, this.maxExpiresS);
      const existing = this.store.find(theAor, na.uri);
      // The same URI twice in one REGISTER: the last one wins.
      const dup = planned.findIndex((p) => uriEquals(p.uri, na.uri));
      if (dup >= 0) planned.splice(dup, 1);
      planned.push({ na, uri: na.uri, expiresS, q, existing });
    }
    // 423 names the shortest interval we accept (10.3 step 6, 20.23).
    if (tooBrief) return reply(423, 'Interval Too Brief', [['Min-Expires', String(this.minExpiresS)]]);
    for (const p of planned) {
      if (p.existing && p.existing.callId === callId && cseq <= p.existing.cseq) return reply(500, 'Out of order CSeq');
    }

    // Bounds.
    const live = this.store.all(theAor).length;
    const adds = planned.filter((p) => p.expiresS > 0 && p.existing === undefined).length;
    const removes = planned.filter((p) => p.expiresS === 0 && p.existing !== undefined).length;
    if (live + adds - removes > this.store.maxBindingsPerAor) {
      return reply(403, 'Too many registrations', [['Warning', `399 registrar "at most ${this.store.maxBindingsPerAor} bindings per address-of-record"`]]);
    }
    if (live === 0 && adds > 0 && this.store.aorCount >= this.store.maxAors) {
      changes.push(...this.store.expire(now));
      if (this.store.aorCount >= this.store.maxAors) {
        return reply(503, 'Registrar full', [['Retry-After', String(this.#opts.retryAfterS ?? 300)]]);
      }
    }

    // Apply: additions and refreshes first, then removals.
    const puts = planned.filter((p) => p.expiresS > 0).map((p) => this.#binding(theAor, p, callId, cseq, source, now));
    const removals = planned.flatMap((p) => (p.expiresS === 0 && p.existing !== undefined ? [p.existing] : []));
    changes.push(...this.store.apply(theAor, puts, removals));
    return this.#ok(req, theAor, now, changes, user);
  }

  /** Unexpired bindings of a canonical AoR, highest q first (the proxy's target set). */
  lookup(aor: string, now: number): RegistrarBinding[] {
    return this.store.lookup(aor, now);
  }

  /** Removes and returns the bindings whose expiry is at or before `now`. */
  expire(now: number): BindingChange[] {
    return this.store.expire(now);
  }

  /** The AoRs holding bindings (some may be expired until the next expire()). */
  aors(): IterableIterator<string> {
    return this.store.aors();
  }

  #binding(aor: string, p: PlannedContact, callId: string, cseq: number, source: Endpoint, now: number): RegistrarBinding {
    const instanceId = contactInstanceId(p.na);
    const regId = contactRegId(p.na);
    return {
      aor,
      contact: serializeUri(p.uri),
      contactUri: p.uri,
      params: p.na.params.filter((x) => x.name.toLowerCase() !== 'expires'),
      q: p.q,
      expiresAt: now + p.expiresS * 1000,
      callId,
      cseq,
      source,
      ...(instanceId !== undefined ? { instanceId } : {}),
      ...(regId !== undefined ? { regId } : {}),
      createdAt: p.existing?.createdAt ?? now,
      updatedAt: now,
    };
  }

  /** Step 8: 200 OK listing every current binding with its remaining expires, plus Date. */
  #ok(req: SipRequest, aor: string, now: number, changes: BindingChange[], user: string | undefined): RegisterResult {
    const headers: Array<[string, string]> = [];
    for (const b of this.store.lookup(aor, now)) headers.push(['Contact', contactValue(b, now)]);
    headers.push(['Date', new Date(this.#wallClock()).toUTCString()]);
    return {
      response: createResponse(req, 200, { headers }),
      changes,
      aor,
      ...(user !== undefined ? { user } : {}),
    };
  }
}

/** Seconds left, rounded up, at least 1 while the binding lives (expires=0 would read as removed). */
export function remainingSeconds(b: RegistrarBinding, now: number): number {
  return Math.max(1, Math.ceil((b.expiresAt - now) / 1000 - 1e-6));
}

function contactValue(b: RegistrarBinding, now: number): string {
  return serializeNameAddr({
    displayName: null,
    uri: b.contactUri,
    angle: true,
    params: [...b.params, { name: 'expires', value: String(remainingSeconds(b, now)) }],
  });
}
