import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  Attr,
  MAX_STUN_MESSAGE,
  StunClass,
  StunMethod,
  crc32,
  decodeMessageType,
  decodeStun,
  encodeMessageType,
  encodeStun,
  getAddress,
  getText,
  isStunPacket,
  longTermKey,
  shortTermKey,
  userHash,
  verifyMessageIntegrity,
  verifyMessageIntegritySha256,
  type EncodableAttribute,
  type StunMessage,
} from '../../../src/nat/stun/index.js';
import * as v from '../../fixtures/stun/rfc5769.js';

function decodeOk(buf: Uint8Array): StunMessage {
  const r = decodeStun(buf);
  if (!r.ok) throw new Error(`decode failed: ${r.error.code} ${r.error.detail}`);
  return r.message;
}

const TXID_5769 = Buffer.from('b7e7a701bc34d686fa87dfae', 'hex');
const KEY_5769 = shortTermKey(v.SHORT_TERM_PASSWORD);

describe('crc32', () => {
  it('matches the standard check value', () => {
    expect(crc32(Buffer.from('123456789'))).toBe(0xcbf43926);
    expect(crc32(Buffer.alloc(0))).toBe(0);
  });
});

describe('message type (RFC 8489 §5)', () => {
  it('encodes the Binding classes', () => {
    expect(encodeMessageType(StunMethod.Binding, StunClass.Request)).toBe(0x0001);
    expect(encodeMessageType(StunMethod.Binding, StunClass.Indication)).toBe(0x0011);
    expect(encodeMessageType(StunMethod.Binding, StunClass.SuccessResponse)).toBe(0x0101);
    expect(encodeMessageType(StunMethod.Binding, StunClass.ErrorResponse)).toBe(0x0111);
  });
  it('round-trips every method and class', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xfff }), fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<StunClass>, (method, cls) => {
        const t = encodeMessageType(method, cls);
        expect(t & 0xc000).toBe(0);
        expect(decodeMessageType(t)).toEqual({ method, cls });
      }),
    );
  });
});

