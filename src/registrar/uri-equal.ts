/**
 * URI equality as RFC 3261 section 19.1.4 defines it for SIP and SIPS URIs: the registrar uses it
 * to find the binding a Contact refers to (section 10.3 step 7), the digest check to compare the
 * digest-uri with the Request-URI.
 *
 * The 19.1.4 relation is not transitive (a parameter present in only one URI is ignored unless it
 * is user, ttl, method, maddr or transport), so it is a pairwise predicate, not a canonical key.
 */
import type { Uri, SipUri } from '../sip/message/index.js';

const UNRESERVED = /[A-Za-z0-9\-_.!~*'()]/;

/**
 * "Characters other than those in the reserved set are equivalent to their %HH encoding"
 * (19.1.4): unreserved escapes are decoded, the others kept with upper-case hex.
 */
export function normalizeEscapes(s: string): string {
  return s.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => {
    const ch = String.fromCharCode(parseInt(hex, 16));
    return UNRESERVED.test(ch) ? ch : `%${hex.toUpperCase()}`;
  });
}

/** Normalised, lower-cased: for the components compared case-insensitively. */
function ci(s: string): string {
  return normalizeEscapes(s).toLowerCase();
}

/** Parameters that, when present in only one URI, make the URIs differ (19.1.4). */
const MUST_MATCH_IF_PRESENT: ReadonlySet<string> = new Set(['user', 'ttl', 'method', 'maddr', 'transport']);

function paramMap(uri: SipUri): Map<string, string | null> {
  const m = new Map<string, string | null>();
  for (const p of uri.params) {
    const name = ci(p.name);
    // With a duplicated parameter the first one counts, as getUriParam does.
    if (!m.has(name)) m.set(name, p.value === null ? null : ci(p.value));
  }
  return m;
}

function headerSet(uri: SipUri): string[] {
  return uri.headers.map((h) => `${ci(h.name)}=${normalizeEscapes(h.value)}`).sort();
}

function sipUriEquals(a: SipUri, b: SipUri): boolean {
  if (a.scheme.toLowerCase() !== b.scheme.toLowerCase()) return false;
  // userinfo is case-sensitive; escapes of unreserved characters are not significant.
  const ua = a.user === null ? null : normalizeEscapes(a.user);
  const ub = b.user === null ? null : normalizeEscapes(b.user);
  if (ua !== ub) return false;
  const pa = a.password === null ? null : normalizeEscapes(a.password);
  const pb = b.password === null ? null : normalizeEscapes(b.password);
  if (pa !== pb) return false;
  if (ci(a.host) !== ci(b.host)) return false;
  // An omitted port does not match an explicit default port (19.1.4).
  if (a.port !== b.port) return false;
  const ma = paramMap(a);
  const mb = paramMap(b);
  for (const [name, va] of ma) {
    if (mb.has(name)) {
      if (mb.get(name) !== va) return false;
    } else if (MUST_MATCH_IF_PRESENT.has(name)) return false;
  }
  for (const name of mb.keys()) if (!ma.has(name) && MUST_MATCH_IF_PRESENT.has(name)) return false;
  // Header components are never ignored: both URIs must carry the same set.
  const ha = headerSet(a);
  const hb = headerSet(b);
  return ha.length === hb.length && ha.every((h, i) => h === hb[i]);
}

/**
 * RFC 3261 19.1.4 equality. Non-SIP URIs (tel:, urn:, ...) compare by case-insensitive scheme and
 * the rest as written: their own comparison rules are out of scope here.
 */
export function uriEquals(a: Uri, b: Uri): boolean {
  if (a.kind === 'sip' && b.kind === 'sip') return sipUriEquals(a, b);
  if (a.kind === 'absolute' && b.kind === 'absolute') {
    return a.scheme.toLowerCase() === b.scheme.toLowerCase() && a.opaque === b.opaque;
  }
  return false;
}
