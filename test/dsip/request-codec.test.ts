import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeRequest, encodeRejection, encodeRequest, isPeerRequest, type DecodedRequest } from '../../src/dsip/codec.js';
import { idToHex } from '../../src/overlay/id.js';
import type { RequestEnvelope } from '../../src/overlay/messages.js';
import { resourceId } from '../../src/overlay/peer-id.js';
import { parseMessage, serializeMessage, type SipRequest } from '../../src/sip/message/index.js';
import {
  ALICE,
  ALICE_SRC,
  aliceRegister,
  BOB,
  dhtPeerIdOf,
  envelopeArb,
  hex,
  OVERLAY,
  overTheWire,
  parseRequestText,
  sourceArb,
} from './helpers.js';

const bobCtx = { overlay: OVERLAY, self: BOB };
const decode = (lines: string[], ctx = {}): DecodedRequest => decodeRequest(parseRequestText(lines), ALICE_SRC, { ...bobCtx, ...ctx });

function expectRejected(r: DecodedRequest, status: number): Extract<DecodedRequest, { ok: false }> {
  if (r.ok) throw new Error(`accepted: ${JSON.stringify(r.envelope, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16) : v))}`);
  expect(r.status).toBe(status);
  return r;
}

function header(r: { headers?: Array<[string, string]> }, name: string): string | undefined {
  return r.headers?.find(([n]) => n.toLowerCase() === name.toLowerCase())?.[1];
}

function send(envelope: RequestEnvelope, extra: Partial<Parameters<typeof encodeRequest>[1]> = {}): SipRequest {
  return overTheWire(encodeRequest(envelope, { overlay: OVERLAY, self: envelope.from, to: { address: BOB.address, id: BOB.id }, ...extra }));
}

describe('request round trip', () => {
  it('gives back the same envelope for every operation, mode and hop count', () => {
    fc.assert(
      fc.property(sourceArb.chain((src) => fc.tuple(fc.constant(src), envelopeArb(src))), ([src, envelope]) => {
        const r = decodeRequest(send(envelope), src, bobCtx);
        expect(r.ok ? r.envelope : r).toEqual(envelope);
      }),
      { numRuns: 300 },
    );
  });

  it('carries first contact (overlay=*) and candidates wanted', () => {
    const envelope: RequestEnvelope = { from: ALICE, mode: 'iterative', hops: 0, request: { op: 'JOIN' } };
    const req = send(envelope, { firstContact: true, candidatesWanted: 10, expiresS: 1800, to: { address: BOB.address } });
    expect(req.headers.get('dht-peerid')).toContain(';overlay=*;');
    expectRejected(decodeRequest(req, ALICE_SRC, bobCtx), 488);
    const r = decodeRequest(req, ALICE_SRC, { ...bobCtx, acceptAnyOverlay: true });
    expect(r).toMatchObject({ ok: true, envelope, candidatesWanted: 10, expiresS: 1800, peer: { anyOverlay: true } });
  });

  it('writes Max-Forwards 70 - hops, proxy for recursive, no Via', () => {
    const req = encodeRequest(
      { from: ALICE, mode: 'recursive', hops: 3, request: { op: 'FIND_NODE', target: 7n } },
      { overlay: OVERLAY, self: ALICE, to: { address: BOB.address } },
    );
    expect(req.headers.get('max-forwards')).toBe('67');
    expect(req.headers.get('request-disposition')).toBe('proxy');
    expect(req.headers.has('via')).toBe(false);
    expect(req.headers.has('contact')).toBe(false);
    expect(req.headers.has('expires')).toBe(false);
  });

  it('writes PING as OPTIONS naming the peer, STORE with ;expires= rounded up, REMOVE with Expires: 0', () => {
    const ping = send({ from: ALICE, mode: 'iterative', hops: 0, request: { op: 'PING' } });
    expect(ping.method).toBe('OPTIONS');
    expect(ping.headers.get('to')).toBe(`<sip:peer@${BOB.address};peer-ID=${hex(BOB)}>`);
    const store = send({ from: ALICE, mode: 'iterative', hops: 0, request: { op: 'STORE', key: 5n, bindings: [{ value: 'sip:a@192.0.2.1', ttlMs: 1500 }] } });
    expect(store.headers.get('to')).toBe(`<sip:resource@0.0.0.0;rID=${idToHex(5n)}>`);
    expect(store.headers.getAll('contact')).toEqual(['<sip:a@192.0.2.1>;expires=2']);
    expect(store.headers.get('expires')).toBe('2');
    const remove = send({ from: ALICE, mode: 'iterative', hops: 0, request: { op: 'REMOVE', key: 5n, removals: [{ value: 'sip:a@192.0.2.1', ttlMs: 0 }] } });
    expect(remove.headers.get('expires')).toBe('0');
    expect(() => encodeRequest({ from: ALICE, mode: 'iterative', hops: 0, request: { op: 'STORE', key: 5n, bindings: [] } }, { overlay: OVERLAY, self: ALICE, to: BOB })).toThrow(RangeError);
  });
});

