/**
 * The Digest header syntax of RFC 7616 section 3.3/3.4 (RFC 3261 section 25.1 for SIP):
 * `Digest name=value, name="quoted", ...`. The parser never throws: a malformed Authorization is
 * a normal input, answered by a new challenge.
 */
import { quote } from '../sip/message/index.js';

export interface DigestCredentials {
  /** Scheme as written ("Digest" in any case). */
  readonly scheme: string;
  /** Parameter names lower-cased, values with quotes and quoted-pairs removed. */
  readonly params: ReadonlyMap<string, string>;
}

export type ParseCredentialsResult =
  | { readonly ok: true; readonly value: DigestCredentials }
  | { readonly ok: false; readonly error: string };

const TOKEN_CHAR = /[A-Za-z0-9\-.!%*_+`'~]/;
/** Unquoted values: liberal (some agents send uri=/x or nonce=a/b unquoted); ends at LWS or comma. */
const BARE_VALUE_CHAR = /[^\s,"]/;

function isWs(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

/** Parses one Authorization / Proxy-Authorization value (RFC 7616 section 3.4, RFC 7235 section 2.1). */
export function parseCredentials(input: string): ParseCredentialsResult {
  const s = input;
  let i = 0;
  while (isWs(s[i])) i++;
  const schemeStart = i;
  while (i < s.length && TOKEN_CHAR.test(s[i] ?? '')) i++;
  const scheme = s.slice(schemeStart, i);
  if (scheme === '') return { ok: false, error: 'missing auth scheme' };
  const params = new Map<string, string>();
  if (i < s.length && !isWs(s[i])) return { ok: false, error: 'invalid character after auth scheme' };
  for (;;) {
    // Empty list elements (", ,") are allowed and ignored (RFC 7230 section 7).
    while (isWs(s[i]) || s[i] === ',') i++;
    if (i >= s.length) break;
    const nameStart = i;
    while (i < s.length && TOKEN_CHAR.test(s[i] ?? '')) i++;
    const name = s.slice(nameStart, i).toLowerCase();
    if (name === '') return { ok: false, error: `invalid character at offset ${i}` };
    while (isWs(s[i])) i++;
    if (s[i] !== '=') return { ok: false, error: `parameter "${name}" has no value` };
    i++;
    while (isWs(s[i])) i++;
    let value: string;
    if (s[i] === '"') {
      let v = '';
      i++;
      for (;;) {
        const c = s[i];
        if (c === undefined) return { ok: false, error: `unterminated quoted value for "${name}"` };
        if (c === '"') {
          i++;
          break;
        }
        if (c === '\\') {
          const n = s[i + 1];
          if (n === undefined) return { ok: false, error: `unterminated quoted value for "${name}"` };
          v += n;
          i += 2;
          continue;
        }
        v += c;
        i++;
      }
      value = v;
    } else {
      const vStart = i;
      while (i < s.length && BARE_VALUE_CHAR.test(s[i] ?? '')) i++;
      value = s.slice(vStart, i);
      if (value === '') return { ok: false, error: `parameter "${name}" has no value` };
    }
    // Each parameter at most once (RFC 7235 section 2.1).
    if (params.has(name)) return { ok: false, error: `duplicate parameter "${name}"` };
    params.set(name, value);
    while (isWs(s[i])) i++;
    if (i < s.length && s[i] !== ',') return { ok: false, error: `expected "," at offset ${i}` };
  }
  return { ok: true, value: { scheme, params } };
}

export interface ChallengeFields {
  readonly realm: string;
  readonly nonce: string;
  readonly opaque: string;
  readonly algorithm: string;
  readonly stale: boolean;
}

/** One WWW-Authenticate / Proxy-Authenticate value (RFC 7616 section 3.3). */
export function formatChallenge(c: ChallengeFields): string {
  const stale = c.stale ? ', stale=true' : '';
  return `Digest realm=${quote(c.realm)}, nonce=${quote(c.nonce)}, opaque=${quote(c.opaque)}, algorithm=${c.algorithm}, qop="auth"${stale}`;
}
