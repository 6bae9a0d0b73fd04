/**
 * Node certificates against the overlay CA (src/trust/certificate.ts): what a valid certificate
 * proves (checked against node:crypto's own reading of it), and each way a certificate fails with
 * its own reason, since peers answer each with its own SIP code (PROTOCOL.md 11.1/11.2).
 */
import { X509Certificate, createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createCa, extendCrl, issueCertificate, BACKDATE_MS } from '../../src/trust/ca.js';
import { TrustAnchor, TrustAnchorError } from '../../src/trust/certificate.js';
import { CrlError, RevocationList } from '../../src/trust/crl.js';
import { signBytes, verifyBytes, type KeyAlgorithm } from '../../src/trust/keys.js';
import { derToPem } from '../../src/trust/x509.js';

const NOW = Date.now();
const DAY = 86_400_000;

describe.each<KeyAlgorithm>(['ed25519', 'p256'])('TrustAnchor (%s)', (algorithm) => {
  it('verifies a node certificate and reports what it binds', async () => {
    const ca = await createCa({ overlay: 'lab', algorithm, now: NOW });
    const issued = await issueCertificate(ca, { name: 'node-a', domains: ['Victim.test', 'b.test'], addresses: ['192.0.2.1:5060', '[2001:DB8:0::A]:5062'], days: 30, now: NOW });
    const anchor = new TrustAnchor(ca.certDer);
    const result = anchor.verify(issued.der, NOW);
    if (!result.ok) throw new Error(`${result.reason}: ${result.detail}`);
    const id = result.identity;
    const byNode = new X509Certificate(issued.der);
    expect(id.name).toBe('node-a');
    expect(id.domains).toEqual(['victim.test', 'b.test']);
    expect(id.addresses).toEqual(['192.0.2.1:5060', '[2001:db8::a]:5062']);
    expect(id.overlay).toBe('lab');
    expect(anchor.overlay).toBe('lab');
    expect(id.fingerprint).toBe(byNode.fingerprint256.replace(/:/g, '').toLowerCase());
    expect(id.fingerprint).toBe(createHash('sha256').update(issued.der).digest('hex'));
    expect(anchor.fingerprint(issued.der)).toBe(id.fingerprint);
    expect(id.serial).toBe(byNode.serialNumber.toLowerCase().replace(/^0+/, ''));
    expect(id.serial).toBe(issued.serial);
    expect(id.notBefore).toBe(Math.floor((NOW - BACKDATE_MS) / 1000) * 1000);
    expect(id.notAfter).toBe(Math.floor((NOW + 30 * DAY) / 1000) * 1000);
    expect(id.der.equals(issued.der)).toBe(true);
    expect(byNode.subjectAltName).toBe('URI:sip:victim.test, URI:sip:b.test');
    expect(byNode.ca).toBe(false);
    // The certificate's key is the issued key: a proof signed with it verifies with identity.publicKey.
    expect(verifyBytes(id.publicKey, Buffer.from('x'), signBytes(issued.key, Buffer.from('x')))).toBe(true);
    expect(anchor.caFingerprint).toBe(createHash('sha256').update(ca.certDer).digest('hex'));
  });

  it('refuses a certificate of another CA (same overlay name): unknown-ca', async () => {
    const ca = await createCa({ overlay: 'lab', algorithm, now: NOW });
    const other = await createCa({ overlay: 'lab', algorithm, now: NOW });
    const foreign = await issueCertificate(other, { name: 'node-a', now: NOW });
    const result = new TrustAnchor(ca.certDer).verify(foreign.der, NOW);
    expect(result).toMatchObject({ ok: false, reason: 'unknown-ca' });
  });

  it('refuses expired, not yet valid, and revoked certificates, each with its reason', async () => {
    const ca = await createCa({ algorithm, now: NOW });
    const anchor = new TrustAnchor(ca.certDer);
    const expired = await issueCertificate(ca, { notBefore: NOW - 10 * DAY, notAfter: NOW - DAY });
    const future = await issueCertificate(ca, { notBefore: NOW + DAY, notAfter: NOW + 10 * DAY });
    expect(anchor.verify(expired.der, NOW)).toMatchObject({ ok: false, reason: 'expired' });
    expect(anchor.verify(future.der, NOW)).toMatchObject({ ok: false, reason: 'not-yet-valid' });
    // Validity is re-checked on every call, also for a certificate already verified (cached).
    const good = await issueCertificate(ca, { days: 1, now: NOW });
    expect(anchor.verify(good.der, NOW).ok).toBe(true);
    expect(anchor.verify(good.der, NOW + 2 * DAY)).toMatchObject({ ok: false, reason: 'expired' });
    anchor.reloadCrl(derToPem('X509 CRL', await extendCrl(ca, undefined, [good.serial], NOW)));
    expect(anchor.isRevoked(good.serial)).toBe(true);
    expect(anchor.isRevoked(good.serial.toUpperCase())).toBe(true);
    expect(anchor.verify(good.der, NOW)).toMatchObject({ ok: false, reason: 'revoked' });
  });

  it('refuses garbage, a truncated certificate and a tampered signature', async () => {
    const ca = await createCa({ algorithm, now: NOW });
    const anchor = new TrustAnchor(ca.certDer);
    const good = await issueCertificate(ca, { now: NOW });
    expect(anchor.verify(Buffer.from('not a certificate at all'), NOW)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(anchor.verify(Buffer.alloc(0), NOW)).toMatchObject({ ok: false, reason: 'malformed' });
    expect(anchor.verify(good.der.subarray(0, good.der.length - 10), NOW)).toMatchObject({ ok: false, reason: 'malformed' });
    const tampered = Buffer.from(good.der);
    tampered[tampered.length - 5]! ^= 0x40;
    expect(anchor.verify(tampered, NOW)).toMatchObject({ ok: false, reason: 'unknown-ca' });
  });

  it('refuses the CA certificate itself as a node certificate', async () => {
    const ca = await createCa({ algorithm, now: NOW });
    expect(new TrustAnchor(ca.certDer).verify(ca.certDer, NOW)).toMatchObject({ ok: false, reason: 'not-a-node-certificate' });
  });
});

describe('TrustAnchor construction and CRLs', () => {
  it('an overlay CA without a name anchors nodes without one', async () => {
    const ca = await createCa({ now: NOW });
    const anchor = new TrustAnchor(ca.certDer);
    expect(anchor.overlay).toBeUndefined();
    const result = anchor.verify((await issueCertificate(ca, { now: NOW })).der, NOW);
    expect(result.ok && result.identity.overlay).toBe(undefined);
    expect(result.ok && result.identity.name).toMatch(/^node-[0-9a-f]{16}$/);
  });

  it('a node certificate is not a CA', async () => {
    const ca = await createCa({ now: NOW });
    const node = await issueCertificate(ca, { now: NOW });
    expect(() => new TrustAnchor(node.der)).toThrow(TrustAnchorError);
    expect(() => new TrustAnchor(Buffer.from('junk'))).toThrow(TrustAnchorError);
  });

  it('refuses a CRL of another CA, a stale CRL, and garbage, keeping the CRL in force', async () => {
    const ca = await createCa({ now: NOW });
    const other = await createCa({ now: NOW });
    const anchor = new TrustAnchor(ca.certDer);
    const node = await issueCertificate(ca, { now: NOW });
    const first = RevocationList.parse(await extendCrl(ca, undefined, [], NOW - DAY), anchor.caCertificate);
    const newer = await extendCrl(ca, first, [node.serial], NOW);
    anchor.reloadCrl(newer);
    expect(anchor.isRevoked(node.serial)).toBe(true);
    const stale = derToPem('X509 CRL', await extendCrl(ca, undefined, [], NOW - DAY));
    expect(() => anchor.reloadCrl(stale)).toThrow(/before the CRL in use/);
    const foreign = await extendCrl(other, undefined, [], NOW + DAY);
    expect(() => anchor.reloadCrl(foreign)).toThrow(CrlError);
    expect(() => anchor.reloadCrl('-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n')).toThrow(CrlError);
    expect(() => anchor.reloadCrl('garbage')).toThrow(CrlError);
    // A CRL whose signature was altered: same issuer, same entries, not the CA's signature.
    const forged = Buffer.from(await extendCrl(ca, undefined, [], NOW + DAY));
    forged[forged.length - 3]! ^= 0x01;
    expect(() => anchor.reloadCrl(forged)).toThrow(/signature/);
    expect(anchor.isRevoked(node.serial)).toBe(true);
    expect(anchor.verify(node.der, NOW)).toMatchObject({ ok: false, reason: 'revoked' });
  });

  it('a P-256 CA issues certificates an Ed25519-keyed node holds, and its CRLs verify', async () => {
    const ca = await createCa({ algorithm: 'p256', now: NOW });
    const node = await issueCertificate(ca, { algorithm: 'ed25519', now: NOW });
    const anchor = new TrustAnchor(ca.certDer, derToPem('X509 CRL', await extendCrl(ca, undefined, [node.serial], NOW)));
    expect(anchor.verify(node.der, NOW)).toMatchObject({ ok: false, reason: 'revoked' });
    expect(node.key.asymmetricKeyType).toBe('ed25519');
  });
});
