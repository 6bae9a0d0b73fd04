/**
 * Building a new out-of-dialog request (RFC 3261 section 8.1.1): To, From
 * with a fresh tag, a random Call-ID, CSeq, Max-Forwards: 70. No Via: the
 * transaction layer adds the top Via with its branch when it sends.
 * Invalid arguments are programming errors and throw TypeError.
 */
import { isToken } from './chars.js';
import { MAX_UINT32, parseNameAddr, serializeNameAddr, tagOf, type NameAddr } from './headers.js';
import { SipHeaders, type SipRequest } from './message.js';
import { randomHex } from './random-hex.js';
import { randomTag } from './response.js';
import { parseUri, serializeUri, type Uri } from './uri.js';

export interface RequestOptions {
  readonly method: string;
  /** Request-URI, as text or parsed. */
  readonly uri: string | Uri;
  /** From: name-addr text (e.g. `"Alice" <sip:alice@example.com>`) or parsed; a tag is added when missing (8.1.1.3). */
  readonly from: string | NameAddr;
  /** To: name-addr text or parsed; kept as given (no tag outside a dialog, 8.1.1.2). */
  readonly to: string | NameAddr;
  /** Random (96 bits, hex) when omitted (8.1.1.4). */
  readonly callId?: string;
  /** CSeq number; 1 when omitted. */
  readonly cseq?: number;
  /** Extra header lines, appended in order after the mandatory ones. */
  readonly headers?: ReadonlyArray<readonly [name: string, value: string]>;
  readonly body?: Buffer | string;
}

export function randomCallId(): string {
  return randomHex(12);
}

function nameAddr(what: string, v: string | NameAddr): NameAddr {
  if (typeof v !== 'string') return v;
  const r = parseNameAddr(v);
  if (!r.ok) throw new TypeError(`invalid ${what}: ${r.error.message}`);
  return r.value;
}

export function createRequest(opts: RequestOptions): SipRequest {
  if (!isToken(opts.method)) throw new TypeError(`invalid method: ${JSON.stringify(opts.method)}`);
  let uri: Uri;
  if (typeof opts.uri === 'string') {
    const r = parseUri(opts.uri);
    if (!r.ok) throw new TypeError(`invalid Request-URI: ${r.error.message}`);
    uri = r.value;
  } else {
    uri = opts.uri;
  }
  const cseq = opts.cseq ?? 1;
  if (!Number.isInteger(cseq) || cseq < 0 || cseq > MAX_UINT32) throw new TypeError(`invalid CSeq number: ${cseq}`);
  const callId = opts.callId ?? randomCallId();
  if (callId === '' || /\s/.test(callId)) throw new TypeError('Call-ID must be one word');

  const from = nameAddr('From', opts.from);
  const fromWithTag: NameAddr = tagOf(from) === undefined ? { ...from, params: [...from.params, { name: 'tag', value: randomTag() }] } : from;
  const to = nameAddr('To', opts.to);

  const headers = new SipHeaders()
    .append('Max-Forwards', '70')
    .append('To', serializeNameAddr(to))
    .append('From', serializeNameAddr(fromWithTag))
    .append('Call-ID', callId)
    .append('CSeq', `${cseq} ${opts.method}`);
  for (const [name, value] of opts.headers ?? []) headers.append(name, value);
  const body = typeof opts.body === 'string' ? Buffer.from(opts.body, 'utf8') : (opts.body ?? Buffer.alloc(0));
  const uriRaw = serializeUri(uri);
  return { kind: 'request', method: opts.method, uri, uriRaw, version: 'SIP/2.0', headers, body };
}
