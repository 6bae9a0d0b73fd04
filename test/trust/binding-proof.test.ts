/**
 * Binding proofs (PROTOCOL.md sections 11.3 and 11.4): the canonical bytes, signature and MAC of
 * the test vector PROTOCOL.md prints (computed independently with Python's hashlib, hmac and
 * cryptography), and the proof's text as Contact parameters.
 */
import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { idToHex } from '../../src/overlay/id.js';
import { resourceId } from '../../src/overlay/peer-id.js';
import {
  aorDomain,
  bindingMacKey,
  canonicalBindingBytes,
  claimOf,
  formatBindingProof,
  macBinding,
  parseBindingProof,
  SequenceClock,
  signBinding,
  verifyBindingMac,
  verifyBindingSignature,
  type BindingProof,
  type SignedFields,
} from '../../src/trust/binding-proof.js';

// ---------------------------------------------------------------- the vector of PROTOCOL.md 11.4

const AOR = 'sip:alice@victim.test';
const KEY = resourceId(AOR);
const FIELDS: SignedFields = { op: 'store', key: KEY, aor: AOR, contact: 'sip:alice@192.0.2.10:5060', expiresAtS: 1796594400, seq: 1796590800000 };
/** SHA-256 of the empty string, standing in for a certificate's fingerprint. */
const SIGNER = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
/** RFC 8032 section 7.1, TEST 1: the Ed25519 private key (seed). */
const SEED = '9d61b19deffd5a60ba844af492ec2cc44449c5697b326919703bac031cae7f60';
const SECRET = Buffer.from('correct horse battery staple', 'ascii');

const VECTOR = {
  resourceId: '0087754c507c5719c0c8c5ee1d9cf8fca8d13108',
  canonical:
    '6b61647369702062696e64696e672031' + // "kadsip binding 1"
    '01' + // publication
    '0087754c507c5719c0c8c5ee1d9cf8fca8d13108' + // Resource-ID
    '0015' + '7369703a616c6963654076696374696d2e74657374' + // AoR
    '0019' + '7369703a616c696365403139322e302e322e31303a35303630' + // contact
    '000000006b15dae0' + // expiry 1796594400
    '000001a24d280c80' + // seq 1796590800000
    SIGNER,
  sig: 'ubNgsw41XWWgInYsspoXHbC9RqvOKzCkpBGp0dcqcYAQa0xWp0DVNiyDL56_fWZJuNQa7LQxBnAv6xnhVTdZAQ',
  removalSig: 'wJ35PfXjT3qMaHZsArbk5FteEevgkZf7g2Orcn-iGn84IPG9sXRaIlTTw3ukxLBqubwkm4lfEkZAhCHhClvnCA',
  macKey: '735a8ae4d3eeae46c8baa16a8b7f578b5a86fdc409fb40f36425e44f33574afb',
  mac: 'pF5wgRSBll0HIPFKPqAdTGyNS_55DaqbHqZoqhN-Bd4',
};

function ed25519FromSeed(seedHex: string): KeyObject {
  // PKCS #8 wrapping of a raw Ed25519 seed (RFC 8410 section 7).
  return createPrivateKey({ key: Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seedHex, 'hex')]), format: 'der', type: 'pkcs8' });
}

const PRIVATE = ed25519FromSeed(SEED);
const PUBLIC = createPublicKey(PRIVATE);

describe('the test vector (PROTOCOL.md 11.4)', () => {
  it('has the Resource-ID of the AoR and these canonical bytes, field by field', () => {
    expect(idToHex(KEY)).toBe(VECTOR.resourceId);
    expect(canonicalBindingBytes({ ...FIELDS, signer: SIGNER }).toString('hex')).toBe(VECTOR.canonical);
  });

  it('signs to this Ed25519 signature (deterministic, RFC 8032) and writes this proof', () => {
    const proof = signBinding(FIELDS, PRIVATE, SIGNER);
    expect(proof).toBe(`aor="sip:alice@victim.test";seq=1796590800000;exp=1796594400;signer=${SIGNER};sig=${VECTOR.sig}`);
    const removal = signBinding({ ...FIELDS, op: 'remove' }, PRIVATE, SIGNER);
    expect(removal).toContain(`sig=${VECTOR.removalSig}`);
  });

  it('MACs under the overlay secret to this MAC (signer field all zeros)', () => {
    const macKey = bindingMacKey(SECRET);
    expect(macKey.toString('hex')).toBe(VECTOR.macKey);
    expect(canonicalBindingBytes({ ...FIELDS, signer: null }).toString('hex')).toBe(VECTOR.canonical.slice(0, -64) + '0'.repeat(64));
    expect(macBinding(FIELDS, macKey)).toBe(`aor="sip:alice@victim.test";seq=1796590800000;exp=1796594400;mac=${VECTOR.mac}`);
  });
});

