/**
 * SipTransport: the transport layer of RFC 3261 section 18 over node:dgram
 * and node:net. It frames and parses input, applies the transport-level rules
 * to requests (18.2.1 received, RFC 3581 rport) and responses (18.1.2 sent-by
 * check), answers unparseable requests, and sends messages where told. It
 * keeps no transaction state: that is src/sip/transaction/.
 */
import type { Socket } from 'node:dgram';
import {
  createErrorResponse,
  getTopVia,
  serializeMessage,
  type MessageParseError,
  type ParseResult,
  type SipMessage,
} from '../message/index.js';
import { canonicalIpv6, parseMessage } from '../message/index.js';
import { PerSourceRateLimit } from './bad-input-log.js';
import { TcpChannel, tcpKind } from './tcp.js';
import { tlsKind, type TlsMaterial } from './tls.js';
import {
  DEFAULT_LIMITS,
  MTU_LIMIT,
  hostForWire,
  normalizeHost,
  type Endpoint,
  type InboundMessage,
  type Logger,
  type Protocol,
  type SendError,
  type TransportLimits,
  type TransportStats,
} from './types.js';
import { UdpChannel } from './udp.js';
import { sentByIsOurs, stampReceived } from './via-stamp.js';
import { SILENT_LOGGER } from '../../common/logger.js';

export interface ListenOptions {
  /** IP address to bind (an IP, not a name: it is also what our Via sent-by and the 18.1.2 check use). */
  readonly host: string;
  /** Port for UDP and TCP; 0 picks one ephemeral port shared by both. */
  readonly port: number;
  /** Default ['udp', 'tcp']; 'tls' needs `tls`. */
  readonly protocols?: readonly Protocol[];
  /** TLS (RFC 3261 26.2): its own port (0: ephemeral; SIP's default is 5061) and certificate. */
  readonly tls?: { readonly port: number; readonly material: TlsMaterial };
  readonly limits?: TransportLimits;
  readonly logger?: Logger;
  /** Other hosts (public IP, DNS name) a Via sent-by may name and still be ours (RFC 3261 18.1.2). */
  readonly aliases?: readonly string[];
}

const BAD_INPUT_LOG_INTERVAL_MS = 60_000;
/** Attempts to find an ephemeral port free for both UDP and TCP. */
const SHARED_PORT_ATTEMPTS = 20;

/** RFC 8489 section 5: the magic cookie at bytes 4-7 of every STUN message. */
const STUN_MAGIC_COOKIE = 0x2112a442;

/**
 * RFC 7983 demultiplexing: a datagram whose first byte is 0-3 is STUN (a SIP message starts with a
 * letter); with the magic cookie and a whole header it is surely one. Such datagrams are not SIP.
 */
export function looksLikeStun(data: Buffer): boolean {
  return data.length >= 20 && data[0]! <= 3 && data.readUInt32BE(4) === STUN_MAGIC_COOKIE;
}


function isAddrInUse(e: unknown): boolean {
  return typeof e === 'object' && e !== null && (e as { code?: unknown }).code === 'EADDRINUSE';
}

export class SipTransport {
  readonly #host: string;
  readonly #aliases: readonly string[];
  readonly #log: Logger;
  readonly #limits: Required<TransportLimits>;
  readonly #badInput: PerSourceRateLimit;
  readonly #stats: TransportStats = { udpIn: 0, udpOut: 0, tcpIn: 0, tcpOut: 0, parseErrors: 0, dropped: 0, tcpConnections: 0, tlsConnections: 0 };
  readonly #messageHandlers: Array<(m: InboundMessage) => void> = [];
  readonly #errorHandlers: Array<(e: SendError) => void> = [];
  #dropEarly: ((host: string) => boolean) | undefined;
  #udp: UdpChannel | undefined;
  #tcp: TcpChannel | undefined;
  #tls: TcpChannel | undefined;
  #closed = false;

