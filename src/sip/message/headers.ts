/**
 * Structured parsers for the headers a proxy must understand: Via, the
 * name-addr family (To, From, Contact, Route, Record-Route), CSeq and the
 * scalar headers. Inputs are unfolded header values (see parse.ts).
 */
import { hostForWire } from '../../common/host-port.js';
import { isToken, isWsp, parseUint, quotedEnd, skipWs, splitTopLevel, tokenEnd, trimWsp } from './chars.js';
import { classifyHost, parsePort } from './host.js';
import { memoizeParser } from './memo.js';
import { getParam, parseParamsAt, serializeParams, type Param } from './params.js';
import { fail, ok, type Result } from './result.js';
import { parseUri, serializeUri, type Uri } from './uri.js';

export const MAX_UINT32 = 4294967295;

// ---------------------------------------------------------------- Via

export interface Via {
  /** "SIP" as written. */
  readonly protocolName: string;
  /** "2.0" as written. */
  readonly protocolVersion: string;
  /** Transport token as written (UDP, TCP, TLS, SCTP, WS, or anything else). */
  readonly transport: string;
  /** sent-by host; IPv6 keeps its brackets. */
  readonly host: string;
  readonly port: number | null;
  readonly params: readonly Param[];
}

/** Parses one Via header line, which may hold several comma-separated values. */
export const parseVia: (value: string) => Result<readonly Via[]> = memoizeParser(parseViaLine);

function parseViaLine(value: string): Result<readonly Via[]> {
  const parts = splitTopLevel(value);
  if (parts === null) return fail('unbalanced quote or angle bracket in Via');
  const out: Via[] = [];
  for (const part of parts) {
    if (part === '') return fail('empty Via value');
    const r = parseViaValue(part);
    if (!r.ok) return r;
    out.push(r.value);
  }
  return ok(out);
}

/** Parses a single via-parm. */
export function parseViaValue(s: string): Result<Via> {
  // sent-protocol = protocol-name SLASH protocol-version SLASH transport,
  // SLASH allowing whitespace around it (RFC 4475 wsinv).
  const tokens: string[] = [];
  let i = skipWs(s, 0);
  for (let k = 0; k < 3; k++) {
    if (k > 0) {
      i = skipWs(s, i);
      if (s[i] !== '/') return fail('malformed Via sent-protocol');
      i = skipWs(s, i + 1);
    }
    const end = tokenEnd(s, i);
    if (end === i) return fail('malformed Via sent-protocol');
    tokens.push(s.slice(i, end));
    i = end;
  }
  if (!isWsp(s[i])) return fail('missing whitespace before Via sent-by');
  i = skipWs(s, i);

  let host: string;
  if (s[i] === '[') {
    const close = s.indexOf(']', i);
    if (close < 0) return fail('unterminated IPv6 reference in Via');
    host = s.slice(i, close + 1);
    i = close + 1;
  } else {
    const m = /^[A-Za-z0-9\-_.]*/.exec(s.slice(i));
    host = m ? m[0] : '';
    i += host.length;
  }
  if (classifyHost(host) === null) return fail(`invalid Via sent-by host "${host}"`);

  let port: number | null = null;
  const colon = skipWs(s, i);
  if (s[colon] === ':') {
    const pStart = skipWs(s, colon + 1);
    const m = /^[0-9]*/.exec(s.slice(pStart));
    const text = m ? m[0] : '';
    port = parsePort(text);
    if (port === null) return fail('invalid Via sent-by port');
    i = pStart + text.length;
  }

  const pr = parseParamsAt(s, i);
  if (!pr.ok) return pr;
  if (skipWs(s, pr.value.end) !== s.length) return fail('unexpected characters in Via');
  const params = pr.value.params;
  const bad = checkViaParams(params);
  if (bad !== null) return fail(bad);
  const [protocolName = '', protocolVersion = '', transport = ''] = tokens;
  return ok({ protocolName, protocolVersion, transport, host, port, params });
}

