/**
 * sips: means TLS on every hop (RFC 3261 section 26.2.2, RFC 5630 section 3.1.1): a proxy may
 * neither take such a request from a hop without TLS nor send it on over one. What the proxy
 * answers instead:
 * - a sips: Request-URI that came over UDP or TCP: 416 Unsupported URI Scheme (RFC 3261 8.2.2.1
 *   and 21.4.14: the scheme cannot be served as received; the UA may retry over TLS);
 * - a sips: request whose every next hop is UDP or TCP: 480 Temporarily Unavailable (the callee
 *   exists but cannot be reached securely now; RFC 5630 section 3.1.3 forbids downgrading the
 *   hop to sip:).
 * Both with a Warning (399) saying why, for the operator reading a trace.
 */
import { firstRoute } from './route.js';
import type { SipRequest, Uri } from '../sip/message/index.js';

export function isSipsUri(uri: Uri): boolean {
  return uri.kind === 'sip' && uri.scheme.toLowerCase() === 'sips';
}

/** The request must travel over TLS: its Request-URI is sips:, or the Route it follows next is (16.6 step 4). */
export function needsTls(req: SipRequest): boolean {
  if (isSipsUri(req.uri)) return true;
  const top = firstRoute(req);
  return top !== undefined && isSipsUri(top.uri);
}

export const SIPS_OVER_PLAIN_HOP = 'sips: needs TLS on every hop (RFC 5630); this request came over a hop without TLS';
export const SIPS_NO_TLS_HOP = 'sips: needs TLS on every hop (RFC 5630); no next hop can be reached over TLS';
