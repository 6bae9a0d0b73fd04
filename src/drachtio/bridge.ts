/**
 * Between drachtio-srf's objects and kadsip's SIP model: a request drachtio-server passed on, read
 * with kadsip's parser; a response kadsip's registrar built, sent through `res.send`; a located
 * target, written as the destination URI `req.proxy` takes.
 */
import { hostPort } from '../common/host-port.js';
import type { ProxyTarget } from '../proxy/index.js';
import { parseMessage, parseUri, type SipRequest, type SipResponse } from '../sip/message/index.js';
import type { Endpoint, Protocol } from '../sip/transport/index.js';
import type { SrfRequest, SrfResponse } from './srf-types.js';

/** The request as kadsip's parser reads it, or null when drachtio-srf gave no text or the text is not a request. */
export function sipRequestOf(req: SrfRequest): SipRequest | null {
  if (typeof req.msg.raw !== 'string') return null;
  const parsed = parseMessage(Buffer.from(req.msg.raw, 'utf8'));
  return parsed.ok && parsed.message.kind === 'request' ? parsed.message : null;
}

/** Where the request came from, as drachtio-server saw it (the registrar's flow: src/registrar/flow.ts). */
export function sourceOf(req: SrfRequest): Endpoint {
  const protocol: Protocol = req.protocol.toLowerCase() === 'tcp' ? 'tcp' : 'udp';
  return { protocol, host: req.source_address, port: Number(req.source_port) || 5060 };
}

/**
 * Headers drachtio-server writes itself from the request (RFC 3261 8.2.6.2): the response copies
 * Via, From, To (drachtio adds its own To tag), Call-ID and CSeq, and frames the body.
 */
const WRITTEN_BY_DRACHTIO = new Set(['via', 'from', 'to', 'call-id', 'cseq', 'content-length']);

/**
 * Challenge headers, of which only the first value goes out. RFC 3261 section 7.3.1 forbids
 * combining WWW-Authenticate (and Proxy-Authenticate) values into one comma-separated line, and
 * drachtio-srf's headers object holds one value per name (its Message#set joins repeats with
 * commas, and drachtio-server sends that as one line). So behind drachtio-server the phone is
 * offered the first algorithm of `digestAlgorithms` only: put MD5 first for phones that know no
 * other.
 */
const FIRST_VALUE_ONLY = new Set(['www-authenticate', 'proxy-authenticate']);

/**
 * Sends a response kadsip built (the registrar's 200 with the bindings, its 401 challenge, 423
 * with Min-Expires...) through drachtio-srf. Several values of one header go as one
 * comma-separated value (RFC 3261 7.3.1 allows it for Contact and the other list headers), except
 * the challenges (FIRST_VALUE_ONLY).
 */
export function sendResponse(res: SrfResponse, response: SipResponse): void {
  const headers: Record<string, string> = {};
  for (const field of response.headers) {
    if (WRITTEN_BY_DRACHTIO.has(field.key)) continue;
    const name = field.name;
    if (headers[name] === undefined) headers[name] = field.value;
    else if (!FIRST_VALUE_ONLY.has(field.key)) headers[name] = `${headers[name]}, ${field.value}`;
  }
  res.send(response.status, response.reason, { headers });
}

/**
 * The destination URIs of a located target, for `req.proxy({ destination })`: each address of the
 * target (one, or an RFC 3263 server set in the order to try) as `sip:user@IP:PORT;transport=..`.
 * drachtio-server sends the request to that address and leaves the Request-URI as it is (it
 * rewrites it only when it names drachtio-server itself), which is what an overlay hit needs: the
 * peer that serves the AoR gets `sip:bob@example.com` unchanged (PROTOCOL.md section 4). The
 * user part is the target's, so a rewritten Request-URI still names the callee.
 */
export function destinationsOf(target: ProxyTarget): string[] {
  const uri = parseUri(target.uri);
  const user = uri.ok && uri.value.kind === 'sip' && uri.value.user !== null ? `${uri.value.user}@` : '';
  return [target.destination, ...(target.failover ?? [])].map((d) => `sip:${user}${hostPort(d.host, d.port)};transport=${d.protocol}`);
}
