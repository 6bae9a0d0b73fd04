/**
 * HTTP Digest authentication for SIP (RFC 3261 section 22.4, RFC 7616, RFC 8760 for SHA-256),
 * server side, sans-IO: challenge() builds the WWW-Authenticate values, verify() checks the
 * Authorization of a request against the `now` it is given.
 *
 * Nonces are stateless (RFC 7616 section 3.3 suggests time-stamp + H(time-stamp ":" secret)):
 * base64url(timestamp[8] | salt[8] | HMAC-SHA256(secret, timestamp | salt)[16]); the salt keeps
 * two challenges of the same millisecond apart, so the nonce-count of one client is never taken
 * for a replay of another. The only state is a bounded LRU map nonce -> highest nc accepted, for
 * replay protection (RFC 7616 section 5.4/5.5).
 *
 * Only qop=auth is offered and accepted (no auth-int, no RFC 2069 responses without qop: those
 * carry no nonce-count and so no replay protection), and no -sess algorithms or userhash.
 */
import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import { parseUri, type SipRequest } from '../sip/message/index.js';
import { formatChallenge, parseCredentials, type DigestCredentials } from './digest-header.js';
import { uriEquals } from './uri-equal.js';
import type { DigestAlgorithm, UserSecret } from './users-file.js';

export type { DigestAlgorithm, Ha1Entry, UserSecret } from './users-file.js';

export type UserLookup = (user: string) => UserSecret | undefined;

export interface DigestAuthenticatorOptions {
  readonly realm: string;
  /** user -> password (or HA1 entries, see users-file.ts), as a map or a lookup function. */
  readonly users: ReadonlyMap<string, UserSecret> | UserLookup;
  /** HMAC key of the stateless nonces; 32 random bytes is plenty. */
  readonly secret: Buffer;
  /** How long a nonce is accepted after it was issued. Default 300 000 ms. */
  readonly nonceTtlMs?: number;
  /** Offered algorithms, in challenge order (RFC 8760 section 2.4: preferred first). Default SHA-256, MD5. */
  readonly algorithms?: readonly DigestAlgorithm[];
  /** Nonces whose highest nonce-count is remembered. Default 10 000. */
  readonly maxTrackedNonces?: number;
  /** Source of the nonce salt; tests may make it deterministic. */
  readonly random?: (bytes: number) => Buffer;
}

export type VerifyFailure =
  | 'no-credentials'
  | 'malformed'
  | 'unsupported'
  | 'opaque'
  | 'uri-mismatch'
  | 'unknown-user'
  | 'bad-response'
  | 'stale-nonce'
  | 'replay';

export type VerifyResult =
  | { readonly ok: true; readonly user: string; readonly algorithm: DigestAlgorithm }
  | { readonly ok: false; readonly stale: boolean; readonly reason: VerifyFailure; readonly detail: string };

const HASH: Readonly<Record<DigestAlgorithm, string>> = { 'SHA-256': 'sha256', MD5: 'md5' };

export function digestHash(algorithm: DigestAlgorithm, data: string): string {
  return createHash(HASH[algorithm]).update(data, 'utf8').digest('hex');
}

/** HA1 = H(username ":" realm ":" passwd) (RFC 7616 section 3.4.2). */
export function computeHa1(algorithm: DigestAlgorithm, user: string, realm: string, password: string): string {
  return digestHash(algorithm, `${user}:${realm}:${password}`);
}

export interface DigestResponseInput {
  readonly algorithm: DigestAlgorithm;
  readonly ha1: string;
  readonly nonce: string;
  readonly nc: string;
  readonly cnonce: string;
  readonly qop: string;
  readonly method: string;
  readonly uri: string;
}

/** response = H(HA1 ":" nonce ":" nc ":" cnonce ":" qop ":" H(method ":" uri)) (RFC 7616 section 3.4.1). */
export function digestResponse(i: DigestResponseInput): string {
  const ha2 = digestHash(i.algorithm, `${i.method}:${i.uri}`);
  return digestHash(i.algorithm, `${i.ha1}:${i.nonce}:${i.nc}:${i.cnonce}:${i.qop}:${ha2}`);
}

function parseAlgorithm(s: string | undefined): DigestAlgorithm | undefined {
  // Absent means MD5 (RFC 7616 section 3.3).
  if (s === undefined) return 'MD5';
  const u = s.toUpperCase();
  return u === 'MD5' ? 'MD5' : u === 'SHA-256' ? 'SHA-256' : undefined;
}

function safeEqualHex(a: string, b: string): boolean {
  const x = Buffer.from(a.toLowerCase(), 'utf8');
  const y = Buffer.from(b.toLowerCase(), 'utf8');
  return x.length === y.length && timingSafeEqual(x, y);
}

