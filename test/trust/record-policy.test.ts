/**
 * The SIP node's record policy (PROTOCOL.md 11.3, 11.4) on real certificates from an overlay CA:
 * who may store, replace and remove a binding at a storing peer, and which fetched bindings a node
 * believes. Each refusal has its own reason (its own SIP code and Warning on the wire).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { resourceId } from '../../src/overlay/peer-id.js';
import type { Binding } from '../../src/overlay/messages.js';
import { createCa, extendCrl, issueCertificate, type IssuedCertificate, type OverlayCa } from '../../src/trust/ca.js';
import { CertificateCache } from '../../src/trust/certificate-cache.js';
import { TrustAnchor } from '../../src/trust/certificate.js';
import { bindingMacKey, macBinding, signBinding, type SignedFields } from '../../src/trust/binding-proof.js';
import { macRecordPolicy, MAX_CLOCK_SKEW_MS, signedRecordPolicy, signerCertificates, type ProvenRecordPolicy } from '../../src/trust/record-policy.js';

const NOW = Date.now();
const HOUR = 3_600_000;
const AOR = 'sip:alice@victim.test';
const KEY = resourceId(AOR);
const CONTACT = 'sip:alice@192.0.2.10:5060';

let ca: OverlayCa;
let victimNode: IssuedCertificate; // may publish victim.test
let otherVictimNode: IssuedCertificate; // may publish victim.test too (the phone moved there)
let attacker: IssuedCertificate; // enrolled, but for attacker.test only
let revoked: IssuedCertificate;
let stranger: IssuedCertificate; // another CA's node, authorized for victim.test there
let anchor: TrustAnchor;

beforeAll(async () => {
  ca = await createCa({ overlay: 'ov', now: NOW });
  victimNode = await issueCertificate(ca, { name: 'a', domains: ['victim.test'], now: NOW });
  otherVictimNode = await issueCertificate(ca, { name: 'c', domains: ['victim.test'], now: NOW });
  attacker = await issueCertificate(ca, { name: 'b', domains: ['attacker.test'], now: NOW });
  revoked = await issueCertificate(ca, { name: 'r', domains: ['victim.test'], now: NOW });
  const foreignCa = await createCa({ overlay: 'ov', now: NOW });
  stranger = await issueCertificate(foreignCa, { name: 's', domains: ['victim.test'], now: NOW });
  anchor = new TrustAnchor(ca.certDer, await extendCrl(ca, undefined, [revoked.serial], NOW));
});

/** A policy whose peers have shown it these certificates (DHT-Cert), through A's cache. */
function policyKnowing(...certs: IssuedCertificate[]): ProvenRecordPolicy {
  const cache = new CertificateCache({ anchor });
  for (const c of certs) cache.admit(c.der, NOW);
  return signedRecordPolicy({ byFingerprint: (fp) => cache.byFingerprint(fp, NOW) }, anchor);
}

function fields(over: Partial<SignedFields> = {}): SignedFields {
  return { op: 'store', key: KEY, aor: AOR, contact: CONTACT, expiresAtS: Math.floor((NOW + HOUR) / 1000), seq: NOW - 1000, ...over };
}

function signed(by: IssuedCertificate, over: Partial<SignedFields> = {}): Binding {
  const f = fields(over);
  return { value: f.contact, ttlMs: HOUR, proof: signBinding(f, by.key, by.fingerprint) };
}

function removal(by: IssuedCertificate, over: Partial<SignedFields> = {}): Binding {
  const f = fields({ op: 'remove', seq: NOW, ...over });
  return { value: f.contact, ttlMs: 0, proof: signBinding(f, by.key, by.fingerprint) };
}

const reasonOf = (v: { ok: boolean; reason?: string }): string => (v.ok ? 'ok' : v.reason!);

