/**
 * The load side of bench/wire.ts, all in the bench process (the node under test runs in its own
 * process, bench/wire-node.ts):
 *
 *  - startPeers: P lightweight peers (SipTransport + TransactionLayer + OverlayOverSip + OverlayNode,
 *    no metrics, no HTTP) that join the node, so its FIND_NODE answers are real 302s with Contacts.
 *    They sit idle during the measurement.
 *  - LoadClient: a closed-loop generator with C RPCs outstanding at once, each a real SIP client
 *    transaction of its own TransactionLayer + SipTransport (dSIP encodeRequest out, decodeResponse
 *    in), that checks every answer and counts anything unexpected as an error.
 */
import { hostPort } from '../src/common/host-port.js';
import { openSipStack, type SipStack } from '../src/sip/stack.js';
import { randomInt } from 'node:crypto';
import { SILENT_LOGGER } from '../src/common/logger.js';
import { realClock } from '../src/common/real-clock.js';
import { decodeResponse, encodeRequest, encodeResponse, isPeerRequest } from '../src/dsip/index.js';
import { OverlayOverSip } from '../src/p2psip/overlay-over-sip.js';
import type { Contact } from '../src/overlay/contact.js';
import type { NodeId } from '../src/overlay/id.js';
import type { OverlayRequest, RequestEnvelope, RpcResult } from '../src/overlay/messages.js';
import { OverlayNode } from '../src/overlay/node.js';
import { peerIdFromAddress, resourceId } from '../src/overlay/peer-id.js';
import { SeededRandom } from '../src/overlay/random.js';
import { serializeMessage, type SipMessage, type SipRequest, type SipResponse } from '../src/sip/message/index.js';
import type { TransactionLayer } from '../src/sip/transaction/index.js';
import type { Endpoint, Protocol, SipTransport } from '../src/sip/transport/index.js';
import { CertificateCache } from '../src/trust/certificate-cache.js';
import type { TrustMaterial } from '../src/trust/material.js';
import { PeerAuth } from '../src/trust/peer-auth.js';
import { SequenceClock, signBinding } from '../src/trust/binding-proof.js';

/** A closed overlay's guard for a bench peer or the client, over its own certificate cache. */
function guardFor(trust: TrustMaterial, self: Contact, overlay: string): PeerAuth {
  return new PeerAuth({ cache: new CertificateCache({ anchor: trust.anchor }), own: trust.own, key: trust.key, overlay, self, log: silent });
}

const HOST = '127.0.0.1';
const silent = SILENT_LOGGER;

// ---------------------------------------------------------------- peers that populate the node

export interface Peers {
  readonly count: number;
  close(): Promise<void>;
}

/** Starts `count` peers on loopback and joins each through `via` (at most 8 joins at a time). */
export async function startPeers(count: number, via: string, overlay: string, deadlineMs: number, trust?: TrustMaterial): Promise<Peers> {
  const running: Array<{ node: OverlayNode; transactions: TransactionLayer; transport: SipTransport }> = [];
  const close = async (): Promise<void> => {
    for (const p of running) {
      p.node.stop();
      p.transactions.close();
    }
    await Promise.all(running.map((p) => p.transport.close()));
  };
  try {
    for (let i = 0; i < count; i += 8) {
      const batch = Array.from({ length: Math.min(8, count - i) }, async () => {
        const { transport, transactions, local: bound } = await openSipStack({ host: HOST, port: 0 });
        const local = bound('udp');
        const self: Contact = { id: peerIdFromAddress(local.host, local.port), address: hostPort(local.host, local.port) };
        const link = new OverlayOverSip({ transactions, overlay, self, protocol: 'udp', log: silent, ...(trust ? { guard: guardFor(trust, self, overlay) } : {}) });
        // No bucket refresh after joining: it would cost ~144 lookups per peer (all loopback peers
        // share the top 144 bits of their IDs) and the node learns the peer from its JOIN anyway.
        const node = new OverlayNode({
          self,
          transport: link,
          clock: realClock,
          random: new SeededRandom(randomInt(2 ** 32)),
          config: { refreshOnJoin: false },
        });
        transactions.onRequest((request, txn) => {
          if (isPeerRequest(request)) link.serve(request, txn, node);
        });
        running.push({ node, transactions, transport });
        await withDeadline(deadlineMs, `peer ${self.address} joining through ${via}`, new Promise<void>((resolve, reject) => {
          node.join([{ address: via }], (error) => (error ? reject(error) : resolve()));
        }));
      });
      await Promise.all(batch);
    }
  } catch (e) {
    await close();
    throw e;
  }
  return { count, close };
}

