import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SipHeaders,
  createErrorResponse,
  createResponse,
  getCSeq,
  getContacts,
  getFrom,
  getMaxForwards,
  getTo,
  getTopVia,
  getVias,
  headerKey,
  parseMessage,
  serializeCSeq,
  serializeMessage,
  serializeNameAddr,
  serializeUri,
  serializeVia,
  tagOf,
  viaBranch,
  type MessageParseError,
  type ParseOptions,
  type SipMessage,
  type SipRequest,
  type SipResponse,
} from '../../../src/sip/message/index.js';
import * as arb from './arbitraries.js';
import { requestArb, responseArb } from './message-arbitraries.js';

const CRLF = '\r\n';
const lines = (...ls: string[]) => Buffer.from(ls.join(CRLF), 'utf8');

const BASIC = [
  'INVITE sip:bob@example.com SIP/2.0',
  'Via: SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds',
  'Max-Forwards: 70',
  'To: Bob <sip:bob@example.com>',
  'From: Alice <sip:alice@example.com>;tag=1928301774',
  'Call-ID: a84b4c76e66710@pc33.example.com',
  'CSeq: 314159 INVITE',
  'Contact: <sip:alice@pc33.example.com>',
  'Content-Type: application/sdp',
  'Content-Length: 4',
  '',
  'v=0\n',
];

function ok(buf: Buffer, opts?: ParseOptions): SipMessage {
  const r = parseMessage(buf, opts);
  if (!r.ok) throw new Error(`${r.error.status} ${r.error.reason}: ${r.error.warning ?? ''}`);
  return r.message;
}

function bad(buf: Buffer, opts?: ParseOptions): MessageParseError {
  const r = parseMessage(buf, opts);
  if (r.ok) throw new Error('parsed, expected an error');
  expect(r.error.code).not.toBe('internal');
  return r.error;
}

function replace(from: string, to: string | null): Buffer {
  const ls = BASIC.flatMap((l) => (l === from ? (to === null ? [] : [to]) : [l]));
  return lines(...ls);
}