describe('a storing peer (closed overlay)', () => {
  it('stores a binding signed by a node authorized for the AoR domain', () => {
    const policy = policyKnowing(victimNode);
    expect(reasonOf(policy.admitStore(KEY, [signed(victimNode)], [], NOW))).toBe('ok');
  });

  it('refuses an enrolled node not authorized for the domain (the hijack), an unknown signer, another CA, a revoked one', () => {
    const policy = policyKnowing(victimNode, attacker, stranger, revoked);
    const hijack = policy.admitStore(KEY, [signed(attacker, { contact: 'sip:alice@203.0.113.66:5060' })], [], NOW);
    expect(hijack).toMatchObject({ ok: false, reason: 'not-authorized' });
    expect(!hijack.ok && hijack.detail).toContain('victim.test');
    expect(reasonOf(policyKnowing(victimNode).admitStore(KEY, [signed(attacker)], [], NOW))).toBe('unknown-signer');
    // The cache never admits another CA's certificate or a revoked one: their signers stay unknown.
    expect(reasonOf(policy.admitStore(KEY, [signed(stranger)], [], NOW))).toBe('unknown-signer');
    expect(reasonOf(policy.admitStore(KEY, [signed(revoked)], [], NOW))).toBe('unknown-signer');
  });

  it('refuses a known certificate that is revoked or expired when used (bad-certificate), however it was found', () => {
    // A directory that still holds them (parsed before the CRL came); the policy asks the anchor anyway.
    const beforeCrl = new TrustAnchor(ca.certDer);
    const all = new Map([revoked, victimNode].map((c) => [c.fingerprint, beforeCrl.verify(c.der, NOW)] as const));
    const lenient = signedRecordPolicy({ byFingerprint: (fp) => { const v = all.get(fp); return v?.ok ? v.identity : undefined; } }, anchor);
    expect(reasonOf(lenient.admitStore(KEY, [signed(revoked)], [], NOW))).toBe('bad-certificate');
    const later = NOW + 400 * 24 * HOUR; // past the node certificate's year
    expect(reasonOf(lenient.admitStore(KEY, [signed(victimNode, { seq: later - 1000, expiresAtS: Math.floor((later + HOUR) / 1000) })], [], later))).toBe('bad-certificate');
  });

  it('refuses a signature over other bytes, a truncated signature, a missing proof, a proof for another record', () => {
    const policy = policyKnowing(victimNode);
    const good = signed(victimNode);
    expect(reasonOf(policy.admitStore(KEY, [{ ...good, value: 'sip:alice@203.0.113.66:5060' }], [], NOW))).toBe('bad-signature');
    const truncated = { ...good, proof: good.proof!.replace(/sig=([A-Za-z0-9_-]+)/, (_m, s: string) => `sig=${s.slice(0, 40)}`) };
    const t = policy.admitStore(KEY, [truncated], [], NOW);
    expect(t).toMatchObject({ ok: false, reason: 'bad-request' });
    expect(!t.ok && t.detail).toMatch(/sig is 30 bytes, not 64/);
    expect(reasonOf(policy.admitStore(KEY, [{ value: CONTACT, ttlMs: HOUR }], [], NOW))).toBe('proof-required');
    expect(reasonOf(policy.admitStore(resourceId('sip:bob@victim.test'), [good], [], NOW))).toBe('bad-request');
    // A storing peer refuses the whole STORE when one binding fails.
    expect(reasonOf(policy.admitStore(KEY, [good, { value: CONTACT, ttlMs: HOUR }], [], NOW))).toBe('proof-required');
  });

  it('refuses a future-dated binding and one past its expiry', () => {
    const policy = policyKnowing(victimNode);
    expect(reasonOf(policy.admitStore(KEY, [signed(victimNode, { seq: NOW + MAX_CLOCK_SKEW_MS + 60_000 })], [], NOW))).toBe('future-dated');
    expect(reasonOf(policy.admitStore(KEY, [signed(victimNode, { expiresAtS: Math.floor((NOW + 30 * 24 * HOUR) / 1000) })], [], NOW))).toBe('future-dated');
    expect(reasonOf(policy.admitStore(KEY, [signed(victimNode, { seq: NOW - 2 * HOUR, expiresAtS: Math.floor((NOW - HOUR) / 1000) })], [], NOW))).toBe('expired');
    // Within the skew, a node whose clock is a little ahead is believed.
    expect(reasonOf(policy.admitStore(KEY, [signed(victimNode, { seq: NOW + 60_000 })], [], NOW))).toBe('ok');
  });

  it('replaces only by the same signer at a sequence at least the held one, or another authorized signer at a higher one', () => {
    const policy = policyKnowing(victimNode, otherVictimNode, attacker);
    const held = [signed(victimNode, { seq: NOW - 1000 })];
    expect(reasonOf(policy.admitStore(KEY, held, held, NOW))).toBe('ok'); // a republication of the same proof
    expect(reasonOf(policy.admitStore(KEY, [signed(victimNode, { seq: NOW - 5000 })], held, NOW))).toBe('replayed');
    expect(reasonOf(policy.admitStore(KEY, [signed(victimNode, { seq: NOW - 500 })], held, NOW))).toBe('ok');
    expect(reasonOf(policy.admitStore(KEY, [signed(otherVictimNode, { seq: NOW - 1000 })], held, NOW))).toBe('not-authorized');
    expect(reasonOf(policy.admitStore(KEY, [signed(otherVictimNode, { seq: NOW - 500 })], held, NOW))).toBe('ok');
    expect(reasonOf(policy.admitStore(KEY, [signed(attacker, { seq: NOW })], held, NOW))).toBe('not-authorized');
  });

  it('removes only by the same signer or a higher sequence from another authorized one; a removal is not undone by a replayed STORE', () => {
    const policy = policyKnowing(victimNode, otherVictimNode, attacker);
    const store = signed(victimNode, { seq: NOW - 1000 });
    const held = [store];
    expect(reasonOf(policy.admitRemove(KEY, [removal(attacker)], held, NOW))).toBe('not-authorized');
    expect(reasonOf(policy.admitRemove(KEY, [{ value: CONTACT, ttlMs: 0 }], held, NOW))).toBe('proof-required');
    expect(reasonOf(policy.admitRemove(KEY, [removal(otherVictimNode, { seq: NOW - 2000 })], held, NOW))).toBe('not-authorized');
    // A publication's proof is not a removal's: the op is signed.
    expect(reasonOf(policy.admitRemove(KEY, [{ ...store, ttlMs: 0 }], held, NOW))).toBe('bad-signature');
    expect(reasonOf(policy.admitRemove(KEY, [removal(victimNode)], held, NOW))).toBe('ok');
    // The binding is gone; its old STORE, replayed, stays out until the removal's proof expires.
    expect(reasonOf(policy.admitStore(KEY, [store], [], NOW))).toBe('replayed');
    expect(reasonOf(policy.admitStore(KEY, [signed(victimNode, { seq: NOW + 1 })], [], NOW))).toBe('ok');
  });

  it('dates proofs by the wall clock when given one, not by the core clock (monotonic, from the process start)', () => {
    const cache = new CertificateCache({ anchor });
    cache.admit(victimNode.der, NOW);
    const policy = signedRecordPolicy({ byFingerprint: (fp) => cache.byFingerprint(fp, NOW) }, anchor, { wallClock: () => NOW });
    const coreNow = 2_500; // what performance.now() says 2.5 s after start
    expect(reasonOf(policy.admitStore(KEY, [signed(victimNode)], [], coreNow))).toBe('ok');
    expect(policy.acceptFetched(KEY, signed(victimNode), coreNow)).toBe(true);
  });

  it('accepts a removal by another authorized signer with a higher sequence (a phone that moved)', () => {
    const policy = policyKnowing(victimNode, otherVictimNode);
    expect(reasonOf(policy.admitRemove(KEY, [removal(otherVictimNode)], [signed(victimNode)], NOW))).toBe('ok');
  });
});

