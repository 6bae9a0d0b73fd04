/**
 * The stream side of a transport, for TCP and for TLS alike: one listening server plus a table of
 * connections keyed by remote address, whichever side opened them, so a response goes back over
 * the connection its request came on (RFC 3261 18.2.2) and requests to a peer reuse an open
 * connection (18.1.1). Each connection frames its byte stream with StreamFramer (18.3). What
 * differs between TCP and TLS is only how a server is made and a connection opened (a
 * `StreamKind`: `tcpKind` here, `tlsKind` in tls.ts); framing, limits, idleness and reuse are this
 * one piece of code.
 */
import net from 'node:net';
import { StreamFramer, type MessageParseError, type ParseResult } from '../message/index.js';
import { endpointKey, normalizeHost, type Endpoint } from './types.js';

/** How a stream protocol makes its server and opens connections. */
export interface StreamKind {
  readonly protocol: 'tcp' | 'tls';
  /**
   * A server that calls `onSocket` for every connection ready to carry SIP (for TLS: once the
   * handshake is done). `maxConnections` is for kinds whose sockets exist before they are ready.
   */
  createServer(onSocket: (socket: net.Socket) => void, maxConnections: number): net.Server;
  /** A new outgoing connection; bytes written before it is ready are queued by the socket. */
  connect(to: { host: string; port: number }, localAddress: string | undefined): net.Socket;
  /** For TLS: whether the remote end showed a certificate that the configured CA verified. */
  verified?(socket: net.Socket): boolean;
  /**
   * The event after which an outgoing connection carries SIP ('secureConnect' for TLS). Until
   * then writes wait, so that a failed handshake fails the sends that waited on it: a TLS socket
   * reports a write before its handshake as done, and a send refused by the peer's certificate
   * check would otherwise look delivered.
   */
  readonly readyEvent?: string;
}

export const tcpKind: StreamKind = {
  protocol: 'tcp',
  createServer: (onSocket) => net.createServer({ allowHalfOpen: false }, onSocket),
  connect: (to, localAddress) => net.connect({ host: to.host, port: to.port, ...(localAddress ? { localAddress } : {}) }),
};

export interface TcpHandlers {
  /** A whole message was cut from the stream (its parse may still have failed; the stream stays usable). */
  message(raw: Buffer, result: ParseResult, source: Endpoint): void;
  /** Framing is lost: return the bytes to write before the connection is closed, or null. */
  framingError(error: MessageParseError, source: Endpoint): Buffer | null;
  /** A CRLFCRLF keep-alive arrived (already answered). */
  ping(source: Endpoint): void;
  /** Something worth a log line; never fatal. */
  event(level: 'debug' | 'info' | 'warn', fields: object, text: string): void;
  /** Connection count changed. */
  connections(count: number): void;
}

export interface TcpOptions {
  readonly maxConnections: number;
  readonly idleMs: number;
  readonly maxMessageSize: number;
}

type Done = (err: Error | null) => void;

/** A peer that reads nothing makes our write buffer grow; past this many bytes the connection is dropped. */
const MAX_WRITE_BACKLOG_FACTOR = 16;
/** After answering a framing error, how long the peer gets to read the answer and close. */
const CLOSE_GRACE_MS = 2_000;

class Connection {
  readonly framer: StreamFramer;
  readonly #pending = new Set<Done>();
  readonly #idle: NodeJS.Timeout;
  #lastError: Error | undefined;
  /** Writes waiting for `readyEvent`; null once the connection is ready. */
  #waiting: Array<{ data: Buffer; done: Done }> | null = null;
  #waitingBytes = 0;

