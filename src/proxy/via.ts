/**
 * Via handling for responses a proxy forwards: removing its own topmost Via (16.7 step 3) and
 * finding where the next Via says the response goes (18.2.2 with RFC 3581 rport), for responses
 * forwarded outside a server transaction (16.7 step 5 2xx after the transaction ended, 16.11).
 */
import { editTopVia, hostForSocket, viaReceived, viaRport, type SipResponse, type Via } from '../sip/message/index.js';
import type { Endpoint } from '../sip/transport/index.js';

/**
 * A copy of `response` without its topmost Via value (only that value: a Via line holding several
 * comma-separated values keeps the others). Undefined when there is no readable Via.
 */
export function stripTopVia(response: SipResponse): { response: SipResponse; removed: Via } | undefined {
  const edited = editTopVia(response.headers, () => null);
  return edited === undefined ? undefined : { response: { ...response, headers: edited.headers }, removed: edited.top };
}

/**
 * Where a response goes according to a Via value (RFC 3261 18.2.2, RFC 3581 section 4): the received
 * address if present, else the sent-by host; the rport if it has a value, else the sent-by port
 * (default 5060, 5061 for TLS). Transports other than UDP, TCP and TLS are not ours to use: undefined.
 */
export function viaDestination(via: Via): Endpoint | undefined {
  const t = via.transport.toLowerCase();
  if (t !== 'udp' && t !== 'tcp' && t !== 'tls') return undefined;
  const host = viaReceived(via) ?? hostForSocket(via.host);
  const rport = viaRport(via);
  const port = typeof rport === 'number' ? rport : (via.port ?? (t === 'tls' ? 5061 : 5060));
  return { protocol: t, host: hostForSocket(host), port };
}