describe('a fetching node', () => {
  it('believes a genuine binding and drops forged ones, logging once per signer', () => {
    const warnings: object[] = [];
    const cache = new CertificateCache({ anchor });
    for (const c of [victimNode, attacker]) cache.admit(c.der, NOW);
    const log = { debug: () => {}, info: () => {}, warn: (o: object) => warnings.push(o) };
    const policy = signedRecordPolicy({ byFingerprint: (fp) => cache.byFingerprint(fp, NOW) }, anchor, { log });
    expect(policy.acceptFetched(KEY, signed(victimNode), NOW)).toBe(true);
    const forged = signed(attacker, { contact: 'sip:alice@203.0.113.66:5060' });
    expect(policy.acceptFetched(KEY, forged, NOW)).toBe(false);
    expect(policy.acceptFetched(KEY, { ...forged, value: 'sip:alice@203.0.113.67:5060' }, NOW)).toBe(false);
    expect(policy.acceptFetched(KEY, { ...signed(victimNode), value: 'sip:alice@203.0.113.66:5060' }, NOW)).toBe(false);
    expect(policy.acceptFetched(KEY, { value: 'sip:alice@203.0.113.66:5060', ttlMs: HOUR }, NOW)).toBe(false);
    expect(warnings.map((w) => (w as { signer: string }).signer)).toEqual([attacker.fingerprint, victimNode.fingerprint, 'unsigned']);
  });

  it('stops believing a binding whose signer was revoked after it was first verified', async () => {
    const anchorNow = new TrustAnchor(ca.certDer);
    const identity = anchorNow.verify(victimNode.der, NOW);
    if (!identity.ok) throw new Error(identity.detail);
    const policy = signedRecordPolicy({ byFingerprint: () => identity.identity }, anchorNow);
    const b = signed(victimNode);
    expect(policy.acceptFetched(KEY, b, NOW)).toBe(true);
    anchorNow.reloadCrl(await extendCrl(ca, undefined, [victimNode.serial], NOW));
    expect(policy.acceptFetched(KEY, b, NOW)).toBe(false);
  });
});

