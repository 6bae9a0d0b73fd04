/**
 * Admission control (src/sip/admission.ts) over the transaction layer with a virtual clock: what a
 * phone over its rate, a node under overload and a peer over the overlay budget get (503 with
 * Retry-After, statelessly, no transaction), and what always passes (in-dialog requests, CANCEL,
 * retransmissions and the ACK of a refused INVITE, which goes nowhere).
 */
import fc from 'fast-check';
import { describe, expect, it, vi } from 'vitest';
import { Admission, sourceKey } from '../../src/sip/admission.js';
import type { SipRequest } from '../../src/sip/message/index.js';
import type { Endpoint } from '../../src/sip/transport/index.js';
import { SourceLimiter } from '../../src/common/source-limiter.js';
import { SILENT_LOGGER } from '../../src/common/logger.js';
import { inboundRequest, setup } from './transaction/fakes.js';

const from = (host: string, port = 5060): Endpoint => ({ protocol: 'udp', host, port });
let branch = 0;
/** A new request (fresh branch) from host; toTag makes it in-dialog. */
function req(method: string, host: string, opts: { toTag?: string; peer?: boolean } = {}): SipRequest {
  const r = inboundRequest(method, `SIP/2.0/UDP ${host}:5060;branch=z9hG4bK${++branch};received=${host};rport=5060`, opts.toTag ? { toTag: opts.toTag } : {});
  if (opts.peer) r.headers.append('DHT-PeerID', '<sip:peer@192.0.2.9>');
  return r;
}

function node(opts: { sourceRate?: number; overlayRate?: number; factor?: number; trusted?: string } = {}) {
  const s = setup();
  const seen: SipRequest[] = [];
  const stray = vi.fn();
  let factor = opts.factor ?? 1;
  const admission = new Admission({
    sourceRate: opts.sourceRate ?? 5,
    maxSources: 100,
    overlayRate: opts.overlayRate ?? 100,
    isPeer: (r) => r.headers.has('DHT-PeerID'),
    factor: () => factor,
    ...(opts.trusted ? { isTrusted: (host: string) => host === opts.trusted } : {}),
    clock: s.clock,
    log: SILENT_LOGGER,
    random: () => 0,
  });
  s.layer.setAdmission(admission.decide);
  s.layer.onRequest((r) => seen.push(r));
  s.layer.onStray(stray);
  const deliver = (r: SipRequest, source: Endpoint) => s.layer.receive({ message: r, source, raw: Buffer.alloc(0) });
  return { ...s, admission, seen, stray, deliver, setFactor: (f: number) => (factor = f) };
}