describe('RFC 5769 test vectors', () => {
  it('2.1 sample request: attributes, MESSAGE-INTEGRITY and FINGERPRINT verify', () => {
    const m = decodeOk(v.SAMPLE_REQUEST);
    expect(m.method).toBe(StunMethod.Binding);
    expect(m.cls).toBe(StunClass.Request);
    expect(m.transactionId.equals(TXID_5769)).toBe(true);
    expect(getText(m, Attr.SOFTWARE)).toBe('STUN test client');
    expect(getText(m, Attr.USERNAME)).toBe('evtj:h6vY');
    expect(m.hasFingerprint).toBe(true);
    expect(verifyMessageIntegrity(m, KEY_5769)).toBe(true);
    expect(verifyMessageIntegrity(m, shortTermKey('wrong password'))).toBe(false);
    // PRIORITY (0x0024) is ICE's, comprehension-required and unknown to a plain STUN agent.
    expect(m.unknownRequired).toEqual([0x0024]);
    expect(m.attributes.map((a) => a.type)).toEqual([0x8022, 0x0024, 0x8029, 0x0006, 0x0008, 0x8028]);
  });

  it('2.2 sample IPv4 response', () => {
    const m = decodeOk(v.SAMPLE_IPV4_RESPONSE);
    expect(m.cls).toBe(StunClass.SuccessResponse);
    expect(getText(m, Attr.SOFTWARE)).toBe('test vector');
    expect(getAddress(m, Attr.XOR_MAPPED_ADDRESS)).toEqual({ family: 'IPv4', host: '192.0.2.1', port: 32853 });
    expect(verifyMessageIntegrity(m, KEY_5769)).toBe(true);
    expect(m.hasFingerprint).toBe(true);
    expect(m.unknownRequired).toEqual([]);
  });

  it('2.3 sample IPv6 response', () => {
    const m = decodeOk(v.SAMPLE_IPV6_RESPONSE);
    expect(getAddress(m, Attr.XOR_MAPPED_ADDRESS)).toEqual({ family: 'IPv6', host: '2001:db8:1234:5678:11:2233:4455:6677', port: 32853 });
    expect(verifyMessageIntegrity(m, KEY_5769)).toBe(true);
    expect(m.hasFingerprint).toBe(true);
  });

  it('2.4 long-term authentication request', () => {
    const m = decodeOk(v.LONG_TERM_REQUEST);
    expect(getText(m, Attr.USERNAME)).toBe(v.LONG_TERM_USERNAME);
    expect(getText(m, Attr.NONCE)).toBe(v.LONG_TERM_NONCE);
    expect(getText(m, Attr.REALM)).toBe(v.LONG_TERM_REALM);
    expect(m.hasFingerprint).toBe(false);
    const key = longTermKey(v.LONG_TERM_USERNAME, v.LONG_TERM_REALM, v.LONG_TERM_PASSWORD_PREPARED);
    expect(verifyMessageIntegrity(m, key)).toBe(true);
  });

  it('re-encoding the 2.2 and 2.3 responses reproduces the vectors byte for byte', () => {
    for (const vector of [v.SAMPLE_IPV4_RESPONSE, v.SAMPLE_IPV6_RESPONSE]) {
      const m = decodeOk(vector);
      const attributes = m.attributes.filter((a): a is EncodableAttribute => a.kind !== 'integrity' && a.kind !== 'fingerprint');
      const out = encodeStun({ method: m.method, cls: m.cls, transactionId: m.transactionId, attributes, integrity: { key: KEY_5769 }, fingerprint: true });
      // The vectors pad SOFTWARE with a space (RFC 5769 §2: padding bytes are arbitrary); we pad with 0.
      const expected = Buffer.from(vector);
      expected[20 + 4 + 11] = 0;
      const mine = decodeOk(out);
      expect(verifyMessageIntegrity(mine, KEY_5769)).toBe(true);
      expect(mine.attributes.slice(0, 2)).toEqual(m.attributes.slice(0, 2));
      // Only the HMAC and CRC (which cover the padding byte) may differ.
      expect(out.subarray(0, 36).equals(expected.subarray(0, 36))).toBe(true);
    }
  });

  it('a flipped bit before FINGERPRINT breaks the fingerprint or the integrity', () => {
    // (A flip in FINGERPRINT's own type byte yields a valid message with an unknown optional
    // attribute after MESSAGE-INTEGRITY, which §14.5 says to ignore: not covered here.)
    for (const vector of [v.SAMPLE_REQUEST, v.SAMPLE_IPV4_RESPONSE, v.SAMPLE_IPV6_RESPONSE]) {
      for (let i = 0; i < vector.length - 8; i++) {
        const b = Buffer.from(vector);
        b[i] = (b[i] as number) ^ 0x01;
        const r = decodeStun(b);
        if (r.ok) expect(verifyMessageIntegrity(r.message, KEY_5769)).toBe(false);
      }
    }
  });

  it('RFC 8489 §14.4 USERHASH of the RFC 8489 Appendix B.1 user', () => {
    expect(userHash(v.LONG_TERM_USERNAME, v.LONG_TERM_REALM).toString('hex')).toBe('4a3cf38fef6992bda952c6780417da0f24819415569e60b205c46e41407f1704');
  });
});

