/**
 * Serial failover through the addresses of a located server set (ProxyTarget.failover, RFC 3263 4.3):
 * the next address on silence (INVITE: nothing within 4*T1), a timeout, a transport error or a
 * 503; 480 with Retry-After once every address failed; a real answer ends the search.
 */
import { describe, expect, it } from 'vitest';
import { getTopVia, viaBranch, type SipRequest } from '../../src/sip/message/index.js';
import type { Endpoint } from '../../src/sip/transport/index.js';
import { answer, FakeResolver, flush, setupProxy, T1, UAC, uacRequest, UAS1, UAS2 } from './helpers.js';

const UAS3: Endpoint = { protocol: 'udp', host: '10.0.0.5', port: 5100 };
const branchOf = (m: SipRequest) => viaBranch(getTopVia(m));

/** sip:bob@pbx.example resolved to UAS1, then UAS2 (and UAS3). */
async function serverSet(method = 'INVITE', failover: Endpoint[] = [UAS2]) {
  const p = setupProxy({ resolver: new FakeResolver([{ uri: 'sip:bob@pbx.example', destination: UAS1, failover }]) });
  p.deliver(uacRequest(method, { uri: 'sip:bob@pbx.example', branch: 'z9hG4bKfailover' }), UAC);
  await flush();
  return p;
}

const finalsUp = (p: Awaited<ReturnType<typeof serverSet>>) => p.responsesTo(UAC).filter((r) => r.status >= 200);

describe('StatefulProxy: failover through a server set (RFC 3263 4.3)', () => {
  it('INVITE: the first address silent for 4*T1, the same request goes to the second (new branch), which answers', async () => {
    const p = await serverSet();
    const [first] = p.sentTo(UAS1, 'INVITE');
    expect(first).toBeDefined();
    expect(p.sentTo(UAS2)).toHaveLength(0);
    p.clock.advance(4 * T1 - 1);
    expect(p.sentTo(UAS2)).toHaveLength(0);
    p.clock.advance(1);
    const [second] = p.sentTo(UAS2, 'INVITE');
    expect(second).toBeDefined();
    expect(second!.uriRaw).toBe('sip:bob@pbx.example');
    expect(branchOf(second!)).not.toBe(branchOf(first!));
    expect(second!.headers.getAll('record-route')).toEqual(first!.headers.getAll('record-route'));
    expect(second!.headers.get('max-forwards')).toBe('69');
    p.deliver(answer(second!, 180, { toTag: 'two' }), UAS2);
    p.deliver(answer(second!, 200, { toTag: 'two' }), UAS2);
    expect(finalsUp(p).map((r) => r.status)).toEqual([200]);
    // A late provisional from the address we left is CANCELled (its INVITE is still alive there).
    p.deliver(answer(first!, 180, { toTag: 'one' }), UAS1);
    expect(p.sentTo(UAS1, 'CANCEL')).toHaveLength(1);
  });

  it('a provisional from the first address means it is alive: no failover, whatever the wait', async () => {
    const p = await serverSet();
    const [first] = p.sentTo(UAS1, 'INVITE');
    p.deliver(answer(first!, 100), UAS1);
    p.clock.advance(20 * T1);
    expect(p.sentTo(UAS2)).toHaveLength(0);
    p.deliver(answer(first!, 486, { toTag: 'one' }), UAS1);
    expect(finalsUp(p).map((r) => r.status)).toEqual([486]);
    expect(p.sentTo(UAS2)).toHaveLength(0);
  });

  it('a 503 from the first address: the next one; its 486 goes upstream as is', async () => {
    const p = await serverSet();
    const [first] = p.sentTo(UAS1, 'INVITE');
    p.deliver(answer(first!, 503, { toTag: 'one' }), UAS1);
    const [second] = p.sentTo(UAS2, 'INVITE');
    expect(second).toBeDefined();
    expect(finalsUp(p)).toHaveLength(0);
    p.deliver(answer(second!, 486, { toTag: 'two' }), UAS2);
    expect(finalsUp(p).map((r) => r.status)).toEqual([486]);
  });

  it('every address silent: 480 with Retry-After after 4*T1 each, not before', async () => {
    const p = await serverSet('INVITE', [UAS2, UAS3]);
    p.clock.advance(12 * T1 - 1);
    expect(p.sentTo(UAS3, 'INVITE').length).toBeGreaterThan(0); // with its Timer A retransmissions
    expect(finalsUp(p)).toHaveLength(0);
    p.clock.advance(1);
    const [final] = finalsUp(p);
    expect(final?.status).toBe(480);
    expect(final?.headers.get('retry-after')).toBe('5');
    expect(p.proxy.stats.contexts).toBe(0);
  });

  it('every address unreachable (transport errors): 480 with Retry-After at once', async () => {
    const p = setupProxy({ resolver: new FakeResolver([{ uri: 'sip:bob@pbx.example', destination: UAS1, failover: [UAS2] }]) });
    p.transport.failRequestsWith = new Error('ECONNREFUSED');
    p.deliver(uacRequest('INVITE', { uri: 'sip:bob@pbx.example' }), UAC);
    await flush();
    expect(p.sentTo(UAS1, 'INVITE')).toHaveLength(1);
    expect(p.sentTo(UAS2, 'INVITE')).toHaveLength(1);
    const [final] = finalsUp(p);
    expect(final?.status).toBe(480);
    expect(final?.headers.get('retry-after')).toBe('5');
  });

  it('a server set of one address (failover: []) silent: 480 with Retry-After after 4*T1', async () => {
    const p = await serverSet('INVITE', []);
    p.clock.advance(4 * T1);
    expect(finalsUp(p).map((r) => [r.status, r.headers.get('retry-after')])).toEqual([[480, '5']]);
  });

  it('non-INVITE: no silence timer (a server need not send 100), the next address after Timer F', async () => {
    const p = await serverSet('MESSAGE');
    p.clock.advance(8 * T1);
    expect(p.sentTo(UAS2)).toHaveLength(0);
    p.clock.advance(56 * T1);
    const [second] = p.sentTo(UAS2, 'MESSAGE');
    expect(second).toBeDefined();
    p.deliver(answer(second!, 200, { toTag: 'two' }), UAS2);
    expect(finalsUp(p).map((r) => r.status)).toEqual([200]);
  });

  it('CANCEL from upstream while the first address is silent: no further address is tried, 487', async () => {
    const p = await serverSet();
    expect(p.sentTo(UAS1, 'INVITE')).toHaveLength(1);
    p.deliver(uacRequest('CANCEL', { uri: 'sip:bob@pbx.example', branch: 'z9hG4bKfailover' }), UAC);
    expect(p.responsesTo(UAC, 200)).toHaveLength(1);
    p.clock.advance(4 * T1);
    expect(p.sentTo(UAS2)).toHaveLength(0);
    expect(finalsUp(p).map((r) => r.status)).toContain(487);
  });
});
