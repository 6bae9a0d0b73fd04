/** Raw sockets and message builders for the live-socket transport tests (127.0.0.1, ephemeral ports). */
import dgram from 'node:dgram';
import { afterEach } from 'vitest';
import net from 'node:net';
import {
  createRequest,
  parseMessage,
  serializeMessage,
  type SipMessage,
  type SipRequest,
} from '../../../src/sip/message/index.js';
import { SipTransport, type Endpoint, type InboundMessage, type ListenOptions } from '../../../src/sip/transport/index.js';

export const HOST = '127.0.0.1';

/**
 * For a test file: `track` keeps anything with close() until the end of each test, and
 * `transport` is listen() whose transport is tracked so.
 */
export function closedAfterEach(): {
  track: <T extends { close(): Promise<void> }>(t: T) => T;
  transport: (extra?: Partial<ListenOptions>) => Promise<SipTransport>;
} {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((t) => t.close()));
  });
  const track = <T extends { close(): Promise<void> }>(t: T): T => {
    open.push(t);
    return t;
  };
  return { track, transport: async (extra = {}) => track(await listen(extra)) };
}

export async function listen(extra: Partial<ListenOptions> = {}): Promise<SipTransport> {
  return SipTransport.listen({ host: HOST, port: 0, protocols: ['udp', 'tcp'], ...extra });
}

/** Resolves with the next inbound message on `t` that satisfies `pred`. */
export function nextMessage(t: SipTransport, pred: (m: InboundMessage) => boolean = () => true, ms = 3000): Promise<InboundMessage> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error('no message'));
    }, ms);
    const off = t.onMessage((m) => {
      if (!pred(m)) return;
      clearTimeout(timer);
      off();
      resolve(m);
    });
  });
}

export function options(via: string, callId = `c${Math.random().toString(16).slice(2)}`): SipRequest {
  const r = createRequest({ method: 'OPTIONS', uri: 'sip:node@127.0.0.1', from: '<sip:a@example.com>', to: '<sip:node@127.0.0.1>', callId });
  r.headers.prepend('Via', via);
  return r;
}

export function viaFor(e: Endpoint, branch = `z9hG4bK${Math.random().toString(16).slice(2)}`, extra = ''): string {
  return `SIP/2.0/${e.protocol.toUpperCase()} ${e.host}:${e.port};branch=${branch}${extra}`;
}

/** A raw UDP socket that collects parsed replies. */
export class RawUdp {
  readonly received: SipMessage[] = [];
  readonly rawReceived: Buffer[] = [];
  #waiters: Array<() => void> = [];

  private constructor(readonly socket: dgram.Socket) {
    socket.on('message', (data) => {
      this.rawReceived.push(data);
      const r = parseMessage(data);
      if (r.ok) this.received.push(r.message);
      for (const w of this.#waiters.splice(0)) w();
    });
  }

  static async open(): Promise<RawUdp> {
    const s = dgram.createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, HOST, () => r()));
    return new RawUdp(s);
  }

  get port(): number {
    return this.socket.address().port;
  }

  send(data: Buffer | string, to: Endpoint): Promise<void> {
    return new Promise((resolve, reject) => this.socket.send(typeof data === 'string' ? Buffer.from(data) : data, to.port, to.host, (e) => (e ? reject(e) : resolve())));
  }

  /** Waits until at least n replies arrived. */
  async waitFor(n: number, ms = 3000): Promise<void> {
    const end = Date.now() + ms;
    while (this.rawReceived.length < n) {
      if (Date.now() > end) throw new Error(`only ${this.rawReceived.length} of ${n} replies`);
      await new Promise<void>((r) => {
        this.#waiters.push(r);
        setTimeout(r, 50);
      });
    }
  }

  close(): Promise<void> {
    return new Promise((r) => this.socket.close(() => r()));
  }
}

/** A raw TCP client that collects bytes and notices when the server closes. */
export class RawTcp {
  data = Buffer.alloc(0);
  closed = false;
  readonly closedP: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.on('data', (d) => {
      this.data = Buffer.concat([this.data, d]);
    });
    socket.on('error', () => {});
    this.closedP = new Promise((r) =>
      socket.on('close', () => {
        this.closed = true;
        r();
      }),
    );
  }

  static open(to: Endpoint): Promise<RawTcp> {
    return new Promise((resolve, reject) => {
      const s = net.connect({ host: to.host, port: to.port }, () => resolve(new RawTcp(s)));
      s.once('error', reject);
    });
  }

  write(data: Buffer | string): void {
    this.socket.write(data);
  }

  async waitForData(pred: (text: string) => boolean, ms = 3000): Promise<string> {
    const end = Date.now() + ms;
    while (!pred(this.data.toString('latin1'))) {
      if (Date.now() > end) throw new Error(`timed out; have ${JSON.stringify(this.data.toString('latin1').slice(0, 200))}`);
      await new Promise((r) => setTimeout(r, 10));
    }
    return this.data.toString('latin1');
  }

  destroy(): void {
    this.socket.destroy();
  }
}

export function wire(m: SipMessage): Buffer {
  return serializeMessage(m);
}

export async function until(pred: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!pred()) {
    if (Date.now() > end) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, 10));
  }
}