const NONCE_RE = /^[A-Za-z0-9_-]{43}$/;

type NonceState = { kind: 'valid'; issuedAt: number } | { kind: 'stale' | 'invalid' };

export class DigestAuthenticator {
  readonly realm: string;
  readonly algorithms: readonly DigestAlgorithm[];
  readonly nonceTtlMs: number;
  readonly opaque: string;
  readonly #lookup: UserLookup;
  readonly #secret: Buffer;
  readonly #maxTracked: number;
  readonly #random: (bytes: number) => Buffer;
  /** nonce -> highest nc accepted, least recently used first. */
  #seen = new Map<string, { nc: number; issuedAt: number }>();
  /** Issue time of the newest nonce evicted from #seen: untracked nonces not newer are stale. */
  #evictedUpTo = -Infinity;

  constructor(opts: DigestAuthenticatorOptions) {
    if (/[\r\n]/.test(opts.realm)) throw new TypeError('realm contains CR or LF');
    this.realm = opts.realm;
    this.algorithms = opts.algorithms ?? ['SHA-256', 'MD5'];
    if (this.algorithms.length === 0) throw new TypeError('no digest algorithm');
    this.nonceTtlMs = opts.nonceTtlMs ?? 300_000;
    if (opts.secret.length === 0) throw new TypeError('empty nonce secret');
    this.#secret = Buffer.from(opts.secret);
    this.#maxTracked = Math.max(1, opts.maxTrackedNonces ?? 10_000);
    this.#random = opts.random ?? randomBytes;
    const users = opts.users;
    this.#lookup = typeof users === 'function' ? users : (u) => users.get(u);
    // Opaque (RFC 7616 section 3.3) only has to come back unchanged; derive it from the secret.
    this.opaque = this.#mac(Buffer.from(`opaque:${this.realm}`, 'utf8')).toString('base64url');
  }

  /**
   * WWW-Authenticate (or Proxy-Authenticate) values for a 401 (407): one per algorithm, in the
   * configured order, sharing one fresh nonce (RFC 8760 section 2.4). `stale` tells the agent
   * that its credentials were right but the nonce was not, so it retries without asking the user.
   */
  challenge(now: number, stale = false): string[] {
    const nonce = this.#makeNonce(now);
    return this.algorithms.map((algorithm) =>
      formatChallenge({ realm: this.realm, nonce, opaque: this.opaque, algorithm, stale }),
    );
  }

  /**
   * Checks the request's credentials for our realm. `proxy` reads Proxy-Authorization (407
   * flow) instead of Authorization (401 flow). On success the nonce-count is recorded, so the
   * same request cannot be accepted twice.
   */
  verify(req: SipRequest, now: number, proxy = false): VerifyResult {
    const creds = this.#credentialsFor(req, proxy);
    if (creds === undefined) return fail('no-credentials', `no Digest credentials for realm "${this.realm}"`);
    const p = creds.params;
    const username = p.get('username');
    const nonce = p.get('nonce');
    const uri = p.get('uri');
    const response = p.get('response');
    if (username === undefined || nonce === undefined || uri === undefined || response === undefined) {
      return fail('malformed', 'username, nonce, uri and response are required');
    }
    const algorithm = parseAlgorithm(p.get('algorithm'));
    if (algorithm === undefined || !this.algorithms.includes(algorithm)) {
      return fail('unsupported', `algorithm ${p.get('algorithm') ?? 'MD5'} not offered`);
    }
    if ((p.get('userhash') ?? 'false').toLowerCase() !== 'false') return fail('unsupported', 'userhash not supported');
    const qop = p.get('qop');
    if (qop === undefined || qop.toLowerCase() !== 'auth') return fail('unsupported', 'qop=auth required');
    const ncText = p.get('nc');
    const cnonce = p.get('cnonce');
    if (ncText === undefined || !/^[0-9A-Fa-f]{8}$/.test(ncText) || cnonce === undefined || cnonce === '') {
      return fail('malformed', 'nc (8 hex digits) and cnonce are required with qop');
    }
    const nc = parseInt(ncText, 16);
    const opaque = p.get('opaque');
    // The agent must return opaque unchanged (RFC 7616 section 3.4); an absent one is tolerated.
    if (opaque !== undefined && opaque !== this.opaque) return fail('opaque', 'opaque does not match');
    if (!this.#uriMatches(uri, req)) return fail('uri-mismatch', 'digest uri differs from the Request-URI');

    const ha1 = this.#ha1(username, algorithm);
    if (ha1 === undefined) return fail('unknown-user', `no ${algorithm} credentials for "${username}"`);
    const expected = digestResponse({ algorithm, ha1, nonce, nc: ncText, cnonce, qop, method: req.method, uri });
    if (!safeEqualHex(expected, response)) return fail('bad-response', 'wrong digest response');

    // The digest is right: a nonce we no longer accept is only stale (RFC 7616 section 3.3 stale).
    const state = this.#checkNonce(nonce, now);
    if (state.kind !== 'valid') return { ok: false, stale: true, reason: 'stale-nonce', detail: `nonce ${state.kind}` };
    const seen = this.#seen.get(nonce);
    if (seen === undefined && state.issuedAt <= this.#evictedUpTo) {
      return { ok: false, stale: true, reason: 'stale-nonce', detail: 'nonce no longer tracked' };
    }
    if (seen !== undefined && nc <= seen.nc) return fail('replay', `nonce-count ${ncText} already used`);
    this.#remember(nonce, nc, state.issuedAt);
    return { ok: true, user: username, algorithm };
  }

  /**
   * Whether one Authorization / Proxy-Authorization value is Digest credentials for our realm: the
   * values a proxy that accepted them consumes (RFC 3261 22.3), leaving other realms' alone.
   */
  isOwnCredentials(value: string): boolean {
    const r = parseCredentials(value);
    return r.ok && r.value.scheme.toLowerCase() === 'digest' && r.value.params.get('realm') === this.realm;
  }

  /** Number of nonces whose nonce-count is tracked (bounded by maxTrackedNonces). */
  get trackedNonces(): number {
    return this.#seen.size;
  }

  #credentialsFor(req: SipRequest, proxy: boolean): DigestCredentials | undefined {
    // Several Authorization values may be present, one per realm (RFC 3261 section 22.4).
    for (const value of req.headers.getAll(proxy ? 'proxy-authorization' : 'authorization')) {
      const r = parseCredentials(value);
      if (r.ok && r.value.scheme.toLowerCase() === 'digest' && r.value.params.get('realm') === this.realm) return r.value;
    }
    return undefined;
  }

