/**
 * Building a response from a request (RFC 3261 section 8.2.6): the Via lines
 * are copied in order and unchanged, From, Call-ID and CSeq are copied, To is
 * copied and gets a tag when it has none and the response is not a 100.
 */
import { quote } from './chars.js';
import { randomHex } from './random-hex.js';
import { parseNameAddr, tagOf } from './headers.js';
import { SipHeaders, type SipResponse } from './message.js';
import type { MessageParseError, ReplyContext } from './parse.js';
import { reasonPhrase } from './reason.js';

export interface ResponseOptions {
  readonly reason?: string;
  /** To-tag to add when the request's To has none; random when omitted. */
  readonly toTag?: string;
  /** Extra header lines appended after the copied ones. */
  readonly headers?: ReadonlyArray<readonly [name: string, value: string]>;
  readonly body?: Buffer;
}

export function randomTag(): string {
  return randomHex(8);
}

function hasTag(toValue: string): boolean {
  const na = parseNameAddr(toValue);
  // An unparseable To (we may be answering a 400) is checked textually.
  return na.ok ? tagOf(na.value) !== undefined : /;[ \t]*tag[ \t]*=/i.test(toValue);
}

/** Accepts a parsed SipRequest or the replyTo of a parse error. */
export function createResponse(req: Pick<ReplyContext, 'headers'>, status: number, opts: ResponseOptions = {}): SipResponse {
  const h = new SipHeaders();
  for (const f of req.headers) if (f.key === 'via') h.append('Via', f.value);
  const from = req.headers.get('from');
  if (from !== undefined) h.append('From', from);
  const to = req.headers.get('to');
  if (to !== undefined) {
    h.append('To', status > 100 && !hasTag(to) ? `${to};tag=${opts.toTag ?? randomTag()}` : to);
  }
  const callId = req.headers.get('call-id');
  if (callId !== undefined) h.append('Call-ID', callId);
  const cseq = req.headers.get('cseq');
  if (cseq !== undefined) h.append('CSeq', cseq);
  for (const [name, value] of opts.headers ?? []) h.append(name, value);
  return {
    kind: 'response',
    status,
    reason: opts.reason ?? reasonPhrase(status),
    version: 'SIP/2.0',
    headers: h,
    body: opts.body ?? Buffer.alloc(0),
  };
}

/**
 * The reply owed for a parse error, or null when none must be sent (the
 * input was a response, a keep-alive or unreadable). With `warnAgent` (our
 * host[:port]) the details go into a Warning: 399 header.
 */
export function createErrorResponse(
  error: MessageParseError,
  opts: { readonly warnAgent?: string; readonly toTag?: string } = {},
): SipResponse | null {
  if (!error.canReply || error.replyTo === undefined) return null;
  // Without a Via there is nowhere a response may go (RFC 3261 8.2.6.2, 18.2.2): junk such as
  // "hello world" gets no answer, which also keeps a spoofed source from being sent our replies.
  if (!error.replyTo.headers.has('via')) return null;
  const headers: Array<[string, string]> = [];
  if (opts.warnAgent !== undefined && error.warning) {
    headers.push(['Warning', `399 ${opts.warnAgent} ${quote(error.warning)}`]);
  }
  return createResponse(error.replyTo, error.status, {
    reason: error.reason.replace(/[\r\n]/g, ' '),
    headers,
    ...(opts.toTag !== undefined ? { toTag: opts.toTag } : {}),
  });
}
