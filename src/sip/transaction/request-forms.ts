/**
 * Requests the transaction layer builds itself: the ACK for a non-2xx final
 * response (17.1.1.3) and a CANCEL (9.1). Both copy the INVITE's top Via
 * only, so they carry its branch, and its Request-URI, Call-ID, From, CSeq
 * number and Route set.
 */
import { SipHeaders, getCSeq, type SipRequest, type SipResponse } from '../message/index.js';

function derived(invite: SipRequest, method: 'ACK' | 'CANCEL', to: string | undefined): SipRequest {
  const h = new SipHeaders();
  const via = invite.headers.get('via');
  // Our Via is always a line of its own (the layer prepends it), so the first line is the top Via alone.
  if (via !== undefined) h.append('Via', via);
  h.append('Max-Forwards', '70');
  for (const r of invite.headers.getAll('route')) h.append('Route', r);
  const from = invite.headers.get('from');
  if (from !== undefined) h.append('From', from);
  if (to !== undefined) h.append('To', to);
  const callId = invite.headers.get('call-id');
  if (callId !== undefined) h.append('Call-ID', callId);
  h.append('CSeq', `${getCSeq(invite).seq} ${method}`);
  return { kind: 'request', method, uri: invite.uri, uriRaw: invite.uriRaw, version: 'SIP/2.0', headers: h, body: Buffer.alloc(0) };
}

/** 17.1.1.3: To comes from the response (it carries the UAS's tag). */
export function ackForFailure(invite: SipRequest, response: SipResponse): SipRequest {
  return derived(invite, 'ACK', response.headers.get('to') ?? invite.headers.get('to'));
}

/** 9.1: To as in the request being cancelled. */
export function cancelFor(request: SipRequest): SipRequest {
  return derived(request, 'CANCEL', request.headers.get('to'));
}