function checkViaParams(params: readonly Param[]): string | null {
  for (const p of params) {
    const n = p.name.toLowerCase();
    if ((n === 'branch' || n === 'received' || n === 'maddr' || n === 'ttl') && p.value === null) {
      return `Via parameter "${p.name}" needs a value`;
    }
    if (n === 'ttl' && parseUint(p.value ?? '', 255) === null) return 'Via ttl out of range';
    if (n === 'rport' && p.value !== null && parsePort(p.value) === null) return 'invalid Via rport';
    if ((n === 'received' || n === 'maddr') && p.value !== null) {
      // RFC 5118 section 4.5: accept received with or without brackets.
      const v = p.value;
      const host = hostForWire(v);
      if (classifyHost(host) === null) return `invalid Via ${n} address`;
    }
  }
  return null;
}

export function serializeVia(v: Via): string {
  const port = v.port === null ? '' : `:${v.port}`;
  return `${v.protocolName}/${v.protocolVersion}/${v.transport} ${v.host}${port}${serializeParams(v.params)}`;
}

export function viaBranch(v: Via): string | undefined {
  const b = getParam(v.params, 'branch');
  return typeof b === 'string' ? b : undefined;
}

export function viaReceived(v: Via): string | undefined {
  const r = getParam(v.params, 'received');
  return typeof r === 'string' ? r : undefined;
}

export function viaMaddr(v: Via): string | undefined {
  const r = getParam(v.params, 'maddr');
  return typeof r === 'string' ? r : undefined;
}

export function viaTtl(v: Via): number | undefined {
  const r = getParam(v.params, 'ttl');
  return typeof r === 'string' ? (parseUint(r, 255) ?? undefined) : undefined;
}

/** RFC 3581 rport: undefined if absent, true if present without a value, else the port. */
export function viaRport(v: Via): number | true | undefined {
  const r = getParam(v.params, 'rport');
  if (r === undefined) return undefined;
  if (r === null) return true;
  return parsePort(r) ?? undefined;
}

// ---------------------------------------------------------------- name-addr

export interface NameAddr {
  /** Display name as written: a quoted-string with its quotes, or LWS-separated tokens; null if none. */
  readonly displayName: string | null;
  readonly uri: Uri;
  /** Whether the URI was enclosed in <>. The serializer adds <> whenever the grammar needs them. */
  readonly angle: boolean;
  /** Header parameters (after the URI / after ">"), e.g. tag, expires, q. */
  readonly params: readonly Param[];
}

