/**
 * The plugin's middleware, in drachtio-srf's connect style (`(req, res, next)`), over kadsip's own
 * pieces: the registrar (RFC 3261 section 10, digest), the overlay shadow of registrations
 * (src/p2psip/registrations.ts: publish on the first binding, renew, remove on the last) and the
 * location service (src/p2psip/location-service.ts: registrar, overlay FIND_VALUE, RFC 3263).
 * What the native node's proxy answers, this answers too: 404 when nobody has the user, 480 with
 * Retry-After when the overlay (or a domain's servers) does not answer.
 */
import type { Logger } from '../common/logger.js';
import type { Clock } from '../common/clock.js';
import type { ProxyTarget, ResolveFailure } from '../proxy/index.js';
import type { Registrations } from '../p2psip/registrations.js';
import type { ServerTransaction } from '../sip/transaction/index.js';
import { createRequest, getCallId, parseUri, type SipRequest } from '../sip/message/index.js';
import { destinationsOf, sendResponse, sipRequestOf, sourceOf } from './bridge.js';
import type { SrfMiddleware, SrfNext, SrfProxyOptions, SrfRequest, SrfResponse } from './srf-types.js';

/** Where a request goes: the location service's one question (src/p2psip/location-service.ts). */
export interface Locator {
  resolve(request: SipRequest): Promise<ProxyTarget[] | ResolveFailure>;
}

export interface OverlayMiddlewareDeps {
  /** Handles a REGISTER (registrar + overlay publication) and answers it through `respond`. */
  registrations: Pick<Registrations, 'handle'>;
  location: Locator;
  clock: Clock;
  log: Logger;
  /**
   * How long a sequential branch (an RFC 3263 server set) waits for a first answer before moving
   * to the next address: 4*T1, as the native proxy (docs/ARCHITECTURE.md, "Other domains").
   */
  provisionalTimeoutMs?: number;
}

export interface OverlayMiddleware {
  /** For `srf.use('register', kad.register)` or `srf.register(kad.register)`. */
  readonly register: SrfMiddleware;
  /** For `srf.invite(kad.invite)`: locates the callee and proxies the INVITE with Record-Route. */
  readonly invite: SrfMiddleware;
  /**
   * For any other out-of-dialog request (`srf.message(kad.request)`, `srf.options(...)`,
   * `srf.subscribe(...)`, or `srf.use(kad.request)`): the same as invite. A REGISTER goes to the
   * registrar; an in-dialog request (To tag) is left to the next middleware.
   */
  readonly request: SrfMiddleware;
}

const DEFAULT_PROVISIONAL_TIMEOUT_MS = 2000;

export function createOverlayMiddleware(deps: OverlayMiddlewareDeps): OverlayMiddleware {
  const fail = (res: SrfResponse, status: number, reason: string, retryAfterS?: number): void =>
    res.send(status, reason, retryAfterS === undefined ? {} : { headers: { 'Retry-After': String(retryAfterS) } });

  const register: SrfMiddleware = (req, res, next) => {
    if (req.method !== 'REGISTER') return void next?.();
    const request = sipRequestOf(req);
    if (!request) return fail(res, 400, 'Bad Request');
    // The registrar answers through the transaction's respond; drachtio-srf's res is that here.
    const txn: Pick<ServerTransaction, 'source' | 'respond'> = { source: sourceOf(req), respond: (response) => sendResponse(res, response) };
    try {
      deps.registrations.handle(request, txn as ServerTransaction);
    } catch (e) {
      deps.log.error?.({ err: (e as Error).message, callId: callIdOf(request) }, 'REGISTER failed');
      fail(res, 500, 'Server Internal Error');
    }
  };

  const proxy = (req: SrfRequest, res: SrfResponse, next: SrfNext | undefined): void => {
    if (req.method === 'REGISTER') return register(req, res, next);
    // In-dialog requests of a proxied dialog stay in drachtio-server (it record-routed them);
    // one that reaches the app is the app's business, not a location question.
    if (/;\s*tag=/i.test(req.get('To') ?? '')) return void next?.();
    // A Request-URI without a user names a server, not a callee: an OPTIONS keep-alive to
    // drachtio-server itself is the app's (or drachtio's) to answer, as a node answers its own.
    const target = parseUri(req.uri);
    if (target.ok && target.value.kind === 'sip' && target.value.user === null) return void next?.();
    let request: SipRequest;
    try {
      // The location service reads only the Request-URI.
      request = createRequest({ method: req.method, uri: req.uri, from: '<sip:drachtio@invalid>', to: `<${req.uri}>` });
    } catch {
      return fail(res, 400, 'Bad Request');
    }
    deps.location.resolve(request).then(
      (answer) => {
        if (!Array.isArray(answer)) {
          deps.log.debug({ uri: req.uri, status: answer.status }, 'not located');
          return fail(res, answer.status, answer.reason, answer.retryAfterS);
        }
        if (answer.length === 0) return fail(res, 404, 'Not Found');
        const opts: SrfProxyOptions = { destination: answer.flatMap(destinationsOf), recordRoute: true };
        // Several registered phones: fork to all (RFC 3261 16.6); one server set: its addresses in turn.
        if (answer.length > 1) opts.forking = 'simultaneous';
        else if ((answer[0]?.failover?.length ?? 0) > 0) opts.provisionalTimeout = `${deps.provisionalTimeoutMs ?? DEFAULT_PROVISIONAL_TIMEOUT_MS}ms`;
        deps.log.debug({ uri: req.uri, destination: opts.destination }, 'proxying');
        return req.proxy(opts).then(
          (result) => deps.log.debug({ uri: req.uri, finalStatus: result.finalStatus }, 'proxied'),
          (e: unknown) => deps.log.warn({ uri: req.uri, err: String(e) }, 'proxy failed'),
        );
      },
      (e: unknown) => {
        deps.log.error?.({ uri: req.uri, err: (e as Error).message }, 'locating failed');
        fail(res, 500, 'Server Internal Error');
      },
    );
  };

  return { register, invite: proxy, request: proxy };
}

function callIdOf(request: SipRequest): string | undefined {
  try {
    return getCallId(request);
  } catch {
    return undefined;
  }
}
