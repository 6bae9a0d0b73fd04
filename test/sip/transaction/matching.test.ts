import { describe, expect, it, vi } from 'vitest';
import { SipHeaders, createRequest, getFrom, tagOf, type SipResponse } from '../../../src/sip/message/index.js';
import { PEER_UDP, request, responseTo, setup } from './fakes.js';

describe('client matching (17.1.3)', () => {
  it('a response with another branch, or the same branch and another CSeq method, does not match', () => {
    const { layer } = setup();
    const h = { onResponse: vi.fn(), onTimeout: vi.fn() };
    const stray = vi.fn();
    layer.onStray(stray);
    const txn = layer.sendRequest(request('INVITE'), PEER_UDP, h);
    const other = responseTo(txn.request, 200);
    other.headers = new SipHeaders([...other.headers].map((f) => (f.key === 'via' ? { name: f.name, value: f.value.replace(txn.branch, 'z9hG4bKother') } : f)));
    layer.receive({ message: other, source: PEER_UDP, raw: Buffer.alloc(0) });
    const wrongMethod = responseTo(txn.request, 200);
    wrongMethod.headers.set('CSeq', '7 CANCEL');
    layer.receive({ message: wrongMethod, source: PEER_UDP, raw: Buffer.alloc(0) });
    expect(h.onResponse).not.toHaveBeenCalled();
    expect(stray).toHaveBeenCalledTimes(2);
    expect(txn.state).toBe('calling');
  });

  it('odd input never throws: a response without Via or CSeq goes to onStray', () => {
    const { layer } = setup();
    const stray = vi.fn();
    layer.onStray(stray);
    const bare: SipResponse = { kind: 'response', status: 200, reason: 'OK', version: 'SIP/2.0', headers: new SipHeaders(), body: Buffer.alloc(0) };
    expect(() => layer.receive({ message: bare, source: PEER_UDP, raw: Buffer.alloc(0) })).not.toThrow();
    const noBranch = { ...bare, headers: new SipHeaders([{ name: 'Via', value: 'SIP/2.0/UDP a.example.com' }, { name: 'CSeq', value: '1 OPTIONS' }]) };
    layer.receive({ message: noBranch, source: PEER_UDP, raw: Buffer.alloc(0) });
    expect(stray).toHaveBeenCalledTimes(2);
    // A hand-built request without Via is dropped quietly.
    const req = request('OPTIONS');
    expect(() => layer.receive({ message: req, source: PEER_UDP, raw: Buffer.alloc(0) })).not.toThrow();
  });

  it('close() ends every transaction and leaves no timer', () => {
    const { layer, clock, transport } = setup();
    layer.sendRequest(request('INVITE'), PEER_UDP, { onResponse: vi.fn(), onTimeout: vi.fn() });
    layer.sendRequest(request('OPTIONS'), PEER_UDP, { onResponse: vi.fn(), onTimeout: vi.fn() });
    layer.close();
    expect(layer.stats.clientTransactions).toBe(0);
    expect(clock.pending).toBe(0);
    clock.advance(60_000);
    expect(transport.sent).toHaveLength(2);
  });
});

describe('createRequest (8.1.1)', () => {
  it('fills Max-Forwards 70, a From tag, a random Call-ID, CSeq; no Via', () => {
    const a = createRequest({ method: 'OPTIONS', uri: 'sip:bob@example.com', from: 'Alice <sip:alice@example.com>', to: 'sip:bob@example.com' });
    const b = createRequest({ method: 'OPTIONS', uri: 'sip:bob@example.com', from: 'Alice <sip:alice@example.com>', to: 'sip:bob@example.com' });
    expect(a.headers.get('max-forwards')).toBe('70');
    expect(a.headers.get('cseq')).toBe('1 OPTIONS');
    expect(tagOf(getFrom(a))).toMatch(/^[0-9a-f]{16}$/);
    expect(a.headers.get('call-id')).not.toBe(b.headers.get('call-id'));
    expect(a.headers.has('via')).toBe(false);
    expect(a.headers.get('to')).toBe('sip:bob@example.com');
    const c = createRequest({ method: 'MESSAGE', uri: 'sip:bob@example.com', from: '<sip:a@b>;tag=keep', to: '<sip:bob@example.com>', cseq: 42, callId: 'cid', body: 'hi', headers: [['Content-Type', 'text/plain']] });
    expect(tagOf(getFrom(c))).toBe('keep');
    expect(c.headers.get('cseq')).toBe('42 MESSAGE');
    expect(c.body.toString()).toBe('hi');
    expect(() => createRequest({ method: 'BAD METHOD', uri: 'sip:x', from: 'sip:a@b', to: 'sip:c@d' })).toThrow(TypeError);
    expect(() => createRequest({ method: 'OPTIONS', uri: 'nope', from: 'sip:a@b', to: 'sip:c@d' })).toThrow(TypeError);
  });
});