describe('decode errors', () => {
  const base = (): Buffer => Buffer.from(v.SAMPLE_IPV4_RESPONSE);
  const code = (b: Uint8Array): string | undefined => {
    const r = decodeStun(b);
    return r.ok ? undefined : r.error.code;
  };

  it('classifies broken messages', () => {
    expect(code(base().subarray(0, 19))).toBe('too-short');
    expect(code(Buffer.alloc(MAX_STUN_MESSAGE + 4))).toBe('too-large');
    const sip = Buffer.from('OPTIONS sip:a@b SIP/2.0\r\n\r\n');
    expect(code(sip)).toBe('not-stun');
    const cookie = base();
    cookie[4] = 0x22;
    expect(code(cookie)).toBe('bad-magic-cookie');
    const odd = base();
    odd.writeUInt16BE(0x3d, 2);
    expect(code(odd)).toBe('bad-length');
    expect(code(Buffer.concat([base(), Buffer.alloc(4)]))).toBe('bad-length');
    const overrun = base();
    overrun.writeUInt16BE(0x00ff, 22); // SOFTWARE length runs past the end
    expect(code(overrun)).toBe('attribute-overrun');
    const fp = base();
    fp[fp.length - 1] = (fp[fp.length - 1] as number) ^ 0xff;
    expect(code(fp)).toBe('bad-fingerprint');
    const family = base();
    family[20 + 16 + 5] = 0x03; // XOR-MAPPED-ADDRESS family 3
    expect(code(family)).toBe('malformed-attribute');
  });

  it('reports the transaction ID once the header is read', () => {
    const fp = base();
    fp[fp.length - 1] = 0;
    const r = decodeStun(fp);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error.transactionId?.equals(TXID_5769)).toBe(true);
  });

  it('rejects an attribute after FINGERPRINT and ignores attributes after MESSAGE-INTEGRITY', () => {
    const txid = Buffer.alloc(12, 7);
    // Header, a valid FINGERPRINT (computed with the length counting the extra attribute), then SOFTWARE.
    const extra = Buffer.concat([encodeStun({ method: 1, cls: StunClass.Request, transactionId: txid }), Buffer.from('802800040000000080220000', 'hex')]);
    extra.writeUInt16BE(extra.length - 20, 2);
    extra.writeUInt32BE((crc32(extra, 0, 20) ^ 0x5354554e) >>> 0, 24);
    expect(code(extra)).toBe('fingerprint-not-last');
    expect(code(extra.subarray(0, 28))).toBe('bad-length');

    const withMi = encodeStun({ method: 1, cls: StunClass.Request, transactionId: txid, integrity: { key: Buffer.from('k') } });
    const after = Buffer.concat([withMi, Buffer.from('8022000461626364', 'hex')]);
    after.writeUInt16BE(after.length - 20, 2);
    const m = decodeOk(after);
    expect(getText(m, Attr.SOFTWARE)).toBeUndefined();
    expect(verifyMessageIntegrity(m, Buffer.from('k'))).toBe(true);
  });

  it('isStunPacket tells STUN from SIP', () => {
    expect(isStunPacket(v.SAMPLE_REQUEST)).toBe(true);
    expect(isStunPacket(Buffer.from('SIP/2.0 200 OK\r\nVia: SIP/2.0/UDP a\r\n\r\n'))).toBe(false);
    expect(isStunPacket(Buffer.from('\r\n\r\n'))).toBe(false);
    expect(isStunPacket(v.SAMPLE_REQUEST.subarray(0, 19))).toBe(false);
  });
});

