/** Generators for whole SIP messages built from the header generators. */
import fc from 'fast-check';
import {
  SipHeaders,
  headerKey,
  serializeCSeq,
  serializeNameAddr,
  serializeUri,
  serializeVia,
  type SipRequest,
  type SipResponse,
} from '../../../src/sip/message/index.js';
import * as arb from './arbitraries.js';

const SPECIAL = new Set(['via', 'to', 'from', 'call-id', 'cseq', 'max-forwards', 'contact', 'route', 'record-route', 'content-length']);
const extensionHeader = fc
  .tuple(arb.token, arb.extensionValue)
  .filter(([n]) => !SPECIAL.has(headerKey(n)))
  .map(([name, value]) => ({ name, value }));

const commonHeaders = fc.record({
  vias: fc.array(arb.via, { minLength: 1, maxLength: 3 }),
  from: arb.nameAddr,
  to: arb.nameAddr,
  callId: arb.callId,
  seq: fc.integer({ min: 0, max: 4294967295 }),
  maxForwards: fc.option(fc.integer({ min: 0, max: 255 }), { nil: null }),
  contacts: fc.array(arb.nameAddr, { maxLength: 3 }),
  routes: fc.array(arb.nameAddr, { maxLength: 2 }),
  extra: fc.array(extensionHeader, { maxLength: 4 }),
  body: fc.uint8Array({ maxLength: 300 }).map((a) => Buffer.from(a)),
});

type Common = typeof commonHeaders extends fc.Arbitrary<infer T> ? T : never;

function buildHeaders(c: Common, method: string): SipHeaders {
  const h = new SipHeaders();
  for (const v of c.vias) h.append('Via', serializeVia(v));
  h.append('From', serializeNameAddr(c.from));
  h.append('To', serializeNameAddr(c.to));
  h.append('Call-ID', c.callId);
  h.append('CSeq', serializeCSeq({ seq: c.seq, method }));
  if (c.maxForwards !== null) h.append('Max-Forwards', String(c.maxForwards));
  if (c.contacts.length > 0) h.append('Contact', c.contacts.map(serializeNameAddr).join(', '));
  for (const r of c.routes) h.append('Route', serializeNameAddr(r));
  for (const x of c.extra) h.append(x.name, x.value);
  return h;
}

export const requestArb: fc.Arbitrary<SipRequest> = fc
  .record({ method: arb.method, uri: fc.oneof(arb.sipUri.map((u) => ({ ...u, headers: [] })), arb.absoluteUri), c: commonHeaders })
  .map(({ method, uri, c }) => ({
    kind: 'request' as const,
    method,
    uri,
    uriRaw: serializeUri(uri),
    version: 'SIP/2.0' as const,
    headers: buildHeaders(c, method),
    body: c.body,
  }));

export const responseArb: fc.Arbitrary<SipResponse> = fc
  .record({
    status: fc.integer({ min: 100, max: 699 }),
    reason: arb.extensionValue,
    method: arb.method,
    c: commonHeaders,
  })
  .map(({ status, reason, method, c }) => ({
    kind: 'response' as const,
    status,
    reason,
    version: 'SIP/2.0' as const,
    headers: buildHeaders(c, method),
    body: c.body,
  }));

