import { describe, expect, it } from 'vitest';
import { getRoutes, getTopVia, serializeUri, viaBranch } from '../../src/sip/message/index.js';
import { answer, FakeResolver, flush, RR, setupProxy, target, UAC, uacRequest, UAS1, vias } from './helpers.js';

describe('StatefulProxy: forwarding a request (16.3-16.7)', () => {
  it('INVITE → 180 → 200: Via stripped, Record-Route added, Max-Forwards decremented', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('INVITE'), UAC);
    await flush();
    expect(p.resolver.calls).toHaveLength(1);
    const [inv] = p.sentTo(UAS1, 'INVITE');
    expect(inv).toBeDefined();
    expect(serializeUri(inv!.uri)).toBe('sip:bob@10.0.0.3:5080');
    expect(inv!.headers.get('max-forwards')).toBe('69');
    expect(inv!.headers.getAll('record-route')).toEqual([RR]);
    // Our Via and the UAC's stay one block, our Record-Route below it (not Via, RR, Via).
    expect(inv!.headers.entries().slice(0, 3).map((f) => f.key)).toEqual(['via', 'via', 'record-route']);
    const v = vias(inv!);
    expect(v).toHaveLength(2);
    expect(v[0]).toMatch(/^SIP\/2\.0\/UDP 10\.0\.0\.1:5060;branch=z9hG4bK/);
    expect(v[1]).toContain('10.0.0.2:5070');

    p.deliver(answer(inv!, 180), UAS1);
    p.deliver(answer(inv!, 200), UAS1);
    const up = p.responsesTo(UAC);
    expect(up.map((r) => r.status)).toEqual([180, 200]);
    for (const r of up) {
      expect(vias(r)).toHaveLength(1);
      expect(vias(r)[0]).toContain('10.0.0.2:5070');
      expect(r.headers.getAll('record-route')).toEqual([RR]);
    }
    expect(p.proxy.stats.contexts).toBe(0);
  });

  it('sends its own 100 Trying at once and absorbs the one from downstream', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('INVITE'), UAC);
    expect(p.responsesTo(UAC, 100)).toHaveLength(1); // before any lookup or forwarding (16.2, 17.2.1)
    await flush();
    const [inv] = p.sentTo(UAS1, 'INVITE');
    p.deliver(answer(inv!, 100), UAS1);
    p.clock.advance(200);
    expect(p.responsesTo(UAC, 100)).toHaveLength(1); // the downstream 100 is not forwarded (16.7 step 3)
    expect(p.responsesTo(UAC, 100)[0]!.headers.get('to')).not.toMatch(/tag=/);
  });

  it('adds Max-Forwards: 70 when absent', async () => {
    const p = setupProxy();
    const req = uacRequest('MESSAGE');
    req.headers.remove('max-forwards');
    p.deliver(req, UAC);
    await flush();
    expect(p.sentTo(UAS1, 'MESSAGE')[0]!.headers.get('max-forwards')).toBe('70');
  });

  it('483 on Max-Forwards 0, without asking the resolver', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('INVITE', { maxForwards: 0 }), UAC);
    await flush();
    expect(p.responsesTo(UAC).map((r) => r.status)).toEqual([483]);
    expect(p.resolver.calls).toHaveLength(0);
  });

  it('an OPTIONS to the proxy itself is answered locally, even with Max-Forwards 0', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('OPTIONS', { uri: 'sip:10.0.0.1:5060', maxForwards: 0 }), UAC);
    p.deliver(uacRequest('INFO', { uri: 'sip:10.0.0.1' }), UAC);
    await flush();
    expect(p.responsesTo(UAC).map((r) => r.status)).toEqual([200, 404]);
    expect(p.resolver.calls).toHaveLength(0);
  });

  it('a local handler gets requests addressed to the proxy (with our Route popped)', async () => {
    const seen: string[] = [];
    const p = setupProxy({
      local: (req, txn) => {
        seen.push(`${req.method} ${req.headers.getAll('route').length}`);
        txn.respond(answer(req, 202));
      },
    });
    p.deliver(uacRequest('REGISTER', { uri: 'sip:10.0.0.1:5060', headers: [['Route', RR]] }), UAC);
    await flush();
    expect(seen).toEqual(['REGISTER 0']);
    expect(p.responsesTo(UAC, 202)).toHaveLength(1);
  });

  it('416 for a tel: Request-URI; 400 for a CSeq method mismatch', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('INVITE', { uri: 'tel:+15551234' }), UAC);
    const bad = uacRequest('MESSAGE');
    bad.headers.set('CSeq', '1 INFO');
    p.deliver(bad, UAC);
    await flush();
    expect(p.responsesTo(UAC).map((r) => r.status).sort()).toEqual([400, 416]);
  });

  it('420 with Unsupported for an unknown Proxy-Require tag; a supported one passes', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('INVITE', { headers: [['Proxy-Require', 'foo, bar']] }), UAC);
    await flush();
    const [r] = p.responsesTo(UAC);
    expect(r!.status).toBe(420);
    expect(r!.headers.get('unsupported')).toBe('foo, bar');

    const q = setupProxy({ supportedExtensions: ['foo'] });
    q.deliver(uacRequest('MESSAGE', { headers: [['Proxy-Require', 'foo']] }), UAC);
    await flush();
    expect(q.sentTo(UAS1, 'MESSAGE')).toHaveLength(1);
  });

  it('482 when the request comes back unchanged (loop); a spiral with a new Request-URI is forwarded', async () => {
    const p = setupProxy({ resolver: new FakeResolver([target(UAS1)]) });
    p.deliver(uacRequest('INVITE'), UAC);
    await flush();
    const [inv] = p.sentTo(UAS1, 'INVITE');
    // UAS1 is in fact a proxy that routes sip:bob@example.com back to us.
    const looped = { ...inv!, uri: uacRequest('INVITE').uri, headers: inv!.headers.clone() };
    looped.headers.prepend('Via', 'SIP/2.0/UDP 10.0.0.3:5080;branch=z9hG4bKloop1');
    looped.headers.set('Max-Forwards', '68');
    p.deliver(looped, UAS1);
    await flush();
    expect(p.responsesTo(UAS1).map((r) => r.status)).toEqual([482]);

    // Spiral: same request retargeted to another user by the downstream element.
    const spiral = { ...looped, uri: uacRequest('INVITE', { uri: 'sip:carol@example.com' }).uri, headers: inv!.headers.clone() };
    spiral.headers.prepend('Via', 'SIP/2.0/UDP 10.0.0.3:5080;branch=z9hG4bKloop2');
    p.deliver(spiral, UAS1);
    await flush();
    expect(p.resolver.calls).toHaveLength(2);
    expect(p.responsesTo(UAS1).map((r) => r.status)).toEqual([482]);
    expect(p.sentTo(UAS1, 'INVITE')).toHaveLength(2);
  });

  it('resolver [] → 404; { 480, retryAfterS: 5 } → 480 with Retry-After', async () => {
    const p = setupProxy({ resolver: new FakeResolver([]) });
    p.deliver(uacRequest('INVITE'), UAC);
    await flush();
    expect(p.responsesTo(UAC).map((r) => r.status)).toEqual([404]);

    const q = setupProxy({ resolver: new FakeResolver({ status: 480, reason: 'Temporarily Unavailable', retryAfterS: 5 }) });
    q.deliver(uacRequest('MESSAGE'), UAC);
    await flush();
    const [r] = q.responsesTo(UAC);
    expect(r!.status).toBe(480);
    expect(r!.reason).toBe('Temporarily Unavailable');
    expect(r!.headers.get('retry-after')).toBe('5');
    expect(q.proxy.stats.contexts).toBe(0);
  });

  it('a resolver that throws gives 500; one that never answers gives 503 after the resolve timeout', async () => {
    const p = setupProxy({ resolver: new FakeResolver(() => Promise.reject(new Error('boom'))) });
    p.deliver(uacRequest('MESSAGE'), UAC);
    await flush();
    expect(p.responsesTo(UAC).map((r) => r.status)).toEqual([500]);

    const q = setupProxy({ resolver: new FakeResolver(() => new Promise(() => {})), timers: { resolve: 2000 } });
    q.deliver(uacRequest('INVITE'), UAC);
    await flush();
    q.clock.advance(2000);
    await flush();
    const finals = q.responsesTo(UAC).filter((r) => r.status >= 200);
    expect(finals.map((r) => r.status)).toEqual([503]);
    expect(finals[0]!.headers.get('retry-after')).toBe('5');
  });

  it('MESSAGE (non-INVITE) is forwarded and its 200 comes back without our Via', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('MESSAGE'), UAC);
    await flush();
    const [msg] = p.sentTo(UAS1, 'MESSAGE');
    expect(msg!.headers.getAll('record-route')).toEqual([RR]);
    p.deliver(answer(msg!, 200), UAS1);
    const [r] = p.responsesTo(UAC);
    expect(r!.status).toBe(200);
    expect(vias(r!)).toHaveLength(1);
    expect(p.proxy.stats.contexts).toBe(0);
  });

  it('REGISTER to another domain is forwarded without Record-Route', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('REGISTER', { uri: 'sip:example.com' }), UAC);
    await flush();
    const [reg] = p.sentTo(UAS1, 'REGISTER');
    expect(reg!.headers.has('record-route')).toBe(false);
  });

  it('a non-INVITE whose only branch times out gets no 408 of ours (RFC 4320 4.2)', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('MESSAGE'), UAC);
    await flush();
    p.clock.advance(64 * 500);
    expect(p.responsesTo(UAC).filter((r) => r.status >= 200)).toHaveLength(0);
    expect(p.proxy.stats.contexts).toBe(0);
  });

  it('an INVITE whose only branch sends nothing, not even 100, gets 480 with Retry-After after 4*T1; a transport error gives 500', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('INVITE'), UAC);
    await flush();
    p.clock.advance(4 * 500 - 1);
    expect(p.responsesTo(UAC).filter((r) => r.status >= 200)).toHaveLength(0);
    p.clock.advance(1);
    await flush();
    const finals = p.responsesTo(UAC).filter((r) => r.status >= 200);
    expect(finals.map((r) => r.status)).toEqual([480]);
    expect(finals[0]!.headers.get('retry-after')).toBe('5');

    const q = setupProxy();
    q.transport.failRequestsWith = new Error('unreachable');
    q.deliver(uacRequest('INVITE'), UAC);
    await flush();
    q.clock.advance(1);
    await flush();
    expect(q.responsesTo(UAC).filter((r) => r.status >= 200).map((r) => r.status)).toEqual([500]);
  });

  it('in-dialog BYE routed through us: our Route popped, sent to the Contact in the Request-URI', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('BYE', { uri: 'sip:bob@10.0.0.3:5080', toTag: 'uas', cseq: 2, headers: [['Route', RR]] }), UAC);
    await flush();
    expect(p.resolver.calls).toHaveLength(0);
    const [bye] = p.sentTo(UAS1, 'BYE');
    expect(bye).toBeDefined();
    expect(bye!.headers.has('route')).toBe(false);
    expect(serializeUri(bye!.uri)).toBe('sip:bob@10.0.0.3:5080');
    p.deliver(answer(bye!, 200), UAS1);
    expect(p.responsesTo(UAC).map((r) => r.status)).toEqual([200]);
  });

  it('loose routing on: after our Route another one remains: sent there, Request-URI untouched', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('INFO', { uri: 'sip:bob@far.example', toTag: 'x', headers: [['Route', `${RR}, <sip:10.0.0.3:5080;lr>`]] }), UAC);
    await flush();
    const [info] = p.sentTo(UAS1, 'INFO');
    expect(serializeUri(info!.uri)).toBe('sip:bob@far.example');
    expect(getRoutes(info!).map((r) => serializeUri(r.uri))).toEqual(['sip:10.0.0.3:5080;lr']);
    expect(p.resolver.calls).toHaveLength(0);
  });

  it('a Route host name without a resolver helper gives 503; with resolveNextHop it is used', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('INFO', { toTag: 'x', headers: [['Route', `${RR}, <sip:next.example;lr>`]] }), UAC);
    await flush();
    expect(p.responsesTo(UAC).map((r) => r.status)).toEqual([503]);

    const resolver = new FakeResolver();
    const helper = Object.assign(resolver, { resolveNextHop: () => Promise.resolve(UAS1) });
    const q = setupProxy({ resolver: helper });
    q.deliver(uacRequest('INFO', { toTag: 'x', headers: [['Route', `${RR}, <sip:next.example;lr>`]] }), UAC);
    await flush();
    expect(q.sentTo(UAS1, 'INFO')).toHaveLength(1);
  });

  it('strict router upstream (16.4): our Record-Route in the Request-URI, the real one last in Route', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('BYE', { uri: 'sip:10.0.0.1:5060;lr', toTag: 'x', headers: [['Route', '<sip:bob@10.0.0.3:5080>']] }), UAC);
    await flush();
    const [bye] = p.sentTo(UAS1, 'BYE');
    expect(serializeUri(bye!.uri)).toBe('sip:bob@10.0.0.3:5080');
    expect(bye!.headers.has('route')).toBe(false);
  });

  it('strict router downstream (16.6 step 6): Request-URI moved to the end of Route', async () => {
    const p = setupProxy();
    p.deliver(uacRequest('INFO', { uri: 'sip:bob@far.example', toTag: 'x', headers: [['Route', `${RR}, <sip:10.0.0.3:5080>`]] }), UAC);
    await flush();
    const [info] = p.sentTo(UAS1, 'INFO');
    expect(serializeUri(info!.uri)).toBe('sip:10.0.0.3:5080');
    expect(getRoutes(info!).map((r) => serializeUri(r.uri))).toEqual(['sip:bob@far.example']);
  });

  it('bounded: over maxContexts → 503 with Retry-After; over maxBranches the lowest q are dropped', async () => {
    const p = setupProxy({ limits: { maxContexts: 1 } });
    p.deliver(uacRequest('INVITE'), UAC);
    p.deliver(uacRequest('INVITE', { callId: 'other' }), UAC);
    await flush();
    const r = p.responsesTo(UAC, 503);
    expect(r).toHaveLength(1);
    expect(r[0]!.headers.get('retry-after')).toBe('5');

    const many = Array.from({ length: 5 }, (_, i) => target({ protocol: 'udp', host: `10.0.1.${i}`, port: 5060 }, 'bob', i / 10));
    const q = setupProxy({ resolver: new FakeResolver(many), limits: { maxBranches: 2 } });
    q.deliver(uacRequest('INVITE'), UAC);
    await flush();
    expect(q.transport.requests('INVITE').map((m) => serializeUri(m.uri))).toEqual(['sip:bob@10.0.1.4:5060', 'sip:bob@10.0.1.3:5060']);
  });

  it('never throws on junk: a request without Via-branch or with a broken header is answered or dropped', async () => {
    const p = setupProxy();
    const req = uacRequest('INVITE');
    req.headers.set('Route', '<<<');
    expect(() => p.proxy.handleRequest(req, { request: req, source: UAC, state: 'proceeding', branch: viaBranch(getTopVia(req)), respond: () => {} })).not.toThrow();
    expect(() => p.proxy.handleStray(req, UAC)).not.toThrow();
  });
});