describe('request rejections (one code each)', () => {
  it('405 with Allow for a method the peer protocol does not use', () => {
    const r = expectRejected(decode(aliceRegister({ method: 'INVITE' })), 405);
    expect(header(r, 'Allow')).toBe('REGISTER, OPTIONS');
  });

  it('420 with Unsupported for an unknown option tag in Require', () => {
    const r = expectRejected(decode(aliceRegister({ edit: { Require: 'dht, x-teleport' } })), 420);
    expect(header(r, 'Unsupported')).toBe('x-teleport');
    expectRejected(decode(aliceRegister({ extra: ['Proxy-Require: foo'] })), 420);
  });

  it('421 with Require: dht when a DHT-PeerID comes without Require: dht', () => {
    const r = expectRejected(decode(aliceRegister({ edit: { Require: null } })), 421);
    expect(r.reason).toBe('Extension Required');
    expect(header(r, 'Require')).toBe('dht');
  });

  it('400 naming DHT-PeerID when it is missing, unparsable or repeated', () => {
    expect(expectRejected(decode(aliceRegister({ edit: { 'DHT-PeerID': null } })), 400).reason).toMatch(/DHT-PeerID/);
    expect(expectRejected(decode(aliceRegister({ edit: { 'DHT-PeerID': 'nonsense' } })), 400).reason).toMatch(/DHT-PeerID/);
    expect(expectRejected(decode(aliceRegister({ extra: [`DHT-PeerID: ${dhtPeerIdOf(ALICE)}`] })), 400).reason).toMatch(/DHT-PeerID/);
    const missingDht = dhtPeerIdOf(ALICE, `;algorithm=sha1;overlay=${OVERLAY}`);
    const r = expectRejected(decode(aliceRegister({ edit: { 'DHT-PeerID': missingDht } })), 400);
    expect(header(r, 'Warning')).toMatch(/^399 198\.51\.100\.7:5070 ".*missing dht"$/);
  });

  it('488 for a wrong overlay, a wrong dht, or an algorithm other than sha1', () => {
    for (const params of [
      ';algorithm=sha1;dht=Kademlia1.0;overlay=elsewhere',
      `;algorithm=sha1;dht=Chord1.0;overlay=${OVERLAY}`,
      `;algorithm=hmac-sha1;dht=Kademlia1.0;overlay=${OVERLAY}`,
      ';algorithm=sha1;dht=Kademlia1.0;overlay=*',
    ]) {
      expect(expectRejected(decode(aliceRegister({ edit: { 'DHT-PeerID': dhtPeerIdOf(ALICE, params) } })), 488).reason).toBe('Not Acceptable Here');
    }
  });

  it('493 when the peer-ID is not the one of the address the request came from', () => {
    const r = expectRejected(decodeRequest(parseRequestText(aliceRegister()), { host: '192.0.2.10', port: 5061 }, bobCtx), 493);
    expect(r.reason).toBe('Undecipherable');
    // A forged ID for the right address is refused just the same.
    const forged = `<sip:peer@${ALICE.address};peer-ID=${hex(BOB)}>;algorithm=sha1;dht=Kademlia1.0;overlay=${OVERLAY}`;
    expectRejected(decode(aliceRegister({ edit: { 'DHT-PeerID': forged } })), 493);
  });

  it('400 "Too Many Contacts" past the per-message bound', () => {
    const contacts = ['<sip:a@192.0.2.1>;expires=60', '<sip:b@192.0.2.1>;expires=60', '<sip:c@192.0.2.1>;expires=60'];
    const lines = aliceRegister({ edit: { To: `<sip:resource@0.0.0.0;rID=${idToHex(9n)}>`, Contact: contacts.join(', '), Expires: '60' } });
    expect(decode(lines, { limits: { maxContacts: 3 } }).ok).toBe(true);
    expect(expectRejected(decode(lines, { limits: { maxContacts: 2 } }), 400).reason).toBe('Too Many Contacts');
  });

  it('400 for a bad Expires: unparsable, unparsable ;expires=, missing on STORE, STORE and REMOVE mixed', () => {
    const to = `<sip:resource@0.0.0.0;rID=${idToHex(9n)}>`;
    const cases: Array<Record<string, string | null>> = [
      { To: to, Contact: '<sip:a@192.0.2.1>', Expires: 'soon' },
      { To: to, Contact: '<sip:a@192.0.2.1>;expires=-1' },
      { To: to, Contact: '<sip:a@192.0.2.1>' },
      { To: to, Contact: '<sip:a@192.0.2.1>;expires=0, <sip:b@192.0.2.1>;expires=60' },
      { To: `<sip:peer@${ALICE.address};peer-ID=${hex(ALICE)}>`, Contact: `<sip:peer@${ALICE.address};peer-ID=${hex(ALICE)}>` },
    ];
    for (const edit of cases) expectRejected(decode(aliceRegister({ edit })), 400);
  });

  it('483 for Max-Forwards 0 on a recursive request (an iterative one is answered)', () => {
    expectRejected(decode(aliceRegister({ edit: { 'Max-Forwards': '0' }, extra: ['Request-Disposition: proxy'] })), 483);
    expect(decode(aliceRegister({ edit: { 'Max-Forwards': '0' } }))).toMatchObject({ ok: true, envelope: { hops: 70 } });
  });

  it('413 for a binding value above maxValueBytes', () => {
    const long = `<sip:${'a'.repeat(100)}@192.0.2.1>;expires=60`;
    const lines = aliceRegister({ edit: { To: `<sip:resource@0.0.0.0;rID=${idToHex(9n)}>`, Contact: long } });
    expect(decode(lines).ok).toBe(true);
    expectRejected(decode(lines, { limits: { maxValueBytes: 64 } }), 413);
  });

  it('403 for a JOIN or LEAVE registering another peer', () => {
    const bobUri = `<sip:peer@${BOB.address};peer-ID=${hex(BOB)}>`;
    const aliceUri = `<sip:peer@${ALICE.address};peer-ID=${hex(ALICE)}>`;
    expectRejected(decode(aliceRegister({ edit: { To: bobUri, Contact: bobUri, Expires: '60' } })), 403);
    expectRejected(decode(aliceRegister({ edit: { To: aliceUri, Contact: bobUri, Expires: '60' } })), 403);
  });

  it('400 for conflicting Request-Disposition, a bad rID, a Contact on FIND_NODE, Contact * on a resource', () => {
    expectRejected(decode(aliceRegister({ extra: ['Request-Disposition: proxy, redirect'] })), 400);
    expectRejected(decode(aliceRegister({ edit: { To: `<sip:alice@example.com;rID=${hex(BOB)}>` } })), 400);
    expectRejected(decode(aliceRegister({ edit: { Contact: '<sip:a@192.0.2.1>', Expires: '60' } })), 400);
    expectRejected(decode(aliceRegister({ edit: { To: '<sip:alice@example.com>', Contact: '*', Expires: '0' } })), 400);
  });
});

