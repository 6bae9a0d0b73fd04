/** Builds REGISTER requests from text, as a phone would send them, through parseMessage. */
import { parseMessage, type SipRequest, type SipResponse } from '../../src/sip/message/index.js';
import type { Endpoint } from '../../src/sip/transport/index.js';

export interface RegisterText {
  readonly ruri?: string;
  readonly to?: string;
  readonly from?: string;
  readonly callId?: string;
  readonly cseq?: number;
  /** Each string is one Contact line. */
  readonly contacts?: readonly string[];
  readonly expires?: string;
  readonly extra?: readonly string[];
  readonly method?: string;
}

export function registerText(o: RegisterText = {}): string {
  const method = o.method ?? 'REGISTER';
  const ls = [
    `${method} ${o.ruri ?? 'sip:example.com'} SIP/2.0`,
    'Via: SIP/2.0/UDP 192.168.1.20:5060;branch=z9hG4bKnashds7;rport',
    'Max-Forwards: 70',
    `To: ${o.to ?? 'Alice <sip:alice@example.com>'}`,
    `From: ${o.from ?? 'Alice <sip:alice@example.com>;tag=456248'}`,
    `Call-ID: ${o.callId ?? '843817637684230@998sdasdh09'}`,
    `CSeq: ${o.cseq ?? 1826} ${method}`,
    ...(o.contacts ?? ['<sip:alice@192.168.1.20:5060>']).map((c) => `Contact: ${c}`),
    ...(o.expires !== undefined ? [`Expires: ${o.expires}`] : []),
    ...(o.extra ?? []),
    'Content-Length: 0',
    '',
    '',
  ];
  return ls.join('\r\n');
}

export function parseRequest(text: string): SipRequest {
  const r = parseMessage(Buffer.from(text, 'utf8'));
  if (!r.ok) throw new Error(`${r.error.status} ${r.error.reason}: ${r.error.warning ?? ''}`);
  if (r.message.kind !== 'request') throw new Error('not a request');
  return r.message;
}

export function register(o: RegisterText = {}): SipRequest {
  return parseRequest(registerText(o));
}

export const PHONE: Endpoint = { protocol: 'udp', host: '203.0.113.7', port: 40123 };

/** Contact header values of a response, in order. */
export function contactsOf(res: SipResponse): string[] {
  return res.headers.getAll('contact');
}
