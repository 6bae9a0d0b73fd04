/**
 * The target set (RFC 3261 16.5) and each target's next hop (16.6 step 7), for a request already
 * through 16.4 preprocessing:
 *   - a Route value remains: the request is only passing through us (loose routing); the
 *     Request-URI is the one target, unchanged, and the next hop is the first Route value;
 *   - the Request-URI host is an IP address that is not ours: not a domain we are responsible for,
 *     so the Request-URI is the one target (16.5), sent where it names (in-dialog requests to a
 *     Contact, mostly);
 *   - otherwise the resolver (location service, overlay, RFC 3263) gives the targets.
 * Resolver answers are checked, bounded in time, and limited to the best `maxBranches` by q.
 */
import type { Clock } from '../common/clock.js';
import { parseNameAddr, parseUri, tagOf, type SipRequest, type Uri } from '../sip/message/index.js';
import type { Endpoint, Logger } from '../sip/transport/index.js';
import { addRecordRoute, buildBranchRequest } from './forward-request.js';
import type { BranchPlan } from './context.js';
import { firstRoute, numericEndpoint } from './route.js';
import { needsTls } from './sips.js';
import type { SelfAddresses } from './self.js';
import { resolveHop } from './stateless.js';
import type { ResolveFailure, TargetResolver } from './types.js';

interface ResolvedTarget {
  readonly uri: Uri;
  /** Undefined: the next hop comes from the Route set. */
  readonly destination: Endpoint | undefined;
  readonly q: number;
  /** ProxyTarget.failover, when the resolver gave one. */
  readonly failover?: readonly Endpoint[];
}

export type { ResolvedTarget };

export interface TargetDeps {
  readonly resolver: TargetResolver;
  readonly self: SelfAddresses;
  readonly clock: Clock;
  readonly log: Logger;
  readonly resolveTimeoutMs: number;
  readonly maxBranches: number;
}

const TIMED_OUT: ResolveFailure = { status: 503, reason: 'Service Unavailable', retryAfterS: 5 };
const RESOLVER_BROKE: ResolveFailure = { status: 500, reason: 'Server Internal Error' };

/** 16.5: the targets of `pre`, or the failure to answer with. */
export async function findTargets(pre: SipRequest, deps: TargetDeps): Promise<ResolvedTarget[] | ResolveFailure> {
  if (firstRoute(pre) !== undefined) return [{ uri: pre.uri, destination: undefined, q: 1 }];
  const direct = numericEndpoint(pre.uri);
  // In a dialog the Request-URI is the remote target itself (RFC 3261 12.2.1.1): never looked up.
  const lookUp = !inDialog(pre) && deps.resolver.isResponsibleFor?.(pre.uri) === true;
  if (direct !== undefined && !deps.self.isSelfUri(pre.uri) && !lookUp) return [{ uri: pre.uri, destination: deps.resolver.flowOf?.(pre.uri) ?? direct, q: 1 }];
  const found = await resolveBounded(pre, deps);
  if (!Array.isArray(found)) return found;
  const out: ResolvedTarget[] = [];
  for (const t of found) {
    const uri = parseUri(t.uri);
    if (!uri.ok) {
      deps.log.warn({ uri: t.uri }, 'resolver gave an unparseable target URI: skipped');
      continue;
    }
    const q = typeof t.q === 'number' && Number.isFinite(t.q) ? t.q : 1;
    out.push({ uri: uri.value, destination: t.destination, q, ...(t.failover !== undefined ? { failover: t.failover } : {}) });
  }
  // A stable sort keeps the resolver's order among equal q.
  return out.sort((a, b) => b.q - a.q).slice(0, deps.maxBranches);
}

function inDialog(request: SipRequest): boolean {
  const to = parseNameAddr(request.headers.get('to') ?? '');
  return to.ok && tagOf(to.value) !== undefined;
}

function isFailure(x: unknown): x is ResolveFailure {
  if (typeof x !== 'object' || x === null) return false;
  const s = (x as { status?: unknown }).status;
  return typeof s === 'number' && Number.isInteger(s) && s >= 300 && s <= 699;
}

/** The resolver's answer, a 503 when it takes too long, a 500 when it throws or answers nonsense. */
type ResolverAnswer = Awaited<ReturnType<TargetResolver['resolve']>>;

function resolveBounded(pre: SipRequest, deps: TargetDeps): Promise<ResolverAnswer> {
  return new Promise((resolve) => {
    let settled = false;
    const finish = (v: ResolverAnswer) => {
      if (settled) return;
      settled = true;
      timer.cancel();
      resolve(v);
    };
    const timer = deps.clock.setTimer(deps.resolveTimeoutMs, () => {
      deps.log.warn({ uri: pre.uriRaw }, 'resolver timed out');
      finish(TIMED_OUT);
    });
    let p: Promise<unknown>;
    try {
      p = deps.resolver.resolve(pre);
    } catch (e) {
      p = Promise.reject(e);
    }
    p.then(
      (v) => finish(Array.isArray(v) ? (v as ResolverAnswer) : isFailure(v) ? v : RESOLVER_BROKE),
      (e: unknown) => {
        deps.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'resolver failed');
        finish(RESOLVER_BROKE);
      },
    );
  });
}

/**
 * 16.6 for every target: the branch request and its next hop. Targets whose next hop cannot be
 * found (a Route host name without resolver help, a transport we lack) are left out.
 * `recordRoute` gives our Record-Route values (top first) for a next hop; undefined: none.
 */
export async function planBranches(
  pre: SipRequest,
  targets: readonly ResolvedTarget[],
  recordRoute: ((nextHop: Endpoint) => readonly string[]) | undefined,
  deps: TargetDeps,
): Promise<BranchPlan[]> {
  const plans: BranchPlan[] = [];
  for (const t of targets) {
    const built = buildBranchRequest(pre, t.uri);
    let destination: Endpoint | undefined = t.destination;
    if (built.hop !== undefined) {
      try {
        destination = await resolveHop(built.hop, deps.resolver);
      } catch (e) {
        deps.log.warn({ err: e instanceof Error ? e.message : String(e) }, 'next-hop resolution failed');
        destination = undefined;
      }
    }
    if (destination === undefined) {
      deps.log.debug({ uri: pre.uriRaw }, 'no next hop for target: skipped');
      continue;
    }
    // sips: travels over TLS only (RFC 5630 section 3.1.1): a plain next hop is no hop for it.
    const tlsOnly = needsTls(pre) || needsTls(built.request);
    if (tlsOnly && destination.protocol !== 'tls') {
      deps.log.info({ uri: pre.uriRaw, destination }, 'sips: request not sent over a hop without TLS');
      continue;
    }
    // The other addresses of a server set (failover) are the same service: they face us the same way.
    if (recordRoute !== undefined) addRecordRoute(built.request, recordRoute(destination));
    // A Route decides the next hop itself: the resolver's other addresses are not for it.
    const failover = built.hop === undefined ? t.failover?.filter((f) => !tlsOnly || f.protocol === 'tls') : undefined;
    plans.push({ request: built.request, destination, ...(failover !== undefined ? { failover } : {}) });
  }
  return plans;
}
