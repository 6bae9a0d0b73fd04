/**
 * The methods beyond INVITE and BYE that sip-scenarios/ runs end to end (PRACK, UPDATE, SUBSCRIBE,
 * NOTIFY), at the proxy core: what a forked SUBSCRIBE and a reliable provisional need of it.
 */
import { describe, expect, it } from 'vitest';
import { createRequest, type SipRequest } from '../../src/sip/message/index.js';
import { answer, FakeResolver, flush, RR, setupProxy, target, UAC, uacRequest, UAS1, UAS2 } from './helpers.js';

/** A request the callee's phone at `from` sends back in the dialog, through the proxy (Route: us). */
function fromCallee(method: string, from: typeof UAS1, toTag: string, cseq: number, headers: Array<[string, string]> = []): SipRequest {
  const r = createRequest({
    method,
    uri: 'sip:alice@10.0.0.2:5070',
    from: `<sip:bob@example.com>;tag=${toTag}`,
    to: '<sip:alice@example.com>;tag=alice1',
    callId: 'call-proxy-1',
    cseq,
    headers: [['Route', RR], ['Contact', `<sip:bob@${from.host}:${from.port}>`], ...headers],
  });
  r.headers.prepend('Via', `SIP/2.0/UDP ${from.host}:${from.port};branch=z9hG4bK${method}${toTag}${cseq}`);
  return r;
}

describe('StatefulProxy: SUBSCRIBE/NOTIFY and 100rel', () => {
  it('a forked SUBSCRIBE: one 200 upstream, no CANCEL, and every fork\'s NOTIFY reaches the subscriber, also before the 200', async () => {
    const p = setupProxy({ resolver: new FakeResolver([target(UAS1), target(UAS2)]) });
    p.deliver(uacRequest('SUBSCRIBE', { headers: [['Event', 'presence'], ['Expires', '600']] }), UAC);
    await flush();
    const [sub1] = p.sentTo(UAS1, 'SUBSCRIBE');
    const [sub2] = p.sentTo(UAS2, 'SUBSCRIBE');
    expect(sub1?.headers.getAll('record-route')).toEqual([RR]);
    expect(sub2?.headers.getAll('record-route')).toEqual([RR]);
    // RFC 6665 4.1.2.4: the second fork notifies before any 200 has come back.
    p.deliver(fromCallee('NOTIFY', UAS2, 'two', 1, [['Event', 'presence'], ['Subscription-State', 'active;expires=600']]), UAS2);
    await flush();
    p.deliver(answer(sub1!, 200, { toTag: 'one' }), UAS1);
    p.deliver(answer(sub2!, 200, { toTag: 'two' }), UAS2);
    p.deliver(fromCallee('NOTIFY', UAS1, 'one', 1, [['Event', 'presence'], ['Subscription-State', 'active;expires=600']]), UAS1);
    await flush();
    // A non-INVITE has one final response: the first 200; the other is absorbed, and nothing is cancelled.
    expect(p.responsesTo(UAC, 200).map((r) => r.headers.get('to'))).toEqual(['<sip:bob@example.com>;tag=one']);
    expect([...p.sentTo(UAS1, 'CANCEL'), ...p.sentTo(UAS2, 'CANCEL')]).toHaveLength(0);
    const notifies = p.sentTo(UAC, 'NOTIFY');
    expect(notifies.map((n) => n.headers.get('from'))).toEqual(['<sip:bob@example.com>;tag=two', '<sip:bob@example.com>;tag=one']);
    for (const n of notifies) {
      expect(n.uriRaw).toBe('sip:alice@10.0.0.2:5070');
      expect(n.headers.has('route')).toBe(false);
      expect(n.headers.getAll('via')).toHaveLength(2);
    }
    // The subscriber's 200s go back to each notifier.
    for (const n of notifies) p.deliver(answer(n, 200, { toTag: 'alice1' }), UAC);
    for (const uas of [UAS1, UAS2]) expect(p.responsesTo(uas, 200).map((r) => r.headers.get('cseq'))).toEqual(['1 NOTIFY']);
  });

  it('a reliable 183 goes upstream every time the UAS retransmits it (RFC 3262 3), and the PRACK follows the route set', async () => {
    const p = setupProxy({ resolver: new FakeResolver([target(UAS1)]) });
    p.deliver(uacRequest('INVITE', { headers: [['Supported', '100rel'], ['Require', '100rel']] }), UAC);
    await flush();
    const [inv] = p.sentTo(UAS1, 'INVITE');
    expect(inv?.headers.get('require')).toBe('100rel');
    const rel = [['Require', '100rel'], ['RSeq', '1']] as Array<[string, string]>;
    p.deliver(answer(inv!, 183, { toTag: 'one', headers: rel }), UAS1);
    p.deliver(answer(inv!, 183, { toTag: 'one', headers: rel }), UAS1); // the UAS heard no PRACK yet
    const up = p.responsesTo(UAC, 183);
    expect(up).toHaveLength(2);
    for (const r of up) {
      expect(r.headers.get('rseq')).toBe('1');
      expect(r.headers.get('require')).toBe('100rel');
      expect(r.headers.getAll('record-route')).toEqual([RR]);
    }
    p.deliver(uacRequest('PRACK', { uri: 'sip:bob@10.0.0.3:5080', toTag: 'one', cseq: 2, headers: [['Route', RR], ['RAck', '1 1 INVITE']] }), UAC);
    await flush();
    const [prack] = p.sentTo(UAS1, 'PRACK');
    expect(prack?.uriRaw).toBe('sip:bob@10.0.0.3:5080');
    expect(prack?.headers.has('route')).toBe(false);
    expect(prack?.headers.get('rack')).toBe('1 1 INVITE');
    p.deliver(answer(prack!, 200, { toTag: 'one' }), UAS1);
    expect(p.responsesTo(UAC, 200).map((r) => r.headers.get('cseq'))).toEqual(['2 PRACK']);
  });
});