describe('parseMessage: requests', () => {
  it('parses a plain INVITE', () => {
    const m = ok(lines(...BASIC)) as SipRequest;
    expect(m.kind).toBe('request');
    expect(m.method).toBe('INVITE');
    expect(serializeUri(m.uri)).toBe('sip:bob@example.com');
    expect(m.uriRaw).toBe('sip:bob@example.com');
    expect(m.body.toString()).toBe('v=0\n');
    expect(getCSeq(m)).toEqual({ seq: 314159, method: 'INVITE' });
    expect(getMaxForwards(m)).toBe(70);
    expect(tagOf(getFrom(m))).toBe('1928301774');
    expect(tagOf(getTo(m))).toBeUndefined();
    expect(viaBranch(getTopVia(m))).toBe('z9hG4bK776asdhds');
    expect(getContacts(m)).toMatchObject({ star: false, values: [{ displayName: null }] });
    expect(m.headers.get('i')).toBe('a84b4c76e66710@pc33.example.com');
    expect(m.headers.entries().map((f) => f.name)).toEqual(BASIC.slice(1, 10).map((l) => l.split(':')[0]));
  });

  it('skips leading CRLFs and reports a bare keep-alive', () => {
    expect(ok(Buffer.concat([Buffer.from('\r\n\r\n'), lines(...BASIC)])).kind).toBe('request');
    expect(bad(Buffer.from('\r\n\r\n'))).toMatchObject({ code: 'keepalive', canReply: false });
    expect(bad(Buffer.alloc(0))).toMatchObject({ code: 'keepalive', canReply: false });
  });

  it('unfolds continuation lines and keeps unknown headers verbatim', () => {
    const m = ok(lines(...BASIC.slice(0, 9), 'X-Folded: a', ' \t b,', '\tc', 'X-Odd: ;;,,;;,;', ...BASIC.slice(9)));
    expect(m.headers.get('x-folded')).toBe('a b, c');
    expect(m.headers.get('X-ODD')).toBe(';;,,;;,;');
  });

  it('is liberal with whitespace in the Request-Line but writes it clean', () => {
    const m = ok(replace(BASIC[0]!, 'INVITE  sip:bob@example.com \t SIP/2.0  '));
    expect(serializeMessage(m).toString().split(CRLF)[0]).toBe('INVITE sip:bob@example.com SIP/2.0');
  });

  it('answers 400 naming the missing mandatory header; Max-Forwards is optional', () => {
    for (const [line, name] of [
      [BASIC[1], 'Via'],
      [BASIC[3], 'To'],
      [BASIC[4], 'From'],
      [BASIC[5], 'Call-ID'],
      [BASIC[6], 'CSeq'],
    ] as const) {
      const e = bad(replace(line!, null));
      expect(e).toMatchObject({ status: 400, reason: `Missing ${name} header`, canReply: true });
    }
    expect(ok(replace(BASIC[2]!, null)).kind).toBe('request');
  });

  it('answers 400 for CSeq method mismatch of a known method, defers unknown methods', () => {
    expect(bad(replace(BASIC[6]!, 'CSeq: 1 OPTIONS'))).toMatchObject({ status: 400, code: 'cseq-mismatch' });
    const ls = BASIC.map((l) => (l.startsWith('INVITE') ? l.replace('INVITE', 'FOO') : l));
    expect(ok(lines(...ls)).kind).toBe('request');
  });

  it('answers 505 for other SIP versions, 400 for other start lines', () => {
    expect(bad(replace(BASIC[0]!, 'INVITE sip:bob@example.com SIP/3.0'))).toMatchObject({ status: 505, canReply: true });
    expect(bad(replace(BASIC[0]!, 'INVITE sip:bob@example.com HTTP/1.1'))).toMatchObject({ status: 400 });
    expect(bad(replace(BASIC[0]!, 'INVITE sip:bob@example.com'))).toMatchObject({ status: 400 });
    expect(bad(replace(BASIC[0]!, ' INVITE sip:bob@example.com SIP/2.0'))).toMatchObject({ status: 400 });
    expect(bad(replace(BASIC[0]!, 'INV@TE sip:bob@example.com SIP/2.0'))).toMatchObject({ status: 400, canReply: false });
  });

  it('frames datagram bodies by Content-Length', () => {
    // Extra octets are ignored (RFC 3261 section 18.3).
    expect(ok(Buffer.concat([lines(...BASIC), Buffer.from('garbage')])).body.toString()).toBe('v=0\n');
    // Fewer octets than announced: 400.
    expect(bad(replace('Content-Length: 4', 'Content-Length: 5'))).toMatchObject({ status: 400, code: 'framing' });
    // No Content-Length: the body is the rest of the datagram.
    expect(ok(replace('Content-Length: 4', null)).body.toString()).toBe('v=0\n');
    // Over a stream it is mandatory.
    expect(bad(replace('Content-Length: 4', null), { transport: 'stream' })).toMatchObject({ status: 400 });
    expect(bad(replace('Content-Length: 4', 'Content-Length: -4'))).toMatchObject({ status: 400 });
    expect(bad(lines(...BASIC.slice(0, 9), 'l: 3', ...BASIC.slice(9)))).toMatchObject({ status: 400 });
    expect(ok(lines(...BASIC.slice(0, 9), 'l: 4', ...BASIC.slice(9))).body.length).toBe(4);
  });

  it('keeps binary bodies intact', () => {
    const body = Buffer.from([0, 1, 2, 13, 10, 13, 10, 255, 0xc3, 0x28]);
    const head = lines(...BASIC.slice(0, 9), `Content-Length: ${body.length}`, '', '');
    expect(ok(Buffer.concat([head, body])).body).toEqual(body);
  });

  it('enforces limits', () => {
    const big = Buffer.concat([lines(...BASIC), Buffer.alloc(70_000, 0x61)]);
    expect(bad(big)).toMatchObject({ status: 513, canReply: false });
    expect(bad(replace('Content-Length: 4', 'Content-Length: 999999'))).toMatchObject({ status: 413, canReply: true });
    const many = Array.from({ length: 101 }, (_, i) => `X-H${i}: v`);
    expect(bad(lines(...BASIC.slice(0, 9), ...many, ...BASIC.slice(9)))).toMatchObject({ status: 400 });
    expect(bad(lines(...BASIC.slice(0, 9), `X-Long: ${'a'.repeat(9000)}`, ...BASIC.slice(9)))).toMatchObject({ status: 400 });
    const contacts = Array.from({ length: 33 }, (_, i) => `<sip:c${i}@h>`).join(', ');
    expect(bad(replace(BASIC[7]!, `Contact: ${contacts}`))).toMatchObject({ reason: 'Too many Contact values' });
    expect(ok(replace(BASIC[7]!, `Contact: ${contacts}`), { maxContacts: 40 }).kind).toBe('request');
  });

  it('rejects header sections that are not UTF-8, or contain bare CR/LF', () => {
    const b = lines(...BASIC);
    const i = b.indexOf('Bob');
    const latin = Buffer.from(b);
    latin[i] = 0xe9;
    expect(bad(latin)).toMatchObject({ status: 400, code: 'encoding' });
    expect(bad(replace(BASIC[8]!, 'Content-Type: a\nb'))).toMatchObject({ status: 400 });
  });
});

