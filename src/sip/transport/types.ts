/**
 * Shared vocabulary of the transport layer (RFC 3261 section 18): where a
 * message goes or came from, what the layer reports upwards, and its limits.
 */
import type { SipMessage } from '../message/index.js';
import { canonicalIpv6 } from '../message/host.js';

/** RFC 3261 section 18 transports; `tls` is TCP with TLS (section 26.2, Via `SIP/2.0/TLS`). */
export type Protocol = 'udp' | 'tcp' | 'tls';

/** A transport address. `host` is in socket form: an IP without IPv6 brackets, or a hostname. */
export interface Endpoint {
  readonly protocol: Protocol;
  readonly host: string;
  readonly port: number;
}

export interface InboundMessage {
  /** Parsed message; for requests the top Via already carries received/rport (RFC 3261 18.2.1, RFC 3581). */
  readonly message: SipMessage;
  /** Where the bytes came from. For TCP this names the connection responses must reuse (RFC 3261 18.2.2). */
  readonly source: Endpoint;
  /** The bytes as received. */
  readonly raw: Buffer;
}

export interface SendError {
  readonly error: Error;
  readonly to: Endpoint;
  readonly message: SipMessage;
}

export type { Logger, LogFn } from '../../common/logger.js';

export interface TransportLimits {
  /** Concurrent TCP connections, inbound and outbound together; more are refused. Default 1024. */
  readonly maxTcpConnections?: number;
  /** A TCP connection with no complete message (or keep-alive) in either direction for this long is closed. Default 32 000 ms. */
  readonly tcpIdleMs?: number;
  /** Largest message accepted on a stream, which also bounds the bytes buffered per connection. Default 64 KiB. */
  readonly maxMessageSize?: number;
  /** Sources remembered for rate-limiting the bad-input log lines. Default 1024. */
  readonly maxLoggedSources?: number;
}

export interface TransportStats {
  udpIn: number;
  udpOut: number;
  tcpIn: number;
  tcpOut: number;
  /** Inputs that failed parseMessage or framing (keep-alives not counted). */
  parseErrors: number;
  /** Inputs dropped on purpose: responses not for us (RFC 3261 18.1.2), refused connections, failed sends. */
  dropped: number;
  /** TCP connections open right now. */
  tcpConnections: number;
  /** TLS connections open right now (their messages count in tcpIn/tcpOut: both are streams). */
  tlsConnections: number;
}

/** RFC 3261 18.1.1: above this size (path MTU 1500 minus headroom) a request should go over a congestion-controlled transport. */
export const MTU_LIMIT = 1300;
/** Largest UDP payload over IPv4 (65535 - 8 UDP header - 20 IP header). */
export const MAX_DATAGRAM = 65507;

export const DEFAULT_LIMITS: Required<TransportLimits> = {
  maxTcpConnections: 1024,
  tcpIdleMs: 32_000,
  maxMessageSize: 64 * 1024,
  maxLoggedSources: 1024,
};

/**
 * Hosts compare case-insensitively and without IPv6 brackets; IPv4-mapped IPv6 is reduced to IPv4,
 * and other IPv6 addresses are written in their RFC 5952 text, so that `[2001:DB8:0::C]` in a
 * Contact or Route is the `2001:db8::c` a socket reports (PROTOCOL.md section 9).
 */
export function normalizeHost(host: string): string {
  let h = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  h = h.toLowerCase();
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/.exec(h);
  if (mapped) return mapped[1] ?? h;
  return h.includes(':') ? (canonicalIpv6(h) ?? h) : h;
}

export function endpointKey(e: { host: string; port: number }): string {
  return `${normalizeHost(e.host)}|${e.port}`;
}

export { hostForWire } from '../../common/host-port.js';
