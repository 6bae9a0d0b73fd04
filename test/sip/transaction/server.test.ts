import { describe, expect, it, vi } from 'vitest';
import { createResponse, getCSeq, type SipRequest } from '../../../src/sip/message/index.js';
import type { Endpoint } from '../../../src/sip/transport/index.js';
import { TRYING_DELAY_MS, type ServerTransaction } from '../../../src/sip/transaction/index.js';
import { TIMERS, inboundRequest, setup } from './fakes.js';

const { T1, T2, T4 } = TIMERS;
const SRC_UDP: Endpoint = { protocol: 'udp', host: '192.0.2.7', port: 40000 };
const SRC_TCP: Endpoint = { protocol: 'tcp', host: '192.0.2.7', port: 40001 };
const VIA_UDP = 'SIP/2.0/UDP client.example.com:5062;branch=z9hG4bKc1;received=192.0.2.7;rport=40000';
const VIA_TCP = 'SIP/2.0/TCP client.example.com:5062;branch=z9hG4bKc1;received=192.0.2.7';

function server(opts: { maxTransactions?: number } = {}) {
  const s = setup(opts);
  const seen: Array<{ request: SipRequest; txn: ServerTransaction }> = [];
  const stray = vi.fn();
  s.layer.onRequest((request, txn) => seen.push({ request, txn }));
  s.layer.onStray(stray);
  const deliver = (request: SipRequest, source: Endpoint) => s.layer.receive({ message: request, source, raw: Buffer.alloc(0) });
  return { ...s, seen, stray, deliver };
}

describe('non-INVITE server transaction (17.2.2)', () => {
  it('absorbs retransmissions in Trying, re-sends the last response after, Timer J ends it (UDP)', () => {
    const { layer, transport, clock, seen, deliver } = server();
    const req = inboundRequest('REGISTER', VIA_UDP);
    deliver(req, SRC_UDP);
    expect(seen).toHaveLength(1);
    const txn = seen[0]!.txn;
    expect(txn.state).toBe('trying');
    expect(txn.source).toEqual(SRC_UDP);
    expect(txn.branch).toBe('z9hG4bKc1');
    deliver(req, SRC_UDP);
    expect(seen).toHaveLength(1);
    expect(transport.sent).toHaveLength(0);

    txn.respond(createResponse(txn.request, 100));
    expect(txn.state).toBe('proceeding');
    deliver(req, SRC_UDP);
    expect(transport.responses(100)).toHaveLength(2);

    txn.respond(createResponse(txn.request, 200));
    expect(txn.state).toBe('completed');
    deliver(req, SRC_UDP);
    expect(transport.responses(200)).toHaveLength(2);
    txn.respond(createResponse(txn.request, 500)); // a second final is dropped
    expect(transport.responses(500)).toHaveLength(0);
    // 18.2.2 / RFC 3581: to the received address and the rport.
    expect(transport.sent.every((s) => s.to.host === '192.0.2.7' && s.to.port === 40000 && s.to.protocol === 'udp')).toBe(true);

    clock.advance(64 * T1 - 1);
    expect(txn.state).toBe('completed');
    expect(transport.responses(200)).toHaveLength(2); // no timer-driven retransmission for non-INVITE
    clock.advance(1);
    expect(txn.state).toBe('terminated');
    expect(layer.stats.serverTransactions).toBe(0);
    // After Timer J a retransmission is a new request.
    deliver(req, SRC_UDP);
    expect(seen).toHaveLength(2);
    expect(layer.stats.retransmissionsSent).toBe(2);
  });

  it('UDP without rport: responses go to received and the sent-by port', () => {
    const { transport, seen, deliver } = server();
    deliver(inboundRequest('OPTIONS', 'SIP/2.0/UDP client.example.com:5062;branch=z9hG4bKx;received=192.0.2.9'), SRC_UDP);
    seen[0]!.txn.respond(createResponse(seen[0]!.request, 200));
    expect(transport.sent[0]!.to).toEqual({ protocol: 'udp', host: '192.0.2.9', port: 5062 });
    deliver(inboundRequest('OPTIONS', 'SIP/2.0/UDP 192.0.2.10;branch=z9hG4bKy'), SRC_UDP);
    seen[1]!.txn.respond(createResponse(seen[1]!.request, 200));
    expect(transport.sent[1]!.to).toEqual({ protocol: 'udp', host: '192.0.2.10', port: 5060 });
  });

  it('TCP: responses go back over the source connection, Timer J is 0', () => {
    const { layer, transport, seen, deliver } = server();
    deliver(inboundRequest('OPTIONS', VIA_TCP), SRC_TCP);
    const txn = seen[0]!.txn;
    txn.respond(createResponse(txn.request, 200));
    expect(transport.sent[0]!.to).toEqual(SRC_TCP);
    expect(txn.state).toBe('terminated');
    expect(layer.stats.serverTransactions).toBe(0);
  });

  it('TCP: when the connection is gone, retries received:sent-by port (18.2.2), then reports', async () => {
    const { transport, seen, deliver } = server();
    deliver(inboundRequest('OPTIONS', VIA_TCP), SRC_TCP);
    const txn = seen[0]!.txn;
    const onTransportError = vi.fn();
    txn.onTransportError = onTransportError;
    transport.failWith = new Error('EPIPE');
    txn.respond(createResponse(txn.request, 200));
    await new Promise((r) => setImmediate(r));
    expect(transport.sent.map((s) => s.to)).toEqual([SRC_TCP, { protocol: 'tcp', host: '192.0.2.7', port: 5062 }]);
    expect(onTransportError).toHaveBeenCalledOnce();
  });

  it('a TU that never answers does not leak the transaction', () => {
    const { layer, clock, deliver } = server();
    deliver(inboundRequest('OPTIONS', VIA_UDP), SRC_UDP);
    clock.advance(200 * T1);
    expect(layer.stats.serverTransactions).toBe(0);
  });
});

