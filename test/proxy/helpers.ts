/** A proxy on the real TransactionLayer over the recording fake transport and the fake clock. */
import { createRequest, createResponse, type SipMessage, type SipRequest, type SipResponse } from '../../src/sip/message/index.js';
import { stampReceived, type Endpoint } from '../../src/sip/transport/index.js';
import { StatefulProxy, type ProxyOptions, type ProxyTarget, type TargetResolver } from '../../src/proxy/index.js';
import { setup, TIMERS } from '../sip/transaction/fakes.js';

export const T1 = TIMERS.T1;
export const C = TIMERS.C;
/** The proxy: FakeTransport.local says 10.0.0.1:5060. */
export const PROXY: Endpoint = { protocol: 'udp', host: '10.0.0.1', port: 5060 };
export const UAC: Endpoint = { protocol: 'udp', host: '10.0.0.2', port: 5070 };
export const UAS1: Endpoint = { protocol: 'udp', host: '10.0.0.3', port: 5080 };
export const UAS2: Endpoint = { protocol: 'udp', host: '10.0.0.4', port: 5090 };
export const RR = '<sip:10.0.0.1:5060;lr>';

export function target(to: Endpoint, user = 'bob', q?: number): ProxyTarget {
  return { uri: `sip:${user}@${to.host}:${to.port}`, destination: to, ...(q !== undefined ? { q } : {}) };
}

type Answer = Awaited<ReturnType<TargetResolver['resolve']>>;

export class FakeResolver implements TargetResolver {
  readonly calls: SipRequest[] = [];
  constructor(public answer: Answer | ((r: SipRequest) => Promise<Answer>) = [target(UAS1)]) {}
  resolve(request: SipRequest): Promise<Answer> {
    this.calls.push(request);
    return typeof this.answer === 'function' ? this.answer(request) : Promise.resolve(this.answer);
  }
}

export async function flush(): Promise<void> {
  for (let i = 0; i < 5; i++) await new Promise((r) => setImmediate(r));
}

export function setupProxy(opts: Partial<Omit<ProxyOptions, 'transactions' | 'clock'>> = {}) {
  // Proxy branches start with 'p', so they are told apart from the test's own.
  const { clock, transport, layer } = setup({ branchPrefix: 'p' });
  const resolver = (opts.resolver as FakeResolver | undefined) ?? new FakeResolver();
  const proxy = new StatefulProxy({
    transactions: layer,
    self: [{ host: '10.0.0.1', port: 5060, protocol: 'udp' }],
    clock,
    ...opts,
    resolver,
  });
  layer.onRequest(proxy.handleRequest);
  layer.onStray(proxy.handleStray);

  /** Feeds a message as the transport would (requests get received/rport stamped). */
  function deliver(message: SipMessage, source: Endpoint): void {
    if (message.kind === 'request') stampReceived(message, source);
    layer.receive({ message, source, raw: Buffer.alloc(0) });
  }
  function sentTo(to: Endpoint, method?: string): SipRequest[] {
    return transport.sent.flatMap((s) =>
      s.to.host === to.host && s.to.port === to.port && s.message.kind === 'request' && (method === undefined || s.message.method === method) ? [s.message] : [],
    );
  }
  /** Responses sent to `to`: with `status` exactly those; without, all but 100 Trying (the proxy sends its own at once). */
  function responsesTo(to: Endpoint, status?: number): SipResponse[] {
    return transport.sent.flatMap((s) =>
      s.to.host === to.host && s.to.port === to.port && s.message.kind === 'response' && (status === undefined ? s.message.status !== 100 : s.message.status === status) ? [s.message] : [],
    );
  }
  return { clock, transport, layer, proxy, resolver, deliver, sentTo, responsesTo };
}

let uacBranch = 0;

export interface UacOptions {
  uri?: string;
  cseq?: number;
  toTag?: string;
  callId?: string;
  branch?: string;
  headers?: Array<[string, string]>;
  maxForwards?: number;
}

/** A request as the UAC at 10.0.0.2:5070 sends it. */
export function uacRequest(method: string, o: UacOptions = {}): SipRequest {
  const r = createRequest({
    method,
    uri: o.uri ?? 'sip:bob@example.com',
    from: '<sip:alice@example.com>;tag=alice1',
    to: `<sip:bob@example.com>${o.toTag !== undefined ? `;tag=${o.toTag}` : ''}`,
    callId: o.callId ?? 'call-proxy-1',
    cseq: o.cseq ?? 1,
    headers: [['Contact', '<sip:alice@10.0.0.2:5070>'], ...(o.headers ?? [])],
  });
  if (o.maxForwards !== undefined) r.headers.set('Max-Forwards', String(o.maxForwards));
  r.headers.prepend('Via', `SIP/2.0/UDP 10.0.0.2:5070;branch=${o.branch ?? `z9hG4bKuac${uacBranch++}`};rport`);
  return r;
}

/** A UAS's response: Via/From/To/Call-ID/CSeq copied, Record-Route echoed (12.1.1), a Contact for 2xx/18x. */
export function answer(req: SipRequest, status: number, o: { toTag?: string; headers?: Array<[string, string]> } = {}): SipResponse {
  const headers: Array<[string, string]> = [];
  if (status > 100 && status < 300) {
    for (const rr of req.headers.getAll('record-route')) headers.push(['Record-Route', rr]);
    headers.push(['Contact', `<sip:bob@${o.toTag ?? 'x'}.invalid>`]);
  }
  return createResponse(req, status, { toTag: o.toTag ?? 'uas', headers: [...headers, ...(o.headers ?? [])] });
}

/** Via values of a message, as lines. */
export function vias(m: SipMessage): string[] {
  return m.headers.getAll('via');
}
