/** The DHT-Cert / DHT-Proof codec of PROTOCOL.md 11.2: round trips, strict reading, unambiguous signed bytes. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DHT_CERT_HEADER,
  DHT_PROOF_HEADER,
  formatCert,
  formatProof,
  MAX_CERTS_PER_MESSAGE,
  parseCert,
  parseProof,
  proofBytes,
  readCerts,
  readProof,
  type ProofSubject,
} from '../../src/dsip/trust-headers.js';
import { createPrivateKey, createPublicKey } from 'node:crypto';
import { ID_MAX, idToHex } from '../../src/overlay/id.js';
import { peerIdFromAddress } from '../../src/overlay/peer-id.js';
import { signBytes, verifyBytes } from '../../src/trust/keys.js';
import { SipHeaders, type SipRequest } from '../../src/sip/message/message.js';
import { parseUri } from '../../src/sip/message/uri.js';

function request(lines: Array<[string, string]>): SipRequest {
  const h = new SipHeaders();
  for (const [n, v] of lines) h.append(n, v);
  const uri = parseUri('sip:192.0.2.1:5060');
  if (!uri.ok) throw new Error('uri');
  return { kind: 'request', method: 'OPTIONS', uri: uri.value, uriRaw: 'sip:192.0.2.1:5060', version: 'SIP/2.0', headers: h, body: Buffer.alloc(0) };
}

const fpArb = fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'));
const proofArb = fc.record({
  fingerprint: fpArb,
  timestampS: fc.integer({ min: 0, max: 2 ** 40 }),
  signature: fc.uint8Array({ minLength: 1, maxLength: 512 }).map((b) => Buffer.from(b)),
});
const callIdArb = fc.stringMatching(/^[A-Za-z0-9.!%*_+`'~()<>:\\"/[\]?{}-]{1,40}(@[a-z0-9.]{1,20})?$/);
const subjectArb: fc.Arbitrary<ProofSubject> = fc.record({
  direction: fc.constantFrom('request' as const, 'response' as const),
  peerId: fc.bigInt({ min: 0n, max: ID_MAX }),
  overlay: fc.stringMatching(/^[a-z0-9.-]{1,20}$/),
  callId: callIdArb,
  cseq: fc.integer({ min: 0, max: 2 ** 31 - 1 }),
  method: fc.constantFrom('REGISTER', 'OPTIONS'),
  timestampS: fc.integer({ min: 0, max: 2 ** 40 }),
});

describe('DHT-Cert', () => {
  it('round-trips any DER up to the bound, one header per certificate, in order', () => {
    fc.assert(
      fc.property(fc.array(fc.uint8Array({ minLength: 1, maxLength: 600 }), { maxLength: MAX_CERTS_PER_MESSAGE }), (ders) => {
        const r = readCerts(request(ders.map((d) => [DHT_CERT_HEADER, formatCert(d)])));
        expect(r.ok).toBe(true);
        if (r.ok) expect(r.value.map((b) => b.toString('hex'))).toEqual(ders.map((d) => Buffer.from(d).toString('hex')));
      }),
    );
  });

  it('refuses what is not strict base64, too large, or too many', () => {
    for (const bad of ['', 'abc', 'ab$=', 'YWJj ZGVm', 'YW=j', '====']) expect(parseCert(bad).ok, bad).toBe(false);
    expect(parseCert(Buffer.alloc(4097).toString('base64')).ok).toBe(false);
    expect(parseCert(Buffer.alloc(4096).toString('base64')).ok).toBe(true);
    const many = Array.from({ length: MAX_CERTS_PER_MESSAGE + 1 }, (): [string, string] => [DHT_CERT_HEADER, 'AAAA']);
    expect(readCerts(request(many)).ok).toBe(false);
  });
});

describe('DHT-Proof', () => {
  it('round-trips', () => {
    fc.assert(
      fc.property(proofArb, (p) => {
        const r = parseProof(formatProof(p));
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.value.fingerprint).toBe(p.fingerprint);
        expect(r.value.timestampS).toBe(p.timestampS);
        expect(r.value.signature.equals(p.signature)).toBe(true);
      }),
    );
  });

  it('never throws on arbitrary text, and reads a header present once only', () => {
    fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => void parseProof(s)));
    const one = formatProof({ fingerprint: 'a'.repeat(64), timestampS: 1, signature: Buffer.from([1, 2, 3]) });
    expect(readProof(request([]))).toBeUndefined();
    expect(readProof(request([[DHT_PROOF_HEADER, one]]))?.ok).toBe(true);
    expect(readProof(request([[DHT_PROOF_HEADER, one], [DHT_PROOF_HEADER, one]]))?.ok).toBe(false);
  });

  it('refuses a bad fingerprint, time or signature, each naming it', () => {
    const fp = 'b'.repeat(64);
    const cases: Array<[string, RegExp]> = [
      [`fp=${fp.slice(1)};ts=1;sig=AQID`, /fp/],
      [`fp=${fp};ts=-1;sig=AQID`, /ts/],
      [`fp=${fp};ts=1;sig=AQ+D`, /sig/],
      [`fp=${fp};ts=1`, /sig/],
      [`ts=1;sig=AQID`, /fp/],
      [`fp=${fp};ts=1;sig=${Buffer.alloc(513).toString('base64url')}`, /sig/],
    ];
    for (const [text, why] of cases) {
      const r = parseProof(text);
      expect(r.ok, text).toBe(false);
      if (!r.ok) expect(r.error.message).toMatch(why);
    }
  });
});

describe('signed bytes', () => {
  it('are the documented lines, byte for byte', () => {
    const bytes = proofBytes({ direction: 'request', peerId: 0x1234n, overlay: 'Acme', callId: 'abc@h', cseq: 7, method: 'register', timestampS: 1796515200 });
    expect(bytes.toString('utf8')).toBe(`kadsip-peer-proof-1\nrequest\n${idToHex(0x1234n)}\nacme\nabc@h\n7 REGISTER\n1796515200`);
  });

  it('differ whenever any field differs (a proof for one request, prover or time is useless for another)', () => {
    fc.assert(
      fc.property(subjectArb, subjectArb, (a, b) => {
        const same = a.direction === b.direction && a.peerId === b.peerId && a.overlay.toLowerCase() === b.overlay.toLowerCase() && a.callId === b.callId && a.cseq === b.cseq && a.method === b.method && a.timestampS === b.timestampS;
        expect(proofBytes(a).equals(proofBytes(b))).toBe(same);
      }),
    );
  });

  it('sign to the PROTOCOL.md 11.2 test vector (checked independently with openssl pkeyutl)', () => {
    const seed = Buffer.alloc(32, 0x01);
    const key = createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), seed]), format: 'der', type: 'pkcs8' });
    expect(createPublicKey(key).export({ format: 'der', type: 'spki' }).subarray(12).toString('hex')).toBe('8a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d94121bf3748801b40f6f5c');
    const bytes = proofBytes({ direction: 'request', peerId: peerIdFromAddress('192.0.2.10', 5060), overlay: 'acme', callId: 'a84b4c76e66710', cseq: 1, method: 'REGISTER', timestampS: 1796515200 });
    expect(bytes.toString('utf8')).toBe('kadsip-peer-proof-1\nrequest\n56adbd712c6632d3ec32ba4e75429265685113c4\nacme\na84b4c76e66710\n1 REGISTER\n1796515200');
    const sig = signBytes(key, bytes);
    expect(sig.toString('base64url')).toBe('CWgPxbfXjOEpFFAzTRH9wMr7YPcgdfwC9MgVmbjpC5vY-2NKrdFJuUjh3lTPd5CN8_oUaZ2EYoY5muc-M-qNAw');
    expect(verifyBytes(createPublicKey(key), bytes, sig)).toBe(true);
  });

  it('refuse a field with a line break', () => {
    expect(() => proofBytes({ direction: 'request', peerId: 1n, overlay: 'o', callId: 'a\nb', cseq: 1, method: 'OPTIONS', timestampS: 1 })).toThrow(RangeError);
  });
});
