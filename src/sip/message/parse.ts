/**
 * parseMessage: bytes of one SIP message (a UDP datagram, or one message cut
 * out of a stream by StreamFramer) to a SipRequest/SipResponse, or to a typed
 * error carrying the status a server should answer with (the idea of h11's
 * error_status_hint). Never throws.
 */
import { TextDecoder } from 'node:util';
import { isToken } from './chars.js';
import { contentLengthOf, splitHeaderSection } from './header-section.js';
import {
  parseCSeq,
  parseContact,
  parseMaxForwards,
  parseNameAddr,
  parseNameAddrList,
  parseVia,
} from './headers.js';
import { KNOWN_METHODS, SipHeaders, type SipMessage } from './message.js';
import { parseUri, type Uri } from './uri.js';

export interface ParseOptions {
  /** 'datagram' (UDP: Content-Length optional, extra octets ignored) or 'stream' (Content-Length required). */
  readonly transport?: 'datagram' | 'stream';
  /** Largest accepted message, start line to end of body. */
  readonly maxMessageSize?: number;
  /** Most header fields (after unfolding). */
  readonly maxHeaderCount?: number;
  /** Longest header field (after unfolding), in characters. */
  readonly maxHeaderLineLength?: number;
  /** Most Contact values across all Contact lines. */
  readonly maxContacts?: number;
}

export type Limits = Required<ParseOptions>;

export const DEFAULT_PARSE_OPTIONS: Limits = {
  transport: 'datagram',
  maxMessageSize: 64 * 1024,
  maxHeaderCount: 100,
  maxHeaderLineLength: 8 * 1024,
  maxContacts: 32,
};

/**
 * 400 Bad Request, 413 Request Entity Too Large (Content-Length above the
 * limit), 505 Version Not Supported, 513 Message Too Large (the message itself
 * above the limit). Semantic codes (416, 420, 483, 501) come from validate.ts.
 */
export type ParseErrorStatus = 400 | 413 | 505 | 513;

export type ParseErrorCode =
  | 'keepalive'
  | 'too-large'
  | 'encoding'
  | 'start-line'
  | 'version'
  | 'request-uri'
  | 'header-syntax'
  | 'missing-header'
  | 'duplicate-header'
  | 'invalid-header'
  | 'cseq-mismatch'
  | 'framing'
  | 'internal';

/** What createErrorResponse needs to answer a request that failed to parse. */
export interface ReplyContext {
  readonly method: string;
  readonly headers: SipHeaders;
}

export interface MessageParseError {
  readonly status: ParseErrorStatus;
  /** Short reason phrase naming the problem, e.g. "Missing Call-ID header". */
  readonly reason: string;
  /** Details for a Warning header or a log. */
  readonly warning?: string;
  /**
   * True only for requests whose start line and header lines were readable:
   * a response can then be built from replyTo (RFC 3261 section 8.2.6).
   * Never true for responses, keep-alives or unreadable bytes: drop those.
   */
  readonly canReply: boolean;
  readonly code: ParseErrorCode;
  readonly replyTo?: ReplyContext;
}

export type ParseResult =
  | { readonly ok: true; readonly message: SipMessage }
  | { readonly ok: false; readonly error: MessageParseError };

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function err(
  status: ParseErrorStatus,
  code: ParseErrorCode,
  reason: string,
  warning?: string,
  replyTo?: ReplyContext,
): { ok: false; error: MessageParseError } {
  const error: MessageParseError = {
    status,
    code,
    reason,
    canReply: replyTo !== undefined,
    ...(warning !== undefined ? { warning } : {}),
    ...(replyTo !== undefined ? { replyTo } : {}),
  };
  return { ok: false, error };
}

export function parseMessage(buf: Buffer, opts: ParseOptions = {}): ParseResult {
  const limits: Limits = { ...DEFAULT_PARSE_OPTIONS, ...opts };
  try {
    return parseInner(buf, limits);
  } catch (e) {
    // Last-resort net so a parser bug cannot take the transport down. Tests
    // assert this path is never reached.
    return err(400, 'internal', 'Bad Request', e instanceof Error ? e.message : 'internal parser error');
  }
}

