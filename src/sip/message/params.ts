/**
 * Generic header parameters: `*( SEMI generic-param )` with
 * generic-param = token [ EQUAL gen-value ], gen-value = token / host /
 * quoted-string (RFC 3261 section 25.1). SEMI and EQUAL allow whitespace on
 * both sides (RFC 4475 wsinv).
 */
import { isTokenChar, quotedEnd, skipWs, tokenEnd, unquote } from './chars.js';
import { fail, ok, type Result } from './result.js';

export interface Param {
  /** As written; names compare case-insensitively (getParam). */
  readonly name: string;
  /** As written, quotes included for a quoted-string; null when valueless. */
  readonly value: string | null;
}

// gen-value without quotes: token characters plus what a host adds
// ("[", "]", ":"), so received=[2001:db8::1] and received=2001:db8::1 both
// parse (RFC 5118 section 4.5).
function isGenValueChar(c: string | undefined): boolean {
  return c !== undefined && (isTokenChar(c) || c === '[' || c === ']' || c === ':');
}

/**
 * Parses parameters starting at `i` (optional whitespace then ";"). Stops at
 * the first character that cannot continue the list and returns its index;
 * the caller decides whether anything may follow.
 */
export function parseParamsAt(s: string, i: number): Result<{ params: Param[]; end: number }> {
  const params: Param[] = [];
  for (;;) {
    const semi = skipWs(s, i);
    if (s[semi] !== ';') return ok({ params, end: semi });
    const nameStart = skipWs(s, semi + 1);
    const nameEnd = tokenEnd(s, nameStart);
    if (nameEnd === nameStart) return fail(`empty parameter name at offset ${nameStart}`);
    const name = s.slice(nameStart, nameEnd);
    const eq = skipWs(s, nameEnd);
    if (s[eq] !== '=') {
      params.push({ name, value: null });
      i = nameEnd;
      continue;
    }
    const vStart = skipWs(s, eq + 1);
    let vEnd: number;
    if (s[vStart] === '"') {
      vEnd = quotedEnd(s, vStart);
      if (vEnd < 0) return fail(`unterminated quoted value for parameter "${name}"`);
    } else {
      vEnd = vStart;
      while (isGenValueChar(s[vEnd])) vEnd++;
      if (vEnd === vStart) return fail(`missing value for parameter "${name}"`);
    }
    params.push({ name, value: s.slice(vStart, vEnd) });
    i = vEnd;
  }
}

/** Parses a string made only of parameters (e.g. the text after a Via sent-by). */
export function parseParams(s: string): Result<Param[]> {
  const r = parseParamsAt(s, 0);
  if (!r.ok) return r;
  if (skipWs(s, r.value.end) !== s.length) return fail(`unexpected characters at offset ${r.value.end}`);
  return ok(r.value.params);
}

export function serializeParams(params: readonly Param[]): string {
  let s = '';
  for (const p of params) s += p.value === null ? `;${p.name}` : `;${p.name}=${p.value}`;
  return s;
}

/** Raw value of the first parameter named `name` (case-insensitive): undefined if absent, null if valueless. */
export function getParam(params: readonly Param[], name: string): string | null | undefined {
  const want = name.toLowerCase();
  const p = params.find((q) => q.name.toLowerCase() === want);
  return p === undefined ? undefined : p.value;
}

/** Like getParam but with quotes and quoted-pairs removed. */
export function getParamText(params: readonly Param[], name: string): string | null | undefined {
  const v = getParam(params, name);
  return typeof v === 'string' ? unquote(v) : v;
}
