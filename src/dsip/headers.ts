/**
 * The ordinary SIP headers dSIP gives a meaning to: Request-Disposition (RFC 3841) for the routing
 * mode, Require/Supported carrying the `dht` option tag (PROTOCOL.md section 2), Contact bindings
 * with `;expires=` and `q` (RFC 3261 section 10.2.1.2 and 20.10), Warning (RFC 3261 section 20.43)
 * and the small integer headers. Readers return Result values and never throw.
 */
import type { RoutingMode } from '../overlay/messages.js';
import { parseUint, quote, splitTopLevel, trimWsp, unquote } from '../sip/message/chars.js';
import { MAX_UINT32, parseContact, parseTokenList, serializeNameAddr } from '../sip/message/headers.js';
import type { SipMessage } from '../sip/message/message.js';
import { getParam, parseParams, type Param } from '../sip/message/params.js';
import { fail, ok, type Result } from '../sip/message/result.js';
import { parseUri, serializeUri } from '../sip/message/uri.js';

// ---------------------------------------------------------------- option tags

/** The option tag every peer request requires and supports (PROTOCOL.md section 2). */
export const DHT_OPTION_TAG = 'dht';
/** Option tags this node implements, lower case: anything else in Require gets a 420 (RFC 3261 section 8.2.2.3). */
export const SUPPORTED_OPTION_TAGS: ReadonlySet<string> = new Set([DHT_OPTION_TAG]);

/** All option tags of a Require / Proxy-Require / Supported / Unsupported header, across lines. */
export function readOptionTags(msg: SipMessage, header: string): Result<string[]> {
  const out: string[] = [];
  for (const line of msg.headers.getAll(header)) {
    const r = parseTokenList(line);
    if (!r.ok) return fail(`invalid ${header} header`);
    out.push(...r.value);
  }
  return ok(out);
}

/**
 * Whether `tag` is listed. RFC 3261 says nothing explicit on the case of option tags; they are
 * compared case-insensitively here so that `Require: DHT` is understood rather than refused.
 */
export function hasOptionTag(tags: readonly string[], tag: string): boolean {
  const want = tag.toLowerCase();
  return tags.some((t) => t.toLowerCase() === want);
}

/** Tags a peer does not implement, without duplicates, for the Unsupported header of a 420. */
export function unsupportedTags(tags: readonly string[], supported: ReadonlySet<string> = SUPPORTED_OPTION_TAGS): string[] {
  return [...new Set(tags.filter((t) => !supported.has(t.toLowerCase())))];
}

// ---------------------------------------------------------------- Request-Disposition

/**
 * Reads Request-Disposition (RFC 3841 section 9.1: a comma-separated list of directives, compact
 * form `d`). Only proxy/redirect matter here: `proxy` is recursive routing, `redirect` iterative
 * (PROTOCOL.md section 2). Other directives (fork, recurse, parallel, queue, ...) and unknown tokens
 * are ignored, as RFC 3841 asks. Both proxy and redirect in one request is an error. Returns
 * undefined when neither is present; the caller applies the profile's default (redirect).
 */
export function parseRequestDisposition(value: string): Result<RoutingMode | undefined> {
  const tokens = parseTokenList(value);
  if (!tokens.ok) return fail('invalid Request-Disposition');
  let mode: RoutingMode | undefined;
  for (const t of tokens.value) {
    const d = t.toLowerCase();
    const m: RoutingMode | undefined = d === 'proxy' ? 'recursive' : d === 'redirect' ? 'iterative' : undefined;
    if (m === undefined) continue;
    if (mode !== undefined && mode !== m) return fail('Request-Disposition has both proxy and redirect');
    mode = m;
  }
  return ok(mode);
}

/** The routing mode a request asks for, across all its Request-Disposition lines; redirect by default. */
export function readRoutingMode(msg: SipMessage): Result<RoutingMode> {
  const lines = msg.headers.getAll('request-disposition');
  if (lines.length === 0) return ok('iterative');
  const r = parseRequestDisposition(lines.join(','));
  return r.ok ? ok(r.value ?? 'iterative') : r;
}

export function formatRequestDisposition(mode: RoutingMode): string {
  return mode === 'recursive' ? 'proxy' : 'redirect';
}

// ---------------------------------------------------------------- Contact bindings

/**
 * The Contact parameters of a binding's proof (PROTOCOL.md section 11.4), lower case, in the order
 * they are written; src/trust/binding-proof.ts gives them their meaning.
 */
export const BINDING_PROOF_PARAMS: readonly string[] = ['aor', 'seq', 'exp', 'signer', 'sig', 'mac'];

export interface ContactBinding {
  /** The contact URI as written (between the angle brackets). */
  readonly uri: string;
  /** The `;expires=` parameter, when present. */
  readonly expiresS?: number;
  /** The `;q=` parameter, 0..1, when present. */
  readonly q?: number;
  /**
   * The binding's proof (PROTOCOL.md section 11.4): its Contact parameters `aor`, `seq`, `exp`,
   * `signer`, `sig`, `mac` as text (src/trust/binding-proof.ts writes and reads it). Parameters a
   * peer that knows nothing of proofs ignores (RFC 3261 section 7.3.1), so it still reads the binding.
   */
  readonly proof?: string;
}

// RFC 3261 section 25.1: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
const QVALUE_RE = /^(?:0(?:\.[0-9]{0,3})?|1(?:\.0{0,3})?)$/;

/**
 * `<uri>;expires=N[;q=Q][;PROOF]`. Throws TypeError when uri is not a URI or proof not a proof's
 * parameters (the caller's bug, not input).
 */
