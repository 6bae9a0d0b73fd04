/**
 * Splits a decoded header section into the start line and header fields,
 * undoing line folding (RFC 3261 section 7.3.1). Shared by the datagram
 * parser and the stream framer, which needs Content-Length before it can
 * find the end of a message.
 */
import { isToken, isWsp, trimWsp } from './chars.js';
import { headerKey } from './header-names.js';
import { parseContentLength } from './headers.js';
import type { HeaderField } from './message.js';
import { fail, ok, type Result } from './result.js';

export interface SectionLimits {
  readonly maxHeaderCount: number;
  readonly maxHeaderLineLength: number;
}

export interface HeaderSection {
  readonly startLine: string;
  readonly fields: HeaderField[];
}

export function splitHeaderSection(text: string, limits: SectionLimits): Result<HeaderSection> {
  const lines = text.split('\r\n');
  const startLine = lines[0] ?? '';
  const logical: string[] = [];
  for (let i = 1; i < lines.length; i++) {
    const line = lines[i] ?? '';
    if (line.indexOf('\r') >= 0 || line.indexOf('\n') >= 0) return fail('bare CR or LF in header section');
    if (isWsp(line[0])) {
      // A continuation line: CRLF plus leading whitespace count as one SP.
      const last = logical.length - 1;
      if (last < 0) return fail('continuation line before any header');
      logical[last] = `${logical[last] ?? ''} ${line.replace(/^[ \t]+/, '')}`;
    } else {
      logical.push(line);
    }
    if (logical.length > limits.maxHeaderCount) return fail('too many header fields');
    if ((logical[logical.length - 1]?.length ?? 0) > limits.maxHeaderLineLength) {
      return fail('header field too long');
    }
  }
  const fields: HeaderField[] = [];
  for (const line of logical) {
    const colon = line.indexOf(':');
    if (colon < 0) return fail('header line without ":"');
    // Whitespace is allowed between the name and the colon (RFC 4475 wsinv: "TO :").
    const name = trimWsp(line.slice(0, colon));
    if (!isToken(name)) return fail(`invalid header name ${JSON.stringify(name.slice(0, 64))}`);
    fields.push({ name, key: headerKey(name), value: trimWsp(line.slice(colon + 1)) });
  }
  return ok({ startLine, fields });
}

/**
 * The message's Content-Length: null when absent; an error when a value is
 * not a non-negative integer (RFC 4475 ncl) or when repeated lines disagree
 * (RFC 4475 mcl01). Identical repeats are tolerated.
 */
export function contentLengthOf(fields: readonly HeaderField[]): Result<number | null> {
  let found: number | null = null;
  for (const f of fields) {
    if (f.key !== 'content-length') continue;
    const r = parseContentLength(f.value);
    if (!r.ok) return fail('invalid Content-Length');
    if (found !== null && found !== r.value) return fail('conflicting Content-Length headers');
    found = r.value;
  }
  return ok(found);
}