describe('requests written by others', () => {
  it('accepts the drafts spellings and the short forms', () => {
    const params = `;algorithm=sha1;dht-param=Kademlia1.0;overlay=${OVERLAY}`;
    const r = decode(
      aliceRegister({
        edit: {
          'DHT-PeerID': `<sip:P@${ALICE.address};pID=${hex(ALICE).toUpperCase()}>${params}`,
          To: `<sip:P@0.0.0.0;peerId=${hex(BOB)}>`,
          Require: 'DHT',
        },
        extra: ['d: fork, proxy'],
      }),
    );
    expect(r).toMatchObject({ ok: true, envelope: { from: ALICE, mode: 'recursive', request: { op: 'FIND_NODE', target: BOB.id } } });
  });

  it('reads JOIN/LEAVE from the Contact expires or Contact *, and STORE to a real AoR', () => {
    const me = `<sip:peer@${ALICE.address};peer-ID=${hex(ALICE)}>`;
    expect(decode(aliceRegister({ edit: { To: me, Contact: `${me};expires=300` } }))).toMatchObject({ ok: true, expiresS: 300, envelope: { request: { op: 'JOIN' } } });
    expect(decode(aliceRegister({ edit: { To: me, Contact: me, Expires: '0' } }))).toMatchObject({ ok: true, envelope: { request: { op: 'LEAVE' } } });
    expect(decode(aliceRegister({ edit: { To: me, Contact: '*', Expires: '0' } }))).toMatchObject({ ok: true, envelope: { request: { op: 'LEAVE' } } });
    const store = decode(aliceRegister({ edit: { To: '<sip:Alice@Example.COM>', Contact: '<sip:alice@192.0.2.99:5062>', Expires: '120' } }));
    expect(store).toMatchObject({
      ok: true,
      envelope: { request: { op: 'STORE', key: resourceId('sip:Alice@example.com'), bindings: [{ value: 'sip:alice@192.0.2.99:5062', ttlMs: 120_000 }] } },
    });
  });

  it('tells peer requests from requests for the registrar and proxy roles', () => {
    expect(isPeerRequest(parseRequestText(aliceRegister()))).toBe(true);
    expect(isPeerRequest(parseRequestText(aliceRegister({ edit: { 'DHT-PeerID': null } })))).toBe(true);
    expect(isPeerRequest(parseRequestText(aliceRegister({ edit: { Require: null } })))).toBe(true);
    expect(isPeerRequest(parseRequestText(aliceRegister({ method: 'OPTIONS', edit: { Require: null, 'DHT-PeerID': null } })))).toBe(false);
  });

  it('answers OPTIONS as PING whatever its To', () => {
    const r = decode(aliceRegister({ method: 'OPTIONS', edit: { To: `<sip:${BOB.address}>` } }));
    expect(r).toMatchObject({ ok: true, envelope: { request: { op: 'PING' } } });
  });

  it('never throws on hostile header values and always gives a 4xx or an envelope', () => {
    const names = ['To', 'Contact', 'Expires', 'DHT-PeerID', 'Require', 'Request-Disposition', 'Max-Forwards', 'DHT-Candidates-Wanted'];
    fc.assert(
      fc.property(fc.constantFrom(...names), fc.string({ unit: 'grapheme-ascii', maxLength: 80 }), (name, value) => {
        const lines = aliceRegister({ edit: { [name]: value.replace(/[\r\n]/g, '') } });
        const parsed = parseMessage(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`));
        if (!parsed.ok || parsed.message.kind !== 'request') return;
        const r = decodeRequest(parsed.message, ALICE_SRC, bobCtx);
        if (!r.ok) {
          expect(r.status).toBeGreaterThanOrEqual(400);
          expect(r.status).toBeLessThan(500);
          // The rejection can always be written out and read back.
          const answer = encodeRejection(parsed.message, r, { overlay: OVERLAY, self: BOB });
          const back = parseMessage(serializeMessage(answer));
          expect(back.ok && back.message.kind === 'response' && back.message.status).toBe(r.status);
        }
      }),
      { numRuns: 500 },
    );
  });
});