describe('INVITE server transaction (17.2.1)', () => {
  it('sends 100 Trying after 200 ms when the TU has not answered', () => {
    const { transport, clock, seen, deliver } = server();
    deliver(inboundRequest('INVITE', VIA_UDP), SRC_UDP);
    clock.advance(TRYING_DELAY_MS - 1);
    expect(transport.sent).toHaveLength(0);
    clock.advance(1);
    expect(transport.responses(100)).toHaveLength(1);
    const trying = transport.responses(100)[0]!;
    expect(trying.headers.get('via')).toBe(VIA_UDP);
    expect(trying.headers.get('to')).not.toMatch(/tag=/);
    expect(seen[0]!.txn.state).toBe('proceeding');
  });

  it('no automatic 100 when the TU answered first; retransmitted INVITEs get the last provisional', () => {
    const { transport, clock, seen, deliver } = server();
    const invite = inboundRequest('INVITE', VIA_UDP);
    deliver(invite, SRC_UDP);
    const txn = seen[0]!.txn;
    txn.respond(createResponse(txn.request, 180, { toTag: 't' }));
    clock.advance(1000);
    expect(transport.responses(100)).toHaveLength(0);
    deliver(invite, SRC_UDP);
    expect(transport.responses(180)).toHaveLength(2);
    expect(seen).toHaveLength(1);
  });

  it('a retransmitted INVITE before any response gets a 100 Trying at once', () => {
    const { transport, clock, deliver } = server();
    const invite = inboundRequest('INVITE', VIA_UDP);
    deliver(invite, SRC_UDP);
    clock.advance(50);
    deliver(invite, SRC_UDP);
    expect(transport.responses(100)).toHaveLength(1);
    clock.advance(1000);
    expect(transport.responses(100)).toHaveLength(1);
  });

  it('UDP non-2xx final: Timer G retransmits (T1 doubling to T2) until the ACK, then Timer I (T4)', () => {
    const { layer, transport, clock, seen, deliver, stray } = server();
    const invite = inboundRequest('INVITE', VIA_UDP);
    deliver(invite, SRC_UDP);
    const txn = seen[0]!.txn;
    txn.respond(createResponse(txn.request, 486, { toTag: 't' }));
    expect(txn.state).toBe('completed');
    clock.advance(7 * T1 + 2 * T2);
    expect(transport.responses(486).map((_, i) => transport.sent[i]!.at)).toEqual([0, T1, 3 * T1, 7 * T1, 7 * T1 + T2, 7 * T1 + 2 * T2]);
    // A retransmitted INVITE in Completed gets the final again.
    deliver(invite, SRC_UDP);
    expect(transport.responses(486)).toHaveLength(7);
    const ack = inboundRequest('ACK', VIA_UDP, { toTag: 't' });
    deliver(ack, SRC_UDP);
    expect(txn.state).toBe('confirmed');
    expect(stray).not.toHaveBeenCalled();
    const n = transport.sent.length;
    deliver(ack, SRC_UDP); // absorbed in Confirmed
    clock.advance(T4 - 1);
    expect(transport.sent.length).toBe(n);
    expect(txn.state).toBe('confirmed');
    clock.advance(1);
    expect(txn.state).toBe('terminated');
    expect(layer.stats.serverTransactions).toBe(0);
    expect(stray).not.toHaveBeenCalled();
    expect(seen).toHaveLength(1);
  });

  it('Timer H: no ACK within 64*T1 ends it and tells the TU', () => {
    const { layer, clock, seen, deliver, transport } = server();
    deliver(inboundRequest('INVITE', VIA_UDP), SRC_UDP);
    const txn = seen[0]!.txn;
    const onTimeout = vi.fn();
    txn.onTimeout = onTimeout;
    txn.respond(createResponse(txn.request, 404));
    clock.advance(64 * T1 - 1);
    expect(onTimeout).not.toHaveBeenCalled();
    clock.advance(1);
    expect(onTimeout).toHaveBeenCalledOnce();
    expect(txn.state).toBe('terminated');
    expect(layer.stats.timeouts).toBe(1);
    const n = transport.sent.length;
    clock.advance(100_000);
    expect(transport.sent.length).toBe(n);
  });

  it('TCP: no Timer G; the ACK ends it at once (Timer I = 0)', () => {
    const { layer, transport, clock, seen, deliver } = server();
    deliver(inboundRequest('INVITE', VIA_TCP), SRC_TCP);
    const txn = seen[0]!.txn;
    txn.respond(createResponse(txn.request, 486));
    clock.advance(10 * T1);
    expect(transport.responses(486)).toHaveLength(1);
    deliver(inboundRequest('ACK', VIA_TCP, { toTag: 't' }), SRC_TCP);
    expect(txn.state).toBe('terminated');
    expect(layer.stats.serverTransactions).toBe(0);
  });

  it('2xx: Accepted (RFC 6026) absorbs INVITE retransmissions, passes ACKs up, sends further 2xx, ends after Timer L', () => {
    const { layer, transport, clock, seen, deliver, stray } = server();
    const invite = inboundRequest('INVITE', VIA_UDP);
    deliver(invite, SRC_UDP);
    const txn = seen[0]!.txn;
    const ok = createResponse(txn.request, 200, { toTag: 't' });
    txn.respond(ok);
    expect(txn.state).toBe('accepted');
    deliver(invite, SRC_UDP);
    expect(seen).toHaveLength(1);
    expect(transport.sent).toHaveLength(1);
    txn.respond(ok); // the TU retransmits its 2xx (13.3.1.4)
    expect(transport.responses(200)).toHaveLength(2);
    txn.respond(createResponse(txn.request, 486)); // no non-2xx after a 2xx
    expect(transport.responses(486)).toHaveLength(0);
    const ack = inboundRequest('ACK', VIA_UDP, { toTag: 't' });
    deliver(ack, SRC_UDP);
    expect(stray).toHaveBeenCalledWith(ack, SRC_UDP);
    clock.advance(64 * T1);
    expect(txn.state).toBe('terminated');
    expect(layer.stats.serverTransactions).toBe(0);
  });
});

