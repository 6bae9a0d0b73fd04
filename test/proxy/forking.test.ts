import { describe, expect, it } from 'vitest';
import { getTopVia, viaBranch, type SipRequest } from '../../src/sip/message/index.js';
import { answer, C, FakeResolver, flush, setupProxy, T1, target, UAC, uacRequest, UAS1, UAS2 } from './helpers.js';

const branchOf = (m: SipRequest) => viaBranch(getTopVia(m));

async function forked(opts: Parameters<typeof setupProxy>[0] = {}) {
  const p = setupProxy({ resolver: new FakeResolver([target(UAS1), target(UAS2)]), ...opts });
  p.deliver(uacRequest('INVITE'), UAC);
  await flush();
  const inv1 = p.sentTo(UAS1, 'INVITE')[0]!;
  const inv2 = p.sentTo(UAS2, 'INVITE')[0]!;
  expect(inv1).toBeDefined();
  expect(inv2).toBeDefined();
  return { ...p, inv1, inv2 };
}

const finalsUp = (p: { responsesTo: (e: typeof UAC) => { status: number }[] }) => p.responsesTo(UAC).filter((r) => r.status >= 200).map((r) => r.status);

describe('StatefulProxy: parallel forking and response selection (16.6, 16.7)', () => {
  it('forks to both targets at once; the first 200 wins and the other branch is CANCELled', async () => {
    const p = await forked();
    expect(branchOf(p.inv1)).not.toBe(branchOf(p.inv2));
    p.deliver(answer(p.inv1, 180, { toTag: 'one' }), UAS1);
    p.deliver(answer(p.inv2, 180, { toTag: 'two' }), UAS2);
    expect(p.responsesTo(UAC).map((r) => r.status)).toEqual([180, 180]);
    p.deliver(answer(p.inv1, 200, { toTag: 'one' }), UAS1);
    expect(finalsUp(p)).toEqual([200]);
    const [cancel] = p.sentTo(UAS2, 'CANCEL');
    expect(cancel).toBeDefined();
    expect(branchOf(cancel!)).toBe(branchOf(p.inv2));
    expect(p.sentTo(UAS1, 'CANCEL')).toHaveLength(0);
    // UAS2 answers the CANCEL and its INVITE: the 487 is ACKed by the layer, not forwarded.
    p.deliver(answer(cancel!, 200, { toTag: 'two' }), UAS2);
    p.deliver(answer(p.inv2, 487, { toTag: 'two' }), UAS2);
    expect(finalsUp(p)).toEqual([200]);
    const [ack] = p.sentTo(UAS2, 'ACK');
    expect(branchOf(ack!)).toBe(branchOf(p.inv2));
    expect(p.proxy.stats.contexts).toBe(0);
  });

  it('a branch without a provisional yet is CANCELled only once it sends one (9.1)', async () => {
    const p = await forked();
    p.deliver(answer(p.inv1, 200, { toTag: 'one' }), UAS1);
    expect(p.sentTo(UAS2, 'CANCEL')).toHaveLength(0);
    p.deliver(answer(p.inv2, 100), UAS2);
    expect(p.sentTo(UAS2, 'CANCEL')).toHaveLength(1);
  });

  it('a 200 from a second fork is forwarded too (16.7 step 5), and a 2xx retransmission as a stray', async () => {
    const p = await forked();
    p.deliver(answer(p.inv1, 180, { toTag: 'one' }), UAS1);
    p.deliver(answer(p.inv2, 180, { toTag: 'two' }), UAS2);
    p.deliver(answer(p.inv1, 200, { toTag: 'one' }), UAS1);
    p.deliver(answer(p.inv2, 200, { toTag: 'two' }), UAS2); // crossed our CANCEL
    p.deliver(answer(p.inv1, 200, { toTag: 'one' }), UAS1); // retransmission: no client transaction any more
    const oks = p.responsesTo(UAC, 200);
    expect(oks.map((r) => r.headers.get('to'))).toEqual([
      '<sip:bob@example.com>;tag=one',
      '<sip:bob@example.com>;tag=two',
      '<sip:bob@example.com>;tag=one',
    ]);
    for (const r of oks) expect(r.headers.getAll('via')).toHaveLength(1);
  });

  it('all branches fail: 486 beats 404', async () => {
    const p = await forked();
    p.deliver(answer(p.inv2, 404), UAS2);
    expect(finalsUp(p)).toEqual([]);
    p.deliver(answer(p.inv1, 486), UAS1);
    expect(finalsUp(p)).toEqual([486]);
    expect(p.proxy.stats.contexts).toBe(0);
  });

  it('a 6xx is held, CANCELs the other branches and wins', async () => {
    const p = await forked();
    p.deliver(answer(p.inv1, 180), UAS1);
    p.deliver(answer(p.inv2, 603, { toTag: 'two' }), UAS2);
    expect(finalsUp(p)).toEqual([]);
    expect(p.sentTo(UAS1, 'CANCEL')).toHaveLength(1);
    p.deliver(answer(p.inv1, 487), UAS1);
    expect(finalsUp(p)).toEqual([603]);
  });

  it('503 is never forwarded: it becomes 500', async () => {
    const p = await forked();
    p.deliver(answer(p.inv1, 503, { headers: [['Retry-After', '30']] }), UAS1);
    p.deliver(answer(p.inv2, 503), UAS2);
    expect(finalsUp(p)).toEqual([500]);
  });

  it('401 and 407 challenges are aggregated into one response (16.7 step 7)', async () => {
    const p = await forked();
    p.deliver(answer(p.inv1, 401, { headers: [['WWW-Authenticate', 'Digest realm="one", nonce="n1"']] }), UAS1);
    p.deliver(answer(p.inv2, 407, { headers: [['Proxy-Authenticate', 'Digest realm="two", nonce="n2"']] }), UAS2);
    const [r] = p.responsesTo(UAC).filter((x) => x.status >= 200);
    expect(r!.status).toBe(407);
    expect(r!.headers.getAll('proxy-authenticate')).toEqual(['Digest realm="two", nonce="n2"']);
    expect(r!.headers.getAll('www-authenticate')).toEqual(['Digest realm="one", nonce="n1"']);
  });

  it('Timer C (the layer\'s): the branch is CANCELled, its 487 ACKed, and 408 goes upstream', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('INVITE'), UAC);
    await flush();
    const inv = p.sentTo(UAS1, 'INVITE')[0]!;
    p.deliver(answer(inv, 180), UAS1);
    p.clock.advance(C - 1);
    expect(p.sentTo(UAS1, 'CANCEL')).toHaveLength(0);
    p.clock.advance(1);
    const [cancel] = p.sentTo(UAS1, 'CANCEL');
    expect(branchOf(cancel!)).toBe(branchOf(inv));
    p.deliver(answer(cancel!, 200), UAS1);
    p.deliver(answer(inv, 487), UAS1);
    expect(p.sentTo(UAS1, 'ACK')).toHaveLength(1);
    expect(finalsUp(p)).toEqual([408]);
    expect(p.proxy.stats.contexts).toBe(0);
  });

  it('Timer C (the proxy\'s own, restarted by provisionals); no 487 within 64*T1 of the CANCEL: 408 anyway', async () => {
    const p = setupProxy({ timers: { C: 10_000 } });
    p.deliver(uacRequest('INVITE'), UAC);
    await flush();
    const inv = p.sentTo(UAS1, 'INVITE')[0]!;
    p.deliver(answer(inv, 180), UAS1);
    p.clock.advance(9_000);
    p.deliver(answer(inv, 183), UAS1);
    p.clock.advance(9_000);
    expect(p.sentTo(UAS1, 'CANCEL')).toHaveLength(0);
    p.clock.advance(1_000);
    expect(p.sentTo(UAS1, 'CANCEL')).toHaveLength(1);
    p.clock.advance(64 * T1);
    expect(finalsUp(p)).toEqual([408]);
    expect(p.proxy.stats.contexts).toBe(0);
  });
});
