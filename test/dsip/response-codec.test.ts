import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeRequest,
  decodeResponse,
  encodeRejection,
  encodeRequest,
  encodeResponse,
  LEAVING_RETRY_AFTER_S,
  MAX_UDP_BYTES,
  STORE_FULL_RETRY_AFTER_S,
} from '../../src/dsip/codec.js';
import type { Contact } from '../../src/overlay/contact.js';
import type { NodeId } from '../../src/overlay/id.js';
import type { OverlayErrorReason, OverlayRequest, OverlayResponse } from '../../src/overlay/messages.js';
import { serializeMessage, type SipRequest } from '../../src/sip/message/index.js';
import {
  ALICE,
  ALICE_SRC,
  anyId,
  bindingArb,
  BOB,
  BOB_SRC,
  contactAt,
  sourceArb,
  contactsArb,
  dhtPeerIdOf,
  hex,
  OVERLAY,
  overTheWire,
  parseResponseText,
  requestArb,
} from './helpers.js';

/** ALICE's request for `request`, as BOB receives it. */
function request(req: OverlayRequest): SipRequest {
  return overTheWire(
    encodeRequest({ from: ALICE, mode: 'iterative', hops: 0, request: req }, { overlay: OVERLAY, self: ALICE, to: { address: BOB.address }, callId: 'c1', fromTag: 'f1' }),
  );
}

const answer = (req: SipRequest, res: OverlayResponse, protocol: 'udp' | 'tcp' = 'tcp') =>
  overTheWire(encodeResponse(req, res, { overlay: OVERLAY, self: BOB, protocol }));

/** The ID a request's contacts are sorted by. */
function targetOf(req: OverlayRequest): NodeId | undefined {
  switch (req.op) {
    case 'JOIN':
    case 'LEAVE':
      return ALICE.id;
    case 'FIND_NODE':
      return req.target;
    case 'FIND_VALUE':
    case 'STORE':
    case 'REMOVE':
      return req.key;
    default:
      return undefined;
  }
}

const byDistance = (target: NodeId) => (a: Contact, b: Contact) => {
  const da = a.id ^ target;
  const db = b.id ^ target;
  return da < db ? -1 : da > db ? 1 : 0;
};

const errorArb: fc.Arbitrary<OverlayResponse> = fc.record(
  {
    kind: fc.constant('error' as const),
    reason: fc.constantFrom<OverlayErrorReason>(
      'bad-request',
      'too-many-bindings',
      'value-too-large',
      'store-full',
      'loop',
      'leaving',
      'proof-required',
      'unknown-signer',
      'bad-certificate',
      'bad-signature',
      'not-authorized',
      'replayed',
      'expired',
      'future-dated',
    ),
    detail: fc.string({ unit: 'grapheme', maxLength: 30 }).map((s) => s.replace(/[\r\n]/g, '')),
  },
  { requiredKeys: ['kind', 'reason'] },
);

/** A response the overlay core could give to `req`. */
function responseArb(req: OverlayRequest): fc.Arbitrary<OverlayResponse> {
  const contacts = contactsArb(20);
  const bindings = fc.array(bindingArb, { minLength: 1, maxLength: 8 });
  switch (req.op) {
    case 'PING':
    case 'LEAVE':
    case 'REMOVE':
      return fc.oneof(fc.constant({ kind: 'ok' as const }), errorArb);
    case 'JOIN':
      return fc.oneof(contacts.map((c) => ({ kind: 'ok' as const, contacts: c })), errorArb);
    case 'STORE':
      return fc.oneof(bindings.map((b) => ({ kind: 'stored' as const, bindings: b })), errorArb);
    case 'FIND_NODE':
      return fc.oneof(fc.constant({ kind: 'ok' as const }), contacts.map((c) => ({ kind: 'nodes' as const, contacts: c })), errorArb);
    case 'FIND_VALUE':
      return fc.oneof(
        bindings.map((b) => ({ kind: 'value' as const, bindings: b })),
        contacts.map((c) => ({ kind: 'nodes' as const, contacts: c })),
        contacts.map((c) => ({ kind: 'not-found' as const, contacts: c })),
        errorArb,
      );
  }
}

