/**
 * The CA operations in memory (src/trust/ca.ts): input checks, CRLs that only grow and never go
 * back in time, and files written all or nothing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CaInputError, createCa, extendCrl, FileExistsError, issueCertificate, writeNewFiles } from '../../src/trust/ca.js';
import { RevocationList } from '../../src/trust/crl.js';
import { TrustAnchor } from '../../src/trust/certificate.js';

const dir = mkdtempSync(join(tmpdir(), 'kadsip-ca-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('issueCertificate', () => {
  it('refuses bad names, domains and addresses before signing anything', async () => {
    const ca = await createCa();
    for (const options of [{ name: 'a b' }, { name: '' }, { name: 'x'.repeat(65) }, { domains: ['bad domain'] }, { domains: ['-a.test'] }, { addresses: ['192.0.2.1'] }, { addresses: ['192.0.2.1:0'] }, { addresses: ['host.test:5060'] }, { addresses: ['2001:db8::1:5060'] }]) {
      await expect(issueCertificate(ca, options), JSON.stringify(options)).rejects.toThrow(CaInputError);
    }
  });

  it('never issues past the end of the CA certificate', async () => {
    const ca = await createCa({ days: 10 });
    const anchor = new TrustAnchor(ca.certDer);
    const issued = await issueCertificate(ca, { days: 365 });
    const result = anchor.verify(issued.der, Date.now());
    const caEnd = Date.parse(anchor.caCertificate.validTo);
    expect(result.ok && result.identity.notAfter).toBe(caEnd);
  });

  it('writes addresses canonical and domains lower case', async () => {
    const ca = await createCa();
    const issued = await issueCertificate(ca, { domains: ['EXAMPLE.com'], addresses: ['[2001:0DB8:0:0::1]:5060', '192.0.2.7:5070'] });
    const result = new TrustAnchor(ca.certDer).verify(issued.der, Date.now());
    expect(result).toMatchObject({ ok: true, identity: { domains: ['example.com'], addresses: ['[2001:db8::1]:5060', '192.0.2.7:5070'] } });
  });
});

describe('extendCrl', () => {
  it('keeps earlier entries, lists a serial once, and never dates a CRL before the previous one', async () => {
    const ca = await createCa();
    const anchor = new TrustAnchor(ca.certDer);
    const later = Date.now() + 3_600_000;
    const first = RevocationList.parse(await extendCrl(ca, undefined, ['0AbC'], later), anchor.caCertificate);
    expect(first.entries.map((e) => e.serial)).toEqual(['abc']);
    const second = RevocationList.parse(await extendCrl(ca, first, ['abc', 'def'], Date.now()), anchor.caCertificate);
    expect(second.entries.map((e) => e.serial)).toEqual(['abc', 'def']);
    expect(second.thisUpdate).toBe(first.thisUpdate);
    anchor.reloadCrl(await extendCrl(ca, first, [], Date.now()));
    expect(anchor.isRevoked('ABC')).toBe(true);
  });
});

describe('writeNewFiles', () => {
  it('writes nothing when any file exists, and keys with mode 0600', () => {
    const a = join(dir, 'a.pem');
    const key = join(dir, 'a-key.pem');
    writeFileSync(key, 'old');
    expect(() => writeNewFiles([{ path: a, text: 'A', secret: false }, { path: key, text: 'K', secret: true }])).toThrow(FileExistsError);
    expect(existsSync(a)).toBe(false);
    expect(readFileSync(key, 'utf8')).toBe('old');
    rmSync(key);
    writeNewFiles([{ path: a, text: 'A', secret: false }, { path: key, text: 'K', secret: true }]);
    expect(statSync(key).mode & 0o777).toBe(0o600);
    expect(readFileSync(a, 'utf8')).toBe('A');
  });
});