describe('MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6)', () => {
  it('matches an independently computed HMAC-SHA256 and coexists with SHA-1 and FINGERPRINT', () => {
    const key = longTermKey(v.LONG_TERM_USERNAME, v.LONG_TERM_REALM, v.LONG_TERM_PASSWORD_PREPARED, 'sha256');
    const txid = Buffer.from('78ad3433c6ad72c029da412e', 'hex');
    const attributes: EncodableAttribute[] = [
      { kind: 'raw', type: Attr.USERHASH, value: userHash(v.LONG_TERM_USERNAME, v.LONG_TERM_REALM) },
      { kind: 'text', type: Attr.NONCE, value: v.LONG_TERM_NONCE },
      { kind: 'text', type: Attr.REALM, value: v.LONG_TERM_REALM },
    ];
    const onlySha256 = encodeStun({ method: 1, cls: StunClass.Request, transactionId: txid, attributes, integrity: { key, sha1: false, sha256: true } });
    // By hand: HMAC-SHA256 over everything before the attribute, the length field already counting it.
    const before = Buffer.from(onlySha256.subarray(0, onlySha256.length - 36));
    const hmac = createHmac('sha256', key).update(before).digest();
    expect(onlySha256.subarray(onlySha256.length - 32).equals(hmac)).toBe(true);
    expect(before.readUInt16BE(2)).toBe(onlySha256.length - 20);
    expect(verifyMessageIntegritySha256(decodeOk(onlySha256), key)).toBe(true);

    const both = decodeOk(encodeStun({ method: 1, cls: StunClass.Request, transactionId: txid, attributes, integrity: { key, sha256: true }, fingerprint: true }));
    expect(verifyMessageIntegrity(both, key)).toBe(true);
    expect(verifyMessageIntegritySha256(both, key)).toBe(true);
    expect(verifyMessageIntegritySha256(both, Buffer.from('nope'))).toBe(false);
    expect(both.hasFingerprint).toBe(true);
  });

  it('verifies a truncated (16-byte) MESSAGE-INTEGRITY-SHA256', () => {
    const key = Buffer.from('secret');
    const header = encodeStun({ method: 1, cls: StunClass.Request, transactionId: Buffer.alloc(12, 1) });
    header.writeUInt16BE(20, 2); // counts the 4 + 16 bytes of the attribute
    const mac = createHmac('sha256', key).update(header).digest().subarray(0, 16);
    const msg = Buffer.concat([header, Buffer.from([0x00, 0x1c, 0x00, 0x10]), mac]);
    expect(verifyMessageIntegritySha256(decodeOk(msg), key)).toBe(true);
    expect(verifyMessageIntegritySha256(decodeOk(msg), Buffer.from('other'))).toBe(false);
  });
});

// ---------------------------------------------------------------------------------------------
// Properties

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((b) => b.join('.'));
const ipv6 = fc.uint8Array({ minLength: 16, maxLength: 16 }).map((bytes) => {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push((((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0)).toString(16));
  return groups.join(':'); // uncompressed on purpose: the decoder must output the canonical form
});
const canonicalIPv6 = (h: string): string => new URL(`http://[${h}]/`).hostname.slice(1, -1);

const addressAttr: fc.Arbitrary<EncodableAttribute> = fc
  .record({
    type: fc.constantFrom(Attr.MAPPED_ADDRESS, Attr.XOR_MAPPED_ADDRESS, Attr.RESPONSE_ORIGIN, Attr.OTHER_ADDRESS, Attr.XOR_RELAYED_ADDRESS),
    v6: fc.boolean(),
    v4host: ipv4,
    v6host: ipv6,
    port: fc.nat(0xffff),
  })
  .map(({ type, v6, v4host, v6host, port }) => ({
    kind: 'address' as const,
    type,
    address: v6 ? { family: 'IPv6' as const, host: v6host, port } : { family: 'IPv4' as const, host: v4host, port },
  }));
const textAttr: fc.Arbitrary<EncodableAttribute> = fc.record({
  kind: fc.constant('text' as const),
  type: fc.constantFrom(Attr.USERNAME, Attr.SOFTWARE, Attr.REALM, Attr.NONCE),
  value: fc.string({ unit: 'grapheme', maxLength: 40 }),
});
const errorAttr: fc.Arbitrary<EncodableAttribute> = fc.record({
  kind: fc.constant('error-code' as const),
  type: fc.constant(Attr.ERROR_CODE),
  code: fc.integer({ min: 300, max: 699 }),
  reason: fc.string({ maxLength: 30 }),
});
const unknownAttr: fc.Arbitrary<EncodableAttribute> = fc.record({
  kind: fc.constant('unknown-attributes' as const),
  type: fc.constant(Attr.UNKNOWN_ATTRIBUTES),
  types: fc.array(fc.nat(0xffff), { maxLength: 9 }),
});
const KNOWN_TYPES = new Set<number>(Object.values(Attr));
const rawAttr: fc.Arbitrary<EncodableAttribute> = fc.record({
  kind: fc.constant('raw' as const),
  type: fc.nat(0xffff).filter((t) => !KNOWN_TYPES.has(t)),
  value: fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)),
});

