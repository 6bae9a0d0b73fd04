/**
 * Reading the registration fields of a Contact value: its expiration interval (RFC 3261 10.2.1.1,
 * 10.3 step 6), its q-value (20.10) and the RFC 5626 instance-id / reg-id.
 */
import { getParam, getParamText, parseExpires, type NameAddr } from '../sip/message/index.js';

/**
 * qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) (RFC 3261 section 25.1).
 * Returns null when malformed.
 */
export function parseQValue(s: string): number | null {
  if (!/^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/.test(s)) return null;
  return Number(s.endsWith('.') ? s.slice(0, -1) : s);
}

/** The q of a Contact: 1 when absent (RFC 3261 20.10 leaves the default open; 1.0 is common practice), null when malformed. */
export function contactQ(na: NameAddr): number | null {
  const v = getParam(na.params, 'q');
  if (v === undefined) return 1;
  if (v === null) return null;
  return parseQValue(v);
}

/**
 * The requested interval in seconds (10.3 step 6): the Contact's expires parameter, else the
 * Expires header, else the registrar's default. A malformed value counts as the default
 * (RFC 3261 20.19: "Malformed values SHOULD be treated as equivalent to 3600").
 */
export function requestedExpires(na: NameAddr, header: number | 'malformed' | undefined, defaultS: number): number {
  const p = getParam(na.params, 'expires');
  if (p !== undefined) {
    if (p === null) return defaultS;
    const r = parseExpires(p);
    return r.ok ? r.value : defaultS;
  }
  if (header === undefined || header === 'malformed') return defaultS;
  return header;
}

/** The Expires header: undefined when absent, 'malformed' when unreadable. */
export function expiresHeader(value: string | undefined): number | 'malformed' | undefined {
  if (value === undefined) return undefined;
  const r = parseExpires(value);
  return r.ok ? r.value : 'malformed';
}

/** +sip.instance without quotes (RFC 5626 section 4.1). */
export function contactInstanceId(na: NameAddr): string | undefined {
  const v = getParamText(na.params, '+sip.instance');
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** reg-id = 1..2**31-1 (RFC 5626 section 4.2); undefined when absent or malformed. */
export function contactRegId(na: NameAddr): number | undefined {
  const v = getParam(na.params, 'reg-id');
  if (typeof v !== 'string' || !/^[1-9][0-9]{0,9}$/.test(v)) return undefined;
  const n = Number(v);
  return n <= 2147483647 ? n : undefined;
}
