/**
 * SIP/SIPS URI parsing and serialisation (RFC 3261 section 19.1, 25.1), with
 * any other scheme (tel:, http:, ...) kept as an opaque absolute URI.
 *
 * Escapes are kept exactly as written so that a forwarded URI is byte-identical
 * to the received one; decoding is an explicit step (percentDecode).
 */
import { TextDecoder } from 'node:util';
import { canonicalIpv6, classifyHost, parsePort, type HostKind } from './host.js';
import { fail, ok, type Result } from './result.js';

export interface UriParam {
  /** As written (case and escapes preserved). Compare with getUriParam. */
  readonly name: string;
  /** As written; null for a valueless parameter such as ";lr". */
  readonly value: string | null;
}

export interface UriHeader {
  readonly name: string;
  readonly value: string;
}

export interface SipUri {
  readonly kind: 'sip';
  /** "sip" or "sips" in the case it was written. */
  readonly scheme: string;
  /** User part with escapes as written; null when the URI has no userinfo. */
  readonly user: string | null;
  readonly password: string | null;
  /** Hostname, IPv4 address, or IPv6 reference including its brackets. */
  readonly host: string;
  readonly hostKind: HostKind;
  readonly port: number | null;
  readonly params: readonly UriParam[];
  readonly headers: readonly UriHeader[];
}

/** Any non-SIP absolute URI (tel:, urn:, http:, ...): scheme plus opaque remainder. */
export interface AbsoluteUri {
  readonly kind: 'absolute';
  readonly scheme: string;
  readonly opaque: string;
}

export type Uri = SipUri | AbsoluteUri;

const ESC = '%[0-9A-Fa-f]{2}';
const UNRESERVED = "A-Za-z0-9\\-_.!~*'()";
const USER_RE = new RegExp(`^(?:[${UNRESERVED}&=+$,;?/]|${ESC})+$`);
const PASSWORD_RE = new RegExp(`^(?:[${UNRESERVED}&=+$,]|${ESC})*$`);
const PARAM_RE = new RegExp(`^(?:[${UNRESERVED}\\[\\]/:&+$]|${ESC})+$`);
const HNAME_RE = new RegExp(`^(?:[${UNRESERVED}\\[\\]/?:+$]|${ESC})+$`);
const HVALUE_RE = new RegExp(`^(?:[${UNRESERVED}\\[\\]/?:+$]|${ESC})*$`);
const SCHEME_RE = /^[A-Za-z][A-Za-z0-9+\-.]*$/;
// RFC 2396 uric: reserved / unreserved / escaped (escapes checked separately).
const OPAQUE_RE = /^[A-Za-z0-9\-_.!~*'();/?:@&=+$,%[\]#]+$/;
const BAD_ESCAPE_RE = /%(?![0-9A-Fa-f]{2})/;

export function parseUri(s: string): Result<Uri> {
  const colon = s.indexOf(':');
  if (colon <= 0) return fail('URI has no scheme');
  const scheme = s.slice(0, colon);
  if (!SCHEME_RE.test(scheme)) return fail(`invalid URI scheme "${scheme}"`);
  const rest = s.slice(colon + 1);
  const lower = scheme.toLowerCase();
  if (lower === 'sip' || lower === 'sips') return parseSipParts(scheme, rest);
  if (rest.length === 0) return fail('empty URI after scheme');
  if (!OPAQUE_RE.test(rest) || BAD_ESCAPE_RE.test(rest)) return fail('invalid character in URI');
  return ok({ kind: 'absolute', scheme, opaque: rest });
}

function parseSipParts(scheme: string, rest: string): Result<SipUri> {
  // "@" is legal neither in user, password, host, params nor headers of a
  // valid SIP URI, so the first one ends the userinfo even when the user part
  // contains ";" or "?" (RFC 4475 semiuri, intmeth).
  let user: string | null = null;
  let password: string | null = null;
  let hp = rest;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const userinfo = rest.slice(0, at);
    hp = rest.slice(at + 1);
    const c = userinfo.indexOf(':');
    user = c < 0 ? userinfo : userinfo.slice(0, c);
    password = c < 0 ? null : userinfo.slice(c + 1);
    if (!USER_RE.test(user)) return fail('invalid user part in SIP URI');
    if (password !== null && !PASSWORD_RE.test(password)) return fail('invalid password in SIP URI');
  }

  let i: number;
  let host: string;
  if (hp.startsWith('[')) {
    const close = hp.indexOf(']');
    if (close < 0) return fail('unterminated IPv6 reference in SIP URI');
    host = hp.slice(0, close + 1);
    i = close + 1;
  } else {
    const m = /^[^:;?]*/.exec(hp);
    host = m ? m[0] : '';
    i = host.length;
  }
  const hostKind = classifyHost(host);
  if (hostKind === null) return fail(`invalid host "${host}" in SIP URI`);

  let port: number | null = null;
  if (hp[i] === ':') {
    const m = /^[^;?]*/.exec(hp.slice(i + 1));
    const text = m ? m[0] : '';
    port = parsePort(text);
    if (port === null) return fail(`invalid port "${text}" in SIP URI`);
    i += 1 + text.length;
  }

  const params: UriParam[] = [];
  while (hp[i] === ';') {
    const m = /^[^;?]*/.exec(hp.slice(i + 1));
    const text = m ? m[0] : '';
    i += 1 + text.length;
    const eq = text.indexOf('=');
    const name = eq < 0 ? text : text.slice(0, eq);
    const value = eq < 0 ? null : text.slice(eq + 1);
    if (!PARAM_RE.test(name)) return fail('invalid URI parameter name');
    if (value !== null && !PARAM_RE.test(value)) return fail(`invalid value for URI parameter "${name}"`);
    params.push({ name, value });
  }

  const headers: UriHeader[] = [];
  if (hp[i] === '?') {
    for (const part of hp.slice(i + 1).split('&')) {
      const eq = part.indexOf('=');
      if (eq < 0) return fail('URI header without "="');
      const name = part.slice(0, eq);
      const value = part.slice(eq + 1);
      if (!HNAME_RE.test(name) || !HVALUE_RE.test(value)) return fail('invalid URI header');
      headers.push({ name, value });
    }
    i = hp.length;
  }
  if (i !== hp.length) return fail('unexpected characters in SIP URI');
  return ok({ kind: 'sip', scheme, user, password, host, hostKind, port, params, headers });
}