type StartLine =
  | { kind: 'request'; method: string; uriRaw: string; version: string }
  | { kind: 'response'; status: number; reason: string; version: string };

function parseStartLine(line: string): StartLine | string {
  // Trailing whitespace is tolerated (RFC 4475 trws), as are runs of SP
  // between elements (RFC 4475 lwsstart): neither survives re-serialisation.
  const s = line.replace(/[ \t]+$/, '');
  if (/^SIP\//i.test(s)) {
    const m = /^(SIP\/[0-9]+\.[0-9]+)[ \t]+([0-9]+)(?:[ \t](.*))?$/is.exec(s); // "s": reason may hold U+2028
    if (!m) return 'malformed Status-Line';
    const code = m[2] ?? '';
    // Status-Code is exactly three digits; 100..699 (RFC 4475 bigcode).
    if (!/^[1-6][0-9]{2}$/.test(code)) return 'invalid status code';
    return { kind: 'response', version: m[1] ?? '', status: Number(code), reason: (m[3] ?? '').replace(/^[ \t]+/, '') };
  }
  const parts = s.split(/[ \t]+/);
  if (parts.length !== 3) return 'malformed Request-Line';
  const [method = '', uriRaw = '', version = ''] = parts;
  if (!isToken(method)) return 'invalid method';
  if (!/^SIP\/[0-9]+\.[0-9]+$/i.test(version)) return 'malformed SIP-Version';
  return { kind: 'request', method, uriRaw, version };
}

