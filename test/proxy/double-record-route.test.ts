/**
 * RFC 5658 double Record-Route: a proxy reached at one address by the previous hop and at another
 * by the next hop (kadsip behind NAT: its private address for phones behind the same NAT, its
 * reflexive address for the overlay) record-routes both, and pops both on the way back.
 */
import { describe, expect, it } from 'vitest';
import { getRoutes, serializeUri, type SipRequest } from '../../src/sip/message/index.js';
import type { Endpoint } from '../../src/sip/transport/index.js';
import type { AddressFacing } from '../../src/proxy/index.js';
import { answer, FakeResolver, flush, RR, setupProxy, target, UAC, uacRequest, UAS1 } from './helpers.js';

/** The proxy's private address (FakeTransport.local) and the reflexive one the public side knows. */
const PRIVATE = { host: '10.0.0.1', port: 5060 };
const PUBLIC = { host: '198.51.100.1', port: 40000 };
const PRIVATE_RR = RR; // <sip:10.0.0.1:5060;lr>
const PUBLIC_RR = '<sip:198.51.100.1:40000;lr>';
/** A phone on the public side. */
const FAR: Endpoint = { protocol: 'udp', host: '203.0.113.7', port: 5060 };
/** A proxy beyond us on the public side. */
const NEXT: Endpoint = { protocol: 'udp', host: '203.0.113.9', port: 5060 };

const facing: AddressFacing = (remote) => (remote.host.startsWith('10.') ? PRIVATE : PUBLIC);

function natedProxy(to: Endpoint) {
  return setupProxy({
    self: [
      { ...PUBLIC, protocol: 'udp' },
      { ...PRIVATE, protocol: 'udp' },
    ],
    addressFacing: facing,
    resolver: new FakeResolver([target(to, 'carol')]),
  });
}

/** A request from FAR: its own Via (responses go back to it by received/rport anyway). */
function farRequest(method: string, o: Parameters<typeof uacRequest>[1] = {}): SipRequest {
  const r = uacRequest(method, o);
  r.headers.set('Via', `SIP/2.0/UDP 203.0.113.7:5060;branch=z9hG4bKfar${method}${o.cseq ?? 1};rport`);
  r.headers.set('Contact', '<sip:alice@203.0.113.7:5060>');
  return r;
}

function routeUris(m: SipRequest): string[] {
  return getRoutes(m).map((r) => serializeUri(r.uri));
}

function values(lines: readonly string[]): string[] {
  return lines.flatMap((l) => l.split(/,\s*/));
}

