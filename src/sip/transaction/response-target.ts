/**
 * Where a server sends responses (RFC 3261 18.2.2, RFC 3581 section 4).
 * Reliable transport: back over the connection the request came on, and if
 * that is gone, a new connection to the received address and sent-by port.
 * UDP: the received address (the source IP, as the transport stamped it) and
 * the rport if present, else the sent-by port (default 5060). maddr
 * (multicast) is not supported and is ignored.
 */
import { getTopVia, hostForSocket, viaReceived, viaRport, type SipRequest } from '../message/index.js';
import type { Endpoint } from '../transport/types.js';

export interface ResponseTargets {
  readonly primary: Endpoint;
  /** Second try for a stream transport whose connection failed (18.2.2). */
  readonly fallback?: Endpoint;
}

export function responseTargets(request: SipRequest, source: Endpoint): ResponseTargets {
  let via;
  try {
    via = getTopVia(request);
  } catch {
    return { primary: source };
  }
  const host = viaReceived(via) ?? hostForSocket(via.host);
  if (source.protocol !== 'udp') {
    // TLS as TCP: the same connection, else a new one to sent-by (default 5061 for TLS, 18.2.2).
    return { primary: source, fallback: { protocol: source.protocol, host, port: via.port ?? (source.protocol === 'tls' ? 5061 : 5060) } };
  }
  const rport = viaRport(via);
  const port = typeof rport === 'number' ? rport : (via.port ?? 5060);
  return { primary: { protocol: 'udp', host, port } };
}