describe('parseMessage: responses', () => {
  const resp = (status: string) =>
    lines(`SIP/2.0 ${status}`, BASIC[1]!, BASIC[3]! + ';tag=x', BASIC[4]!, BASIC[5]!, BASIC[6]!, 'Content-Length: 0', '', '');

  it('parses status and reason', () => {
    expect(ok(resp('180 Ringing'))).toMatchObject({ kind: 'response', status: 180, reason: 'Ringing' });
    expect(ok(resp('100 '))).toMatchObject({ status: 100, reason: '' });
    expect(ok(resp('200 OK, fine  really'))).toMatchObject({ reason: 'OK, fine  really' });
  });

  it('rejects out-of-range status codes and never offers a reply', () => {
    for (const s of ['99 x', '700 x', '4294967301 big', '2000 x', 'abc x', '']) {
      expect(bad(resp(s))).toMatchObject({ status: 400, canReply: false });
    }
    expect(bad(lines('SIP/2.0 200 OK', BASIC[3]!, '', ''))).toMatchObject({ canReply: false });
  });
});

describe('serializeMessage', () => {
  it('writes canonical names, CRLF, and a correct Content-Length', () => {
    const m = ok(lines(BASIC[0]!, ...BASIC.slice(1, 5).map((l) => l.toLowerCase().replace('sip/2.0', 'SIP/2.0')), 'i: x@y', 'cseq: 1 INVITE', 'l: 0', 'X-Foo: bar', '', ''));
    m.body = Buffer.from('héllo');
    const out = serializeMessage(m).toString('utf8');
    expect(out).toBe(
      [
        'INVITE sip:bob@example.com SIP/2.0',
        'Via: SIP/2.0/udp pc33.example.com;branch=z9hg4bk776asdhds',
        'Max-Forwards: 70',
        'To: bob <sip:bob@example.com>',
        'From: alice <sip:alice@example.com>;tag=1928301774',
        'Call-ID: x@y',
        'CSeq: 1 INVITE',
        'Content-Length: 6',
        'X-Foo: bar',
        '',
        'héllo',
      ].join(CRLF),
    );
  });

  it('appends Content-Length when missing', () => {
    const m = createResponse({ headers: new SipHeaders([{ name: 'Call-ID', value: 'a' }]) }, 200);
    expect(serializeMessage(m).toString()).toBe('SIP/2.0 200 OK\r\nCall-ID: a\r\nContent-Length: 0\r\n\r\n');
  });
});