export function formatContactBinding(b: ContactBinding): string {
  const u = parseUri(b.uri);
  if (!u.ok) throw new TypeError(`not a URI: ${JSON.stringify(b.uri)}`);
  let s = serializeNameAddr({ displayName: null, uri: u.value, angle: true, params: [] });
  if (b.expiresS !== undefined) {
    if (!Number.isInteger(b.expiresS) || b.expiresS < 0 || b.expiresS > MAX_UINT32) {
      throw new RangeError(`expires out of range: ${b.expiresS}`);
    }
    s += `;expires=${b.expiresS}`;
  }
  if (b.q !== undefined) {
    const q = formatQ(b.q);
    if (q === null) throw new RangeError(`q out of range: ${b.q}`);
    s += `;q=${q}`;
  }
  if (b.proof !== undefined) {
    const proof = proofParams(b.proof.startsWith(';') ? b.proof : `;${b.proof}`);
    if (proof === null) throw new TypeError(`not a binding proof: ${JSON.stringify(b.proof)}`);
    s += `;${proof}`;
  }
  return s;
}

/**
 * The proof parameters among a Contact's parameters, in BINDING_PROOF_PARAMS order, names in lower
 * case and values as written: the proof text, or undefined when there are none. Null when the
 * text does not parse as parameters, or one proof parameter comes twice or without a value.
 */
function proofParamsOf(params: readonly Param[]): string | null | undefined {
  const found = new Map<string, string>();
  for (const p of params) {
    const name = p.name.toLowerCase();
    if (!BINDING_PROOF_PARAMS.includes(name)) continue;
    if (found.has(name) || p.value === null) return null;
    found.set(name, p.value);
  }
  if (found.size === 0) return undefined;
  return BINDING_PROOF_PARAMS.filter((n) => found.has(n)).map((n) => `${n}=${found.get(n)!}`).join(';');
}

/** proofParamsOf over parameter text (`;name=value...`); null unless it is a proof's text and nothing else. */
function proofParams(text: string): string | null {
  const params = parseParams(text);
  if (!params.ok || params.value.some((p) => !BINDING_PROOF_PARAMS.includes(p.name.toLowerCase()))) return null;
  return proofParamsOf(params.value) ?? null;
}

function formatQ(q: number): string | null {
  if (!(q >= 0 && q <= 1)) return null;
  return String(Math.round(q * 1000) / 1000);
}

export type ContactsRead = { readonly star: true } | { readonly star: false; readonly bindings: ContactBinding[] };

/**
 * All Contact values of a message as bindings; undefined when there is no Contact. `max` bounds the
 * count (PROTOCOL.md section 6): past it, 'fail' makes the read an error (a request that asks too
 * much), 'truncate' keeps the first `max` (a response whose extra routing state we can do without).
 */
export function readContactBindings(
  msg: SipMessage,
  max: number,
  excess: 'fail' | 'truncate' = 'fail',
): Result<ContactsRead | undefined> {
  const lines = msg.headers.getAll('contact');
  if (lines.length === 0) return ok(undefined);
  const bindings: ContactBinding[] = [];
  for (const line of lines) {
    const c = parseContact(line);
    if (!c.ok) return fail(`invalid Contact: ${c.error.message}`);
    if (c.value.star) {
      if (lines.length > 1) return fail('Contact "*" must be alone');
      return ok({ star: true });
    }
    for (const na of c.value.values) {
      if (bindings.length >= max) {
        if (excess === 'truncate') return ok({ star: false, bindings });
        return fail(`too many Contacts (more than ${max})`);
      }
      const b: { uri: string; expiresS?: number; q?: number; proof?: string } = { uri: serializeUri(na.uri) };
      const e = getParam(na.params, 'expires');
      if (e !== undefined) {
        const n = e === null ? null : parseUint(unquote(e), MAX_UINT32);
        if (n === null) return fail('invalid Contact expires');
        b.expiresS = n;
      }
      const q = getParam(na.params, 'q');
      if (q !== undefined) {
        if (q === null || !QVALUE_RE.test(q)) return fail('invalid Contact q');
        b.q = Number(q);
      }
      const proof = proofParamsOf(na.params);
      if (proof === null) return fail('invalid Contact binding proof (a parameter twice or without a value)');
      if (proof !== undefined) b.proof = proof;
      bindings.push(b);
    }
  }
  return ok({ star: false, bindings });
}

// ---------------------------------------------------------------- Warning, Expires and integers

/** `399 agent "text"`: 399 is RFC 3261's "miscellaneous warning", the text says what was wrong. */
export function formatWarning(agent: string, text: string): string {
  return `399 ${agent} ${quote(text)}`;
}

/** The text of the first Warning that has one (any warn-code), quotes removed. */
export function readWarningText(msg: SipMessage): string | undefined {
  for (const line of msg.headers.getAll('warning')) {
    for (const part of splitTopLevel(line) ?? []) {
      const m = /^[0-9]{3}[ \t]+\S+[ \t]+("(?:[^"\\]|\\.)*")$/.exec(trimWsp(part));
      if (m) return unquote(m[1] ?? '');
    }
  }
  return undefined;
}

/** A single unsigned integer header (Expires, Retry-After's delta, DHT-Candidates-Wanted). */
export function readUintHeader(msg: SipMessage, header: string, max: number = MAX_UINT32): Result<number | undefined> {
  const lines = msg.headers.getAll(header);
  if (lines.length === 0) return ok(undefined);
  if (lines.length > 1) return fail(`more than one ${header} header`);
  // Retry-After may carry a comment and parameters after the number (RFC 3261 section 20.33).
  const text = trimWsp(lines[0] ?? '').replace(/[ \t]*(?:\(.*|;.*)$/, '');
  const n = parseUint(text, max);
  return n === null ? fail(`invalid ${header}`) : ok(n);
}