describe('server matching (17.2.3)', () => {
  it('CANCEL with the INVITE branch is a separate transaction', () => {
    const { seen, deliver, transport } = server();
    deliver(inboundRequest('INVITE', VIA_UDP), SRC_UDP);
    const cancel = inboundRequest('CANCEL', VIA_UDP);
    deliver(cancel, SRC_UDP);
    expect(seen.map((s) => s.request.method)).toEqual(['INVITE', 'CANCEL']);
    expect(seen[1]!.txn.state).toBe('trying');
    expect(seen[1]!.txn).not.toBe(seen[0]!.txn);
    expect(transport.sent).toHaveLength(0);
  });

  it('matchCancel returns the INVITE server transaction', () => {
    const s = server();
    s.deliver(inboundRequest('INVITE', VIA_UDP), SRC_UDP);
    const cancel = inboundRequest('CANCEL', VIA_UDP);
    expect(s.layer.matchCancel(cancel)).toBe(s.seen[0]!.txn);
    expect(s.layer.matchCancel(inboundRequest('CANCEL', VIA_UDP.replace('z9hG4bKc1', 'z9hG4bKother')))).toBeUndefined();
  });

  it('same branch from another sent-by, or another method, is another transaction', () => {
    const { seen, deliver } = server();
    deliver(inboundRequest('OPTIONS', VIA_UDP), SRC_UDP);
    deliver(inboundRequest('OPTIONS', VIA_UDP.replace('client.example.com:5062', 'other.example.com:5062')), SRC_UDP);
    deliver(inboundRequest('INFO', VIA_UDP), SRC_UDP);
    expect(seen).toHaveLength(3);
  });

  it('an ACK matching no transaction (ACK for 2xx) goes to onStray', () => {
    const { seen, deliver, stray } = server();
    const ack = inboundRequest('ACK', 'SIP/2.0/UDP client.example.com:5062;branch=z9hG4bKnew');
    deliver(ack, SRC_UDP);
    expect(stray).toHaveBeenCalledWith(ack, SRC_UDP);
    expect(seen).toHaveLength(0);
  });

  it('RFC 2543 requests (no magic cookie) match on Request-URI, From tag, Call-ID, CSeq, top Via', () => {
    const { seen, deliver, transport, stray } = server();
    const via = 'SIP/2.0/UDP old.example.com:5060';
    const invite = inboundRequest('INVITE', via);
    deliver(invite, SRC_UDP);
    deliver(inboundRequest('INVITE', via), SRC_UDP);
    expect(seen).toHaveLength(1);
    expect(seen[0]!.txn.branch).toBeUndefined();
    seen[0]!.txn.respond(createResponse(seen[0]!.request, 486, { toTag: 'x' }));
    deliver(inboundRequest('ACK', via, { toTag: 'x' }), SRC_UDP);
    expect(seen[0]!.txn.state).toBe('confirmed');
    expect(stray).not.toHaveBeenCalled();
    // Another CSeq is another transaction.
    deliver(inboundRequest('INVITE', via, { cseq: 2 }), SRC_UDP);
    expect(seen).toHaveLength(2);
    // A branch without the magic cookie is still RFC 2543 matching.
    deliver(inboundRequest('OPTIONS', `${via};branch=1234`), SRC_UDP);
    deliver(inboundRequest('OPTIONS', `${via};branch=1234`), SRC_UDP);
    expect(seen).toHaveLength(3);
    expect(transport.responses(486)).toHaveLength(1);
  });

  it('a full table answers new requests with a stateless 503 and keeps serving existing ones', () => {
    const { layer, seen, deliver, transport } = server({ maxTransactions: 2 });
    deliver(inboundRequest('OPTIONS', VIA_UDP), SRC_UDP);
    deliver(inboundRequest('INFO', VIA_UDP), SRC_UDP);
    deliver(inboundRequest('MESSAGE', VIA_UDP), SRC_UDP);
    expect(seen).toHaveLength(2);
    const r503 = transport.responses(503);
    expect(r503).toHaveLength(1);
    expect(getCSeq(r503[0]!).method).toBe('MESSAGE');
    expect(r503[0]!.headers.get('retry-after')).toBe('5');
    expect(transport.sent[0]!.to).toEqual({ protocol: 'udp', host: '192.0.2.7', port: 40000 });
    expect(layer.stats.rejectedFull).toBe(1);
    seen[0]!.txn.respond(createResponse(seen[0]!.request, 200));
    expect(transport.responses(200)).toHaveLength(1);
  });

  it('a TU callback that throws does not break the layer', () => {
    const s = setup();
    s.layer.onRequest(() => {
      throw new Error('TU bug');
    });
    expect(() => s.layer.receive({ message: inboundRequest('OPTIONS', VIA_UDP), source: SRC_UDP, raw: Buffer.alloc(0) })).not.toThrow();
    expect(s.layer.stats.serverTransactions).toBe(1);
  });
});