const messageInit = fc.record({
  method: fc.nat(0xfff),
  cls: fc.constantFrom(0, 1, 2, 3) as fc.Arbitrary<StunClass>,
  transactionId: fc.uint8Array({ minLength: 12, maxLength: 12 }).map((u) => Buffer.from(u)),
  attributes: fc.array(fc.oneof(addressAttr, textAttr, errorAttr, unknownAttr, rawAttr), { maxLength: 8 }),
  key: fc.option(fc.uint8Array({ minLength: 1, maxLength: 64 }).map((u) => Buffer.from(u)), { nil: undefined }),
  sha256: fc.boolean(),
  fingerprint: fc.boolean(),
});

describe('codec properties', () => {
  it('encode -> decode round-trips generated messages', () => {
    fc.assert(
      fc.property(messageInit, (init) => {
        const bytes = encodeStun({
          method: init.method,
          cls: init.cls,
          transactionId: init.transactionId,
          attributes: init.attributes,
          ...(init.key === undefined ? {} : { integrity: { key: init.key, sha256: init.sha256 } }),
          fingerprint: init.fingerprint,
        });
        expect(bytes.length % 4).toBe(0);
        expect(isStunPacket(bytes)).toBe(true);
        const m = decodeOk(bytes);
        expect(m.method).toBe(init.method);
        expect(m.cls).toBe(init.cls);
        expect(m.transactionId.equals(init.transactionId)).toBe(true);
        expect(m.hasFingerprint).toBe(init.fingerprint);
        const plain = m.attributes.filter((a) => a.kind !== 'integrity' && a.kind !== 'fingerprint');
        const expected = init.attributes.map((a) =>
          a.kind === 'address' && a.address.family === 'IPv6' ? { ...a, address: { ...a.address, host: canonicalIPv6(a.address.host) } } : a,
        );
        expect(plain).toEqual(expected);
        if (init.key !== undefined) {
          expect(verifyMessageIntegrity(m, init.key)).toBe(true);
          expect(verifyMessageIntegritySha256(m, init.key)).toBe(init.sha256);
        }
      }),
      { numRuns: 500 },
    );
  });

  it('decoding arbitrary bytes never throws', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 1600 }), (bytes) => {
        const r = decodeStun(bytes);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
  });

  it('decoding mutated valid messages never throws', () => {
    fc.assert(
      fc.property(messageInit, fc.array(fc.tuple(fc.nat(), fc.nat(255)), { minLength: 1, maxLength: 6 }), (init, flips) => {
        const bytes = encodeStun({ method: init.method, cls: init.cls, transactionId: init.transactionId, attributes: init.attributes, fingerprint: init.fingerprint });
        for (const [pos, val] of flips) if (pos % bytes.length >= 8) bytes[pos % bytes.length] = val;
        const r = decodeStun(bytes);
        if (r.ok && init.key !== undefined) verifyMessageIntegrity(r.message, init.key);
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 1000 },
    );
  });

  it('refuses to encode more than MAX_STUN_MESSAGE bytes', () => {
    const big: EncodableAttribute = { kind: 'raw', type: 0x8fff, value: Buffer.alloc(MAX_STUN_MESSAGE) };
    expect(() => encodeStun({ method: 1, cls: StunClass.Request, transactionId: Buffer.alloc(12), attributes: [big] })).toThrow(RangeError);
  });
});
