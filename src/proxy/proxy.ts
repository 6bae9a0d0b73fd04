/**
 * StatefulProxy: the proxy core of RFC 3261 section 16 as a transaction user of our transaction
 * layer, independent of how targets are found (TargetResolver). Wiring:
 *
 *   const proxy = new StatefulProxy({ transactions: layer, self, resolver });
 *   layer.onRequest(proxy.handleRequest);
 *   layer.onStray(proxy.handleStray);
 *
 * Per request: CANCEL (16.10) | 16.4 route preprocessing | to us: the local handler | 16.3
 * validation | 16.5 targets | 16.6 branches | 16.7 responses (context.ts). ACK for 2xx and
 * 2xx retransmissions come as strays and are forwarded statelessly (stateless.ts).
 * Never throws; state is bounded (branches per request, live contexts).
 */
import { isSipsUri, needsTls, SIPS_NO_TLS_HOP, SIPS_OVER_PLAIN_HOP } from './sips.js';
import type { Clock } from '../common/clock.js';
import { realClock } from '../common/real-clock.js';
import {
  createResponse,
  getCSeq,
  getTopVia,
  viaBranch,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../sip/message/index.js';
import type { ServerTransaction, TransactionLayer } from '../sip/transaction/index.js';
import type { Endpoint, Logger } from '../sip/transport/index.js';
import { ResponseContext, type ContextHooks } from './context.js';
import { isLoop, receivedLoopHash } from './loop.js';
import { firstRoute, preprocessRoutes } from './route.js';
import { SelfAddresses } from './self.js';
import { forwardAck, forwardResponseByVia, type StatelessDeps } from './stateless.js';
import { findTargets, planBranches, type TargetDeps } from './targets.js';
import type { Admission, LocalHandler, ProxyOptions, ProxyStats } from './types.js';
import { validateForForwarding } from './validate.js';
import { stripTopVia } from './via.js';
import { SILENT_LOGGER } from '../common/logger.js';

export const DEFAULT_MAX_BRANCHES = 10;
export const DEFAULT_MAX_CONTEXTS = 10_000;
export const DEFAULT_RESOLVE_TIMEOUT_MS = 10_000;
/** Retry-After (seconds) on the 503 we give when full. */
const OVERLOAD_RETRY_AFTER_S = 5;


/** Default local behaviour (the proxy as UAS, 16.5 "the Request-URI is us"): OPTIONS 200, else 404. */
export const defaultLocalHandler: LocalHandler = (req, txn) => {
  if (req.method === 'OPTIONS') {
    txn.respond(createResponse(req, 200, { headers: [['Allow', 'INVITE, ACK, CANCEL, BYE, OPTIONS, UPDATE, PRACK, INFO, MESSAGE, SUBSCRIBE, NOTIFY, REFER']] }));
  } else {
    txn.respond(createResponse(req, 404));
  }
};

/** 16.4 changed the Route set or the Request-URI: a Route value of ours was on top (or a strict router's). */
function cameByOurRoute(received: SipRequest, pre: SipRequest): boolean {
  return pre.uri !== received.uri || pre.headers.getAll('route').join(',') !== received.headers.getAll('route').join(',');
}

function errText(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export class StatefulProxy {
  readonly #layer: TransactionLayer;
  readonly #self: SelfAddresses;
  readonly #recordRoute: boolean;
  readonly #supported: ReadonlySet<string>;
  readonly #clock: Clock;
  readonly #log: Logger;
  readonly #local: LocalHandler;
  readonly #admission: Admission | undefined;
  readonly #maxContexts: number;
  readonly #hooks: ContextHooks;
  readonly #targetDeps: TargetDeps;
  readonly #statelessDeps: StatelessDeps;
  readonly #contexts = new Set<ResponseContext>();
  /** 16.10: the response context of an INVITE server transaction. */
  readonly #byServerTxn = new Map<ServerTransaction, ResponseContext>();
  /** Our client branches (Via branch param) of live contexts: loop detection and stray 2xx. */
  readonly #byBranch = new Map<string, ResponseContext>();
  readonly #branchesOf = new Map<ResponseContext, string[]>();
  #closed = false;
  #forwarded = 0;
  #branches = 0;
  #stateless = 0;
  #rejected = 0;

  /** New own addresses (SelfAddresses.replace): a NATed node's public mapping changed. */
  setSelf(self: ProxyOptions['self'], addressFacing?: ProxyOptions['addressFacing']): void {
    this.#self.replace(self, addressFacing);
  }

  constructor(opts: ProxyOptions) {
    this.#layer = opts.transactions;
    this.#self = new SelfAddresses(opts.self, opts.addressFacing);
    this.#recordRoute = opts.recordRoute ?? true;
    this.#supported = new Set((opts.supportedExtensions ?? []).map((t) => t.toLowerCase()));
    this.#clock = opts.clock ?? realClock;
    this.#log = opts.logger ?? SILENT_LOGGER;
    this.#local = opts.local ?? defaultLocalHandler;
    this.#admission = opts.admission;
    this.#maxContexts = opts.limits?.maxContexts ?? DEFAULT_MAX_CONTEXTS;
    this.#hooks = {
      layer: this.#layer,
      clock: this.#clock,
      log: this.#log,
      t1: opts.timers?.T1 ?? 500,
      timerC: opts.timers?.C,
      branchStarted: (ctx, branch) => {
        this.#branches++;
        this.#byBranch.set(branch, ctx);
        this.#branchesOf.get(ctx)?.push(branch);
      },
      finished: (ctx) => this.#forget(ctx),
      forwardStateless: (r) => forwardResponseByVia(r, this.#statelessDeps),
    };
    this.#targetDeps = {
      resolver: opts.resolver,
      self: this.#self,
      clock: this.#clock,
      log: this.#log,
      resolveTimeoutMs: opts.timers?.resolve ?? DEFAULT_RESOLVE_TIMEOUT_MS,
      maxBranches: Math.max(1, opts.limits?.maxBranches ?? DEFAULT_MAX_BRANCHES),
    };
    this.#statelessDeps = {
      layer: this.#layer,
      self: this.#self,
      resolver: opts.resolver,
      log: this.#log,
      sent: () => {
        this.#stateless++;
      },
    };
  }

  get stats(): ProxyStats {
    return {
      contexts: this.#contexts.size,
      forwarded: this.#forwarded,
      branches: this.#branches,
      statelessForwarded: this.#stateless,
      rejected: this.#rejected,
    };
  }

  /** For TransactionLayer.onRequest: every new request (retransmissions are absorbed below us). */
  readonly handleRequest = (req: SipRequest, txn: ServerTransaction): void => {
    try {
      this.#request(req, txn);
    } catch (e) {
      this.#log.warn({ err: errText(e), method: req.method }, 'proxy failed on a request: 500');
      this.#respondSafely(txn, req, 500);
    }
  };

  /** For TransactionLayer.onStray: ACKs for 2xx, and responses no client transaction matches. */
  readonly handleStray = (message: SipMessage, source: Endpoint): void => {
    try {
      if (message.kind === 'response') this.#strayResponse(message);
      else if (message.method === 'ACK') {
        if (this.#ackAdmitted(message, source)) void forwardAck(message, this.#statelessDeps);
      }
      else this.#log.debug({ method: message.method, source }, 'stray request dropped');
    } catch (e) {
      this.#log.warn({ err: errText(e) }, 'proxy failed on a stray message');
    }
  };

  /** An ACK for a 2xx is forwarded only where the admission policy would let a request go (it cannot be answered). */
  #ackAdmitted(ack: SipRequest, source: Endpoint): boolean {
    if (this.#admission === undefined) return true;
    const pre = preprocessRoutes(ack, this.#self);
    const verdict = this.#admission({ request: ack, pre, source, viaOurRoute: cameByOurRoute(ack, pre) });
    if (!verdict.admit) this.#log.debug({ source, uri: ack.uriRaw }, 'ACK not relayed (admission policy)');
    return verdict.admit;
  }

  /** Ends every response context without answering and stops the proxy's timers (shutdown). */
  close(): void {
    this.#closed = true;
    for (const ctx of [...this.#contexts]) ctx.abort();
  }

  #request(req: SipRequest, txn: ServerTransaction): void {
    if (this.#closed) return this.#reject(req, txn, 503, 'Service Unavailable', [['Retry-After', String(OVERLOAD_RETRY_AFTER_S)]]);
    if (req.method === 'CANCEL') return this.#cancel(req, txn);
    const pre = preprocessRoutes(req, this.#self);
    // 16.5: a Request-URI that is this proxy itself, with no Route left to follow: we are the UAS.
    if (firstRoute(pre) === undefined && this.#self.isLocalRequestUri(pre.uri)) return this.#local(pre, txn);
    const problem = validateForForwarding(req, this.#supported, () =>
      isLoop(req, (v) => this.#self.isSelfVia(v), (b) => this.#byBranch.get(b)?.loopHash),
    );
    if (problem !== null) return this.#reject(req, txn, problem.status, problem.reason, problem.headers);
    if (isSipsUri(pre.uri) && txn.source.protocol !== 'tls') {
      return this.#reject(req, txn, 416, 'Unsupported URI Scheme', [['Warning', `399 kadsip "${SIPS_OVER_PLAIN_HOP}"`]]);
    }
    // 16.3 step 6: who may have us forward what (src/policy), answered before any 100 Trying.
    let forward = pre;
    if (this.#admission !== undefined) {
      const verdict = this.#admission({ request: req, pre, source: txn.source, viaOurRoute: cameByOurRoute(req, pre) });
      if (!verdict.admit) return this.#reject(req, txn, verdict.status, verdict.reason, verdict.headers);
      if (verdict.request !== undefined) forward = verdict.request;
    }
    if (this.#contexts.size >= this.#maxContexts) {
      return this.#reject(req, txn, 503, 'Service Unavailable', [['Retry-After', String(OVERLOAD_RETRY_AFTER_S)]]);
    }
    // RFC 3261 16.2 / 17.2.1: a 100 Trying at once, rather than after 200 ms: finding the callee
    // (an overlay lookup, DNS) and the next hop's answer can take longer than the caller's T1,
    // and an INVITE retransmitted meanwhile is load for nothing.
    if (req.method === 'INVITE') txn.respond(createResponse(req, 100, { reason: 'Trying' }));
    const ctx = new ResponseContext(this.#hooks, txn, req, receivedLoopHash(req));
    this.#contexts.add(ctx);
    this.#branchesOf.set(ctx, []);
    if (ctx.isInvite) this.#byServerTxn.set(txn, ctx);
    this.#forwarded++;
    void this.#route(ctx, forward);
  }

  /** 16.5 and 16.6, asynchronous because the resolver is. */
  async #route(ctx: ResponseContext, pre: SipRequest): Promise<void> {
    try {
      const targets = await findTargets(pre, this.#targetDeps);
      if (ctx.over) return;
      if (!Array.isArray(targets)) {
        const headers: Array<[string, string]> = targets.retryAfterS !== undefined ? [['Retry-After', String(Math.max(0, Math.floor(targets.retryAfterS)))]] : [];
        this.#rejected++;
        return ctx.reject(targets.status, targets.reason, headers);
      }
      if (targets.length === 0) {
        this.#rejected++;
        return ctx.reject(404);
      }
      // 16.6 step 4 (RFC 5658 when the previous and the next hop reach us at different addresses).
      const from = ctx.serverTxn.source;
      const sips = needsTls(pre);
      const rr = this.#recordRoute ? (to: Endpoint) => this.#self.recordRoutes(from, to, sips) : undefined;
      const plans = await planBranches(pre, targets, rr, this.#targetDeps);
      if (ctx.over) return;
      if (plans.length === 0) {
        this.#rejected++;
        if (sips) return ctx.reject(480, 'Temporarily Unavailable', [['Warning', `399 kadsip "${SIPS_NO_TLS_HOP}"`]]);
        return ctx.reject(503, 'Service Unavailable');
      }
      ctx.fork(plans);
    } catch (e) {
      this.#log.warn({ err: errText(e) }, 'proxy routing failed: 500');
      ctx.reject(500);
    }
  }

  /**
   * 16.10: a CANCEL matching a pending INVITE server transaction gets 200 and cancels every pending
   * branch; the INVITE then ends with the branches' 487 (or whatever they answer). We are stateful
   * for every request, so a CANCEL matching nothing is answered 481 rather than forwarded statelessly.
   */
  #cancel(req: SipRequest, txn: ServerTransaction): void {
    const invite = this.#layer.matchCancel(req);
    if (invite === undefined) return this.#reject(req, txn, 481, 'Call/Transaction Does Not Exist');
    txn.respond(createResponse(req, 200));
    const ctx = this.#byServerTxn.get(invite);
    if (ctx !== undefined) ctx.cancel();
    else if (invite.state === 'proceeding') invite.respond(createResponse(invite.request, 487));
  }

  #strayResponse(response: SipResponse): void {
    let branch: string | undefined;
    try {
      const top = getTopVia(response);
      // 18.1.2: a response is ours only if our sent-by is on top (SipTransport checks it already).
      if (!this.#self.isSelfVia(top)) return;
      branch = viaBranch(top);
      if (response.status < 200 || response.status >= 300 || getCSeq(response).method !== 'INVITE') {
        // Non-2xx finals are absorbed by our client transactions while they live; later ones
        // concern a branch whose outcome is settled. Provisionals after the end are meaningless.
        this.#log.debug({ status: response.status }, 'stray response dropped');
        return;
      }
    } catch {
      return;
    }
    const stripped = stripTopVia(response)?.response;
    if (stripped === undefined) return;
    // 16.7 step 5: every 2xx goes upstream: through the context while it lives, else by Via.
    const ctx = branch === undefined ? undefined : this.#byBranch.get(branch);
    if (ctx !== undefined) ctx.forward2xx(stripped);
    else forwardResponseByVia(stripped, this.#statelessDeps);
  }

  #reject(req: SipRequest, txn: ServerTransaction, status: number, reason: string, headers: ReadonlyArray<readonly [string, string]> = []): void {
    this.#rejected++;
    txn.respond(createResponse(req, status, { reason, headers }));
  }

  #respondSafely(txn: ServerTransaction, req: SipRequest, status: number): void {
    try {
      txn.respond(createResponse(req, status));
    } catch (e) {
      this.#log.warn({ err: errText(e) }, 'could not answer');
    }
  }

  #forget(ctx: ResponseContext): void {
    this.#contexts.delete(ctx);
    if (this.#byServerTxn.get(ctx.serverTxn) === ctx) this.#byServerTxn.delete(ctx.serverTxn);
    for (const b of this.#branchesOf.get(ctx) ?? []) if (this.#byBranch.get(b) === ctx) this.#byBranch.delete(b);
    this.#branchesOf.delete(ctx);
  }
}