describe('per-source rate limit', () => {
  it('admits a burst of 2 x rate, then answers 503 with Retry-After, statelessly, and admits again once the bucket refills', () => {
    const n = node({ sourceRate: 5 });
    for (let i = 0; i < 14; i++) n.deliver(req('INVITE', '198.51.100.1'), from('198.51.100.1'));
    expect(n.seen).toHaveLength(10);
    const refused = n.transport.responses(503);
    expect(refused).toHaveLength(4);
    expect(Number(refused[0]!.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    // No transaction for the refused: only the ten admitted exist.
    expect(n.layer.stats.serverTransactions).toBe(10);
    expect(n.layer.stats.refusedByAdmission).toBe(4);
    expect(n.admission.stats.rejectedSource).toBe(4);
    expect(n.admission.limitedSources()).toBe(1);
    // Another source is not affected.
    n.deliver(req('REGISTER', '198.51.100.2'), from('198.51.100.2'));
    expect(n.seen).toHaveLength(11);
    // One second later: five more tokens.
    n.clock.advance(1000);
    for (let i = 0; i < 6; i++) n.deliver(req('MESSAGE', '198.51.100.1'), from('198.51.100.1'));
    expect(n.seen).toHaveLength(16);
  });

  it('passes in-dialog requests, CANCEL and retransmissions of admitted transactions whatever the rate', () => {
    const n = node({ sourceRate: 1 });
    const invite = req('INVITE', '198.51.100.1');
    n.deliver(invite, from('198.51.100.1'));
    n.deliver(req('INVITE', '198.51.100.1'), from('198.51.100.1'));
    n.deliver(req('INVITE', '198.51.100.1'), from('198.51.100.1'));
    expect(n.transport.responses(503)).toHaveLength(1);
    n.deliver(invite, from('198.51.100.1')); // a retransmission: absorbed by its transaction, no 503
    for (let i = 0; i < 20; i++) n.deliver(req('BYE', '198.51.100.1', { toTag: 'b' }), from('198.51.100.1'));
    const cancel = { ...invite, method: 'CANCEL', headers: invite.headers.clone().set('CSeq', '1 CANCEL') } as SipRequest;
    n.deliver(cancel, from('198.51.100.1'));
    expect(n.transport.responses(503)).toHaveLength(1);
    expect(n.seen.map((r) => r.method)).toEqual(['INVITE', 'INVITE', ...Array(20).fill('BYE'), 'CANCEL']);
  });

  it('absorbs the ACK of a refused INVITE instead of handing it on as the ACK of a 2xx', () => {
    const n = node({ sourceRate: 1 });
    n.deliver(req('INVITE', '198.51.100.1'), from('198.51.100.1'));
    n.deliver(req('INVITE', '198.51.100.1'), from('198.51.100.1'));
    const refusedInvite = req('INVITE', '198.51.100.1');
    n.deliver(refusedInvite, from('198.51.100.1'));
    expect(n.transport.responses(503)).toHaveLength(1);
    const ack = { ...refusedInvite, method: 'ACK', headers: refusedInvite.headers.clone().set('CSeq', '1 ACK') } as SipRequest;
    n.deliver(ack, from('198.51.100.1'));
    expect(n.stray).not.toHaveBeenCalled();
    // Another ACK (of a 2xx: a branch of its own) still goes to the proxy.
    n.deliver(req('ACK', '198.51.100.1', { toTag: 'b' }), from('198.51.100.1'));
    expect(n.stray).toHaveBeenCalledTimes(1);
  });

  it('drops, unanswered, a source that keeps sending past ten times its rate', () => {
    const n = node({ sourceRate: 1 });
    for (let i = 0; i < 40; i++) n.deliver(req('REGISTER', '198.51.100.1'), from('198.51.100.1'));
    // 2 admitted (burst), 20 refused (10 x burst answers), the rest dropped.
    expect(n.seen).toHaveLength(2);
    expect(n.transport.responses(503)).toHaveLength(20);
    expect(n.layer.stats.droppedByAdmission).toBe(18);
    expect(n.admission.stats.dropped).toBe(18);
    // Then its datagrams are dropped before parsing for a second (SipTransport.setEarlyDrop), others' are not.
    expect(n.admission.dropEarly('198.51.100.1')).toBe(true);
    expect(n.admission.dropEarly('198.51.100.2')).toBe(false);
    n.clock.advance(1000);
    expect(n.admission.dropEarly('198.51.100.1')).toBe(false);
  });

  it('counts an IPv6 source by its /64', () => {
    expect(sourceKey('2001:db8:1:2::1')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8:1:2:ffff::7')).toBe('2001:db8:1:2::/64');
    expect(sourceKey('2001:db8::1')).toBe('2001:db8:0:0::/64');
    expect(sourceKey('::1')).toBe('0:0:0:0::/64');
    expect(sourceKey('192.0.2.1')).toBe('192.0.2.1');
  });
});

describe('under overload (the detector factor below 1)', () => {
  it('scales every source down, so the heavy are cut first, and refuses sources it does not know yet', () => {
    const n = node({ sourceRate: 40 });
    // A light phone and a heavy sender are both known before the overload.
    n.deliver(req('REGISTER', '198.51.100.1'), from('198.51.100.1'));
    for (let i = 0; i < 80; i++) n.deliver(req('INVITE', '198.51.100.66'), from('198.51.100.66'));
    n.setFactor(1 / 8);
    n.clock.advance(1000);
    const before = n.seen.length;
    // Per second each source now gets 40/8 = 5: the phone's 2 pass, the heavy one's 50 do not.
    for (let i = 0; i < 2; i++) n.deliver(req('INVITE', '198.51.100.1'), from('198.51.100.1'));
    for (let i = 0; i < 50; i++) n.deliver(req('INVITE', '198.51.100.66'), from('198.51.100.66'));
    const passed = n.seen.slice(before).map((r) => r.headers.get('via'));
    expect(passed.filter((v) => v?.includes('198.51.100.1:')).length).toBe(2);
    expect(passed.filter((v) => v?.includes('198.51.100.66:')).length).toBeLessThanOrEqual(10);
    // A newcomer (a spoofed address, say) is refused with the overload Retry-After.
    n.transport.clear();
    n.deliver(req('INVITE', '203.0.113.5'), from('203.0.113.5'));
    expect(n.transport.responses(503)[0]!.headers.get('retry-after')).toBe('5');
    expect(n.admission.stats.rejectedOverload).toBe(1);
  });

  it('never refuses a source of a trusted network as a newcomer (its rate still applies)', () => {
    const n = node({ sourceRate: 4, factor: 1 / 4, trusted: '192.0.2.50' });
    n.deliver(req('INVITE', '192.0.2.50'), from('192.0.2.50'));
    expect(n.seen.length).toBe(1);
    n.deliver(req('INVITE', '203.0.113.5'), from('203.0.113.5'));
    expect(n.transport.responses(503).length).toBe(1);
    // Its rate under overload is 4 x 1/4 = 1/s with a burst of 2: the rest of a burst gets 503.
    for (let i = 0; i < 5; i++) n.deliver(req('INVITE', '192.0.2.50'), from('192.0.2.50'));
    expect(n.seen.length).toBeLessThanOrEqual(3);
    expect(n.admission.stats.rejectedSource).toBeGreaterThanOrEqual(1);
  });

  it('does not shed peer requests, which draw on the overlay budget instead', () => {
    const n = node({ sourceRate: 1, overlayRate: 10, factor: 1 / 64 });
    for (let i = 0; i < 20; i++) n.deliver(req('OPTIONS', '192.0.2.9', { peer: true }), from('192.0.2.9'));
    expect(n.seen).toHaveLength(20);
    n.deliver(req('OPTIONS', '192.0.2.9', { peer: true }), from('192.0.2.9'));
    expect(n.seen).toHaveLength(20);
    expect(n.admission.stats.rejectedOverlay).toBe(1);
    expect(n.transport.responses(503)[0]!.headers.get('retry-after')).toBe('1');
  });
});

describe('SourceLimiter', () => {
  it('keeps its table bounded and never admits more than burst + rate x time per source (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 20 }),
        fc.integer({ min: 1, max: 12 }),
        fc.array(fc.tuple(fc.integer({ min: 0, max: 9 }), fc.integer({ min: 0, max: 300 })), { maxLength: 300 }),
        (rate, maxSources, events) => {
          let now = 0;
          const limiter = new SourceLimiter({ rate, maxSources, clock: { now: () => now } });
          const admitted = new Map<number, number>();
          for (const [source, dt] of events) {
            now += dt;
            if (limiter.take(String(source)).action === 'admit') admitted.set(source, (admitted.get(source) ?? 0) + 1);
            expect(limiter.size).toBeLessThanOrEqual(maxSources);
          }
          // An evicted source comes back with a full bucket, hence the factor of the evictions;
          // without eviction (maxSources >= sources) the bound is exact.
          const sources = new Set(events.map(([s]) => s)).size;
          if (sources <= maxSources) {
            for (const n of admitted.values()) expect(n).toBeLessThanOrEqual(2 * rate + (rate * now) / 1000 + 1e-9);
          }
        },
      ),
    );
  });
});
