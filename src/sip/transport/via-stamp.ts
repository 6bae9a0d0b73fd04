/**
 * What a server transport does to the top Via of every request it receives
 * (RFC 3261 18.2.1, RFC 3581 section 4), and the check a client transport
 * applies to every response (RFC 3261 18.1.2). Pure functions over messages.
 */
import { editTopVia, viaRport, type Param, type SipMessage, type Via } from '../message/index.js';
import { normalizeHost, type Endpoint } from './types.js';

function withParam(params: readonly Param[], name: string, value: string): Param[] {
  const lower = name.toLowerCase();
  let placed = false;
  const out: Param[] = [];
  for (const p of params) {
    if (p.name.toLowerCase() !== lower) out.push(p);
    else if (!placed) {
      out.push({ name: p.name, value });
      placed = true;
    }
  }
  if (!placed) out.push({ name, value });
  return out;
}

/**
 * Adds received=<source ip> when the sent-by host is not the packet's source
 * address (RFC 3261 18.2.1) or when the client asked for rport, and fills a
 * valueless rport with the source port (RFC 3581 section 4). Only the first
 * value of the first Via line changes; every other header line is kept as is.
 * Returns false when the message has no readable Via (left untouched).
 */
export function stampReceived(message: SipMessage, source: Endpoint): boolean {
  const sourceIp = normalizeHost(source.host);
  const edited = editTopVia(message.headers, (top) => {
    const wantsRport = viaRport(top) === true;
    if (normalizeHost(top.host) === sourceIp && !wantsRport) return top;
    // RFC 3581: with rport the received parameter is added even when the host matches.
    let params = withParam(top.params, 'received', sourceIp);
    if (wantsRport) params = withParam(params, 'rport', String(source.port));
    return { ...top, params };
  });
  if (edited === undefined) return false;
  message.headers = edited.headers;
  return true;
}

/**
 * RFC 3261 18.1.2: a response whose top Via sent-by is not ours was misrouted
 * and must be dropped. `ours` holds the host/port pairs this transport owns.
 */
export function sentByIsOurs(top: Via, ours: ReadonlyArray<{ host: string; port: number }>, wildcard: boolean): boolean {
  const host = normalizeHost(top.host);
  const port = top.port ?? 5060;
  return ours.some((o) => o.port === port && (wildcard || normalizeHost(o.host) === host));
}