describe('SipHeaders', () => {
  it('insertAbove: above the lines of that header, else just below the Via block', () => {
    const h = new SipHeaders([
      { name: 'Via', value: 'v1' },
      { name: 'Via', value: 'v2' },
      { name: 'From', value: '<sip:a@x>' },
    ]);
    h.insertAbove('Record-Route', '<sip:p2;lr>');
    h.insertAbove('Record-Route', '<sip:p1;lr>');
    expect(h.entries().map((f) => f.value)).toEqual(['v1', 'v2', '<sip:p1;lr>', '<sip:p2;lr>', '<sip:a@x>']);
    h.prepend('Via', 'v0');
    expect(h.entries().map((f) => f.key)).toEqual(['via', 'via', 'via', 'record-route', 'record-route', 'from']);
    const noVia = new SipHeaders([{ name: 'To', value: '<sip:b@x>' }]).insertAbove('Record-Route', '<sip:p;lr>');
    expect(noVia.entries().map((f) => f.key)).toEqual(['record-route', 'to']);
  });

  it('keeps order and supports the editing a proxy needs', () => {
    const h = new SipHeaders([
      { name: 'Via', value: 'a' },
      { name: 'Route', value: '<sip:r1>' },
      { name: 'v', value: 'b' },
      { name: 'route', value: '<sip:r2>' },
    ]);
    h.prepend('Via', 'z');
    expect(h.getAll('VIA')).toEqual(['z', 'a', 'b']);
    expect(h.removeFirst('route')).toBe(true);
    expect(h.getAll('Route')).toEqual(['<sip:r2>']);
    h.set('via', 'only');
    expect(h.getAll('v')).toEqual(['only']);
    expect(h.entries().map((f) => f.value)).toEqual(['only', '<sip:r2>']);
    expect(h.count('route')).toBe(1);
    expect(h.remove('Route')).toBe(1);
    expect(h.has('route')).toBe(false);
    const c = h.clone();
    c.append('X', 'y');
    expect(h.size).toBe(1);
    expect(() => h.append('Bad Name', 'x')).toThrow(TypeError);
    expect(() => h.append('X', 'a\r\nInjected: 1')).toThrow(TypeError);
  });
});

describe('createResponse / createErrorResponse (RFC 3261 section 8.2.6)', () => {
  it('copies Via lines, From, To, Call-ID, CSeq and adds a To tag', () => {
    const req = ok(lines(...BASIC.slice(0, 1), BASIC[1]!, 'v: SIP/2.0/TCP second;branch=z9hG4bK2', ...BASIC.slice(2))) as SipRequest;
    const r = createResponse(req, 486, { toTag: 'abc' });
    expect(r.reason).toBe('Busy Here');
    expect(r.headers.entries().map((f) => [f.name, f.value])).toEqual([
      ['Via', 'SIP/2.0/UDP pc33.example.com;branch=z9hG4bK776asdhds'],
      ['Via', 'SIP/2.0/TCP second;branch=z9hG4bK2'],
      ['From', 'Alice <sip:alice@example.com>;tag=1928301774'],
      ['To', 'Bob <sip:bob@example.com>;tag=abc'],
      ['Call-ID', 'a84b4c76e66710@pc33.example.com'],
      ['CSeq', '314159 INVITE'],
    ]);
    expect(createResponse(req, 100).headers.get('to')).toBe('Bob <sip:bob@example.com>');
    expect(tagOf(getTo(createResponse(req, 200)))).toMatch(/^[0-9a-f]{16}$/);
    const tagged = createResponse({ headers: new SipHeaders([{ name: 'To', value: '<sip:a@b>;tag=t1' }]) }, 200);
    expect(tagged.headers.get('to')).toBe('<sip:a@b>;tag=t1');
    const round = ok(serializeMessage(r)) as SipResponse;
    expect(round.status).toBe(486);
  });

  it('answers parse errors that can be answered', () => {
    const e = bad(replace(BASIC[6]!, 'CSeq: 1 OPTIONS'));
    const r = createErrorResponse(e, { warnAgent: 'proxy.example.com', toTag: 't' });
    expect(r).not.toBeNull();
    expect(r!.status).toBe(400);
    expect(r!.reason).toBe('CSeq method does not match request method');
    expect(r!.headers.get('warning')).toBe('399 proxy.example.com "CSeq method OPTIONS vs INVITE"');
    expect(r!.headers.get('to')).toBe('Bob <sip:bob@example.com>;tag=t');
    expect(createErrorResponse(bad(Buffer.from('\r\n\r\n')))).toBeNull();
    // Over the header-count limit (hundreds of Contacts): still a 400 with the fields a reply needs.
    const flood = ['REGISTER sip:a.example SIP/2.0', 'Via: SIP/2.0/UDP 192.0.2.1;branch=z9hG4bKflood', 'From: <sip:a@a.example>;tag=1', 'To: <sip:a@a.example>', 'Call-ID: flood', ...Array.from({ length: 150 }, (_, i) => `Contact: <sip:a${i}@192.0.2.1>`), 'CSeq: 1 REGISTER', 'Content-Length: 0', '', ''].join('\r\n');
    const floodReply = createErrorResponse(bad(Buffer.from(flood)));
    expect(floodReply?.status).toBe(400);
    expect(floodReply?.headers.get('call-id')).toBe('flood');
    expect(floodReply?.headers.get('cseq')).toBe('1 REGISTER');
    expect(floodReply?.headers.getAll('contact')).toEqual([]);
    // Junk that merely starts like a request has no Via to answer to: dropped, not answered.
    expect(createErrorResponse(bad(Buffer.from('hello world\r\n\r\n')))).toBeNull();
    expect(createErrorResponse(bad(Buffer.from('C\r\n\r\n')))).toBeNull();
  });
});