  private constructor(opts: ListenOptions) {
    // IPv6 in its RFC 5952 text: the host goes into every Via sent-by and into the node's Peer-ID,
    // and `--listen [0:0::1]` must write what peers see, `::1` (PROTOCOL.md section 9).
    this.#host = canonicalIpv6(opts.host) ?? opts.host;
    this.#aliases = opts.aliases ?? [];
    this.#log = opts.logger ?? SILENT_LOGGER;
    this.#limits = { ...DEFAULT_LIMITS, ...Object.fromEntries(Object.entries(opts.limits ?? {}).filter(([, v]) => v !== undefined)) };
    this.#badInput = new PerSourceRateLimit(this.#limits.maxLoggedSources, BAD_INPUT_LOG_INTERVAL_MS);
  }

  static async listen(opts: ListenOptions): Promise<SipTransport> {
    const t = new SipTransport(opts);
    const protocols = new Set<Protocol>(opts.protocols ?? ['udp', 'tcp']);
    if (protocols.size === 0) throw new Error('no protocol to listen on');
    if (protocols.has('tls') && opts.tls === undefined) throw new Error('tls needs a certificate and key');
    const attempts = opts.port === 0 && protocols.size > 1 ? SHARED_PORT_ATTEMPTS : 1;
    for (let i = 1; ; i++) {
      try {
        await t.#bind(opts.port, protocols);
        if (protocols.has('tls') && opts.tls) await t.#bindTls(opts.tls.port, opts.tls.material);
        return t;
      } catch (e) {
        await t.close();
        t.#closed = false;
        // With port 0 the UDP port may be taken for TCP by someone else: try another.
        if (!isAddrInUse(e) || i >= attempts) throw e;
      }
    }
  }