/** What the asker should read back: contacts closest first, empty contact lists absent. */
function expected(req: OverlayRequest, res: OverlayResponse): OverlayResponse {
  if (res.kind !== 'ok' && res.kind !== 'nodes' && res.kind !== 'not-found') return res;
  const target = targetOf(req);
  const contacts = [...(res.contacts ?? [])];
  if (target !== undefined) contacts.sort(byDistance(target));
  if (res.kind === 'nodes') return { kind: 'nodes', contacts };
  return contacts.length > 0 ? { kind: res.kind, contacts } : { kind: res.kind };
}

describe('response round trip', () => {
  it('gives back the same response for every operation (TCP: all contacts)', () => {
    fc.assert(
      fc.property(requestArb.chain((req) => fc.tuple(fc.constant(req), responseArb(req))), ([req, res]) => {
        const sipReq = request(req);
        const back = decodeResponse(answer(sipReq, res), req, BOB_SRC, { overlay: OVERLAY });
        expect(back).toEqual({ ok: true, from: BOB, response: expected(req, res) });
      }),
      { numRuns: 300 },
    );
  });

  it('over UDP keeps every response under 1300 bytes and lists a closest-first prefix', () => {
    fc.assert(
      fc.property(anyId, contactsArb(20), (target, contacts) => {
        const req: OverlayRequest = { op: 'FIND_NODE', target };
        const sipRes = encodeResponse(request(req), { kind: 'nodes', contacts }, { overlay: OVERLAY, self: BOB, protocol: 'udp' });
        expect(serializeMessage(sipRes).length).toBeLessThan(MAX_UDP_BYTES);
        const back = decodeResponse(overTheWire(sipRes), req, BOB_SRC, { overlay: OVERLAY });
        const sorted = [...contacts].sort(byDistance(target));
        if (!back.ok || back.response.kind !== 'nodes') throw new Error('not a 302');
        expect(back.response.contacts).toEqual(sorted.slice(0, back.response.contacts.length));
      }),
      { numRuns: 100 },
    );
  });
});

describe('302 size: k = 20', () => {
  // The widest IPv4 addresses and ports, so each PeerURI is as long as an IPv4 one gets.
  const twenty = Array.from({ length: 20 }, (_, i) => contactAt(`203.255.${200 + i}.${255 - i}`, 65000 + i));
  const target = BOB.id ^ 1n;
  const req: OverlayRequest = { op: 'FIND_NODE', target };
  const closest = [...twenty].sort(byDistance(target));

  it('over UDP stays under 1300 bytes and includes the closest first', () => {
    const res = encodeResponse(request(req), { kind: 'nodes', contacts: twenty }, { overlay: OVERLAY, self: BOB, protocol: 'udp' });
    const bytes = serializeMessage(res);
    expect(res.status).toBe(302);
    expect(bytes.length).toBeLessThan(1300);
    const back = decodeResponse(overTheWire(res), req, BOB_SRC, { overlay: OVERLAY });
    if (!back.ok || back.response.kind !== 'nodes') throw new Error('not a 302');
    const n = back.response.contacts.length;
    expect(n).toBeGreaterThanOrEqual(8);
    expect(n).toBeLessThan(20);
    expect(back.response.contacts).toEqual(closest.slice(0, n));
    // One more would not have fitted.
    const next = closest[n];
    expect(next).toBeDefined();
    expect(bytes.length + `, <sip:peer@${next!.address};peer-ID=${hex(next!)}>;expires=3600`.length).toBeGreaterThanOrEqual(1300);
  });

  it('over TCP includes all 20', () => {
    const res = encodeResponse(request(req), { kind: 'nodes', contacts: twenty }, { overlay: OVERLAY, self: BOB, protocol: 'tcp' });
    const back = decodeResponse(overTheWire(res), req, BOB_SRC, { overlay: OVERLAY });
    expect(back).toEqual({ ok: true, from: BOB, response: { kind: 'nodes', contacts: closest } });
  });
});

