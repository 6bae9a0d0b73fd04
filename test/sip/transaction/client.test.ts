import { describe, expect, it, vi } from 'vitest';
import { getCSeq, getTo, getTopVia, getVias, tagOf, viaBranch, viaRport } from '../../../src/sip/message/index.js';
import { TransactionLayer } from '../../../src/sip/transaction/index.js';
import { PEER_TCP, PEER_UDP, TIMERS, branchOf, request, responseTo, setup } from './fakes.js';

const { T1, T2, T4, D, C } = TIMERS;

function handlers() {
  return { onResponse: vi.fn(), onTimeout: vi.fn(), onTransportError: vi.fn() };
}

describe('client transactions: the Via the layer adds', () => {
  it('prepends SIP/2.0/<proto> local;branch=z9hG4bK<64+ random bits>;rport and keeps existing Vias', () => {
    const { layer, transport } = setup();
    const req = request('OPTIONS');
    req.headers.prepend('Via', 'SIP/2.0/UDP upstream.example.com;branch=z9hG4bKup');
    const txn = layer.sendRequest(req, PEER_TCP, handlers());
    const sent = transport.requests()[0]!;
    const vias = getVias(sent);
    expect(vias).toHaveLength(2);
    expect(vias[0]!.transport).toBe('TCP');
    expect(`${vias[0]!.host}:${vias[0]!.port}`).toBe('10.0.0.1:5060');
    expect(viaBranch(vias[0]!)).toBe(txn.branch);
    expect(txn.branch).toMatch(/^z9hG4bK[0-9a-f]{16,}$/);
    expect(viaRport(vias[0]!)).toBe(true);
    expect(viaBranch(vias[1]!)).toBe('z9hG4bKup');
    // The caller's object is not modified.
    expect(req.headers.count('via')).toBe(1);
  });

  it('uses 64 random bits per branch by default', () => {
    const { transport, clock } = setup();
    const layer = new TransactionLayer({ send: transport.send, local: transport.local, clock });
    const a = layer.sendRequest(request('OPTIONS'), PEER_UDP, handlers());
    const b = layer.sendRequest(request('OPTIONS'), PEER_UDP, handlers());
    expect(a.branch).toMatch(/^z9hG4bK[0-9a-f]{16}$/);
    expect(a.branch).not.toBe(b.branch);
  });
});