export function serializeUri(uri: Uri): string {
  if (uri.kind === 'absolute') return `${uri.scheme}:${uri.opaque}`;
  let s = `${uri.scheme}:`;
  if (uri.user !== null) s += uri.password !== null ? `${uri.user}:${uri.password}@` : `${uri.user}@`;
  s += uri.host;
  if (uri.port !== null) s += `:${uri.port}`;
  for (const p of uri.params) s += p.value === null ? `;${p.name}` : `;${p.name}=${p.value}`;
  if (uri.headers.length > 0) s += `?${uri.headers.map((h) => `${h.name}=${h.value}`).join('&')}`;
  return s;
}

/** The octets denoted by a string with %HH escapes (invalid escapes are kept literally). */
export function percentDecodeBytes(s: string): Buffer {
  const parts: Buffer[] = [];
  let last = 0;
  for (const m of s.matchAll(/%([0-9A-Fa-f]{2})/g)) {
    const at = m.index ?? 0;
    parts.push(Buffer.from(s.slice(last, at), 'utf8'), Buffer.of(parseInt(m[1] ?? '0', 16)));
    last = at + 3;
  }
  parts.push(Buffer.from(s.slice(last), 'utf8'));
  return Buffer.concat(parts);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

/**
 * Decodes %HH escapes. When the octets are valid UTF-8 (the normal case,
 * "%00" included) the decoded text is returned. Otherwise decoding would be
 * lossy, so the input is returned in a normalised escaped form instead:
 * unreserved characters unescaped, every other escape upper-cased.
 */
export function percentDecode(s: string): string {
  const bytes = percentDecodeBytes(s);
  try {
    return strictUtf8.decode(bytes);
  } catch {
    return s.replace(/%([0-9A-Fa-f]{2})/g, (_m, hex: string) => {
      const ch = String.fromCharCode(parseInt(hex, 16));
      return /[A-Za-z0-9\-_.~]/.test(ch) ? ch : `%${hex.toUpperCase()}`;
    });
  }
}

/** First parameter whose name matches case-insensitively after decoding; undefined if absent, null if valueless. */
export function getUriParam(uri: Uri, name: string): string | null | undefined {
  if (uri.kind !== 'sip') return undefined;
  const want = name.toLowerCase();
  const p = uri.params.find((q) => percentDecode(q.name).toLowerCase() === want);
  return p === undefined ? undefined : p.value;
}

/**
 * The canonical AoR hashed to place a registration in the overlay:
 * `scheme:user@host` with scheme and host lower-cased (an IPv6 host in its
 * RFC 5952 form, in brackets), the user
 * percent-decoded with case kept, no port and no parameter except `replica`
 * (appended as `;replica=VALUE`). For non-SIP URIs: lower-cased scheme plus
 * the opaque part as written.
 */
export function canonicalAor(uri: Uri): string {
  if (uri.kind === 'absolute') return `${uri.scheme.toLowerCase()}:${uri.opaque}`;
  const userPart = uri.user === null ? '' : `${percentDecode(uri.user)}@`;
  // An IPv6 host in its RFC 5952 form: [2001:DB8:0::A] and [2001:db8::a] are one host, so one AoR
  // and one Resource-ID (PROTOCOL.md section 9).
  const v6 = uri.host.startsWith('[') ? canonicalIpv6(uri.host) : null;
  const host = v6 === null ? uri.host.toLowerCase() : `[${v6}]`;
  let s = `${uri.scheme.toLowerCase()}:${userPart}${host}`;
  const replica = getUriParam(uri, 'replica');
  if (replica !== undefined && replica !== null) s += `;replica=${replica}`;
  return s;
}
