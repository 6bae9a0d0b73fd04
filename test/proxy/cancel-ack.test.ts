import { describe, expect, it } from 'vitest';
import { createRequest, getTopVia, serializeUri, viaBranch, type SipRequest } from '../../src/sip/message/index.js';
import { answer, FakeResolver, flush, RR, setupProxy, target, UAC, uacRequest, UAS1, UAS2 } from './helpers.js';

/** The CANCEL a UAC sends for its INVITE (9.1): same top Via, Call-ID, From, To, CSeq number, R-URI. */
function cancelOf(invite: SipRequest): SipRequest {
  const c = createRequest({
    method: 'CANCEL',
    uri: invite.uri,
    from: invite.headers.get('from')!,
    to: invite.headers.get('to')!,
    callId: invite.headers.get('call-id')!,
    cseq: 1,
  });
  c.headers.prepend('Via', invite.headers.getAll('via')[0]!.replace(/;received=[^;]*/, '').replace(/;rport=\d+/, ';rport'));
  return c;
}

describe('StatefulProxy: CANCEL (16.10) and stateless ACK / 2xx forwarding', () => {
  it('CANCEL from upstream: 200 to the CANCEL, CANCEL downstream on every branch, the 487 forwarded', async () => {
    const p = setupProxy({ resolver: new FakeResolver([target(UAS1), target(UAS2)]) });
    const invite = uacRequest('INVITE');
    p.deliver(invite, UAC);
    await flush();
    const inv1 = p.sentTo(UAS1, 'INVITE')[0]!;
    const inv2 = p.sentTo(UAS2, 'INVITE')[0]!;
    p.deliver(answer(inv1, 180, { toTag: 'one' }), UAS1);
    p.deliver(answer(inv2, 180, { toTag: 'two' }), UAS2);
    p.deliver(cancelOf(invite), UAC);
    const cancelOk = p.responsesTo(UAC).find((r) => r.status === 200);
    expect(cancelOk?.headers.get('cseq')).toBe('1 CANCEL');
    expect(p.sentTo(UAS1, 'CANCEL')).toHaveLength(1);
    expect(p.sentTo(UAS2, 'CANCEL')).toHaveLength(1);
    p.deliver(answer(inv1, 487, { toTag: 'one' }), UAS1);
    expect(p.responsesTo(UAC, 487)).toHaveLength(0);
    p.deliver(answer(inv2, 487, { toTag: 'two' }), UAS2);
    const [r] = p.responsesTo(UAC, 487);
    expect(r).toBeDefined();
    expect(r!.headers.getAll('via')).toHaveLength(1);
    expect(r!.headers.get('cseq')).toBe('1 INVITE');
    expect(p.proxy.stats.contexts).toBe(0);
  });

  it('CANCEL while the resolver is still working: no branch is created, 487', async () => {
    let release: (v: ReturnType<typeof target>[]) => void = () => {};
    const p = setupProxy({ resolver: new FakeResolver(() => new Promise((res) => (release = res))) });
    const invite = uacRequest('INVITE');
    p.deliver(invite, UAC);
    await flush();
    p.deliver(cancelOf(invite), UAC);
    release([target(UAS1)]);
    await flush();
    expect(p.sentTo(UAS1)).toHaveLength(0);
    expect(p.responsesTo(UAC).map((r) => `${r.status} ${r.headers.get('cseq')}`)).toEqual(['200 1 CANCEL', '487 1 INVITE']);
  });

  it('a CANCEL matching no transaction gets 481', async () => {
    const p = setupProxy();
    p.deliver(cancelOf(uacRequest('INVITE')), UAC);
    await flush();
    expect(p.responsesTo(UAC).map((r) => r.status)).toEqual([481]);
    expect(p.sentTo(UAS1)).toHaveLength(0);
  });

  it('ACK for a 2xx is forwarded statelessly by Route: our Route popped, Max-Forwards decremented, our Via', async () => {
    const p = setupProxy();
    const ack = uacRequest('ACK', { uri: 'sip:bob@10.0.0.3:5080', toTag: 'uas', headers: [['Route', RR]] });
    p.deliver(ack, UAC);
    await flush();
    const [fwd] = p.sentTo(UAS1, 'ACK');
    expect(fwd).toBeDefined();
    expect(fwd!.headers.has('route')).toBe(false);
    expect(fwd!.headers.get('max-forwards')).toBe('69');
    expect(fwd!.headers.getAll('via')).toHaveLength(2);
    expect(getTopVia(fwd!).host).toBe('10.0.0.1');
    expect(fwd!.headers.has('record-route')).toBe(false);
    expect(p.proxy.stats.statelessForwarded).toBe(1);
  });

  it('ACK with a further Route goes to that hop; an ACK with Max-Forwards 0 is dropped', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('ACK', { uri: 'sip:bob@192.0.2.9', toTag: 'uas', headers: [['Route', `${RR},<sip:10.0.0.4:5090;lr>`]] }), UAC);
    p.deliver(uacRequest('ACK', { uri: 'sip:bob@10.0.0.3:5080', toTag: 'uas', maxForwards: 0 }), UAC);
    await flush();
    const [fwd] = p.sentTo(UAS2, 'ACK');
    expect(serializeUri(fwd!.uri)).toBe('sip:bob@192.0.2.9');
    expect(p.sentTo(UAS1)).toHaveLength(0);
  });

  it('ACK whose Request-URI is a name we serve is sent where the resolver says', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('ACK', { uri: 'sip:bob@example.com', toTag: 'uas' }), UAC);
    await flush();
    const [fwd] = p.sentTo(UAS1, 'ACK');
    expect(serializeUri(fwd!.uri)).toBe('sip:bob@10.0.0.3:5080');
  });

  it('full call through the proxy: INVITE/200, ACK and BYE by the recorded route', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('INVITE'), UAC);
    await flush();
    const inv = p.sentTo(UAS1, 'INVITE')[0]!;
    const ok = answer(inv, 200, { toTag: 'b' });
    ok.headers.set('Contact', '<sip:bob@10.0.0.3:5080>');
    p.deliver(ok, UAS1);
    const up = p.responsesTo(UAC, 200)[0]!;
    const route = up.headers.getAll('record-route');
    expect(route).toEqual([RR]);
    p.deliver(uacRequest('ACK', { uri: 'sip:bob@10.0.0.3:5080', toTag: 'b', headers: [['Route', route[0]!]] }), UAC);
    p.deliver(uacRequest('BYE', { uri: 'sip:bob@10.0.0.3:5080', toTag: 'b', cseq: 2, headers: [['Route', route[0]!]] }), UAC);
    await flush();
    expect(p.sentTo(UAS1).map((m) => m.method)).toEqual(['INVITE', 'ACK', 'BYE']);
    const bye = p.sentTo(UAS1, 'BYE')[0]!;
    p.deliver(answer(bye, 200, { toTag: 'b' }), UAS1);
    expect(p.responsesTo(UAC).map((r) => `${r.status} ${r.headers.get('cseq')}`)).toEqual(['200 1 INVITE', '200 2 BYE']);
    expect(viaBranch(getTopVia(p.sentTo(UAS1, 'ACK')[0]!))).toMatch(/^z9hG4bK/);
  });

  it('a stray 2xx whose top Via is not ours is dropped; a non-2xx stray too', async () => {
    const p = setupProxy();
    const fake = answer(uacRequest('INVITE'), 200);
    p.deliver(fake, UAS1);
    const notOurs = answer(uacRequest('INVITE'), 486);
    notOurs.headers.prepend('Via', 'SIP/2.0/UDP 10.0.0.1:5060;branch=z9hG4bKgone');
    p.deliver(notOurs, UAS1);
    expect(p.transport.sent).toHaveLength(0);
  });
});
