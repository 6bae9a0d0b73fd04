/**
 * A STUN Binding server on UDP (RFC 8489 §6.3, §3.2 "Binding method"). It answers Binding requests
 * with a success response carrying XOR-MAPPED-ADDRESS (the request's source as seen here),
 * SOFTWARE and FINGERPRINT; requests with unknown comprehension-required attributes get 420 with
 * UNKNOWN-ATTRIBUTES (§6.3.1.1). Indications, responses and other methods are ignored; malformed
 * datagrams are dropped (§6.3) and logged at most once per source per interval. Memory is bounded:
 * the per-source tables evict their oldest entry when full.
 *
 * The server counts its clients for kadsip's load figure (src/common/load.ts): distinct source
 * transport addresses of Binding requests in the last 5 minutes. A request carrying KADSIP-LOAD
 * is a load query: it is answered with the figure in KADSIP-LOAD and not counted.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { toTransportAddress, type TransportAddress } from './address.js';
import { LOAD_WINDOW_MS, RecentClients } from '../../common/load.js';
import { decodeStun, encodeStun, getAttribute, isStunPacket, type EncodableAttribute, type StunMessage } from './codec.js';
import { Attr, ERROR_REASONS, StunClass, StunMethod } from './constants.js';
import { LogLimiter, RequestLimiter } from './limits.js';
import { SILENT_LOGGER, type StunLogger } from './logger.js';

export interface StunServerOptions {
  /** Address to bind; default "0.0.0.0". An IPv6 literal binds a udp6 socket. */
  readonly host?: string;
  /** UDP port; 0 (default) picks an ephemeral one. 3478 is the standard STUN port (§18.6). */
  readonly port?: number;
  /** SOFTWARE attribute value (§14.14); default "kadsip". Empty string: no SOFTWARE. */
  readonly software?: string;
  readonly logger?: StunLogger;
  /** Binding requests answered per source IP per second; more are dropped. Default 100. */
  readonly maxRequestsPerSecondPerSource?: number;
  /** Sources remembered by the rate limiter and by the bad-input log limiter. Default 4096. */
  readonly maxTrackedSources?: number;
  /** A source sending garbage is logged at most once per this interval. Default 60 000 ms. */
  readonly badInputLogIntervalMs?: number;
  /** Monotonic clock in ms; default performance.now. */
  readonly now?: () => number;
  /** How far back load() counts clients; default LOAD_WINDOW_MS (5 minutes). */
  readonly loadWindowMs?: number;
}

export interface StunServerStats {
  /** Datagrams received. */
  datagrams: number;
  /** Binding requests accepted for processing (after rate limiting). */
  bindingRequests: number;
  successResponses: number;
  errorResponses: number;
  /** Datagrams that were not a well-formed STUN message. */
  malformed: number;
  /** Well-formed messages that are not Binding requests. */
  ignored: number;
  /** Binding requests dropped by the per-source rate limit. */
  rateLimited: number;
  sendErrors: number;
}

export class StunServer {
  readonly stats: StunServerStats = {
    datagrams: 0,
    bindingRequests: 0,
    successResponses: 0,
    errorResponses: 0,
    malformed: 0,
    ignored: 0,
    rateLimited: 0,
    sendErrors: 0,
  };
  readonly #socket: Socket;
  readonly #software: string;
  readonly #log: StunLogger;
  readonly #badInputLog: LogLimiter;
  readonly #limiter: RequestLimiter;
  readonly #clients: RecentClients;
  readonly #now: () => number;
  #closed: Promise<void> | undefined;
  /** Attached to a socket that carries other traffic too (SIP): not ours to close or to complain about. */
  #shared = false;

  private constructor(socket: Socket, opts: StunServerOptions, shared = false) {
    this.#socket = socket;
    this.#shared = shared;
    this.#software = opts.software ?? 'kadsip';
    this.#log = opts.logger ?? SILENT_LOGGER;
    const now = opts.now ?? (() => performance.now());
    this.#now = now;
    this.#clients = new RecentClients(opts.loadWindowMs ?? LOAD_WINDOW_MS);
    const maxSources = opts.maxTrackedSources ?? 4096;
    this.#badInputLog = new LogLimiter(maxSources, opts.badInputLogIntervalMs ?? 60_000, now);
    this.#limiter = new RequestLimiter(maxSources, opts.maxRequestsPerSecondPerSource ?? 100, now);
    socket.on('message', (msg, rinfo) => this.#onDatagram(msg, rinfo));
    if (!shared) socket.on('error', (error) => this.#log.warn({ err: error }, 'STUN server socket error'));
  }

  /**
   * Answers Binding requests on a socket bound by someone else, the SIP UDP socket: RFC 5626
   * section 4.4.1 has a UA keep its UDP flow alive with STUN Binding requests to the SIP port,
   * demultiplexed from SIP by RFC 7983 (the transport leaves STUN datagrams alone). Datagrams that
   * are not STUN are the owner's, ignored here without a word; close() leaves the socket open.
   */
  static attach(socket: Socket, opts: StunServerOptions = {}): StunServer {
    return new StunServer(socket, opts, true);
  }

  /** Binds a UDP socket and starts answering. Rejects when the bind fails (e.g. EADDRINUSE). */
  static async listen(opts: StunServerOptions = {}): Promise<StunServer> {
    const host = opts.host ?? '0.0.0.0';
    if (Buffer.byteLength(opts.software ?? '') > 762) throw new RangeError('SOFTWARE must be under 763 bytes (RFC 8489 §14.14)');
    const socket = createSocket({ type: isIPv6(host) ? 'udp6' : 'udp4' });
    await new Promise<void>((resolve, reject) => {
      const onError = (e: Error): void => {
        socket.close();
        reject(e);
      };
      socket.once('error', onError);
      socket.bind(opts.port ?? 0, host, () => {
        socket.off('error', onError);
        resolve();
      });
    });
    const server = new StunServer(socket, opts);
    server.#log.info({ address: server.address() }, 'STUN server listening');
    return server;
  }

  /** The bound address (port resolved when 0 was asked). */
  address(): TransportAddress {
    const a = this.#socket.address();
    return { family: a.family === 'IPv6' ? 'IPv6' : 'IPv4', host: a.address, port: a.port };
  }

  /** The load figure: distinct clients (source IP:port) served a Binding in the window, 0..MAX_LOAD. */
  load(): number {
    return this.#clients.count(this.#now());
  }

  /** Stops answering and releases the socket. Idempotent. */
  close(): Promise<void> {
    if (this.#shared) return Promise.resolve();
    this.#closed ??= new Promise<void>((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve(); // already closed
      }
    });
    return this.#closed;
  }