describe('non-INVITE client transaction (17.1.2)', () => {
  it('UDP: Timer E doubles from T1 to T2, Timer F times out at 64*T1', () => {
    const { layer, transport, clock } = setup();
    const h = handlers();
    layer.sendRequest(request('OPTIONS'), PEER_UDP, h);
    clock.advance(64 * T1 - 1);
    const times = transport.sent.map((s) => s.at);
    // 0, then E at T1, +2T1, +4T1, then capped at T2.
    expect(times.slice(0, 6)).toEqual([0, T1, 3 * T1, 7 * T1, 7 * T1 + T2, 7 * T1 + 2 * T2]);
    for (let i = 4; i < times.length; i++) expect(times[i]! - times[i - 1]!).toBe(T2);
    expect(h.onTimeout).not.toHaveBeenCalled();
    clock.advance(1);
    expect(h.onTimeout).toHaveBeenCalledOnce();
    expect(layer.stats.timeouts).toBe(1);
    expect(layer.stats.clientTransactions).toBe(0);
    expect(layer.stats.retransmissionsSent).toBe(times.length - 1);
    const n = transport.sent.length;
    clock.advance(100_000);
    expect(transport.sent.length).toBe(n);
    expect(clock.pending).toBe(0);
  });

  it('UDP: once Proceeding, Timer E fires every T2', () => {
    const { layer, transport, clock } = setup();
    const h = handlers();
    const txn = layer.sendRequest(request('REGISTER'), PEER_UDP, h);
    clock.advance(T1 / 2);
    layer.receive({ message: responseTo(txn.request, 100), source: PEER_UDP, raw: Buffer.alloc(0) });
    expect(txn.state).toBe('proceeding');
    expect(h.onResponse).toHaveBeenCalledOnce();
    transport.clear();
    clock.advance(T1 / 2 + 3 * T2 - 1);
    expect(transport.sent.map((s) => s.at)).toEqual([T1, T1 + T2, T1 + 2 * T2]);
  });

  it('UDP: a final response completes it, retransmitted finals are absorbed until Timer K (T4)', () => {
    const { layer, transport, clock } = setup();
    const h = handlers();
    const stray = vi.fn();
    layer.onStray(stray);
    const txn = layer.sendRequest(request('OPTIONS'), PEER_UDP, h);
    const ok = responseTo(txn.request, 200);
    layer.receive({ message: ok, source: PEER_UDP, raw: Buffer.alloc(0) });
    expect(txn.state).toBe('completed');
    expect(h.onResponse).toHaveBeenCalledWith(ok);
    transport.clear();
    clock.advance(T4 - 1);
    layer.receive({ message: ok, source: PEER_UDP, raw: Buffer.alloc(0) });
    expect(h.onResponse).toHaveBeenCalledOnce();
    expect(transport.sent).toHaveLength(0); // no retransmission after the final
    expect(stray).not.toHaveBeenCalled();
    clock.advance(1);
    expect(txn.state).toBe('terminated');
    expect(layer.stats.clientTransactions).toBe(0);
    layer.receive({ message: ok, source: PEER_UDP, raw: Buffer.alloc(0) });
    expect(stray).toHaveBeenCalledOnce();
    expect(h.onTimeout).not.toHaveBeenCalled();
  });

  it('TCP: no retransmissions, Timer F still applies, Timer K is 0', () => {
    const { layer, transport, clock } = setup();
    const h = handlers();
    layer.sendRequest(request('OPTIONS'), PEER_TCP, h);
    clock.advance(64 * T1);
    expect(transport.sent).toHaveLength(1);
    expect(h.onTimeout).toHaveBeenCalledOnce();

    const h2 = handlers();
    const txn = layer.sendRequest(request('OPTIONS'), PEER_TCP, h2);
    layer.receive({ message: responseTo(txn.request, 404), source: PEER_TCP, raw: Buffer.alloc(0) });
    expect(txn.state).toBe('terminated');
    expect(layer.stats.clientTransactions).toBe(0);
    expect(h2.onResponse).toHaveBeenCalledOnce();
  });

  it('reports transport errors (17.1.4) and ends the transaction', async () => {
    const { layer, transport, clock } = setup();
    transport.failWith = new Error('ECONNREFUSED');
    const h = handlers();
    const txn = layer.sendRequest(request('OPTIONS'), PEER_TCP, h);
    await Promise.resolve();
    expect(h.onTransportError).toHaveBeenCalledWith(transport.failWith);
    expect(txn.state).toBe('terminated');
    clock.advance(64 * T1);
    expect(h.onTimeout).not.toHaveBeenCalled();
  });

  it('falls back to onTimeout when the TU gave no onTransportError', async () => {
    const { layer, transport } = setup();
    transport.failWith = new Error('boom');
    const onTimeout = vi.fn();
    layer.sendRequest(request('OPTIONS'), PEER_UDP, { onResponse: vi.fn(), onTimeout });
    await Promise.resolve();
    expect(onTimeout).toHaveBeenCalledOnce();
  });
});

