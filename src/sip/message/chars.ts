/**
 * Character classes and small lexical helpers from the RFC 3261 grammar
 * (section 25.1). Header values reach these helpers already unfolded, so the
 * only whitespace left is SP and HTAB.
 */

/**
 * token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~"), as a table
 * indexed by char code: these helpers run for every character of every header, where a regular
 * expression per character was a visible share of a node's CPU.
 */
const TOKEN_CHARS = (() => {
  const table = new Uint8Array(128);
  for (const c of "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~") table[c.charCodeAt(0)] = 1;
  return table;
})();

function isTokenCode(code: number): boolean {
  return code < 128 && TOKEN_CHARS[code] === 1;
}

export function isTokenChar(c: string | undefined): boolean {
  return c !== undefined && c.length === 1 && isTokenCode(c.charCodeAt(0));
}

export function isToken(s: string): boolean {
  if (s.length === 0) return false;
  for (let i = 0; i < s.length; i++) if (!isTokenCode(s.charCodeAt(i))) return false;
  return true;
}

export function isWsp(c: string | undefined): boolean {
  return c === ' ' || c === '\t';
}

/** Index of the first non-SP/HTAB character at or after `i`. */
export function skipWs(s: string, i: number): number {
  while (i < s.length && isWsp(s[i])) i++;
  return i;
}

/** Index just past the run of token characters starting at `i`. */
export function tokenEnd(s: string, i: number): number {
  while (i < s.length && isTokenCode(s.charCodeAt(i))) i++;
  return i;
}

/**
 * Given s[i] === '"', the index just past the closing quote, or -1 when the
 * string is unterminated or contains a quoted-pair escaping CR/LF (which RFC
 * 3261 forbids). Any other character, NUL and UTF-8 included, may appear.
 */
export function quotedEnd(s: string, i: number): number {
  let j = i + 1;
  while (j < s.length) {
    const c = s[j];
    if (c === '\\') {
      const n = s[j + 1];
      if (n === undefined || n === '\r' || n === '\n') return -1;
      j += 2;
      continue;
    }
    if (c === '"') return j + 1;
    if (c === '\r' || c === '\n') return -1;
    j++;
  }
  return -1;
}

/** Removes the surrounding quotes and resolves quoted-pairs. Non-quoted input is returned as is. */
export function unquote(s: string): string {
  if (s.length < 2 || s[0] !== '"' || s[s.length - 1] !== '"') return s;
  return s.slice(1, -1).replace(/\\([\s\S])/g, '$1');
}

/** Makes a quoted-string from arbitrary text (CR and LF are not representable and are dropped). */
export function quote(s: string): string {
  return `"${s.replace(/[\r\n]/g, '').replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * Splits a header value on top-level commas: commas inside quoted strings or
 * inside <...> do not separate list elements. Returns null when a quote or an
 * angle bracket is left open, so "a, "b" cannot silently become two values.
 * Elements are trimmed; empty elements are kept so callers can reject them.
 */
export function splitTopLevel(s: string): string[] | null {
  const out: string[] = [];
  let start = 0;
  let angle = false;
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (c === '"') {
      const end = quotedEnd(s, i);
      if (end < 0) return null;
      i = end;
      continue;
    }
    if (c === '<') {
      if (angle) return null;
      angle = true;
    } else if (c === '>') {
      if (!angle) return null;
      angle = false;
    } else if (c === ',' && !angle) {
      out.push(trimWsp(s.slice(start, i)));
      start = i + 1;
    }
    i++;
  }
  if (angle) return null;
  out.push(trimWsp(s.slice(start)));
  return out;
}

/**
 * Parses a decimal unsigned integer, allowing leading zeros ("0068" is 68, as
 * RFC 4475 wsinv requires), rejecting anything above `max`. Digit strings are
 * checked by length first so that a 100-digit value never goes through a
 * float conversion that would round it into range.
 */
export function parseUint(s: string, max: number): number | null {
  if (!/^[0-9]+$/.test(s)) return null;
  const digits = s.replace(/^0+(?=[0-9])/, '');
  if (digits.length > String(max).length) return null;
  const n = Number(digits);
  return n <= max ? n : null;
}

/**
 * Trims SP and HTAB only: String.prototype.trim would also remove NBSP,
 * U+2028 and other Unicode spaces, which are content, not LWS.
 */
export function trimWsp(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isWspCode(s.charCodeAt(start))) start++;
  while (end > start && isWspCode(s.charCodeAt(end - 1))) end--;
  return start === 0 && end === s.length ? s : s.slice(start, end);
}

function isWspCode(code: number): boolean {
  return code === 0x20 || code === 0x09;
}