describe('wire form', () => {
  it('FIND_NODE REGISTER and its 302 carry the header lines PROTOCOL.md prescribes', () => {
    const target = 0xabcn;
    const req = encodeRequest(
      { from: ALICE, mode: 'iterative', hops: 0, request: { op: 'FIND_NODE', target } },
      { overlay: OVERLAY, self: ALICE, to: { address: BOB.address }, expiresS: 600 },
    );
    const reqText = serializeMessage(req).toString('utf8');
    const lines = reqText.split('\r\n');
    expect(lines[0]).toBe(`REGISTER sip:${BOB.address} SIP/2.0`);
    expect(lines).toContain(`To: <sip:peer@0.0.0.0;peer-ID=${'0'.repeat(37)}abc>`);
    expect(lines).toContain('Require: dht');
    expect(lines).toContain('Supported: dht');
    expect(lines).toContain('Max-Forwards: 70');
    expect(lines).toContain('Content-Length: 0');
    expect(lines).toContain(`DHT-PeerID: <sip:peer@192.0.2.10:5060;peer-ID=${hex(ALICE)}>;algorithm=sha1;dht=Kademlia1.0;overlay=${OVERLAY};expires=600`);
    expect(lines.find((l) => l.startsWith('From: '))).toMatch(new RegExp(`^From: <sip:peer@192\\.0\\.2\\.10:5060;peer-ID=${hex(ALICE)}>;tag=\\w+$`));
    expect(reqText).not.toMatch(/^(Contact|Expires|Via):/m);

    const res = encodeResponse(overTheWire(req), { kind: 'nodes', contacts: [ALICE] }, { overlay: OVERLAY, self: BOB, protocol: 'udp' });
    const resLines = serializeMessage(res).toString('utf8').split('\r\n');
    expect(resLines[0]).toBe('SIP/2.0 302 Moved Temporarily');
    expect(resLines).toContain(`DHT-PeerID: <sip:peer@198.51.100.7:5070;peer-ID=${hex(BOB)}>;algorithm=sha1;dht=Kademlia1.0;overlay=${OVERLAY};expires=3600`);
    expect(resLines).toContain(`Contact: <sip:peer@192.0.2.10:5060;peer-ID=${hex(ALICE)}>;expires=3600`);
  });

  it('writes each overlay error with its status, a Warning and, for 503, Retry-After', () => {
    const cases: Array<[OverlayErrorReason, number, number | undefined]> = [
      ['bad-request', 400, undefined],
      ['too-many-bindings', 403, undefined],
      ['value-too-large', 413, undefined],
      ['store-full', 503, STORE_FULL_RETRY_AFTER_S],
      ['loop', 482, undefined],
      ['leaving', 503, LEAVING_RETRY_AFTER_S],
    ];
    const req = request({ op: 'STORE', key: 1n, bindings: [{ value: 'sip:a@192.0.2.1', ttlMs: 60_000 }] });
    for (const [reason, status, retryAfter] of cases) {
      const res = encodeResponse(req, { kind: 'error', reason, detail: 'why' }, { overlay: OVERLAY, self: BOB, protocol: 'udp' });
      expect(res.status).toBe(status);
      expect(res.headers.get('warning')).toBe(`399 ${BOB.address} "${reason}: why"`);
      expect(res.headers.get('retry-after')).toBe(retryAfter === undefined ? undefined : String(retryAfter));
      expect(res.headers.get('dht-peerid')).toContain(`peer-ID=${hex(BOB)}`);
    }
    expect(encodeResponse(req, { kind: 'not-found' }, { overlay: OVERLAY, self: BOB, protocol: 'udp' }).status).toBe(404);
  });

  it('answers rejected requests with the answerer DHT-PeerID', () => {
    const req = request({ op: 'PING' });
    req.headers.remove('require');
    const r = decodeRequest(req, ALICE_SRC, { overlay: OVERLAY, self: BOB });
    if (r.ok) throw new Error('accepted');
    const res = overTheWire(encodeRejection(req, r, { overlay: OVERLAY, self: BOB }));
    expect(res.status).toBe(421);
    expect(res.headers.get('require')).toBe('dht');
    expect(decodeResponse(res, { op: 'PING' }, BOB_SRC, { overlay: OVERLAY })).toMatchObject({ ok: false, reason: 'rejected', detail: '421 Extension Required' });
  });
});