// ---------------------------------------------------------------- the load client

export type Op = 'options' | 'find_node' | 'find_value';
export const OPS: readonly Op[] = ['options', 'find_node', 'find_value'];

export interface LoadOptions {
  /** The node under test (its UDP and TCP share the port). */
  readonly node: { readonly host: string; readonly port: number };
  readonly protocol: Protocol;
  readonly overlay: string;
  readonly concurrency: number;
  /** Weights of the operations (normalised). */
  readonly mix: Readonly<Record<Op, number>>;
  /** Records STOREd on the node before the run; FIND_VALUE asks for one of them half the time. */
  readonly records: number;
  /** P: the node must answer FIND_NODE with at least min(P, 1) Contacts. */
  readonly peers: number;
  /** `peer` (default): the node keeps the client in its routing table, as for any peer; `client`: role=client. */
  readonly role: 'peer' | 'client';
  /** An RPC without a final response after this long counts as a timeout and its slot moves on. */
  readonly deadlineMs: number;
  /** A closed overlay: the client proves itself with this material (once; PROTOCOL.md 11.2) and checks every answer. */
  readonly trust?: TrustMaterial;
}

interface OpCounters {
  rpcs: number;
  errors: number;
  timeouts: number;
  rttSumMs: number;
  requestBytes: number;
  responseBytes: number;
  contacts: number;
  hits: number;
}

const newCounters = (): OpCounters => ({ rpcs: 0, errors: 0, timeouts: 0, rttSumMs: 0, requestBytes: 0, responseBytes: 0, contacts: 0, hits: 0 });

/** Samples kept for the percentiles; beyond this every RTT is still counted, one in `stride` is kept. */
const MAX_RTT_SAMPLES = 1 << 21;

export interface WindowResult {
  seconds: number;
  rpcs: number;
  errors: number;
  timeouts: number;
  /** Requests sent again by the client's Timer E (and responses the client re-sent: none for non-INVITE). */
  retransmissions: number;
  /** All bytes on the wire both ways in the window (requests, retransmissions, responses, the node's pings). */
  bytes: number;
  rtts: Float64Array;
  perOp: Record<Op, OpCounters>;
  errorSamples: string[];
  /** CPU time of this process (client and idle peers) over the window, as a share of one core. */
  cpuShare: number;
}

interface Slot {
  generation: number;
  op: Op;
  key?: NodeId;
  startedMs: number;
  requestBytes: number;
}

export class LoadClient {
  readonly #o: LoadOptions;
  readonly #transport: SipTransport;
  readonly #transactions: TransactionLayer;
  readonly #self: Contact;
  readonly #to: { address: string; id: NodeId };
  readonly #endpoint: Endpoint;
  readonly #random = new SeededRandom(randomInt(2 ** 32));
  readonly #storedKeys: NodeId[] = [];
  readonly #storedValues = new Map<NodeId, string>();
  readonly #cumulative: number[];
  readonly #guard: PeerAuth | undefined;
  readonly #sequence = new SequenceClock();
  #cseq = 1;
  #slots: Slot[] = [];
  #running = false;
  #outstanding = 0;
  #sweeper: NodeJS.Timeout | undefined;
  #onIdle: (() => void) | undefined;

  // Window accounting (reset by startWindow).
  #measuring = false;
  #perOp: Record<Op, OpCounters> = { options: newCounters(), find_node: newCounters(), find_value: newCounters() };
  #rtts = new Float64Array(1024);
  #rttCount = 0;
  #rttSeen = 0;
  #bytes = 0;
  #errorSamples: string[] = [];
  /** Size of the inbound message being delivered right now (set before the transaction layer sees it). */
  #inboundBytes = 0;
  /** Size of the request the transaction layer is sending right now. */
  #outboundBytes = 0;

