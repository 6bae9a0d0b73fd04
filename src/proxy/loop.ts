/**
 * Loop detection (RFC 3261 16.3 step 4) by the branch-parameter calculation of 16.6 step 8.
 *
 * Our transaction layer draws its branches at random, so the hash cannot live in the branch itself:
 * for every branch we start we remember the hash of the request as we received it. When a request
 * arrives carrying a Via with our sent-by, its branch is looked up; we compute the same hash over
 * the arriving request, taking as "topmost Via" the one right below ours (the top Via of the request
 * when we received it then). Equal hashes: the request is back unchanged, a loop (482). Different
 * (another Request-URI, typically): a legitimate spiral, forwarded again. A branch we no longer know
 * (its response context is over) cannot be the one looping now; Max-Forwards (16.3 step 3) remains the
 * backstop for anything this misses, e.g. a looping element that rewrites the Request-URI each time.
 */
import { createHash } from 'node:crypto';
import { getCSeq, getCallId, getFrom, getTo, getVias, serializeUri, serializeVia, tagOf, type SipRequest, type Via } from '../sip/message/index.js';

/**
 * 16.6 step 8: To tag, From tag, Call-ID, Request-URI as received, topmost Via, CSeq number,
 * Proxy-Require and Proxy-Authorization. `topVia` is passed in (see above). Throws on a request
 * missing a mandatory header; the caller has a parsed request.
 */
export function loopHash(req: SipRequest, topVia: Via | undefined): string {
  const parts = [
    tagOf(getTo(req)) ?? '',
    tagOf(getFrom(req)) ?? '',
    getCallId(req),
    serializeUri(req.uri),
    topVia === undefined ? '' : serializeVia(topVia),
    String(getCSeq(req).seq),
    req.headers.getAll('proxy-require').join(','),
    req.headers.getAll('proxy-authorization').join(','),
  ];
  return createHash('sha256').update(parts.join('\n')).digest('base64url').slice(0, 22);
}

/** The hash of a request as received now: its own top Via. */
export function receivedLoopHash(req: SipRequest): string {
  return loopHash(req, getVias(req)[0]);
}

/**
 * True when `req` carries a Via of ours whose branch we started for a request with the same hash.
 * `isSelf` recognises our sent-by; `hashOfBranch` gives the hash remembered for a live branch.
 */
export function isLoop(req: SipRequest, isSelf: (v: Via) => boolean, hashOfBranch: (branch: string) => string | undefined): boolean {
  const vias = getVias(req);
  for (let i = 0; i < vias.length; i++) {
    const v = vias[i];
    if (v === undefined || !isSelf(v)) continue;
    const branch = v.params.find((p) => p.name.toLowerCase() === 'branch')?.value;
    if (typeof branch !== 'string') continue;
    const remembered = hashOfBranch(branch);
    if (remembered !== undefined && remembered === loopHash(req, vias[i + 1])) return true;
  }
  return false;
}