describe('StatefulProxy: RFC 5658 double Record-Route', () => {
  it('private caller to the public side: the address facing the callee on top, the one facing the caller below', async () => {
    const p = natedProxy(FAR);
    p.deliver(uacRequest('INVITE'), UAC);
    await flush();
    const inv = p.sentTo(FAR, 'INVITE')[0]!;
    expect(values(inv.headers.getAll('record-route'))).toEqual([PUBLIC_RR, PRIVATE_RR]);
    const ok = answer(inv, 200, { toTag: 'c' });
    ok.headers.set('Contact', '<sip:carol@203.0.113.7:5060>');
    p.deliver(ok, FAR);
    const up = p.responsesTo(UAC, 200)[0]!;
    const rr = values(up.headers.getAll('record-route'));
    expect(rr).toEqual([PUBLIC_RR, PRIVATE_RR]);
    // 12.1.2: the caller's route set is the list reversed: it starts with the address it reaches.
    expect([...rr].reverse()[0]).toBe(PRIVATE_RR);
    // 12.1.1: the callee's is the list in order: it starts with the reflexive address.
    expect(rr[0]).toBe(PUBLIC_RR);
  });

  it('private caller: ACK and BYE along the caller route set pop both our values and reach the callee; BYE 200 comes back', async () => {
    const p = natedProxy(FAR);
    const route: [string, string] = ['Route', `${PRIVATE_RR}, ${PUBLIC_RR}`];
    p.deliver(uacRequest('ACK', { uri: 'sip:carol@203.0.113.7:5060', toTag: 'c', headers: [route] }), UAC);
    p.deliver(uacRequest('BYE', { uri: 'sip:carol@203.0.113.7:5060', toTag: 'c', cseq: 2, headers: [route] }), UAC);
    await flush();
    expect(p.sentTo(FAR).map((m) => m.method)).toEqual(['ACK', 'BYE']);
    for (const m of p.sentTo(FAR)) expect(m.headers.has('route')).toBe(false);
    const bye = p.sentTo(FAR, 'BYE')[0]!;
    p.deliver(answer(bye, 200, { toTag: 'c' }), FAR);
    expect(p.responsesTo(UAC, 200).map((r) => r.headers.get('cseq'))).toEqual(['2 BYE']);
  });

  it('private caller: the callee BYE along its route set (reflexive first) pops both and reaches the caller Contact', async () => {
    const p = natedProxy(FAR);
    const bye = farRequest('BYE', { uri: 'sip:alice@10.0.0.2:5070', toTag: 'alice1', cseq: 7, headers: [['Route', `${PUBLIC_RR}, ${PRIVATE_RR}`]] });
    p.deliver(bye, FAR);
    await flush();
    const fwd = p.sentTo(UAC, 'BYE')[0]!;
    expect(fwd).toBeDefined();
    expect(serializeUri(fwd.uri)).toBe('sip:alice@10.0.0.2:5070');
    expect(fwd.headers.has('route')).toBe(false);
    p.deliver(answer(fwd, 200, { toTag: 'alice1' }), UAC);
    expect(p.responsesTo(FAR, 200)).toHaveLength(1);
  });

  it('both values popped, then loose routing on to the next proxy in the route set', async () => {
    const p = natedProxy(FAR);
    p.deliver(uacRequest('INFO', { uri: 'sip:carol@203.0.113.7:5060', toTag: 'c', headers: [['Route', `${PRIVATE_RR}, ${PUBLIC_RR}, <sip:203.0.113.9:5060;lr>`]] }), UAC);
    await flush();
    const info = p.sentTo(NEXT, 'INFO')[0]!;
    expect(info).toBeDefined();
    expect(routeUris(info)).toEqual(['sip:203.0.113.9:5060;lr']);
    expect(serializeUri(info.uri)).toBe('sip:carol@203.0.113.7:5060');
  });

  it('public caller to the private phone: the private address on top, the reflexive one below; both directions route back', async () => {
    const p = natedProxy(UAS1); // UAS1 is 10.0.0.3: behind the same NAT
    p.deliver(farRequest('INVITE'), FAR);
    await flush();
    const inv = p.sentTo(UAS1, 'INVITE')[0]!;
    expect(values(inv.headers.getAll('record-route'))).toEqual([PRIVATE_RR, PUBLIC_RR]);
    // The public caller's ACK (route set reversed: reflexive first) reaches the phone.
    p.deliver(farRequest('ACK', { uri: 'sip:carol@10.0.0.3:5080', toTag: 'p', headers: [['Route', `${PUBLIC_RR}, ${PRIVATE_RR}`]] }), FAR);
    // The phone's BYE (route set in order: private first) reaches the public caller.
    const bye = uacRequest('BYE', { uri: 'sip:alice@203.0.113.7:5060', toTag: 'alice1', cseq: 3, headers: [['Route', `${PRIVATE_RR}, ${PUBLIC_RR}`]] });
    p.deliver(bye, UAS1);
    await flush();
    const ack = p.sentTo(UAS1, 'ACK')[0]!;
    expect(ack.headers.has('route')).toBe(false);
    const fwd = p.sentTo(FAR, 'BYE')[0]!;
    expect(fwd.headers.has('route')).toBe(false);
  });

  it('one Record-Route value when both hops reach us at the same address', async () => {
    const p = natedProxy(UAS1);
    p.deliver(uacRequest('INVITE'), UAC); // private to private
    await flush();
    expect(p.sentTo(UAS1, 'INVITE')[0]!.headers.getAll('record-route')).toEqual([PRIVATE_RR]);
    const q = natedProxy(FAR);
    q.deliver(farRequest('INVITE'), FAR); // public to public
    await flush();
    expect(q.sentTo(FAR, 'INVITE')[0]!.headers.getAll('record-route')).toEqual([PUBLIC_RR]);
  });

  it('one Record-Route value for a proxy with one address (no addressFacing)', async () => {
    const p = setupProxy({ resolver: new FakeResolver([target(FAR, 'carol')]) });
    p.deliver(uacRequest('INVITE'), UAC);
    await flush();
    expect(p.sentTo(FAR, 'INVITE')[0]!.headers.getAll('record-route')).toEqual([RR]);
  });

  it('no Record-Route at all with recordRoute off, whatever the addresses', async () => {
    const p = setupProxy({ recordRoute: false, addressFacing: facing, resolver: new FakeResolver([target(FAR, 'carol')]) });
    p.deliver(uacRequest('INVITE'), UAC);
    await flush();
    expect(p.sentTo(FAR, 'INVITE')[0]!.headers.has('record-route')).toBe(false);
  });
});