describe('signers\' certificates with the values (DHT-Cert)', () => {
  it('are those of every signer but the sender, each once, known ones only, at most the bound', () => {
    const beforeCrl = new TrustAnchor(ca.certDer);
    const known = new Map([victimNode, otherVictimNode, attacker].map((c) => [c.fingerprint, beforeCrl.verify(c.der, NOW)] as const));
    const directory = { byFingerprint: (fp: string) => { const v = known.get(fp); return v?.ok ? v.identity : undefined; } };
    const bindings = [signed(victimNode), signed(victimNode, { contact: 'sip:alice@192.0.2.11:5060' }), signed(otherVictimNode, { contact: 'sip:alice@192.0.2.12:5060' }), signed(stranger, { contact: 'sip:alice@192.0.2.13:5060' }), { value: CONTACT, ttlMs: HOUR }];
    const ders = (own: string, max?: number): string[] => signerCertificates(bindings, directory, own, max).map((d) => Buffer.from(d).toString('hex'));
    expect(ders(attacker.fingerprint)).toEqual([victimNode.der.toString('hex'), otherVictimNode.der.toString('hex')]);
    expect(ders(victimNode.fingerprint)).toEqual([otherVictimNode.der.toString('hex')]);
    expect(ders(attacker.fingerprint, 1)).toEqual([victimNode.der.toString('hex')]);
  });
});

describe('a secret overlay (MAC under the overlay secret)', () => {
  const macKey = bindingMacKey(Buffer.from('overlay secret'));
  const maced = (over: Partial<SignedFields> = {}, key = macKey): Binding => {
    const f = fields(over);
    return { value: f.contact, ttlMs: f.op === 'store' ? HOUR : 0, proof: macBinding(f, key) };
  };

  it('stores MACed bindings, refuses a MAC under another secret, a signed binding and replays', () => {
    const policy = macRecordPolicy(macKey);
    expect(reasonOf(policy.admitStore(KEY, [maced()], [], NOW))).toBe('ok');
    expect(reasonOf(policy.admitStore(KEY, [maced({}, bindingMacKey(Buffer.from('guess')))], [], NOW))).toBe('bad-signature');
    expect(reasonOf(policy.admitStore(KEY, [signed(victimNode)], [], NOW))).toBe('proof-required');
    expect(reasonOf(policy.admitStore(KEY, [maced({ seq: NOW - 5000 })], [maced()], NOW))).toBe('replayed');
    expect(reasonOf(policy.admitRemove(KEY, [maced({ op: 'remove', seq: NOW })], [maced()], NOW))).toBe('ok');
    expect(reasonOf(policy.admitStore(KEY, [maced()], [], NOW))).toBe('replayed');
    expect(policy.acceptFetched(KEY, maced({ seq: NOW + 1 }), NOW)).toBe(true);
    expect(policy.acceptFetched(KEY, { ...maced(), value: 'sip:alice@203.0.113.66:5060' }, NOW)).toBe(false);
  });
});