describe('response checks', () => {
  const findNode: OverlayRequest = { op: 'FIND_NODE', target: 77n };
  const head = (status: string, dht = dhtPeerIdOf(BOB)) => [
    `SIP/2.0 ${status}`,
    'Via: SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKabc',
    `From: <sip:peer@${ALICE.address};peer-ID=${hex(ALICE)}>;tag=1`,
    `To: <sip:peer@0.0.0.0;peer-ID=${'0'.repeat(38)}4d>;tag=2`,
    'Call-ID: c1',
    'CSeq: 1 REGISTER',
    `DHT-PeerID: ${dht}`,
    'Content-Length: 0',
  ];

  it('rejects an answerer whose DHT-PeerID does not match where the response came from', () => {
    const res = parseResponseText(head('200 OK'));
    expect(decodeResponse(res, findNode, BOB_SRC, { overlay: OVERLAY })).toEqual({ ok: true, from: BOB, response: { kind: 'ok' } });
    expect(decodeResponse(res, findNode, { host: BOB_SRC.host, port: 5071 }, { overlay: OVERLAY })).toMatchObject({ ok: false, reason: 'rejected' });
  });

  it('rejects a response without DHT-PeerID, for another overlay, or for another method', () => {
    const noDht = parseResponseText(head('200 OK').filter((l) => !l.startsWith('DHT-PeerID')));
    expect(decodeResponse(noDht, findNode, BOB_SRC, { overlay: OVERLAY })).toMatchObject({ ok: false, reason: 'rejected' });
    const other = parseResponseText(head('200 OK', dhtPeerIdOf(BOB, ';algorithm=sha1;dht=Kademlia1.0;overlay=other')));
    expect(decodeResponse(other, findNode, BOB_SRC, { overlay: OVERLAY })).toMatchObject({ ok: false, reason: 'rejected' });
    expect(decodeResponse(parseResponseText(head('200 OK')), { op: 'PING' }, BOB_SRC, { overlay: OVERLAY })).toMatchObject({ ok: false });
    expect(decodeResponse(parseResponseText(head('100 Trying')), findNode, BOB_SRC, { overlay: OVERLAY })).toMatchObject({ ok: false });
  });

  it('drops Contacts in a 302 whose ID is not the one of their address, and 0.0.0.0 ones', () => {
    const forged = `<sip:peer@203.0.113.5:5060;peer-ID=${hex(ALICE)}>;expires=60`;
    const anyHolder = `<sip:peer@0.0.0.0;peer-ID=${hex(ALICE)}>`;
    const good = `<sip:P@${ALICE.address};pID=${hex(ALICE)}>;expires=60`;
    const res = parseResponseText([...head('302 Moved Temporarily'), `Contact: ${forged}, ${anyHolder}, ${good}, ${good}`, 'Contact: <sip:alice@example.com>']);
    expect(decodeResponse(res, findNode, BOB_SRC, { overlay: OVERLAY })).toEqual({ ok: true, from: BOB, response: { kind: 'nodes', contacts: [ALICE] } });
  });

  it('bounds the Contacts it reads', () => {
    const many = Array.from({ length: 10 }, (_, i) => contactAt(`203.0.113.${i + 1}`, 5060));
    const res = parseResponseText([...head('302 Moved Temporarily'), ...many.map((c) => `Contact: <sip:peer@${c.address};peer-ID=${hex(c)}>`)]);
    const back = decodeResponse(res, findNode, BOB_SRC, { overlay: OVERLAY, maxContacts: 4 });
    expect(back.ok && back.response.kind === 'nodes' && back.response.contacts).toEqual(many.slice(0, 4));
  });

  it('maps 404 to not-found, 408 to timeout, and unknown refusals to rejected', () => {
    const fv: OverlayRequest = { op: 'FIND_VALUE', key: 5n };
    expect(decodeResponse(parseResponseText(head('404 Not Found')), fv, BOB_SRC, { overlay: OVERLAY })).toEqual({ ok: true, from: BOB, response: { kind: 'not-found' } });
    expect(decodeResponse(parseResponseText(head('408 Request Timeout')), fv, BOB_SRC, { overlay: OVERLAY })).toMatchObject({ ok: false, reason: 'timeout' });
    expect(decodeResponse(parseResponseText(head('493 Undecipherable')), fv, BOB_SRC, { overlay: OVERLAY })).toMatchObject({ ok: false, reason: 'rejected' });
    expect(decodeResponse(parseResponseText(head('302 Moved Temporarily')), { op: 'PING' }, BOB_SRC, { overlay: OVERLAY })).toMatchObject({ ok: false });
  });

  it('reads 503 with a leaving Warning as leaving, and a bare 503 to STORE as store-full', () => {
    const store: OverlayRequest = { op: 'STORE', key: 5n, bindings: [{ value: 'sip:a@b', ttlMs: 1000 }] };
    const leaving = parseResponseText([...head('503 Service Unavailable'), `Warning: 399 ${BOB.address} "leaving"`, 'Retry-After: 3600']);
    expect(decodeResponse(leaving, store, BOB_SRC, { overlay: OVERLAY })).toMatchObject({ ok: true, response: { kind: 'error', reason: 'leaving' } });
    const bare = parseResponseText(head('503 Service Unavailable'));
    expect(decodeResponse(bare, store, BOB_SRC, { overlay: OVERLAY })).toMatchObject({ ok: true, response: { kind: 'error', reason: 'store-full' } });
  });

  it('never throws on hostile responses', () => {
    fc.assert(
      fc.property(
        fc.constantFrom('Contact', 'DHT-PeerID', 'Warning', 'Expires', 'CSeq'),
        fc.string({ unit: 'grapheme-ascii', maxLength: 80 }),
        fc.constantFrom('200 OK', '302 Moved Temporarily', '404 Not Found', '503 Service Unavailable', '403 Forbidden'),
        requestArb,
        (name, value, status, req) => {
          const lines = head(status).filter((l) => !l.startsWith(`${name}:`));
          lines.push(`${name}: ${value.replace(/[\r\n]/g, '')}`);
          let res;
          try {
            res = parseResponseText(lines);
          } catch {
            return; // the message layer refused it first
          }
          const r = decodeResponse(res, req, BOB_SRC, { overlay: OVERLAY });
          expect(typeof r.ok).toBe('boolean');
        },
      ),
      { numRuns: 500 },
    );
  });
});