describe('INVITE client transaction (17.1.1)', () => {
  it('UDP: Timer A doubles without cap, Timer B times out at 64*T1 in Calling', () => {
    const { layer, transport, clock } = setup();
    const h = handlers();
    layer.sendRequest(request('INVITE'), PEER_UDP, h);
    clock.advance(64 * T1 - 1);
    expect(transport.sent.map((s) => s.at)).toEqual([0, 1, 3, 7, 15, 31, 63].map((k) => k * T1));
    expect(h.onTimeout).not.toHaveBeenCalled();
    clock.advance(1);
    expect(h.onTimeout).toHaveBeenCalledOnce();
    expect(layer.stats.clientTransactions).toBe(0);
  });

  it('a provisional stops Timers A and B; Timer C (reset by non-100 provisionals) ends Proceeding', () => {
    const { layer, transport, clock } = setup();
    const h = handlers();
    const txn = layer.sendRequest(request('INVITE'), PEER_UDP, h);
    layer.receive({ message: responseTo(txn.request, 100), source: PEER_UDP, raw: Buffer.alloc(0) });
    expect(txn.state).toBe('proceeding');
    clock.advance(C / 2);
    layer.receive({ message: responseTo(txn.request, 180), source: PEER_UDP, raw: Buffer.alloc(0) });
    clock.advance(C - 1);
    expect(transport.sent).toHaveLength(1);
    expect(h.onTimeout).not.toHaveBeenCalled();
    clock.advance(1);
    expect(h.onTimeout).toHaveBeenCalledOnce();
    expect(txn.state).toBe('terminated');
    expect(h.onResponse).toHaveBeenCalledTimes(2);
  });

  it('ACKs a 300-699 itself with the same branch (17.1.1.3), re-ACKs retransmissions, ends after Timer D', () => {
    const { layer, transport, clock } = setup();
    const h = handlers();
    const stray = vi.fn();
    layer.onStray(stray);
    const invite = request('INVITE', [['Route', '<sip:proxy.example.com;lr>']]);
    const txn = layer.sendRequest(invite, PEER_UDP, h);
    const busy = responseTo(txn.request, 486, 'uas-tag');
    layer.receive({ message: busy, source: PEER_UDP, raw: Buffer.alloc(0) });
    expect(txn.state).toBe('completed');
    expect(h.onResponse).toHaveBeenCalledOnce();
    const acks = transport.requests('ACK');
    expect(acks).toHaveLength(1);
    const ack = acks[0]!;
    expect(branchOf(ack)).toBe(txn.branch);
    expect(getVias(ack)).toHaveLength(1);
    expect(tagOf(getTo(ack))).toBe('uas-tag');
    expect(getCSeq(ack)).toEqual({ seq: 7, method: 'ACK' });
    expect(ack.headers.get('route')).toBe('<sip:proxy.example.com;lr>');
    expect(ack.headers.get('call-id')).toBe('call-1');
    expect(ack.uriRaw).toBe(txn.request.uriRaw);
    expect(transport.sent.at(-1)!.to).toEqual(PEER_UDP);

    clock.advance(D / 2);
    layer.receive({ message: busy, source: PEER_UDP, raw: Buffer.alloc(0) });
    expect(transport.requests('ACK')).toHaveLength(2);
    expect(h.onResponse).toHaveBeenCalledOnce();
    expect(transport.requests('INVITE')).toHaveLength(1); // Timer A stopped
    clock.advance(D / 2);
    expect(txn.state).toBe('terminated');
    layer.receive({ message: busy, source: PEER_UDP, raw: Buffer.alloc(0) });
    expect(stray).toHaveBeenCalledOnce();
    expect(h.onTimeout).not.toHaveBeenCalled();
  });

  it('a 2xx ends it at once; later 2xx go to onStray and no ACK is generated', () => {
    const { layer, transport } = setup();
    const h = handlers();
    const stray = vi.fn();
    layer.onStray(stray);
    const txn = layer.sendRequest(request('INVITE'), PEER_UDP, h);
    const ok = responseTo(txn.request, 200);
    layer.receive({ message: ok, source: PEER_UDP, raw: Buffer.alloc(0) });
    expect(txn.state).toBe('terminated');
    expect(h.onResponse).toHaveBeenCalledWith(ok);
    layer.receive({ message: ok, source: PEER_UDP, raw: Buffer.alloc(0) });
    expect(stray).toHaveBeenCalledWith(ok, PEER_UDP);
    expect(transport.requests('ACK')).toHaveLength(0);
  });

  it('TCP: no Timer A, Timer D is 0', () => {
    const { layer, transport, clock } = setup();
    const h = handlers();
    const txn = layer.sendRequest(request('INVITE'), PEER_TCP, h);
    clock.advance(10 * T1);
    expect(transport.requests('INVITE')).toHaveLength(1);
    layer.receive({ message: responseTo(txn.request, 603), source: PEER_TCP, raw: Buffer.alloc(0) });
    expect(transport.requests('ACK')).toHaveLength(1);
    expect(txn.state).toBe('terminated');
  });

  it('sendCancel: same branch, its own transaction matched by CSeq method (9.1, 17.1.3)', () => {
    const { layer, transport } = setup();
    const hi = handlers();
    const hc = handlers();
    const invite = layer.sendRequest(request('INVITE'), PEER_UDP, hi);
    layer.receive({ message: responseTo(invite.request, 180), source: PEER_UDP, raw: Buffer.alloc(0) });
    const cancel = layer.sendCancel(invite, hc);
    expect(cancel.branch).toBe(invite.branch);
    const sent = transport.requests('CANCEL')[0]!;
    expect(getCSeq(sent)).toEqual({ seq: 7, method: 'CANCEL' });
    expect(viaBranch(getTopVia(sent))).toBe(invite.branch);
    layer.receive({ message: responseTo(cancel.request, 200), source: PEER_UDP, raw: Buffer.alloc(0) });
    expect(hc.onResponse).toHaveBeenCalledOnce();
    expect(hi.onResponse).toHaveBeenCalledOnce(); // only the 180
    layer.receive({ message: responseTo(invite.request, 487), source: PEER_UDP, raw: Buffer.alloc(0) });
    expect(hi.onResponse).toHaveBeenCalledTimes(2);
    expect(transport.requests('ACK')).toHaveLength(1);
  });

  it('refuses ACK and CANCEL in sendRequest; sendAck adds a Via with a fresh branch', () => {
    const { layer, transport } = setup();
    expect(() => layer.sendRequest(request('ACK'), PEER_UDP, handlers())).toThrow(TypeError);
    expect(() => layer.sendRequest(request('CANCEL'), PEER_UDP, handlers())).toThrow(TypeError);
    layer.sendAck(request('ACK'), PEER_UDP);
    expect(branchOf(transport.requests('ACK')[0]!)).toMatch(/^z9hG4bK/);
    expect(layer.stats.clientTransactions).toBe(0);
  });
});
