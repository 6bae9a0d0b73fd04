/** The two transaction-layer additions the proxy needs: ClientHandlers.onTimerC and sendStateless. */
import { describe, expect, it, vi } from 'vitest';
import { PEER_UDP, TIMERS, request, responseTo, setup } from '../sip/transaction/fakes.js';

const { C, T1 } = TIMERS;

describe('TransactionLayer additions for the proxy', () => {
  it('onTimerC: the INVITE stays in Proceeding, its 487 is ACKed and delivered; onTimeout only 64*T1 later', () => {
    const { layer, transport, clock } = setup();
    const h = { onResponse: vi.fn(), onTimeout: vi.fn(), onTimerC: vi.fn() };
    const txn = layer.sendRequest(request('INVITE'), PEER_UDP, h);
    layer.receive({ message: responseTo(txn.request, 180), source: PEER_UDP, raw: Buffer.alloc(0) });
    clock.advance(C);
    expect(h.onTimerC).toHaveBeenCalledOnce();
    expect(h.onTimeout).not.toHaveBeenCalled();
    expect(txn.state).toBe('proceeding');
    layer.receive({ message: responseTo(txn.request, 487), source: PEER_UDP, raw: Buffer.alloc(0) });
    expect(h.onResponse.mock.calls.map(([r]) => (r as { status: number }).status)).toEqual([180, 487]);
    expect(transport.requests('ACK')).toHaveLength(1);

    const h2 = { onResponse: vi.fn(), onTimeout: vi.fn(), onTimerC: vi.fn() };
    const txn2 = layer.sendRequest(request('INVITE'), PEER_UDP, h2);
    layer.receive({ message: responseTo(txn2.request, 180), source: PEER_UDP, raw: Buffer.alloc(0) });
    clock.advance(C + 64 * T1 - 1);
    expect(h2.onTimeout).not.toHaveBeenCalled();
    clock.advance(1);
    expect(h2.onTimeout).toHaveBeenCalledOnce();
    expect(txn2.state).toBe('terminated');
  });

  it('sendStateless sends the message as given, no Via added', () => {
    const { layer, transport } = setup();
    const r = responseTo(request('INVITE', [['Via', 'SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bKup']]), 200);
    layer.sendStateless(r, PEER_UDP);
    expect(transport.sent).toHaveLength(1);
    expect(transport.sent[0]!.message.headers.getAll('via')).toEqual(r.headers.getAll('via'));
  });
});