describe('STUN/TURN candidates on the wire (PROTOCOL.md section 5)', () => {
  it('round-trips DHT-Candidate headers and the advertised stun=/turn= of the answerer', async () => {
    const { parseCandidate, formatCandidate } = await import('../../src/dsip/candidate-header.js');
    const { encodeRequest, encodeResponse, decodeRequest, decodeResponse } = await import('../../src/dsip/index.js');
    const { parseMessage, serializeMessage } = await import('../../src/sip/message/index.js');
    const { peerIdFromAddress } = await import('../../src/overlay/peer-id.js');
    const asker = { id: peerIdFromAddress('127.0.0.1', 5070), address: '127.0.0.1:5070' };
    const answerer = { id: peerIdFromAddress('127.0.0.1', 5072), address: '127.0.0.1:5072', stun: '127.0.0.1:3478' };
    const candidates = [
      { stun: '192.0.2.1:3478', role: 'peer' as const, priority: 1 },
      { stun: '192.0.2.2:3478', turn: '192.0.2.2:3479', role: 'client' as const, priority: 3 },
    ];
    const req = encodeRequest({ from: asker, mode: 'recursive', hops: 0, request: { op: 'PING' }, candidatesWanted: 10, candidates }, { overlay: 'o', self: asker, to: { address: answerer.address } });
    req.headers.prepend('Via', 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKcand');
    const wire = serializeMessage(req).toString();
    expect(wire).toContain('DHT-Candidates-Wanted: 10\r\n');
    expect(wire).toContain('DHT-Candidate: <stun:192.0.2.2:3478>;role=client;prio=3;turn="turn:192.0.2.2:3479"\r\n');
    const parsed = parseMessage(Buffer.from(wire));
    if (!parsed.ok || parsed.message.kind !== 'request') throw new Error('parse');
    const decoded = decodeRequest(parsed.message, { host: '127.0.0.1', port: 5070 }, { overlay: 'o', self: answerer });
    if (!decoded.ok) throw new Error(decoded.reason);
    expect(decoded.envelope.candidatesWanted).toBe(10);
    expect(decoded.envelope.candidates).toEqual(candidates);
    const res = encodeResponse(parsed.message, { kind: 'ok', candidates }, { overlay: 'o', self: answerer, protocol: 'udp', stun: answerer.stun });
    const back = parseMessage(serializeMessage(res));
    if (!back.ok || back.message.kind !== 'response') throw new Error('parse');
    const result = decodeResponse(back.message, { op: 'PING' }, { host: '127.0.0.1', port: 5072 }, { overlay: 'o' });
    expect(result).toMatchObject({ ok: true, from: { stun: '127.0.0.1:3478' }, response: { kind: 'ok', candidates } });
    // The profile's own spelling of turn= is read too; junk is refused, never thrown.
    expect(parseCandidate('<stun:192.0.2.9:3478>;role=peer;prio=1;turn=<turn:192.0.2.9:3479>')).toEqual({ stun: '192.0.2.9:3478', turn: '192.0.2.9:3479', role: 'peer', priority: 1 });
    for (const junk of ['', '<stun:>', '<stun:host:1>', '<stun:1.2.3.4:0>', '<stun:1.2.3.4:1>;role=boss', '<stun:1.2.3.4:1>;prio=x']) expect(parseCandidate(junk)).toBeNull();
    expect(parseCandidate(formatCandidate(candidates[1]!))).toEqual(candidates[1]);
  });
});

describe('DHT-Candidate parser', () => {
  it('never throws on arbitrary text (property)', async () => {
    const { parseCandidate } = await import('../../src/dsip/candidate-header.js');
    fc.assert(fc.property(fc.string(), (s) => { parseCandidate(s); parseCandidate(`<stun:${s}>;role=peer;prio=1`); }), { numRuns: 500 });
  });

  it('round-trips load= (property) and refuses a candidate whose load is not 0..65535, never throwing', async () => {
    const { parseCandidate, formatCandidate } = await import('../../src/dsip/candidate-header.js');
    const candidateArb = fc.record(
      {
        stun: sourceArb.map((a) => contactAt(a.host, a.port).address),
        turn: sourceArb.map((a) => contactAt(a.host, a.port).address),
        role: fc.constantFrom('peer' as const, 'client' as const),
        priority: fc.integer({ min: 0, max: 999 }),
        load: fc.integer({ min: 0, max: 65535 }),
      },
      { requiredKeys: ['stun', 'role', 'priority'] },
    );
    fc.assert(fc.property(candidateArb, (c) => { expect(parseCandidate(formatCandidate(c))).toEqual(c); }), { numRuns: 300 });
    fc.assert(
      fc.property(fc.string(), (junk) => {
        const c = parseCandidate(`<stun:192.0.2.1:3478>;role=peer;prio=1;load=${junk}`);
        if (c?.load !== undefined) expect(Number.isInteger(c.load) && c.load >= 0 && c.load <= 65535).toBe(true);
      }),
      { numRuns: 500 },
    );
    for (const bad of ['-1', '65536', '1.5', 'x', '', '99999999999999999999']) {
      expect(parseCandidate(`<stun:192.0.2.1:3478>;role=peer;prio=1;load=${bad}`), bad).toBeNull();
    }
    // A figure that could not be read back is not written (a local bug must not break the header).
    expect(formatCandidate({ stun: '192.0.2.1:3478', role: 'peer', priority: 1, load: 1e9 })).toBe('<stun:192.0.2.1:3478>;role=peer;prio=1');
  });

  it('carries the answerer\'s load= from its DHT-PeerID into the Contact it becomes', async () => {
    const { encodeResponse, decodeResponse, encodeRequest } = await import('../../src/dsip/index.js');
    const { parseMessage, serializeMessage } = await import('../../src/sip/message/index.js');
    const asker = contactAt('127.0.0.1', 5070);
    const answerer = { ...contactAt('127.0.0.1', 5072), stun: '127.0.0.1:3478' };
    const req = encodeRequest({ from: asker, mode: 'iterative', hops: 0, request: { op: 'PING' } }, { overlay: 'o', self: asker, to: { address: answerer.address } });
    req.headers.prepend('Via', 'SIP/2.0/UDP 127.0.0.1:5070;branch=z9hG4bKload');
    const res = encodeResponse(req, { kind: 'ok' }, { overlay: 'o', self: answerer, protocol: 'udp', stun: answerer.stun, load: 12 });
    const wire = serializeMessage(res).toString();
    expect(wire).toMatch(/DHT-PeerID: [^\r]*;stun=127\.0\.0\.1:3478;load=12\r\n/);
    const back = parseMessage(Buffer.from(wire));
    if (!back.ok || back.message.kind !== 'response') throw new Error('parse');
    expect(decodeResponse(back.message, { op: 'PING' }, { host: '127.0.0.1', port: 5072 }, { overlay: 'o' })).toMatchObject({ ok: true, from: { stun: '127.0.0.1:3478', load: 12 } });
  });
});
