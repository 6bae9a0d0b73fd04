/**
 * Choosing the one final response a response context sends upstream once every branch is done
 * (RFC 3261 16.7 step 6) and dressing it (16.7 step 7):
 *   - a 6xx wins over everything (16.7 step 6, and 16.7 step 5 keeps it from going out early);
 *   - otherwise the lowest class; within 4xx the responses that let the UAC resubmit come first
 *     (401/407, 415, 420, 484, as 16.7 step 6 suggests), then the specific answers (486, 403, 487,
 *     ...), then the generic ones: 480, 404 and last 408 (which we generate for branches that timed
 *     out, 16.8). So a 486 from one fork beats a 404 from another. Ties: the first received;
 *   - a 401/407 gets every WWW-Authenticate and Proxy-Authenticate of every other 401/407 of the
 *     context (16.7 step 7); a 407 is preferred to a 401 as the carrier;
 *   - a 503 is never forwarded as such: it would say this proxy cannot serve anything; it becomes a
 *     500 (16.7 step 6).
 */
import type { SipResponse } from '../sip/message/index.js';

const FOURXX_RANK: ReadonlyMap<number, number> = new Map([
  [407, 0],
  [401, 0],
  [415, 1],
  [420, 2],
  [484, 3],
  [480, 5],
  [404, 6],
  [408, 7],
]);

function rank(status: number): number {
  if (status >= 600) return 0;
  const klass = Math.floor(status / 100);
  let within = 4;
  if (klass === 4) within = FOURXX_RANK.get(status) ?? 4;
  else if (status === 503) within = 5;
  return klass * 10 + within;
}

/** The response to send upstream among the finals (3xx-6xx) of a context, in arrival order; undefined for none. */
export function selectBest(finals: readonly SipResponse[]): SipResponse | undefined {
  let best: SipResponse | undefined;
  for (const r of finals) if (best === undefined || rank(r.status) < rank(best.status)) best = r;
  if (best === undefined) return undefined;
  if (best.status === 401 || best.status === 407) return aggregateChallenges(finals);
  if (best.status === 503) return { ...best, status: 500, reason: 'Server Internal Error', headers: best.headers.clone() };
  return best;
}

const CHALLENGES = ['www-authenticate', 'proxy-authenticate'] as const;

/** 16.7 step 7: one 401/407 carrying the challenges of all of them, values unmodified. */
function aggregateChallenges(finals: readonly SipResponse[]): SipResponse {
  const challenges = finals.filter((r) => r.status === 401 || r.status === 407);
  const carrier = challenges.find((r) => r.status === 407) ?? (challenges[0] as SipResponse);
  const headers = carrier.headers.clone();
  for (const other of challenges) {
    if (other === carrier) continue;
    for (const f of other.headers) if ((CHALLENGES as readonly string[]).includes(f.key)) headers.append(f.name, f.value);
  }
  return { ...carrier, headers };
}