function parseInner(buf: Buffer, limits: Limits): ParseResult {
  // Leading CRLFs are keep-alives or padding (RFC 3261 section 7.5, RFC 5626).
  let start = 0;
  while (buf[start] === 0x0d && buf[start + 1] === 0x0a) start += 2;
  if (start >= buf.length) return err(400, 'keepalive', 'Empty message (keep-alive)');
  if (buf.length - start > limits.maxMessageSize) {
    return err(513, 'too-large', 'Message Too Large', `message exceeds ${limits.maxMessageSize} bytes`);
  }

  let headEnd = buf.indexOf('\r\n\r\n', start, 'latin1');
  let bodyStart: number;
  let missingBlankLine = false;
  if (headEnd < 0) {
    if (limits.transport === 'stream') return err(400, 'framing', 'Incomplete header section');
    // Keep reading the headers so the 400 can still be answered.
    missingBlankLine = true;
    headEnd = buf.length;
    if (buf[headEnd - 2] === 0x0d && buf[headEnd - 1] === 0x0a) headEnd -= 2;
    bodyStart = buf.length;
  } else {
    bodyStart = headEnd + 4;
  }

  let head: string;
  try {
    head = utf8.decode(buf.subarray(start, headEnd));
  } catch {
    // RFC 3261 text is UTF-8; decoding anything else would be lossy and a
    // forwarded copy would not be the received bytes.
    return err(400, 'encoding', 'Bad Request', 'header section is not valid UTF-8');
  }

  const firstLine = head.slice(0, head.indexOf('\r\n') < 0 ? head.length : head.indexOf('\r\n'));
  const sl = parseStartLine(firstLine);
  const section = splitHeaderSection(head, limits);
  if (typeof sl === 'string') {
    // A broken Request-Line (RFC 4475 lwsruri) still deserves a 400 when the
    // headers are readable and the line starts with a method token.
    const method = /^[^ \t]+/.exec(firstLine)?.[0] ?? '';
    const replyable = section.ok && isToken(method) && !/^SIP\//i.test(method);
    const ctx = replyable ? { method, headers: SipHeaders.ofCheckedFields(section.value.fields) } : undefined;
    return err(400, 'start-line', 'Bad Request', sl, ctx);
  }
  if (!section.ok) return err(400, 'header-syntax', 'Bad Request', section.error.message, tooManyHeadersReply(sl, head, limits));
  const headers = SipHeaders.ofCheckedFields(section.value.fields);

  const replyTo = sl.kind === 'request' ? { method: sl.method, headers } : undefined;

  if (sl.version.toUpperCase() !== 'SIP/2.0') {
    return err(505, 'version', 'Version Not Supported', `unsupported ${sl.version}`, replyTo);
  }
  if (missingBlankLine) {
    return err(400, 'framing', 'Bad Request', 'missing empty line after header section', replyTo);
  }

  let uri: Uri | undefined;
  if (sl.kind === 'request') {
    const u = parseUri(sl.uriRaw);
    if (!u.ok) return err(400, 'request-uri', 'Invalid Request-URI', u.error.message, replyTo);
    // Headers are not allowed in a Request-URI (RFC 3261 section 19.1.1 table);
    // forwarding them would smuggle headers (RFC 4475 escruri).
    if (u.value.kind === 'sip' && u.value.headers.length > 0) {
      return err(400, 'request-uri', 'Invalid Request-URI', 'Request-URI must not contain headers', replyTo);
    }
    uri = u.value;
  }

  const v = validateHeaders(headers, sl.kind === 'request' ? sl.method : null, limits);
  if (v !== null) return err(400, v.code, v.reason, v.warning, replyTo);

  const cl = contentLengthOf(section.value.fields);
  if (!cl.ok) return err(400, 'framing', 'Invalid Content-Length', cl.error.message, replyTo);
  const available = buf.length - bodyStart;
  let body: Buffer;
  if (cl.value !== null) {
    if (cl.value > limits.maxMessageSize) {
      return err(413, 'too-large', 'Request Entity Too Large', `Content-Length ${cl.value} exceeds limit`, replyTo);
    }
    // Fewer octets than announced: truncated (RFC 4475 clerr, 400 over UDP).
    if (cl.value > available) {
      return err(400, 'framing', 'Content-Length Mismatch', 'body shorter than Content-Length', replyTo);
    }
    // More octets than announced are ignored (RFC 3261 section 18.3, RFC 4475 dblreq).
    body = Buffer.from(buf.subarray(bodyStart, bodyStart + cl.value));
  } else if (limits.transport === 'stream') {
    return err(400, 'framing', 'Missing Content-Length', 'Content-Length is required on stream transports', replyTo);
  } else {
    body = Buffer.from(buf.subarray(bodyStart));
  }

  if (sl.kind === 'request' && uri !== undefined) {
    return {
      ok: true,
      message: { kind: 'request', method: sl.method, uri, uriRaw: sl.uriRaw, version: 'SIP/2.0', headers, body },
    };
  }
  if (sl.kind === 'response') {
    return {
      ok: true,
      message: { kind: 'response', status: sl.status, reason: sl.reason, version: 'SIP/2.0', headers, body },
    };
  }
  return err(400, 'internal', 'Bad Request', 'unreachable', replyTo);
}

interface HeaderProblem {
  code: ParseErrorCode;
  reason: string;
  warning: string;
}

const MANDATORY_SINGLE: ReadonlyArray<[key: string, name: string]> = [
  ['to', 'To'],
  ['from', 'From'],
  ['call-id', 'Call-ID'],
  ['cseq', 'CSeq'],
];

