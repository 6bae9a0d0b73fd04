/**
 * A node's trust files (src/trust/material.ts): loaded and cross-checked at start, each error
 * naming the file; and the CRL watcher that ends a revoked peer's membership without a restart.
 */
import { mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { caFiles, createCa, extendCrl, issueCertificate, nodeFiles, writeNewFiles, type OverlayCa } from '../../src/trust/ca.js';
import { RevocationList } from '../../src/trust/crl.js';
import { loadTrustMaterial, TrustMaterialError, watchCrl } from '../../src/trust/material.js';
import { signBytes, verifyBytes } from '../../src/trust/keys.js';
import { derToPem } from '../../src/trust/x509.js';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'kadsip-material-'));
  dirs.push(d);
  return d;
}

async function enrolled(options: { overlay?: string } = {}): Promise<{ ca: OverlayCa; dir: string; files: { caCert: string; cert: string; key: string; crl: string } }> {
  const dir = tempDir();
  const ca = await createCa(options);
  writeNewFiles(await caFiles(ca, dir));
  const node = await issueCertificate(ca, { name: 'n1', domains: ['a.test'] });
  writeNewFiles(nodeFiles(node, dir));
  return { ca, dir, files: { caCert: join(dir, 'ca-cert.pem'), cert: join(dir, 'node-cert.pem'), key: join(dir, 'node-key.pem'), crl: join(dir, 'crl.pem') } };
}

describe('loadTrustMaterial', () => {
  it('loads the anchor, the own identity and the matching key', async () => {
    const { files } = await enrolled({ overlay: 'lab' });
    const m = loadTrustMaterial(files);
    expect(m.own.name).toBe('n1');
    expect(m.own.domains).toEqual(['a.test']);
    expect(m.anchor.overlay).toBe('lab');
    expect(verifyBytes(m.own.publicKey, Buffer.from('hi'), signBytes(m.key, Buffer.from('hi')))).toBe(true);
    expect(statSync(files.key).mode & 0o777).toBe(0o600);
  });

  it('names the file that is missing or wrong', async () => {
    const { files, dir } = await enrolled();
    expect(() => loadTrustMaterial({ ...files, cert: join(dir, 'nope.pem') })).toThrow(new RegExp(`^${join(dir, 'nope.pem')}: cannot read the node certificate: ENOENT`));
    expect(() => loadTrustMaterial({ ...files, caCert: files.key })).toThrow(new RegExp(`^${files.key}: not a PEM CA certificate`));
    // The node's certificate as the CA: not a CA.
    expect(() => loadTrustMaterial({ ...files, caCert: files.cert })).toThrow(new RegExp(`^${files.cert}: not a CA certificate`));
    expect(() => loadTrustMaterial({ ...files, key: files.cert })).toThrow(new RegExp(`^${files.key.replace('node-key', 'node-cert')}: not a PEM private key`));
    expect(() => loadTrustMaterial({ ...files, crl: files.cert })).toThrow(new RegExp(`^${files.cert}: not a CRL`));
  });

  it("refuses another node's key, another CA's certificate, and its own revoked certificate", async () => {
    const a = await enrolled();
    const b = await enrolled();
    const err = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(TrustMaterialError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(err(() => loadTrustMaterial({ ...a.files, key: b.files.key }))).toBe(`${b.files.key}: not the key of the certificate in ${a.files.cert}`);
    expect(err(() => loadTrustMaterial({ ...a.files, cert: b.files.cert }))).toMatch(new RegExp(`^${b.files.cert}: not a valid certificate of the CA in ${a.files.caCert} \\(unknown-ca`));
    const own = loadTrustMaterial(a.files).own;
    writeFileSync(a.files.crl, derToPem('X509 CRL', await extendCrl(a.ca, undefined, [own.serial])));
    expect(err(() => loadTrustMaterial(a.files))).toMatch(/\(revoked: /);
  });
});

describe('CRL watcher', () => {
  it('reloads a changed CRL, keeps the last good one through a bad file, and logs that once', async () => {
    const { ca, files } = await enrolled();
    const m = loadTrustMaterial(files);
    const peer = await issueCertificate(ca, { name: 'peer' });
    const warnings: object[] = [];
    let reloads = 0;
    const logger = { debug: () => {}, info: () => {}, warn: (o: object) => warnings.push(o) };
    const watcher = await watchCrl(m.anchor, files.crl, { logger, onReload: () => reloads++ });
    expect(await watcher.check()).toBe(false); // the file the anchor was loaded from: nothing new

    const first = RevocationList.parse(derToPem('X509 CRL', await extendCrl(ca, undefined, [], Date.now() - 1000)), m.anchor.caCertificate);
    writeFileSync(files.crl, derToPem('X509 CRL', await extendCrl(ca, first, [peer.serial])));
    expect(await watcher.check()).toBe(true);
    expect(reloads).toBe(1);
    expect(m.anchor.verify(peer.der, Date.now())).toMatchObject({ ok: false, reason: 'revoked' });

    writeFileSync(files.crl, 'not a crl at all\n');
    expect(await watcher.check()).toBe(false);
    expect(await watcher.check()).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(m.anchor.isRevoked(peer.serial)).toBe(true);

    rmSync(files.crl);
    expect(await watcher.check()).toBe(false);
    expect(warnings).toHaveLength(2);
    expect(m.anchor.isRevoked(peer.serial)).toBe(true);
    watcher.stop();
  });

  it('reloads on its own timer once started', async () => {
    const { ca, files } = await enrolled();
    const m = loadTrustMaterial(files);
    const peer = await issueCertificate(ca, { name: 'peer' });
    let reloaded!: () => void;
    const done = new Promise<void>((r) => (reloaded = r));
    const watcher = await watchCrl(m.anchor, files.crl, { logger: { debug: () => {}, info: () => {}, warn: () => {} }, intervalMs: 50, onReload: () => reloaded() });
    watcher.start();
    try {
      writeFileSync(files.crl, derToPem('X509 CRL', await extendCrl(ca, undefined, [peer.serial], Date.now() + 1000)));
      await done;
      expect(m.anchor.isRevoked(peer.serial)).toBe(true);
    } finally {
      watcher.stop();
    }
  });
});