describe('verification', () => {
  const proof = (): Extract<BindingProof, { kind: 'sig' }> => {
    const parsed = parseBindingProof(signBinding(FIELDS, PRIVATE, SIGNER));
    if (!parsed.ok || parsed.proof.kind !== 'sig') throw new Error('unparsable');
    return parsed.proof;
  };

  it('holds for the signed binding, and for nothing else it could be moved to', () => {
    const p = proof();
    const claim = claimOf('store', KEY, FIELDS.contact, p);
    expect(verifyBindingSignature(claim, p.signature, PUBLIC)).toBe(true);
    // Another contact, another record, a removal, another expiry, another sequence, another signer.
    expect(verifyBindingSignature({ ...claim, contact: 'sip:alice@203.0.113.66:5060' }, p.signature, PUBLIC)).toBe(false);
    expect(verifyBindingSignature({ ...claim, key: resourceId('sip:bob@victim.test') }, p.signature, PUBLIC)).toBe(false);
    expect(verifyBindingSignature({ ...claim, op: 'remove' }, p.signature, PUBLIC)).toBe(false);
    expect(verifyBindingSignature({ ...claim, expiresAtS: claim.expiresAtS + 1 }, p.signature, PUBLIC)).toBe(false);
    expect(verifyBindingSignature({ ...claim, seq: claim.seq + 1 }, p.signature, PUBLIC)).toBe(false);
    expect(verifyBindingSignature({ ...claim, signer: 'f'.repeat(64) }, p.signature, PUBLIC)).toBe(false);
  });

  it('a MAC holds under the secret only', () => {
    const parsed = parseBindingProof(macBinding(FIELDS, bindingMacKey(SECRET)));
    if (!parsed.ok || parsed.proof.kind !== 'mac') throw new Error('unparsable');
    const claim = claimOf('store', KEY, FIELDS.contact, parsed.proof);
    expect(verifyBindingMac(claim, parsed.proof.mac, bindingMacKey(SECRET))).toBe(true);
    expect(verifyBindingMac(claim, parsed.proof.mac, bindingMacKey(Buffer.from('another secret')))).toBe(false);
    expect(verifyBindingMac({ ...claim, contact: 'sip:alice@203.0.113.66:5060' }, parsed.proof.mac, bindingMacKey(SECRET))).toBe(false);
    expect(verifyBindingMac(claim, parsed.proof.mac.subarray(0, 16), bindingMacKey(SECRET))).toBe(false);
  });
});

describe('proof text', () => {
  const good = signBinding(FIELDS, PRIVATE, SIGNER);

  it('reads back what it writes, in any parameter order and case, with or without the leading ";"', () => {
    const parsed = parseBindingProof(good);
    expect(parsed.ok && formatBindingProof(parsed.proof)).toBe(good);
    const shuffled = `;SIG=${VECTOR.sig};signer=${SIGNER};exp=1796594400;Seq=1796590800000;aor="sip:alice@victim.test";q=0.5`;
    const again = parseBindingProof(shuffled);
    expect(again.ok && formatBindingProof(again.proof)).toBe(good);
  });

  it('refuses each malformed field with its reason', () => {
    const bad = (text: string): string => {
      const r = parseBindingProof(text);
      return r.ok ? 'accepted' : r.error;
    };
    expect(bad(good.replace(VECTOR.sig, VECTOR.sig.slice(0, 43)))).toBe('proof sig is 32 bytes, not 64');
    expect(bad(good.replace(';sig=', ';sig=!'))).toMatch(/malformed|base64url/);
    expect(bad(good.replace('aor="sip:alice@victim.test"', 'aor=alice'))).toBe('proof without a quoted aor');
    expect(bad(good.replace('seq=1796590800000', 'seq=-1'))).toMatch(/malformed|seq/);
    expect(bad(good.replace('seq=1796590800000', 'seq=99999999999999999999'))).toBe('proof without a valid seq');
    expect(bad(good.replace('exp=1796594400', 'exp=01796594400'))).toBe('proof without a valid exp');
    expect(bad(good.replace(SIGNER, SIGNER.toUpperCase()))).toMatch(/fingerprint/);
    expect(bad(`${good};mac=${VECTOR.mac}`)).toBe('proof with both a MAC and a signature');
    expect(bad(`${good};seq=1`)).toBe('proof parameter seq twice');
    expect(bad(good.replace(`;signer=${SIGNER}`, ''))).toBe('proof without signer and sig (or mac)');
    expect(bad(`aor="${AOR}";seq=1;exp=2;mac=${VECTOR.mac.slice(0, 20)}`)).toBe('proof mac is 15 bytes, not 32');
  });

  it('names an AoR that is the record: its domain, or null for another record or a non-canonical AoR', () => {
    expect(aorDomain(AOR, KEY)).toBe('victim.test');
    expect(aorDomain(AOR, resourceId('sip:bob@victim.test'))).toBeNull();
    expect(aorDomain('sip:alice@VICTIM.test', resourceId('sip:alice@VICTIM.test'))).toBeNull();
    expect(aorDomain('sip:bob@[2001:db8::a]', resourceId('sip:bob@[2001:db8::a]'))).toBe('[2001:db8::a]');
    expect(aorDomain('sip:victim.test', resourceId('sip:victim.test'))).toBeNull();
  });
});

describe('sequence numbers', () => {
  it('are the signing time, and strictly increasing when the clock stands still or steps back', () => {
    const seq = new SequenceClock();
    expect(seq.next(1000)).toBe(1000);
    expect(seq.next(1000)).toBe(1001);
    expect(seq.next(900)).toBe(1002);
    expect(seq.next(5000)).toBe(5000);
  });
});