  #uriMatches(digestUri: string, req: SipRequest): boolean {
    if (digestUri === req.uriRaw) return true;
    const u = parseUri(digestUri);
    return u.ok && uriEquals(u.value, req.uri);
  }

  #ha1(user: string, algorithm: DigestAlgorithm): string | undefined {
    let secret: UserSecret | undefined;
    try {
      secret = this.#lookup(user);
    } catch {
      return undefined;
    }
    if (secret === undefined) return undefined;
    if (typeof secret === 'string') return computeHa1(algorithm, user, this.realm, secret);
    return secret.ha1.find((e) => e.realm === this.realm && e.algorithm === algorithm)?.ha1.toLowerCase();
  }

  #mac(data: Buffer): Buffer {
    return createHmac('sha256', this.#secret).update(data).digest().subarray(0, 16);
  }

  #makeNonce(now: number): string {
    const head = Buffer.alloc(16);
    head.writeBigUInt64BE(BigInt(Math.max(0, Math.floor(now))), 0);
    const salt = this.#random(8);
    salt.copy(head, 8, 0, Math.min(8, salt.length));
    return Buffer.concat([head, this.#mac(head)]).toString('base64url');
  }

  #checkNonce(nonce: string, now: number): NonceState {
    if (!NONCE_RE.test(nonce)) return { kind: 'invalid' };
    const raw = Buffer.from(nonce, 'base64url');
    if (raw.length !== 32) return { kind: 'invalid' };
    const head = raw.subarray(0, 16);
    if (!timingSafeEqual(raw.subarray(16), this.#mac(head))) return { kind: 'invalid' };
    const issuedAt = Number(head.readBigUInt64BE(0));
    // A nonce from the future was issued before a clock reset (a restart of a monotonic clock).
    if (issuedAt > now || now - issuedAt > this.nonceTtlMs) return { kind: 'stale' };
    return { kind: 'valid', issuedAt };
  }

  #remember(nonce: string, nc: number, issuedAt: number): void {
    this.#seen.delete(nonce);
    this.#seen.set(nonce, { nc, issuedAt });
    while (this.#seen.size > this.#maxTracked) {
      const oldest = this.#seen.entries().next();
      if (oldest.done) break;
      const [key, entry] = oldest.value;
      this.#seen.delete(key);
      this.#evictedUpTo = Math.max(this.#evictedUpTo, entry.issuedAt);
    }
  }
}

function fail(reason: VerifyFailure, detail: string): VerifyResult {
  return { ok: false, stale: false, reason, detail };
}
