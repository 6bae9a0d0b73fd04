/** CertificateCache: verified certificates by fingerprint and proven peers by Peer-ID, re-checked on expiry and revocation. */
import { describe, expect, it } from 'vitest';
import { CertificateCache } from '../../src/trust/certificate-cache.js';
import { crlRevoking, DAY, issue, makeCa } from './peer-auth-fixtures.js';

describe('CertificateCache', () => {
  it('keeps a certificate that chains to the CA, by fingerprint, and refuses others with their reason', async () => {
    const ca = await makeCa({ overlay: 'acme' });
    const other = await makeCa({ overlay: 'acme' });
    const cache = new CertificateCache({ anchor: ca.anchor });
    const good = await issue(ca, { name: 'a', domains: ['victim.test'] });
    const foreign = await issue(other, { name: 'f' });
    const now = Date.now();
    const v = cache.admit(good.der, now);
    expect(v.ok).toBe(true);
    expect(cache.byFingerprint(good.identity.fingerprint, now)?.name).toBe('a');
    expect(cache.byFingerprint(good.identity.fingerprint, now)?.domains).toEqual(['victim.test']);
    const f = cache.admit(foreign.der, now);
    expect(f.ok ? 'ok' : f.reason).toBe('unknown-ca');
    expect(cache.byFingerprint(foreign.identity.fingerprint, now)).toBeUndefined();
    const g = cache.admit(Buffer.from('garbage'), now);
    expect(g.ok ? 'ok' : g.reason).toBe('malformed');
    expect(cache.certificateCount).toBe(1);
  });

  it('answers for a proven peer until its proof lapses or its certificate expires', async () => {
    const ca = await makeCa();
    const now = Date.now();
    const node = await issue(ca, { notAfter: now + 2 * 3_600_000 });
    const cache = new CertificateCache({ anchor: ca.anchor, authTtlMs: 60_000 });
    expect(cache.peer(42n, now)).toBeUndefined();
    cache.bindPeer(42n, '192.0.2.1:5060', node.identity, now);
    expect(cache.peer(42n, now + 59_000)?.address).toBe('192.0.2.1:5060');
    expect(cache.peer(42n, now + 61_000)).toBeUndefined();
    cache.bindPeer(42n, '192.0.2.1:5060', node.identity, now + 3 * 3_600_000 - 1000);
    expect(cache.peer(42n, now + 3 * 3_600_000)).toBeUndefined(); // past notAfter
    // The peer's certificate is also a known signer.
    expect(cache.byFingerprint(node.identity.fingerprint, now)).toBeDefined();
  });

  it('drops revoked and expired peers on recheck and tells the listeners, keeping the valid ones', async () => {
    const ca = await makeCa();
    const now = Date.now();
    const a = await issue(ca, { name: 'a' });
    const b = await issue(ca, { name: 'b', notAfter: now + DAY });
    const c = await issue(ca, { name: 'c' });
    const cache = new CertificateCache({ anchor: ca.anchor });
    cache.bindPeer(1n, '192.0.2.1:1', a.identity, now);
    cache.bindPeer(2n, '192.0.2.2:2', b.identity, now);
    cache.bindPeer(3n, '192.0.2.3:3', c.identity, now);
    const heard: string[] = [];
    cache.onDrop((p, reason) => heard.push(`${p.identity.name}:${reason}`));
    expect(cache.recheck(now)).toEqual([]);
    ca.anchor.reloadCrl(await crlRevoking(ca, [a.identity.serial], now));
    expect(cache.byFingerprint(a.identity.fingerprint, now)).toBeUndefined(); // at once, before any recheck
    const later = now + 2 * DAY;
    expect(cache.recheck(later).map((p) => p.peerId).sort()).toEqual([1n, 2n]);
    expect(heard.sort()).toEqual(['a:revoked', 'b:expired']);
    expect(cache.peer(1n, later)).toBeUndefined();
    expect(cache.peer(3n, later)).toBeUndefined(); // proof older than the TTL: forgotten, not dropped
    expect(cache.byFingerprint(c.identity.fingerprint, later)?.name).toBe('c');
    expect(cache.byFingerprint(b.identity.fingerprint, later)).toBeUndefined();
  });

  it('stays bounded', async () => {
    const ca = await makeCa();
    const node = await issue(ca);
    const cache = new CertificateCache({ anchor: ca.anchor, maxPeers: 3 });
    const now = Date.now();
    for (let i = 0n; i < 10n; i++) cache.bindPeer(i, `192.0.2.1:${i}`, node.identity, now);
    expect(cache.peerCount).toBe(3);
    expect(cache.peer(9n, now)).toBeDefined();
    expect(cache.peer(0n, now)).toBeUndefined();
  });
});
