/**
 * TransactionLayer: the RFC 3261 section 17 transaction layer, sans-IO. It
 * sends through an injected transport, runs its timers on an injected Clock
 * and is fed inbound messages through receive(), so it runs the same over
 * SipTransport, a fake transport in tests, or a simulator. Wiring:
 *
 *   const layer = new TransactionLayer({ send: t.send, local: t.local, clock: realClock });
 *   t.onMessage(layer.receive);
 */
import { createResponse, type SipMessage, type SipRequest, type SipResponse } from '../message/index.js';
import { hostForWire, type Endpoint, type InboundMessage, type Logger } from '../transport/types.js';
import { ClientBase } from './client-base.js';
import { InviteClientTransaction } from './client-invite.js';
import { NonInviteClientTransaction } from './client-non-invite.js';
import type { TxnContext } from './context.js';
import { MAGIC_COOKIE, clientKey, clientKeyOf, defaultBranchRandom, serverKeyOf } from './keys.js';
import { cancelFor } from './request-forms.js';
import { responseTargets } from './response-target.js';
import type { ServerBase } from './server-base.js';
import { InviteServerTransaction } from './server-invite.js';
import { NonInviteServerTransaction } from './server-non-invite.js';
import {
  DEFAULT_TIMERS,
  type ClientHandlers,
  type ClientTransaction,
  type ServerTransaction,
  type TransactionLayerOptions,
  type TransactionStats,
} from './types.js';
import { SILENT_LOGGER } from '../../common/logger.js';

export const DEFAULT_MAX_TRANSACTIONS = 100_000;
/** Branch draws before giving up on a unique one (only a broken `random` repeats). */
const BRANCH_ATTEMPTS = 8;


/** `{ T1: undefined }` must mean the default, not NaN timers. */
function definedOnly<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

export type SipRequestHandler = (request: SipRequest, txn: ServerTransaction) => void;
/** What admission control (src/sip/admission.ts) says of a new request, before any state exists. */
export type AdmissionVerdict = { readonly action: 'admit' } | { readonly action: 'reject'; readonly retryAfterS: number } | { readonly action: 'drop' };
export type AdmissionHook = (request: SipRequest, source: Endpoint) => AdmissionVerdict;
/** INVITEs refused statelessly whose ACK (same branch, 17.1.1.3) is absorbed here: a bounded memory. */
const REFUSED_INVITES_KEPT = 4096;
export type StrayHandler = (message: SipMessage, source: Endpoint) => void;

export class TransactionLayer {
  readonly #opts: TransactionLayerOptions;
  readonly #random: () => string;
  readonly #max: number;
  readonly #log: Logger;
  readonly #clients = new Map<string, ClientBase>();
  readonly #servers = new Map<string, ServerBase>();
  readonly #ctx: TxnContext;
  #onRequest: SipRequestHandler | undefined;
  #onStray: StrayHandler | undefined;
  #admit: AdmissionHook | undefined;
  /** Server keys of INVITEs answered with a stateless 503, oldest first. */
  readonly #refused = new Set<string>();
  #refusedByAdmission = 0;
  #droppedByAdmission = 0;
  #retransmissions = 0;
  #timeouts = 0;
  #rejectedFull = 0;

