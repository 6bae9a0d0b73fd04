/**
 * Building the request of one branch (RFC 3261 16.6 steps 1-7) from the request as preprocessed
 * by 16.4. Step 8 (our Via) is the transaction layer's, step 9 (Content-Length) the serialiser's,
 * step 10 (sending) and 11 (Timer C) the response context's.
 */
import { parseMaxForwards, type SipRequest, type Uri } from '../sip/message/index.js';
import { copyRequest, postprocessRoutes } from './route.js';

/** Methods a Record-Route is pointless or wrong in: REGISTER (RFC 3327 Path is its analogue), ACK, CANCEL. */
const NO_RECORD_ROUTE: ReadonlySet<string> = new Set(['REGISTER', 'ACK', 'CANCEL']);

export interface BranchRequest {
  readonly request: SipRequest;
  /** The URI the next hop comes from (first Route value, or a strict router's); undefined: use the target's destination. */
  readonly hop: Uri | undefined;
}

/** 16.6 step 3: decrement Max-Forwards, or add it (70) when absent. */
export function decrementMaxForwards(req: SipRequest): void {
  const mf = req.headers.get('max-forwards');
  const n = mf === undefined ? undefined : parseMaxForwards(mf);
  req.headers.set('Max-Forwards', n !== undefined && n.ok ? String(Math.max(0, n.value - 1)) : '70');
}

/**
 * 16.6 step 1 copy, step 2 Request-URI, step 3 Max-Forwards, step 5 (no extra headers), step 6
 * strict-router postprocessing. Step 4 (addRecordRoute) waits for the next hop: which of our
 * addresses we record-route depends on it (RFC 5658); step 6 touches only Route and Request-URI.
 */
export function buildBranchRequest(pre: SipRequest, target: Uri): BranchRequest {
  const copy = copyRequest(pre, target);
  decrementMaxForwards(copy);
  const hop = postprocessRoutes(copy);
  return { request: copy, hop };
}

/** 16.6 step 4: our Record-Route values (top first) above those already there, unless the method takes none. */
export function addRecordRoute(req: SipRequest, values: readonly string[]): void {
  if (NO_RECORD_ROUTE.has(req.method)) return;
  for (let i = values.length - 1; i >= 0; i--) req.headers.insertAbove('Record-Route', values[i] as string);
}