  constructor(
    readonly key: string,
    readonly remote: Endpoint,
    readonly socket: net.Socket,
    opts: TcpOptions,
    readyEvent?: string,
  ) {
    if (readyEvent !== undefined) {
      this.#waiting = [];
      socket.once(readyEvent, () => {
        const waiting = this.#waiting ?? [];
        this.#waiting = null;
        for (const w of waiting) socket.write(w.data, (err) => w.done(err ?? null));
      });
    }
    this.framer = new StreamFramer({ maxMessageSize: opts.maxMessageSize });
    // Idleness is measured in complete messages, not bytes: a peer trickling
    // one byte at a time (or sending half a message and stalling) still times out.
    this.#idle = setTimeout(() => socket.destroy(), opts.idleMs);
    this.#idle.unref();
    socket.setNoDelay(true);
    socket.on('error', (e) => {
      this.#lastError = e;
    });
    socket.on('close', () => {
      clearTimeout(this.#idle);
      const err = this.#lastError ?? new Error('connection closed');
      for (const done of [...this.#pending]) done(err);
    });
  }

  get usable(): boolean {
    return !this.socket.destroyed && this.socket.writable;
  }

  touch(): void {
    this.#idle.refresh();
  }

  write(data: Buffer, done: Done, maxBacklog: number): void {
    if (this.socket.writableLength + this.#waitingBytes > maxBacklog) {
      this.socket.destroy(new Error('peer is not reading: write backlog too large'));
      done(new Error('peer is not reading: write backlog too large'));
      return;
    }
    let called = false;
    const once: Done = (err) => {
      if (called) return;
      called = true;
      this.#pending.delete(once);
      done(err);
    };
    this.#pending.add(once);
    this.touch();
    if (this.#waiting !== null) {
      this.#waiting.push({ data, done: once });
      this.#waitingBytes += data.length;
      return;
    }
    this.socket.write(data, (err) => once(err ?? null));
  }

  stop(): void {
    clearTimeout(this.#idle);
    this.socket.destroy();
  }
}

/** A stream channel (TCP or TLS, after its `StreamKind`). */
export class TcpChannel {
  #port: number | undefined;
  readonly #kind: StreamKind;
  readonly #server: net.Server;
  readonly #opts: TcpOptions;
  readonly #handlers: TcpHandlers;
  readonly #conns = new Map<string, Connection>();
  readonly #all = new Set<Connection>();
  readonly #localAddress: string | undefined;
  #closed = false;

  private constructor(kind: StreamKind, server: net.Server, host: string, opts: TcpOptions, handlers: TcpHandlers) {
    this.#kind = kind;
    this.#server = server;
    this.#opts = opts;
    this.#handlers = handlers;
    // Bind outgoing connections to the listening address so peers see the
    // same source IP for UDP and TCP (unless we listen on a wildcard).
    this.#localAddress = host === '0.0.0.0' || host === '::' ? undefined : host;
    server.on('error', (e) => handlers.event('warn', { err: e.message }, `${kind.protocol} server error`));
  }

  static listen(host: string, port: number, opts: TcpOptions, handlers: TcpHandlers, kind: StreamKind = tcpKind): Promise<TcpChannel> {
    let channel: TcpChannel | undefined;
    const server = kind.createServer((socket) => {
      if (channel) channel.#accept(socket);
      else socket.destroy();
    }, opts.maxConnections);
    return new Promise((resolve, reject) => {
      const failListen = (e: Error) => {
        server.close();
        reject(e);
      };
      server.once('error', failListen);
      server.listen({ host, port, exclusive: true }, () => {
        server.off('error', failListen);
        channel = new TcpChannel(kind, server, host, opts, handlers);
        resolve(channel);
      });
    });
  }

  /** The bound port, read once (server.address() is a system call, and every Via we write asks). */
  get port(): number {
    if (this.#port === undefined) {
      const a = this.#server.address();
      if (typeof a !== 'object' || a === null) return 0;
      this.#port = a.port;
    }
    return this.#port;
  }

  get connectionCount(): number {
    return this.#all.size;
  }

  /** Whether a usable connection to `to` is open (accepted from it or opened to it). */
  hasConnection(to: { host: string; port: number }): boolean {
    return this.#conns.get(endpointKey(to))?.usable === true;
  }

  /** Whether the open connection to `to` showed a certificate the configured CA verified (TLS only). */
  isVerified(to: { host: string; port: number }): boolean {
    const conn = this.#conns.get(endpointKey(to));
    return conn?.usable === true && this.#kind.verified?.(conn.socket) === true;
  }

  /** Writes to the connection to `to`, opening one if none is usable. Outcome goes to `done`. */
  send(data: Buffer, to: Endpoint, done: Done): void {
    if (this.#closed) {
      done(new Error('transport closed'));
      return;
    }
    const key = endpointKey(to);
    let conn = this.#conns.get(key);
    if (conn === undefined || !conn.usable) {
      if (this.#all.size >= this.#opts.maxConnections) {
        done(new Error(`${this.#kind.protocol.toUpperCase()} connection limit (${this.#opts.maxConnections}) reached`));
        return;
      }
      let socket: net.Socket;
      try {
        socket = this.#kind.connect(to, this.#localAddress);
      } catch (e) {
        done(e instanceof Error ? e : new Error(String(e)));
        return;
      }
      conn = this.#register(key, { protocol: this.#kind.protocol, host: normalizeHost(to.host), port: to.port }, socket, this.#kind.readyEvent);
      this.#handlers.event('debug', { to: key }, `${this.#kind.protocol} connecting`);
    }
    conn.write(data, done, this.#opts.maxMessageSize * MAX_WRITE_BACKLOG_FACTOR);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
    for (const c of this.#all) c.stop();
    await closed;
  }

  #accept(socket: net.Socket): void {
    if (this.#closed || this.#all.size >= this.#opts.maxConnections || socket.remoteAddress === undefined) {
      this.#handlers.event('warn', { from: socket.remoteAddress, limit: this.#opts.maxConnections }, `${this.#kind.protocol} connection refused`);
      socket.on('error', () => {});
      socket.destroy();
      return;
    }
    const remote: Endpoint = { protocol: this.#kind.protocol, host: normalizeHost(socket.remoteAddress), port: socket.remotePort ?? 0 };
    this.#register(endpointKey(remote), remote, socket);
  }

  #register(key: string, remote: Endpoint, socket: net.Socket, readyEvent?: string): Connection {
    const conn = new Connection(key, remote, socket, this.#opts, readyEvent);
    this.#conns.set(key, conn);
    this.#all.add(conn);
    this.#handlers.connections(this.#all.size);
    socket.on('data', (chunk: Buffer) => this.#data(conn, chunk));
    socket.on('error', (e) => this.#handlers.event('debug', { peer: key, err: e.message }, `${this.#kind.protocol} connection error`));
    socket.on('close', () => {
      this.#all.delete(conn);
      if (this.#conns.get(key) === conn) this.#conns.delete(key);
      this.#handlers.connections(this.#all.size);
    });
    return conn;
  }

  #data(conn: Connection, chunk: Buffer): void {
    for (const item of conn.framer.push(chunk)) {
      if (item.kind === 'ping') {
        // RFC 5626 3.5.1: answer a CRLFCRLF ping with a single CRLF pong.
        conn.touch();
        conn.socket.write('\r\n');
        this.#handlers.ping(conn.remote);
      } else if (item.kind === 'message') {
        conn.touch();
        this.#handlers.message(item.raw, item.result, conn.remote);
      } else {
        // The stream cannot be re-synchronised: answer if we can, then close.
        const reply = this.#handlers.framingError(item.error, conn.remote);
        if (reply !== null) conn.socket.end(reply);
        else conn.socket.end();
        setTimeout(() => conn.stop(), CLOSE_GRACE_MS).unref();
      }
    }
  }
}