// ---------------------------------------------------------------- properties

function comparable(m: SipMessage) {
  const head = m.kind === 'request' ? { method: m.method, uri: m.uri } : { status: m.status, reason: m.reason };
  return {
    ...head,
    headers: m.headers.entries().filter((f) => f.key !== 'content-length').map((f) => [f.key, f.value]),
    body: m.body.toString('hex'),
  };
}

describe('whole-message properties', () => {
  it('serialise → parse round-trips requests and responses (datagram and stream)', () => {
    fc.assert(
      fc.property(fc.oneof(requestArb, responseArb), fc.constantFrom('datagram', 'stream') as fc.Arbitrary<'datagram' | 'stream'>, (m, transport) => {
        const wire = serializeMessage(m);
        const back = ok(wire, { transport });
        expect(comparable(back)).toEqual(comparable(m));
        expect(back.headers.get('content-length')).toBe(String(m.body.length));
        expect(getVias(back)).toHaveLength(m.headers.getAll('via').length);
        expect(serializeMessage(back)).toEqual(wire);
      }),
      { numRuns: 200 },
    );
  });

  it('arbitrary bytes never throw and give ok or a typed error', () => {
    const statuses = new Set([400, 413, 505, 513]);
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const r = parseMessage(Buffer.from(bytes));
        if (!r.ok) {
          expect(statuses.has(r.error.status)).toBe(true);
          expect(r.error.code).not.toBe('internal');
          expect(r.error.reason.length).toBeGreaterThan(0);
          expect(r.error.canReply).toBe(r.error.replyTo !== undefined);
        }
      }),
      { numRuns: 300 },
    );
  });

  it('mutated valid messages never throw, and what parses re-serialises and re-parses', () => {
    fc.assert(
      fc.property(
        requestArb,
        fc.array(fc.tuple(fc.nat(), fc.constantFrom(0, 9, 10, 13, 32, 34, 44, 58, 59, 60, 62, 64, 0xff, 0x41)), { minLength: 1, maxLength: 4 }),
        (m, edits) => {
          const wire = Buffer.from(serializeMessage(m));
          for (const [at, byte] of edits) wire[at % wire.length] = byte;
          const r = parseMessage(wire);
          if (!r.ok) {
            expect(r.error.code).not.toBe('internal');
            return;
          }
          const again = parseMessage(serializeMessage(r.message));
          expect(again.ok).toBe(true);
        },
      ),
      { numRuns: 300 },
    );
  });
});