const DISPLAY_TOKENS_RE = /^[A-Za-z0-9\-.!%*_+`'~]+(?:[ \t]+[A-Za-z0-9\-.!%*_+`'~]+)*$/;

/** Parses one name-addr or addr-spec followed by header parameters (To, From, one Contact value, ...). */
export const parseNameAddr: (input: string) => Result<NameAddr> = memoizeParser(parseNameAddrText);

function parseNameAddrText(input: string): Result<NameAddr> {
  const s = trimWsp(input);
  if (s === '') return fail('empty address');
  let displayName: string | null = null;
  let i: number;
  if (s[0] === '"') {
    const end = quotedEnd(s, 0);
    if (end < 0) return fail('unterminated quoted display name');
    displayName = s.slice(0, end);
    i = skipWs(s, end);
    if (s[i] !== '<') return fail('quoted display name not followed by <URI>');
  } else {
    const lt = s.indexOf('<');
    if (lt < 0) return parseBareAddrSpec(s);
    // No LWS is needed before "<" (RFC 4475 lwsdisp).
    const dn = trimWsp(s.slice(0, lt));
    if (dn !== '') {
      if (!DISPLAY_TOKENS_RE.test(dn)) return fail('invalid display name');
      displayName = dn;
    }
    i = lt;
  }
  const gt = s.indexOf('>', i);
  if (gt < 0) return fail('missing ">"');
  const u = parseUri(s.slice(i + 1, gt));
  if (!u.ok) return u;
  const pr = parseParamsAt(s, gt + 1);
  if (!pr.ok) return pr;
  if (skipWs(s, pr.value.end) !== s.length) return fail('unexpected characters after address');
  return ok({ displayName, uri: u.value, angle: true, params: pr.value.params });
}

function parseBareAddrSpec(s: string): Result<NameAddr> {
  // Without <>, everything from the first ";" is a header parameter (RFC 3261
  // section 20.10), so "sip:a@b;x" carries header param x (RFC 4475 cparam01).
  const m = /^[^;\s]*/.exec(s);
  const uriText = m ? m[0] : '';
  // A URI containing "?" or "," must be in <> (RFC 3261 section 20); RFC 4475
  // regbadct allows rejecting this instead of guessing.
  if (/[?,]/.test(uriText)) return fail('URI with "?" or "," must be enclosed in <>');
  const u = parseUri(uriText);
  if (!u.ok) return u;
  const pr = parseParamsAt(s, uriText.length);
  if (!pr.ok) return pr;
  if (skipWs(s, pr.value.end) !== s.length) return fail('unexpected characters after address');
  return ok({ displayName: null, uri: u.value, angle: false, params: pr.value.params });
}

/** Parses a comma-separated list of name-addr values (Contact, Route, Record-Route, ...). */
export const parseNameAddrList: (value: string) => Result<readonly NameAddr[]> = memoizeParser(parseNameAddrListText);

function parseNameAddrListText(value: string): Result<readonly NameAddr[]> {
  const parts = splitTopLevel(value);
  if (parts === null) return fail('unbalanced quote or angle bracket');
  const out: NameAddr[] = [];
  for (const part of parts) {
    if (part === '') return fail('empty list element');
    const r = parseNameAddr(part);
    if (!r.ok) return r;
    out.push(r.value);
  }
  return ok(out);
}

export type ContactList = { readonly star: true } | { readonly star: false; readonly values: readonly NameAddr[] };

/** Contact: "*" (only meaningful in REGISTER) or a list of addresses. */
export const parseContact: (value: string) => Result<ContactList> = memoizeParser(parseContactText);

function parseContactText(value: string): Result<ContactList> {
  if (trimWsp(value) === '*') return ok({ star: true });
  const r = parseNameAddrList(value);
  return r.ok ? ok({ star: false, values: r.value }) : r;
}

export function serializeNameAddr(na: NameAddr): string {
  const uri = serializeUri(na.uri);
  // <> are required with a display name, and whenever the URI contains
  // characters that would otherwise be read as header syntax.
  const needAngle = na.angle || na.displayName !== null || /[;,?\s]/.test(uri);
  const dn = na.displayName === null ? '' : `${na.displayName} `;
  return `${dn}${needAngle ? `<${uri}>` : uri}${serializeParams(na.params)}`;
}

export function tagOf(na: NameAddr): string | undefined {
  const t = getParam(na.params, 'tag');
  return typeof t === 'string' ? t : undefined;
}

// ---------------------------------------------------------------- CSeq and scalars

export interface CSeq {
  readonly seq: number;
  readonly method: string;
}

/** CSeq = 1*DIGIT LWS Method, the number limited to 2**32-1 (RFC 4475 scalar02). */
export const parseCSeq: (value: string) => Result<CSeq> = memoizeParser(parseCSeqText);

function parseCSeqText(value: string): Result<CSeq> {
  const s = trimWsp(value);
  const m = /^([0-9]+)[ \t]+(\S+)$/.exec(s);
  if (!m) return fail('malformed CSeq');
  const seq = parseUint(m[1] ?? '', MAX_UINT32);
  if (seq === null) return fail('CSeq number out of range');
  const method = m[2] ?? '';
  if (!isToken(method)) return fail('invalid CSeq method');
  return ok({ seq, method });
}

export function serializeCSeq(c: CSeq): string {
  return `${c.seq} ${c.method}`;
}

function scalar(value: string, max: number, what: string): Result<number> {
  const n = parseUint(trimWsp(value), max);
  return n === null ? fail(`invalid ${what}`) : ok(n);
}

/** Max-Forwards: 0..255. */
export function parseMaxForwards(value: string): Result<number> {
  return scalar(value, 255, 'Max-Forwards');
}

/** Content-Length: non-negative; bounded to 2**32-1 here, the framer applies the size limit. */
export function parseContentLength(value: string): Result<number> {
  return scalar(value, MAX_UINT32, 'Content-Length');
}

/** Expires: delta-seconds 0..2**32-1. */
export function parseExpires(value: string): Result<number> {
  return scalar(value, MAX_UINT32, 'Expires');
}

/** Comma-separated tokens (Require, Proxy-Require, Supported, Unsupported, Allow). */
export function parseTokenList(value: string): Result<string[]> {
  const s = trimWsp(value);
  if (s === '') return ok([]);
  const out: string[] = [];
  for (const part of s.split(',')) {
    const t = trimWsp(part);
    if (!isToken(t)) return fail('invalid token in list');
    out.push(t);
  }
  return ok(out);
}
