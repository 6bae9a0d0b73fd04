import fc from 'fast-check';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { StreamFramer, getCallId, serializeMessage, type FramedItem } from '../../../src/sip/message/index.js';
import { requestArb, responseArb } from './message-arbitraries.js';

const fixture = (name: string) => readFileSync(new URL(`../../fixtures/sip-torture/${name}.dat`, import.meta.url));

function feed(framer: StreamFramer, data: Buffer, cuts: number[]): FramedItem[] {
  const points = [...new Set(cuts.map((c) => c % (data.length + 1)))].sort((a, b) => a - b);
  const out: FramedItem[] = [];
  let last = 0;
  for (const p of [...points, data.length]) {
    out.push(...framer.push(data.subarray(last, p)));
    last = p;
  }
  return out;
}

describe('StreamFramer', () => {
  it('frames messages split at arbitrary points, with keep-alives between them', () => {
    fc.assert(
      fc.property(
        fc.array(fc.oneof(requestArb, responseArb), { minLength: 1, maxLength: 4 }),
        fc.array(fc.nat(), { maxLength: 12 }),
        fc.boolean(),
        (msgs, cuts, ping) => {
          const parts = msgs.flatMap((m) => [serializeMessage(m), Buffer.from(ping ? '\r\n\r\n' : '\r\n')]);
          const data = Buffer.concat(parts);
          const framer = new StreamFramer();
          const items = feed(framer, data, cuts);
          const messages = items.filter((i) => i.kind === 'message');
          expect(items.filter((i) => i.kind === 'error')).toEqual([]);
          expect(messages.map((i) => i.raw)).toEqual(msgs.map(serializeMessage));
          for (const [k, i] of messages.entries()) {
            expect(i.result.ok).toBe(true);
            if (i.result.ok) expect(getCallId(i.result.message)).toBe(msgs[k]!.headers.get('call-id'));
          }
          expect(items.filter((i) => i.kind === 'ping')).toHaveLength(ping ? msgs.length : 0);
          // A trailing lone CRLF waits: it could be the start of a CRLFCRLF ping.
          expect(framer.buffered).toBe(ping ? 0 : 2);
        },
      ),
      { numRuns: 100 },
    );
  });

  it('never throws on arbitrary chunks', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ maxLength: 200 }), { maxLength: 6 }), (chunks) => {
        const framer = new StreamFramer({ maxMessageSize: 300 });
        for (const c of chunks) {
          for (const item of framer.push(Buffer.from(c))) {
            if (item.kind === 'message' && !item.result.ok) expect(item.result.error.code).not.toBe('internal');
          }
        }
      }),
      { numRuns: 200 },
    );
  });

  it('turns dblreq trailing octets into a second message on the stream', () => {
    const framer = new StreamFramer();
    const items = framer.push(fixture('dblreq'));
    const methods = items.map((i) => (i.kind === 'message' && i.result.ok && i.result.message.kind === 'request' ? i.result.message.method : i.kind));
    expect(methods.slice(0, 2)).toEqual(['REGISTER', 'INVITE']);
  });

  it('waits for the body when Content-Length exceeds what arrived (RFC 4475 clerr over TCP)', () => {
    const framer = new StreamFramer();
    expect(framer.push(fixture('clerr'))).toEqual([]);
    expect(framer.closed).toBe(false);
  });

  it('fails and closes on missing, negative or conflicting Content-Length', () => {
    for (const [name, reason] of [
      ['inv2543', 'Missing Content-Length'],
      ['ncl', 'Invalid Content-Length'],
      ['mcl01', 'Invalid Content-Length'],
    ] as const) {
      const framer = new StreamFramer();
      const items = framer.push(fixture(name));
      expect(items).toHaveLength(1);
      const [item] = items;
      expect(item?.kind).toBe('error');
      if (item?.kind === 'error') {
        expect(item.error).toMatchObject({ status: 400, reason, canReply: true });
        expect(item.error.replyTo?.headers.get('call-id')).toContain(name);
      }
      expect(framer.closed).toBe(true);
      expect(framer.push(Buffer.from('OPTIONS sip:x SIP/2.0\r\n\r\n'))).toEqual([]);
    }
  });

  it('bounds the buffer: oversized header section → 513, oversized Content-Length → 413', () => {
    const f1 = new StreamFramer({ maxMessageSize: 1000 });
    expect(f1.push(Buffer.from(`OPTIONS sip:a@b SIP/2.0\r\nX: ${'a'.repeat(600)}\r\n`))).toEqual([]);
    const items = f1.push(Buffer.from(`Y: ${'b'.repeat(600)}\r\n`));
    expect(items).toMatchObject([{ kind: 'error', error: { status: 513, canReply: false } }]);
    const f2 = new StreamFramer({ maxMessageSize: 1000 });
    const big = f2.push(Buffer.from(fixture('mpart01').toString('latin1').replace('Content-Length: 553', 'Content-Length: 5530'), 'latin1'));
    expect(big).toMatchObject([{ kind: 'error', error: { status: 413, canReply: true } }]);
  });

  it('reports CRLFCRLF pings and skips lone CRLFs', () => {
    const f = new StreamFramer();
    expect(f.push(Buffer.from('\r\n\r\n'))).toEqual([{ kind: 'ping' }]);
    expect(f.push(Buffer.from('\r\n'))).toEqual([]);
    expect(f.buffered).toBe(2);
    const items = f.push(fixture('zeromf'));
    expect(items.map((i) => i.kind)).toEqual(['message']);
  });
});