  #onDatagram(msg: Buffer, rinfo: RemoteInfo): void {
    this.stats.datagrams++;
    try {
      this.#handle(msg, rinfo);
    } catch (err) {
      // Defensive: nothing above is expected to throw, and a bad datagram must never crash the node.
      this.stats.malformed++;
      this.#badInput(rinfo, 'internal error while handling a datagram', { err });
    }
  }

  #handle(msg: Buffer, rinfo: RemoteInfo): void {
    if (this.#shared && !isStunPacket(msg)) return;
    if (!isStunPacket(msg)) {
      this.stats.malformed++;
      this.#badInput(rinfo, 'not a STUN message', { bytes: msg.length });
      return;
    }
    const decoded = decodeStun(msg);
    if (!decoded.ok) {
      // §6.3: a message failing the basic checks is silently discarded.
      this.stats.malformed++;
      this.#badInput(rinfo, 'malformed STUN message', { error: decoded.error.code, detail: decoded.error.detail });
      return;
    }
    const req = decoded.message;
    if (req.cls !== StunClass.Request || req.method !== StunMethod.Binding) {
      // Binding indications (keep-alives, §3.2) need no answer; responses and other methods are not ours.
      this.stats.ignored++;
      return;
    }
    if (!this.#limiter.allow(rinfo.address)) {
      this.stats.rateLimited++;
      return;
    }
    this.stats.bindingRequests++;
    const source = toTransportAddress(rinfo.address, rinfo.port);
    if (source === undefined) {
      this.stats.malformed++;
      return;
    }
    if (req.unknownRequired.length > 0) {
      // §6.3.1.1: 420 (Unknown Attribute) listing the comprehension-required types not understood.
      this.#reply(req, StunClass.ErrorResponse, rinfo, [
        { kind: 'error-code', type: Attr.ERROR_CODE, code: 420, reason: ERROR_REASONS.get(420) ?? '' },
        { kind: 'unknown-attributes', type: Attr.UNKNOWN_ATTRIBUTES, types: req.unknownRequired.slice(0, 64) },
      ]);
      return;
    }
    // §6.3.1.2 and §14.2: the success response carries the source transport address, XOR-ed.
    const answer: EncodableAttribute[] = [{ kind: 'address', type: Attr.XOR_MAPPED_ADDRESS, address: source }];
    if (getAttribute(req, Attr.KADSIP_LOAD) === undefined) {
      this.#clients.note(`${rinfo.address}:${rinfo.port}`, this.#now());
    } else {
      const value = Buffer.alloc(4);
      value.writeUInt32BE(this.load());
      answer.push({ kind: 'raw', type: Attr.KADSIP_LOAD, value });
    }
    this.#reply(req, StunClass.SuccessResponse, rinfo, answer);
  }

  #reply(req: StunMessage, cls: StunClass, rinfo: RemoteInfo, attributes: EncodableAttribute[]): void {
    const all: EncodableAttribute[] = [...attributes];
    if (this.#software !== '') all.push({ kind: 'text', type: Attr.SOFTWARE, value: this.#software });
    const bytes = encodeStun({ method: req.method, cls, transactionId: req.transactionId, attributes: all, fingerprint: true });
    if (cls === StunClass.SuccessResponse) this.stats.successResponses++;
    else this.stats.errorResponses++;
    this.#socket.send(bytes, rinfo.port, rinfo.address, (err) => {
      if (err) {
        this.stats.sendErrors++;
        this.#badInput(rinfo, 'STUN response not sent', { err });
      }
    });
  }

  #badInput(rinfo: RemoteInfo, text: string, fields: object): void {
    if (this.#badInputLog.allow(rinfo.address)) this.#log.warn({ ...fields, source: `${rinfo.address}:${rinfo.port}` }, text);
  }
}