  constructor(opts: TransactionLayerOptions) {
    this.#opts = opts;
    this.#random = opts.random ?? defaultBranchRandom;
    this.#max = opts.maxTransactions ?? DEFAULT_MAX_TRANSACTIONS;
    this.#log = opts.logger ?? SILENT_LOGGER;
    this.#ctx = {
      clock: opts.clock,
      timers: { ...DEFAULT_TIMERS, ...definedOnly(opts.timers ?? {}) },
      log: this.#log,
      send: (m, to, onError) => this.#send(m, to, onError),
      ended: (key, side) => {
        if (side === 'client') this.#clients.delete(key);
        else this.#servers.delete(key);
      },
      stray: (m, source) => this.#stray(m, source),
      guard: (what, fn) => this.#guard(what, fn),
      countRetransmission: () => {
        this.#retransmissions++;
      },
      countTimeout: () => {
        this.#timeouts++;
      },
    };
  }

  get stats(): TransactionStats {
    return {
      clientTransactions: this.#clients.size,
      serverTransactions: this.#servers.size,
      retransmissionsSent: this.#retransmissions,
      timeouts: this.#timeouts,
      rejectedFull: this.#rejectedFull,
      refusedByAdmission: this.#refusedByAdmission,
      droppedByAdmission: this.#droppedByAdmission,
    };
  }

  /** The TU's entry point for new requests (retransmissions are absorbed). Replaces any previous handler. */
  onRequest(handler: SipRequestHandler): void {
    this.#onRequest = handler;
  }

  /**
   * Admission control, asked for every request that would start a server transaction (not for
   * retransmissions, nor for ACKs). A refusal is answered statelessly, 503 with Retry-After (8.2.6,
   * 21.5.4), so that refused requests leave no state; a drop is not answered.
   */
  setAdmission(hook: AdmissionHook | undefined): void {
    this.#admit = hook;
  }

  /** Messages no transaction consumes: ACKs for 2xx, responses matching no client transaction. */
  onStray(handler: StrayHandler): void {
    this.#onStray = handler;
  }

  /**
   * Starts a client transaction: prepends our Via (fresh z9hG4bK branch with
   * 64 random bits, rport per RFC 3581) to a copy of `request` and sends it.
   * ACK is not a transaction (17): use sendAck. CANCEL needs the INVITE's
   * branch (9.1): use sendCancel. Both throw TypeError here.
   */
  sendRequest(request: SipRequest, to: Endpoint, handlers: ClientHandlers): ClientTransaction {
    if (request.method === 'ACK') throw new TypeError('ACK is not a transaction: use sendAck');
    if (request.method === 'CANCEL') throw new TypeError('CANCEL must reuse the INVITE branch: use sendCancel');
    const branch = this.#newBranch(request.method);
    return this.#startClient(this.#withVia(request, to, branch), to, handlers, branch);
  }

  /**
   * CANCEL for a pending INVITE client transaction (9.1): same branch,
   * Request-URI, Call-ID, From, To, CSeq number, Route; sent to the same
   * destination as its own non-INVITE transaction. 9.1 asks the TU not to
   * send it before a provisional response has arrived.
   */
  sendCancel(invite: ClientTransaction, handlers: ClientHandlers): ClientTransaction {
    return this.#startClient(cancelFor(invite.request), invite.destination, handlers, invite.branch);
  }

  /** Sends an ACK for a 2xx (13.2.2.4): outside any transaction, with our Via and a fresh branch. */
  sendAck(ack: SipRequest, to: Endpoint, onError?: (e: Error) => void): void {
    this.#send(this.#withVia(ack, to, this.#newBranch('ACK')), to, onError);
  }

  /**
   * Sends a message outside any transaction, exactly as given (no Via added): what a proxy needs to
   * forward a 2xx retransmission or a further 2xx statelessly to the next Via (16.7 step 5, 16.11).
   * Failures go to onError (asynchronously), never thrown.
   */
  sendStateless(message: SipMessage, to: Endpoint, onError?: (e: Error) => void): void {
    this.#send(message, to, onError);
  }

  /** The INVITE server transaction a received CANCEL targets (9.2), if it still exists. */
  matchCancel(cancel: SipRequest): ServerTransaction | undefined {
    const key = serverKeyOf(cancel, 'INVITE');
    return key === undefined ? undefined : this.#servers.get(key);
  }

  /** Feeds one inbound message (from SipTransport.onMessage). Never throws. */
  readonly receive = (inbound: InboundMessage): void => {
    try {
      if (inbound.message.kind === 'response') this.#receiveResponse(inbound.message, inbound.source);
      else this.#receiveRequest(inbound.message, inbound.source);
    } catch (e) {
      this.#log.warn({ err: e instanceof Error ? e.message : String(e) }, 'transaction layer dropped a message');
    }
  };

  /** Ends every transaction and cancels its timers, telling no one (for shutdown). */
  close(): void {
    for (const t of [...this.#clients.values()]) t.terminate();
    for (const t of [...this.#servers.values()]) t.terminate();
  }

  #receiveResponse(response: SipResponse, source: Endpoint): void {
    const key = clientKeyOf(response);
    const txn = key === undefined ? undefined : this.#clients.get(key);
    if (txn === undefined) this.#stray(response, source);
    else txn.receive(response);
  }

  #receiveRequest(request: SipRequest, source: Endpoint): void {
    const key = serverKeyOf(request);
    if (key === undefined) {
      this.#log.debug({ method: request.method, source }, 'request without usable Via/CSeq dropped');
      return;
    }
    const existing = this.#servers.get(key);
    if (existing !== undefined) {
      if (request.method === 'ACK') existing.receiveAck(request, source);
      else existing.receiveRetransmission(request);
      return;
    }
    if (request.method === 'ACK') {
      // The ACK of a 503 we sent statelessly (same key as its INVITE, 17.1.1.3): it ends there. A
      // proxy that took it for the ACK of a 2xx would route it (16.11), for every refused INVITE.
      if (this.#refused.delete(key)) return;
      // 17.2.3: an ACK that matches nothing acknowledges a 2xx; the TU (or proxy core) handles it.
      this.#stray(request, source);
      return;
    }
    const verdict = this.#admit?.(request, source);
    if (verdict !== undefined && verdict.action !== 'admit') {
      if (verdict.action === 'drop') this.#droppedByAdmission++;
      else {
        this.#refusedByAdmission++;
        this.#rejectStateless(request, source, key, verdict.retryAfterS);
      }
      return;
    }
    const handler = this.#onRequest;
    if (handler === undefined || this.#clients.size + this.#servers.size >= this.#max) {
      this.#rejectedFull++;
      this.#log.debug({ method: request.method, source }, 'transaction table full or no TU: 503');
      this.#rejectStateless(request, source, key, 5);
      return;
    }
    const txn =
      request.method === 'INVITE'
        ? new InviteServerTransaction(this.#ctx, key, request, source)
        : new NonInviteServerTransaction(this.#ctx, key, request, source);
    this.#servers.set(key, txn);
    txn.start();
    this.#guard('onRequest', () => handler(request, txn));
  }

  /** Overload protection: a stateless 503 (8.2.6; Retry-After per 21.5.4) creates no state to exhaust. */
  #rejectStateless(request: SipRequest, source: Endpoint, key: string, retryAfterS: number): void {
    const response = createResponse(request, 503, { headers: [['Retry-After', String(retryAfterS)]] });
    if (request.method === 'INVITE') {
      if (this.#refused.size >= REFUSED_INVITES_KEPT) this.#refused.delete(this.#refused.values().next().value!);
      this.#refused.add(key);
    }
    this.#send(response, responseTargets(request, source).primary);
  }

  #startClient(request: SipRequest, to: Endpoint, handlers: ClientHandlers, branch: string): ClientTransaction {
    const key = clientKey(branch, request.method);
    const txn =
      request.method === 'INVITE'
        ? new InviteClientTransaction(this.#ctx, key, branch, request, to, handlers)
        : new NonInviteClientTransaction(this.#ctx, key, branch, request, to, handlers);
    if (this.#clients.size + this.#servers.size >= this.#max || this.#clients.has(key)) {
      // Reported like a transport failure, asynchronously so the caller holds the handle first.
      txn.state = 'terminated';
      const why = new Error(this.#clients.has(key) ? 'duplicate client transaction' : 'transaction table full');
      this.#opts.clock.setTimer(0, () =>
        this.#guard('onTransportError', () => (handlers.onTransportError ? handlers.onTransportError(why) : handlers.onTimeout())),
      );
      return txn;
    }
    this.#clients.set(key, txn);
    txn.start();
    return txn;
  }

  #newBranch(method: string): string {
    let branch = `${MAGIC_COOKIE}${this.#random()}`;
    for (let i = 1; i < BRANCH_ATTEMPTS && this.#clients.has(clientKey(branch, method)); i++) {
      branch = `${MAGIC_COOKIE}${this.#random()}`;
    }
    return branch;
  }

  /** A copy of `request` with our Via on top (8.1.1.7, 16.6 step 8; rport per RFC 3581 section 3). */
  #withVia(request: SipRequest, to: Endpoint, branch: string): SipRequest {
    let sentBy: string;
    try {
      const local = this.#opts.local(to.protocol);
      sentBy = `${hostForWire(local.host)}:${local.port}`;
    } catch {
      // Protocol not enabled: the send itself will report the error.
      sentBy = 'invalid.invalid';
    }
    const headers = request.headers.clone().prepend('Via', `SIP/2.0/${to.protocol.toUpperCase()} ${sentBy};branch=${branch};rport`);
    return { ...request, headers };
  }

  #send(message: SipMessage, to: Endpoint, onError?: (e: Error) => void): void {
    try {
      this.#opts.send(message, to, onError);
    } catch (e) {
      // A transport that throws is treated like one that reports: asynchronously.
      const err = e instanceof Error ? e : new Error(String(e));
      if (onError) this.#opts.clock.setTimer(0, () => onError(err));
    }
  }

  #stray(message: SipMessage, source: Endpoint): void {
    const h = this.#onStray;
    if (h) this.#guard('onStray', () => h(message, source));
    else this.#log.debug({ source }, 'stray message dropped (no onStray handler)');
  }

  #guard(what: string, fn: () => void): void {
    try {
      fn();
    } catch (e) {
      const fields = { err: e instanceof Error ? e.message : String(e), handler: what };
      (this.#log.error ?? this.#log.warn)(fields, 'transaction user callback threw');
    }
  }
}