  async #bind(port: number, protocols: ReadonlySet<Protocol>): Promise<void> {
    let p = port;
    if (protocols.has('udp')) {
      this.#udp = await UdpChannel.bind(this.#host, p, (d) => this.#datagram(d.data, d.host, d.port), (e) =>
        this.#log.warn({ err: e.message }, 'udp socket error'),
      );
      p = this.#udp.port;
    }
    if (protocols.has('tcp')) {
      this.#tcp = await TcpChannel.listen(this.#host, p, this.#streamOptions(), this.#streamHandlers('tcp'), tcpKind);
    }
  }

  /** TLS on its own port (5061 by convention, RFC 3261 section 26.2), the stream code of TCP. */
  async #bindTls(port: number, material: TlsMaterial): Promise<void> {
    const kind = tlsKind(material, (host, error) => {
      this.#stats.dropped++;
      if (this.#badInput.allow(`tls-handshake:${host}`)) this.#log.info({ source: host, err: error.message }, 'tls handshake failed');
    });
    this.#tls = await TcpChannel.listen(this.#host, port, this.#streamOptions(), this.#streamHandlers('tls'), kind);
  }

  #streamOptions() {
    return { maxConnections: this.#limits.maxTcpConnections, idleMs: this.#limits.tcpIdleMs, maxMessageSize: this.#limits.maxMessageSize };
  }

  #streamHandlers(protocol: 'tcp' | 'tls') {
    return {
      message: (raw: Buffer, result: ParseResult, source: Endpoint) => {
        this.#stats.tcpIn++;
        this.#inbound(raw, result, source);
      },
      framingError: (error: MessageParseError, source: Endpoint) => {
        this.#stats.tcpIn++;
        const reply = this.#badInputReply(error, source);
        if (reply !== null) this.#stats.tcpOut++;
        return reply === null ? null : serializeMessage(reply);
      },
      ping: () => {
        this.#stats.tcpIn++;
      },
      event: (level: 'debug' | 'info' | 'warn', fields: object, text: string) => this.#log[level](fields, text),
      connections: (n: number) => {
        if (protocol === 'tcp') this.#stats.tcpConnections = n;
        else this.#stats.tlsConnections = n;
      },
    };
  }

  #channel(protocol: Protocol): UdpChannel | TcpChannel | undefined {
    return protocol === 'udp' ? this.#udp : protocol === 'tcp' ? this.#tcp : this.#tls;
  }

  /** Counters since listen; tcpConnections is the current number. */
  get stats(): Readonly<TransportStats> {
    return this.#stats;
  }

  /** The bound address for `protocol`. Throws when that protocol is not enabled. */
  readonly local = (protocol: Protocol): Endpoint => {
    const ch = this.#channel(protocol);
    if (ch === undefined) throw new Error(`${protocol} is not enabled on this transport`);
    return { protocol, host: this.#host, port: ch.port };
  };

  /**
   * The UDP socket, so that a STUN client can run on the address the node's SIP traffic uses
   * (`stunBinding(server, { socket })`: the mapped port is then the SIP port's). STUN datagrams
   * arriving there are left to such listeners and never parsed as SIP. Undefined without UDP.
   */
  udpSocket(): Socket | undefined {
    return this.#udp?.socket;
  }

  /** Whether a connection-oriented flow to `to` is open now (TCP, TLS); false for UDP, which has none. */
  readonly hasFlow = (to: Endpoint): boolean => {
    if (to.protocol === 'udp') return false;
    const ch = to.protocol === 'tcp' ? this.#tcp : this.#tls;
    return ch?.hasConnection(to) === true;
  };

  /**
   * Whether `from` is an open TLS connection whose far end showed a certificate that the
   * configured CA verified (mutual TLS). False for UDP, TCP, and TLS without such a certificate.
   */
  readonly isVerifiedTls = (from: Endpoint): boolean => from.protocol === 'tls' && this.#tls?.isVerified(from) === true;

  /** True when the message is small enough for UDP without the RFC 3261 18.1.1 switch to TCP. */
  wouldFitUdp(message: SipMessage): boolean {
    return serializeMessage(message).length <= MTU_LIMIT;
  }

  /** Subscribes to inbound messages; returns an unsubscribe function. */
  onMessage(handler: (inbound: InboundMessage) => void): () => void {
    this.#messageHandlers.push(handler);
    return () => {
      const i = this.#messageHandlers.indexOf(handler);
      if (i >= 0) this.#messageHandlers.splice(i, 1);
    };
  }

  /**
   * A test run on every UDP datagram before it is parsed: true drops it unread (counted in
   * `dropped`). Admission control uses it for sources it is already dropping under overload, since
   * parsing is most of what a datagram costs (src/sip/admission.ts).
   */
  setEarlyDrop(test: ((host: string) => boolean) | undefined): void {
    this.#dropEarly = test;
  }

  /** Subscribes to failed sends (whatever `send`'s own callback was). */
  onError(handler: (e: SendError) => void): () => void {
    this.#errorHandlers.push(handler);
    return () => {
      const i = this.#errorHandlers.indexOf(handler);
      if (i >= 0) this.#errorHandlers.splice(i, 1);
    };
  }

  /**
   * Serialises and sends. UDP: one datagram (also above MTU_LIMIT: the TCP
   * fallback of 18.1.1 is the caller's decision). TCP: over the open
   * connection to `to`, whichever side opened it, else over a new one.
   * Never throws; a failure is reported, always asynchronously, to `onError`
   * and to the onError subscribers.
   */
  readonly send = (message: SipMessage, to: Endpoint, onError?: (e: Error) => void): void => {
    const fail = (error: Error) => {
      this.#stats.dropped++;
      this.#log.debug({ to, err: error.message }, 'send failed');
      try {
        onError?.(error);
        for (const h of [...this.#errorHandlers]) h({ error, to, message });
      } catch (e) {
        this.#logError(e, 'send error handler threw');
      }
    };
    const done = (err: Error | null) => {
      if (err !== null) queueMicrotask(() => fail(err));
    };
    let data: Buffer;
    try {
      data = serializeMessage(message);
    } catch (e) {
      done(e instanceof Error ? e : new Error(String(e)));
      return;
    }
    if (this.#closed) return done(new Error('transport closed'));
    if (to.protocol === 'udp') {
      if (this.#udp === undefined) return done(new Error('udp is not enabled on this transport'));
      this.#stats.udpOut++;
      this.#udp.send(data, normalizeHost(to.host), to.port, done);
    } else {
      const ch = to.protocol === 'tcp' ? this.#tcp : this.#tls;
      if (ch === undefined) return done(new Error(`${to.protocol} is not enabled on this transport`));
      this.#stats.tcpOut++;
      ch.send(data, to, done);
    }
  };

  /** Closes the UDP socket, the TCP server and every TCP connection at once. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const udp = this.#udp;
    const tcp = this.#tcp;
    const tls = this.#tls;
    this.#udp = undefined;
    this.#tcp = undefined;
    this.#tls = undefined;
    await Promise.all([udp?.close(), tcp?.close(), tls?.close()]);
  }

  #datagram(data: Buffer, host: string, port: number): void {
    this.#stats.udpIn++;
    // STUN on the SIP socket (RFC 7983): a STUN client listening on the socket takes it; not SIP input.
    if (looksLikeStun(data)) return;
    const source: Endpoint = { protocol: 'udp', host: normalizeHost(host), port };
    // The host as admission control keys it (an IPv4-mapped address as IPv4).
    if (this.#dropEarly?.(source.host) === true) {
      this.#stats.dropped++;
      return;
    }
    this.#inbound(data, parseMessage(data, { transport: 'datagram', maxMessageSize: this.#limits.maxMessageSize }), source);
  }

  #inbound(raw: Buffer, result: ParseResult, source: Endpoint): void {
    if (!result.ok) {
      // A datagram of CRLFs is a keep-alive (RFC 5626 section 4.4.1): nothing to answer.
      if (result.error.code === 'keepalive') return;
      const reply = this.#badInputReply(result.error, source);
      // For a request too broken to be parsed we cannot trust its Via, so the
      // answer goes to the packet's source address and port (or connection).
      if (reply !== null) this.send(reply, source);
      return;
    }
    const message = result.message;
    if (message.kind === 'request') {
      stampReceived(message, source);
    } else if (!this.#isOurs(message)) {
      this.#stats.dropped++;
      this.#log.debug({ source, status: message.status }, 'response for another sent-by dropped (RFC 3261 18.1.2)');
      return;
    }
    const inbound: InboundMessage = { message, source, raw };
    for (const h of [...this.#messageHandlers]) {
      try {
        h(inbound);
      } catch (e) {
        this.#logError(e, 'message handler threw');
      }
    }
  }

  #isOurs(message: SipMessage): boolean {
    try {
      const top = getTopVia(message);
      const ours: Array<{ host: string; port: number }> = [];
      for (const p of ['udp', 'tcp', 'tls'] as const) {
        const ch = this.#channel(p);
        if (ch === undefined) continue;
        ours.push({ host: this.#host, port: ch.port });
        for (const a of this.#aliases) ours.push({ host: a, port: ch.port });
      }
      const wildcard = this.#host === '0.0.0.0' || this.#host === '::';
      return sentByIsOurs(top, ours, wildcard);
    } catch {
      return false;
    }
  }

  /** Counts and logs (rate-limited) bad input; returns the error response owed, if any. */
  #badInputReply(error: MessageParseError, source: Endpoint) {
    this.#stats.parseErrors++;
    if (this.#badInput.allow(`${source.protocol}:${source.host}`)) {
      this.#log.info({ source, status: error.status, code: error.code, reason: error.reason, warning: error.warning }, 'bad SIP input');
    }
    const ch = this.#channel(source.protocol);
    const warnAgent = `${hostForWire(this.#host)}:${ch?.port ?? 0}`;
    const reply = createErrorResponse(error, { warnAgent });
    if (reply === null) this.#stats.dropped++;
    return reply;
  }

  #logError(e: unknown, text: string): void {
    const fields = { err: e instanceof Error ? e.message : String(e) };
    (this.#log.error ?? this.#log.warn)(fields, text);
  }
}