  private constructor(o: LoadOptions, stack: SipStack) {
    this.#o = o;
    const transport = stack.transport;
    this.#transport = transport;
    this.#transactions = stack.transactions;
    // The sent-by port is the listening port for both protocols (SipTransport shares it).
    const local = transport.local(o.protocol);
    this.#self = { id: peerIdFromAddress(local.host, local.port), address: hostPort(local.host, local.port) };
    const nodeAddress = hostPort(o.node.host, o.node.port);
    this.#to = { address: nodeAddress, id: peerIdFromAddress(o.node.host, o.node.port) };
    this.#endpoint = { protocol: o.protocol, host: o.node.host, port: o.node.port };
    const guard = o.trust ? guardFor(o.trust, this.#self, o.overlay) : undefined;
    this.#guard = guard;
    // A peer answers the node's pings (it pings a new peer before admitting it to its routing table).
    const self = this.#self;
    this.#transactions.onRequest((request, txn) => {
      if (request.method !== 'OPTIONS') return;
      const res = encodeResponse(request, { kind: 'ok' }, { overlay: o.overlay, self, protocol: txn.source.protocol });
      guard?.decorateResponse(request, res);
      txn.respond(res);
    });
    const total = OPS.reduce((s, op) => s + o.mix[op], 0);
    let acc = 0;
    this.#cumulative = OPS.map((op) => (acc += o.mix[op] / total));
  }

  static async start(o: LoadOptions): Promise<LoadClient> {
    // UDP too in TCP mode: the node pings peers over UDP, at the port their Via names.
    const protocols: Protocol[] = o.protocol === 'tcp' ? ['udp', 'tcp'] : ['udp'];
    let client: LoadClient | undefined;
    const stack = await openSipStack({
      host: HOST,
      port: 0,
      protocols,
      // Every byte that leaves goes through this send: requests, retransmissions, answers to the node's pings.
      wrapSend: (send) => (message: SipMessage, to, onError) => {
        if (client) client.#sent(message);
        send(message, to, onError);
      },
      onInbound: (inbound) => {
        if (client) client.#received(inbound.raw.length);
      },
    });
    client = new LoadClient(o, stack);
    return client;
  }

  #sent(message: SipMessage): void {
    const size = serializeMessage(message).length;
    this.#outboundBytes = size;
    if (this.#measuring) this.#bytes += size;
  }

  #received(size: number): void {
    this.#inboundBytes = size;
    if (this.#measuring) this.#bytes += size;
  }

  /** STOREs `records` bindings on the node (C at a time), each answered 200 with the binding. */
  async storeRecords(): Promise<void> {
    const { records, deadlineMs } = this.#o;
    let next = 0;
    let failed: string | undefined;
    const worker = async (): Promise<void> => {
      while (next < records && failed === undefined) {
        const i = next++;
        const aor = `sip:bench${i}@bench.invalid`;
        const key = resourceId(aor);
        const value = `sip:bench${i}@${HOST}:5999`;
        // A closed overlay stores only signed bindings (PROTOCOL.md 11.4): signed once, here, by the client's key.
        const trust = this.#o.trust;
        const proof = trust
          ? { proof: signBinding({ op: 'store', key, aor, contact: value, expiresAtS: Math.floor(Date.now() / 1000) + 3600, seq: this.#sequence.next(Date.now()) }, trust.key, trust.own.fingerprint) }
          : {};
        const request: OverlayRequest = { op: 'STORE', key, bindings: [{ value, ttlMs: 3_600_000, ...proof }] };
        const result = await withDeadline(deadlineMs * 4, `STORE ${aor}`, new Promise<RpcResult>((resolve) => this.#rpc(request, resolve)));
        if (!result.ok || result.response.kind !== 'stored' || !result.response.bindings.some((b) => b.value === value)) {
          failed = `STORE ${aor}: ${JSON.stringify(result, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v))}`;
          return;
        }
        this.#storedKeys.push(key);
        this.#storedValues.set(key, value);
      }
    };
    await Promise.all(Array.from({ length: Math.min(16, Math.max(1, records)) }, worker));
    if (failed !== undefined) throw new Error(failed);
  }

  /** One RPC outside the load loop (setup), decoded as the overlay would. */
  #rpc(request: OverlayRequest, done: (result: RpcResult) => void): void {
    const envelope = this.#envelope(request);
    const sip = encodeRequest(envelope, this.#encodeContext());
    const proved = this.#guard?.decorateRequest(sip, this.#to, false) ?? false;
    this.#transactions.sendRequest(sip, this.#endpoint, {
      onResponse: (response) => {
        if (response.status < 200) return;
        const result = decodeResponse(response, request, this.#o.node, { overlay: this.#o.overlay });
        done(this.#guard ? this.#guard.checkResponse(sip, response, this.#to, result, proved) : result);
      },
      onTimeout: () => done({ ok: false, reason: 'timeout' }),
      onTransportError: (error) => done({ ok: false, reason: 'unreachable', detail: error.message }),
    });
  }

  #envelope(request: OverlayRequest): RequestEnvelope {
    return { from: this.#self, mode: 'iterative', hops: 0, request, ...(this.#o.role === 'client' ? { role: 'client' as const } : {}) };
  }

  #encodeContext() {
    return { overlay: this.#o.overlay, self: this.#self, to: this.#to, cseq: this.#cseq++, ...(this.#o.role === 'client' ? { role: 'client' as const } : {}) };
  }

  /** Starts the closed loop: `concurrency` RPCs in flight, each replaced as soon as it ends. */
  run(): void {
    this.#running = true;
    this.#slots = Array.from({ length: this.#o.concurrency }, () => ({ generation: 0, op: 'options' as Op, startedMs: 0, requestBytes: 0 }));
    for (let i = 0; i < this.#slots.length; i++) this.#issue(i);
    // One timer for all deadlines (not one per RPC).
    const period = Math.max(10, Math.min(100, this.#o.deadlineMs / 10));
    this.#sweeper = setInterval(() => {
      const now = performance.now();
      for (let i = 0; i < this.#slots.length; i++) {
        const s = this.#slots[i]!;
        if (s.startedMs > 0 && now - s.startedMs > this.#o.deadlineMs) this.#finish(i, s.generation, 'timeout', 'deadline');
      }
    }, period);
  }

  startWindow(): void {
    this.#perOp = { options: newCounters(), find_node: newCounters(), find_value: newCounters() };
    this.#rttCount = 0;
    this.#rttSeen = 0;
    this.#bytes = 0;
    this.#errorSamples = [];
    this.#measuring = true;
  }

  /** Ends the window: the counters of everything that ended since startWindow. */
  endWindow(seconds: number, cpuShare: number, retransmissions: number): WindowResult {
    this.#measuring = false;
    const perOp = this.#perOp;
    const sum = (f: keyof OpCounters) => OPS.reduce((s, op) => s + perOp[op][f], 0);
    return {
      seconds,
      rpcs: sum('rpcs'),
      errors: sum('errors'),
      timeouts: sum('timeouts'),
      retransmissions,
      bytes: this.#bytes,
      rtts: this.#rtts.slice(0, this.#rttCount),
      perOp,
      errorSamples: this.#errorSamples,
      cpuShare,
    };
  }

  get retransmissionsSent(): number {
    return this.#transactions.stats.retransmissionsSent;
  }

  /** Stops issuing; resolves when nothing is outstanding (each slot ends by its deadline at the latest). */
  drain(): Promise<void> {
    this.#running = false;
    if (this.#outstanding === 0) return Promise.resolve();
    return new Promise((resolve) => {
      this.#onIdle = resolve;
    });
  }

  async close(): Promise<void> {
    this.#running = false;
    if (this.#sweeper !== undefined) clearInterval(this.#sweeper);
    this.#transactions.close();
    await this.#transport.close();
  }

  #pick(): Op {
    const r = this.#random.next();
    for (let i = 0; i < OPS.length; i++) if (r < this.#cumulative[i]!) return OPS[i]!;
    return OPS[OPS.length - 1]!;
  }

  #issue(i: number): void {
    const slot = this.#slots[i]!;
    const generation = ++slot.generation;
    const op = this.#pick();
    let request: OverlayRequest;
    let key: NodeId | undefined;
    if (op === 'options') {
      request = { op: 'PING' };
    } else if (op === 'find_node') {
      request = { op: 'FIND_NODE', target: this.#random.bits(160) };
    } else {
      // Half the FIND_VALUEs ask for a stored record (200 with its binding), half for a random key (404 or 302).
      key = this.#storedKeys.length > 0 && this.#random.next() < 0.5 ? this.#storedKeys[this.#random.int(this.#storedKeys.length)]! : this.#random.bits(160);
      request = { op: 'FIND_VALUE', key };
    }
    slot.op = op;
    slot.key = key;
    slot.startedMs = performance.now();
    this.#outstanding++;
    let sip;
    try {
      sip = encodeRequest(this.#envelope(request), this.#encodeContext());
    } catch (e) {
      this.#finish(i, generation, 'error', `encode: ${(e as Error).message}`);
      return;
    }
    this.#outboundBytes = 0;
    const proved = this.#guard?.decorateRequest(sip, this.#to, false) ?? false;
    const sent = sip;
    this.#transactions.sendRequest(sip, this.#endpoint, {
      onResponse: (response) => {
        if (response.status < 200) return;
        const bytes = this.#inboundBytes;
        const problem = this.#check(response, request, op, key, sent, proved);
        this.#finish(i, generation, problem === null ? 'ok' : 'error', problem ?? undefined, bytes);
      },
      onTimeout: () => this.#finish(i, generation, 'timeout', 'Timer F'),
      onTransportError: (error) => this.#finish(i, generation, 'error', `transport: ${error.message}`),
    });
    slot.requestBytes = this.#outboundBytes;
  }

  /** null when the answer is the right one for the request, else what is wrong with it. */
  #check(response: SipResponse, request: OverlayRequest, op: Op, key: NodeId | undefined, sent: SipRequest, proved: boolean): string | null {
    const status = response.status;
    const plain = decodeResponse(response, request, this.#o.node, { overlay: this.#o.overlay });
    // A closed overlay: the answer counts only from a verified responder (PROTOCOL.md 11.2).
    const decoded = this.#guard ? this.#guard.checkResponse(sent, response, this.#to, plain, proved) : plain;
    if (!decoded.ok) return `${op}: ${status} did not decode: ${decoded.reason} ${decoded.detail ?? ''}`;
    const r = decoded.response;
    const c = this.#perOp[op];
    const wantContacts = Math.min(this.#o.peers, 1);
    switch (op) {
      case 'options':
        return status === 200 && r.kind === 'ok' ? null : `options: ${status} ${r.kind}`;
      case 'find_node':
        if (status !== 302 || r.kind !== 'nodes') return `find_node: ${status} ${r.kind}`;
        if (r.contacts.length < wantContacts) return `find_node: 302 with ${r.contacts.length} Contacts`;
        if (this.#measuring) c.contacts += r.contacts.length;
        return null;
      case 'find_value': {
        const stored = key === undefined ? undefined : this.#storedValues.get(key);
        if (stored !== undefined) {
          if (status !== 200 || r.kind !== 'value' || !r.bindings.some((b) => b.value === stored)) return `find_value (stored): ${status} ${r.kind}`;
          if (this.#measuring) c.hits++;
          return null;
        }
        if ((status === 404 && r.kind === 'not-found') || (status === 302 && r.kind === 'nodes')) {
          const n = r.contacts?.length ?? 0;
          if (n < wantContacts) return `find_value (miss): ${status} with ${n} Contacts`;
          if (this.#measuring) c.contacts += n;
          return null;
        }
        return `find_value (miss): ${status} ${r.kind}`;
      }
    }
  }

  #finish(i: number, generation: number, outcome: 'ok' | 'error' | 'timeout', detail?: string, responseBytes = 0): void {
    const slot = this.#slots[i]!;
    if (slot.generation !== generation || slot.startedMs === 0) return; // already ended (a late answer after the deadline)
    const rtt = performance.now() - slot.startedMs;
    slot.startedMs = 0;
    this.#outstanding--;
    if (this.#measuring) {
      const c = this.#perOp[slot.op];
      if (outcome === 'ok') {
        c.rpcs++;
        c.rttSumMs += rtt;
        c.requestBytes += slot.requestBytes;
        c.responseBytes += responseBytes;
        this.#recordRtt(rtt);
      } else {
        if (outcome === 'timeout') c.timeouts++;
        else c.errors++;
        if (this.#errorSamples.length < 5) this.#errorSamples.push(`${outcome}: ${detail ?? ''}`);
      }
    }
    if (this.#running) {
      // Not from inside the transaction layer's callback: the next request starts on a fresh stack.
      // After a failure, via the event loop: a node that fails every request at once must not
      // starve the timers (the deadline sweep, the end of the window).
      const next = (): void => {
        if (this.#running) this.#issue(i);
        else this.#idleCheck();
      };
      if (outcome === 'ok') queueMicrotask(next);
      else setImmediate(next);
    } else {
      this.#idleCheck();
    }
  }

  #idleCheck(): void {
    if (this.#outstanding === 0 && this.#onIdle !== undefined) {
      const resolve = this.#onIdle;
      this.#onIdle = undefined;
      resolve();
    }
  }

  #recordRtt(ms: number): void {
    this.#rttSeen++;
    if (this.#rttCount >= MAX_RTT_SAMPLES) {
      // Bounded memory: reservoir sampling keeps a uniform sample of every RTT of the window.
      const j = this.#random.int(this.#rttSeen);
      if (j < MAX_RTT_SAMPLES) this.#rtts[j] = ms;
      return;
    }
    if (this.#rttCount === this.#rtts.length) {
      const grown = new Float64Array(this.#rtts.length * 2);
      grown.set(this.#rtts);
      this.#rtts = grown;
    }
    this.#rtts[this.#rttCount++] = ms;
  }
}

export function percentile(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return NaN;
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[idx]!;
}

export async function withDeadline<T>(ms: number, what: string, p: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([
      p,
      new Promise<never>((_resolve, reject) => {
        timer = setTimeout(() => reject(new Error(`${what}: no result within ${ms} ms`)), ms);
      }),
    ]);
  } finally {
    clearTimeout(timer);
  }
}
