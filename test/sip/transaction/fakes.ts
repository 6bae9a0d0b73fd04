/** A virtual clock and a recording transport for driving the transaction layer without sockets or wall time. */
import type { Clock, TimerHandle } from '../../../src/common/clock.js';
import {
  createRequest,
  getCSeq,
  getTopVia,
  parseMessage,
  serializeMessage,
  viaBranch,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../../src/sip/message/index.js';
import type { Endpoint, Protocol } from '../../../src/sip/transport/index.js';
import { TransactionLayer, type TimerValues } from '../../../src/sip/transaction/index.js';

export class FakeClock implements Clock {
  #now = 0;
  #seq = 0;
  #timers: Array<{ at: number; seq: number; fn: () => void; live: boolean }> = [];

  now(): number {
    return this.#now;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    const t = { at: this.#now + Math.max(0, ms), seq: this.#seq++, fn, live: true };
    this.#timers.push(t);
    return { cancel: () => void (t.live = false) };
  }

  /** Moves time forward, firing due timers in order (including ones they set within the window). */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      this.#timers = this.#timers.filter((t) => t.live);
      this.#timers.sort((a, b) => a.at - b.at || a.seq - b.seq);
      const next = this.#timers[0];
      if (next === undefined || next.at > end) break;
      this.#timers.shift();
      this.#now = next.at;
      next.fn();
    }
    this.#now = end;
  }

  get pending(): number {
    return this.#timers.filter((t) => t.live).length;
  }
}

export interface Sent {
  readonly message: SipMessage;
  readonly to: Endpoint;
  readonly at: number;
}

export class FakeTransport {
  readonly sent: Sent[] = [];
  /** When set, every send fails with this error (asynchronously, as SipTransport does). */
  failWith: Error | undefined;
  /** When set, every request fails with this error (the next hop is unreachable; responses still go). */
  failRequestsWith: Error | undefined;

  constructor(private readonly clock: FakeClock) {}

  readonly send = (message: SipMessage, to: Endpoint, onError?: (e: Error) => void): void => {
    // Round-trip through the wire format: what the layer sends must serialise and parse.
    const parsed = parseMessage(serializeMessage(message));
    if (!parsed.ok) throw new Error(`layer sent an unparseable message: ${parsed.error.reason}`);
    this.sent.push({ message: parsed.message, to, at: this.clock.now() });
    const err = this.failWith ?? (message.kind === 'request' ? this.failRequestsWith : undefined);
    if (err && onError) queueMicrotask(() => onError(err));
  };

  readonly local = (protocol: Protocol): Endpoint => ({ protocol, host: '10.0.0.1', port: 5060 });

  requests(method?: string): SipRequest[] {
    return this.sent.flatMap((s) => (s.message.kind === 'request' && (method === undefined || s.message.method === method) ? [s.message] : []));
  }

  responses(status?: number): SipResponse[] {
    return this.sent.flatMap((s) => (s.message.kind === 'response' && (status === undefined || s.message.status === status) ? [s.message] : []));
  }

  clear(): void {
    this.sent.length = 0;
  }
}

export const TIMERS: Required<TimerValues> = { T1: 500, T2: 4000, T4: 5000, D: 32_000, C: 180_000 };

/** A layer over the fake transport and clock; branches are a counter, after `branchPrefix` when given. */
export function setup(extra: { maxTransactions?: number; branchPrefix?: string } = {}) {
  const { branchPrefix = '', ...options } = extra;
  const clock = new FakeClock();
  const transport = new FakeTransport(clock);
  let n = 0;
  const layer = new TransactionLayer({
    send: transport.send,
    local: transport.local,
    clock,
    timers: TIMERS,
    random: () => `${branchPrefix}${(n++).toString(16).padStart(16 - branchPrefix.length, '0')}`,
    ...options,
  });
  return { clock, transport, layer };
}

export const PEER_UDP: Endpoint = { protocol: 'udp', host: '10.0.0.2', port: 5070 };
export const PEER_TCP: Endpoint = { protocol: 'tcp', host: '10.0.0.2', port: 5070 };

export function request(method: string, extraHeaders: Array<[string, string]> = []): SipRequest {
  return createRequest({
    method,
    uri: 'sip:bob@example.com',
    from: '<sip:alice@example.com>',
    to: '<sip:bob@example.com>',
    callId: 'call-1',
    cseq: 7,
    headers: extraHeaders,
  });
}

/** A request as it arrives from a peer: with the peer's Via (already stamped as the transport would). */
export function inboundRequest(method: string, via: string, opts: { cseq?: number; toTag?: string } = {}): SipRequest {
  const r = createRequest({
    method,
    uri: 'sip:bob@example.com',
    from: '<sip:alice@example.com>;tag=a1',
    to: `<sip:bob@example.com>${opts.toTag ? `;tag=${opts.toTag}` : ''}`,
    callId: 'call-2',
    cseq: opts.cseq ?? 1,
  });
  r.headers.prepend('Via', via);
  return r;
}

/** The response a peer would send to a request we sent. */
export function responseTo(req: SipRequest, status: number, toTag = 'b1'): SipResponse {
  const h = req.headers.clone();
  h.remove('max-forwards');
  const to = h.get('to') ?? '';
  if (status > 100 && !/;tag=/.test(to)) h.set('To', `${to};tag=${toTag}`);
  return { kind: 'response', status, reason: 'X', version: 'SIP/2.0', headers: h, body: Buffer.alloc(0) };
}

export function branchOf(m: SipMessage): string | undefined {
  return viaBranch(getTopVia(m));
}

export function methodOf(m: SipMessage): string {
  return getCSeq(m).method;
}