/** Checks the headers a proxy depends on; null when they are fine. */
function validateHeaders(headers: SipHeaders, method: string | null, limits: Limits): HeaderProblem | null {
  const vias = headers.getAll('via');
  if (vias.length === 0) return { code: 'missing-header', reason: 'Missing Via header', warning: 'no Via header' };
  for (const value of vias) {
    const r = parseVia(value);
    if (!r.ok) return { code: 'invalid-header', reason: 'Invalid Via header', warning: r.error.message };
  }

  for (const [key, name] of MANDATORY_SINGLE) {
    const n = headers.count(key);
    if (n === 0) return { code: 'missing-header', reason: `Missing ${name} header`, warning: `no ${name} header` };
    // Several To/From/Call-ID/CSeq make the dialog ambiguous (RFC 4475 multi01).
    if (n > 1) return { code: 'duplicate-header', reason: `Multiple ${name} headers`, warning: `${n} ${name} headers` };
  }
  for (const key of ['to', 'from'] as const) {
    const r = parseNameAddr(headers.get(key) ?? '');
    const name = key === 'to' ? 'To' : 'From';
    if (!r.ok) return { code: 'invalid-header', reason: `Invalid ${name} header`, warning: r.error.message };
  }
  const callId = headers.get('call-id') ?? '';
  if (callId === '' || /[ \t]/.test(callId)) {
    return { code: 'invalid-header', reason: 'Invalid Call-ID header', warning: 'Call-ID must be one word' };
  }
  const cseq = parseCSeq(headers.get('cseq') ?? '');
  if (!cseq.ok) return { code: 'invalid-header', reason: 'Invalid CSeq header', warning: cseq.error.message };
  // A mismatch is a 400 for methods we know (RFC 4475 mismatch01). For an
  // unknown method the answer should be 501 (RFC 4475 mismatch02), which
  // only the layer that knows what it implements can give.
  if (method !== null && cseq.value.method !== method && KNOWN_METHODS.has(method)) {
    return {
      code: 'cseq-mismatch',
      reason: 'CSeq method does not match request method',
      warning: `CSeq method ${cseq.value.method} vs ${method}`,
    };
  }

  const mf = headers.getAll('max-forwards');
  if (mf.length > 1) return { code: 'duplicate-header', reason: 'Multiple Max-Forwards headers', warning: '' };
  if (mf.length === 1) {
    const r = parseMaxForwards(mf[0] ?? '');
    if (!r.ok) return { code: 'invalid-header', reason: 'Invalid Max-Forwards header', warning: r.error.message };
  }

  let contacts = 0;
  const contactLines = headers.getAll('contact');
  for (const value of contactLines) {
    const r = parseContact(value);
    if (!r.ok) return { code: 'invalid-header', reason: 'Invalid Contact header', warning: r.error.message };
    if (r.value.star && contactLines.length > 1) {
      return { code: 'invalid-header', reason: 'Invalid Contact header', warning: '"*" must be the only Contact' };
    }
    contacts += r.value.star ? 1 : r.value.values.length;
    if (contacts > limits.maxContacts) {
      return { code: 'invalid-header', reason: 'Too many Contact values', warning: `more than ${limits.maxContacts}` };
    }
  }

  for (const [key, name] of [['route', 'Route'], ['record-route', 'Record-Route']] as const) {
    for (const value of headers.getAll(key)) {
      const r = parseNameAddrList(value);
      if (!r.ok) return { code: 'invalid-header', reason: `Invalid ${name} header`, warning: r.error.message };
    }
  }
  return null;
}

/** The header fields a response copies (RFC 3261 8.2.6.2), and nothing else. */
const REPLY_KEYS = new Set(['via', 'from', 'to', 'call-id', 'cseq']);

/**
 * A request over the header-count limit (hundreds of Contacts, say) still deserves its 400 when
 * the fields a response needs can be read: the section is read again without the count limit
 * (the message size limit still bounds it) and only those fields are kept.
 */
function tooManyHeadersReply(
  sl: ReturnType<typeof parseStartLine>,
  head: string,
  limits: { maxHeaderCount: number; maxHeaderLineLength: number },
): { method: string; headers: SipHeaders } | undefined {
  if (typeof sl === 'string' || sl.kind !== 'request') return undefined;
  const again = splitHeaderSection(head, { ...limits, maxHeaderCount: Number.MAX_SAFE_INTEGER });
  if (!again.ok || again.value.fields.length <= limits.maxHeaderCount) return undefined;
  const fields = again.value.fields.filter((f) => REPLY_KEYS.has(f.key));
  return { method: sl.method, headers: new SipHeaders(fields) };
}
