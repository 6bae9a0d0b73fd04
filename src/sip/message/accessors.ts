/**
 * Structured views of a message's headers, parsed on demand from the raw
 * lines so they can never disagree with what will be written. parseMessage
 * has already validated Via, To, From, Call-ID, CSeq, Max-Forwards, Contact,
 * Route and Record-Route, so on a parsed message these do not throw; on a
 * hand-built message an invalid or missing header throws HeaderError.
 */
import {
  parseCSeq,
  parseContact,
  parseExpires,
  parseMaxForwards,
  parseNameAddr,
  parseNameAddrList,
  parseVia,
  type CSeq,
  type ContactList,
  type NameAddr,
  type Via,
} from './headers.js';
import type { SipMessage } from './message.js';
import type { Result } from './result.js';

export class HeaderError extends Error {
  constructor(
    readonly header: string,
    message: string,
  ) {
    super(`${header}: ${message}`);
    this.name = 'HeaderError';
  }
}

function unwrap<T>(header: string, r: Result<T>): T {
  if (!r.ok) throw new HeaderError(header, r.error.message);
  return r.value;
}

function single(msg: SipMessage, header: string): string {
  const v = msg.headers.get(header);
  if (v === undefined) throw new HeaderError(header, 'missing');
  return v;
}

/** All Via values, top first, across all Via lines. */
export function getVias(msg: SipMessage): Via[] {
  return msg.headers.getAll('via').flatMap((v) => unwrap('Via', parseVia(v)));
}

export function getTopVia(msg: SipMessage): Via {
  const first = getVias(msg)[0];
  if (first === undefined) throw new HeaderError('Via', 'missing');
  return first;
}

export function getFrom(msg: SipMessage): NameAddr {
  return unwrap('From', parseNameAddr(single(msg, 'from')));
}

export function getTo(msg: SipMessage): NameAddr {
  return unwrap('To', parseNameAddr(single(msg, 'to')));
}

export function getCallId(msg: SipMessage): string {
  return single(msg, 'call-id');
}

export function getCSeq(msg: SipMessage): CSeq {
  return unwrap('CSeq', parseCSeq(single(msg, 'cseq')));
}

/** Max-Forwards, or undefined when absent (RFC 2543 peers omit it). */
export function getMaxForwards(msg: SipMessage): number | undefined {
  const v = msg.headers.get('max-forwards');
  return v === undefined ? undefined : unwrap('Max-Forwards', parseMaxForwards(v));
}

export function getExpires(msg: SipMessage): number | undefined {
  const v = msg.headers.get('expires');
  return v === undefined ? undefined : unwrap('Expires', parseExpires(v));
}

/** Contacts across all Contact lines; undefined when there is no Contact. */
export function getContacts(msg: SipMessage): ContactList | undefined {
  const lines = msg.headers.getAll('contact');
  if (lines.length === 0) return undefined;
  const values: NameAddr[] = [];
  for (const line of lines) {
    const c = unwrap('Contact', parseContact(line));
    if (c.star) return c;
    values.push(...c.values);
  }
  return { star: false, values };
}

export function getRoutes(msg: SipMessage): NameAddr[] {
  return msg.headers.getAll('route').flatMap((v) => unwrap('Route', parseNameAddrList(v)));
}

export function getRecordRoutes(msg: SipMessage): NameAddr[] {
  return msg.headers.getAll('record-route').flatMap((v) => unwrap('Record-Route', parseNameAddrList(v)));
}
