/**
 * Interoperability of the CA files with a second implementation, OpenSSL (`openssl req/x509/ca`):
 * a CA, a node certificate and CRLs it makes are read by kadsip's own DER code (src/trust/x509.ts)
 * and checked by TrustAnchor as ours are (PROTOCOL.md 11.1), and CRL reasons come out right.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TrustAnchor } from '../../src/trust/certificate.js';
import { CrlError, RevocationList } from '../../src/trust/crl.js';
import { pemToDer, readCrl } from '../../src/trust/x509.js';

const dirs: string[] = [];
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const CONFIG = `[ ca ]
default_ca = CA_default
[ CA_default ]
dir = .
database = index.txt
new_certs_dir = .
serial = serial
default_md = sha256
default_crl_days = 30
policy = policy_any
[ policy_any ]
commonName = supplied
[ node_ext ]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature
subjectAltName = URI:sip:Other.test,URI:https://example.com/x
`;

/** An OpenSSL CA with one node certificate, and its CRLs before and after revoking it. */
function opensslPki(keyArgs: string[]): { dir: string; ca: Buffer; node: Buffer; before: string; after: string } {
  const dir = mkdtempSync(join(tmpdir(), 'kadsip-openssl-pki-'));
  dirs.push(dir);
  const run = (...args: string[]): void => void execFileSync('openssl', args, { cwd: dir, stdio: 'pipe', timeout: 30_000 });
  writeFileSync(join(dir, 'ca.cnf'), CONFIG);
  writeFileSync(join(dir, 'index.txt'), '');
  writeFileSync(join(dir, 'serial'), '1000\n');
  run('genpkey', ...keyArgs, '-out', 'ca.key');
  run('req', '-x509', '-new', '-key', 'ca.key', '-subj', '/CN=openssl CA', '-days', '10', '-out', 'ca.pem', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign');
  run('genpkey', ...keyArgs, '-out', 'n.key');
  run('req', '-new', '-key', 'n.key', '-subj', '/CN=osnode', '-out', 'n.csr');
  run('x509', '-req', '-in', 'n.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-days', '5', '-extfile', 'ca.cnf', '-extensions', 'node_ext', '-out', 'n.pem');
  run('ca', '-config', 'ca.cnf', '-gencrl', '-keyfile', 'ca.key', '-cert', 'ca.pem', '-out', 'crl0.pem');
  run('ca', '-config', 'ca.cnf', '-revoke', 'n.pem', '-keyfile', 'ca.key', '-cert', 'ca.pem');
  run('ca', '-config', 'ca.cnf', '-gencrl', '-keyfile', 'ca.key', '-cert', 'ca.pem', '-out', 'crl1.pem');
  const pem = (f: string): string => readFileSync(join(dir, f), 'utf8');
  return { dir, ca: pemToDer(pem('ca.pem'), 'CERTIFICATE'), node: pemToDer(pem('n.pem'), 'CERTIFICATE'), before: pem('crl0.pem'), after: pem('crl1.pem') };
}

describe.each([
  ['ed25519', ['-algorithm', 'ed25519']],
  ['p256', ['-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256']],
])('an OpenSSL-made CA (%s)', (_name, keyArgs) => {
  const pki = opensslPki(keyArgs);

  it('anchors its node certificate: name, sip: domains (other URIs ignored), no addresses', () => {
    const anchor = new TrustAnchor(pki.ca, pki.before);
    const result = anchor.verify(pki.node, Date.now());
    if (!result.ok) throw new Error(`${result.reason}: ${result.detail}`);
    expect(result.identity).toMatchObject({ name: 'osnode', domains: ['other.test'], addresses: [] });
    expect(result.identity.overlay).toBeUndefined();
  });

  it('its CRLs (v1, with nextUpdate) verify, and the revoked certificate is refused', () => {
    const fields = readCrl(pemToDer(pki.after, 'X509 CRL'));
    expect(fields.entries).toHaveLength(1);
    const anchor = new TrustAnchor(pki.ca, pki.before);
    anchor.reloadCrl(pki.after);
    expect(anchor.verify(pki.node, Date.now())).toMatchObject({ ok: false, reason: 'revoked' });
    const serial = execFileSync('openssl', ['x509', '-in', join(pki.dir, 'n.pem'), '-noout', '-serial'], { encoding: 'utf8' }).trim().split('=')[1]!;
    expect(fields.entries[0]!.serial).toBe(serial.toLowerCase().replace(/^0+/, ''));
  });

  it('a CRL whose signature was altered is refused', () => {
    const der = pemToDer(pki.after, 'X509 CRL');
    der[der.length - 2]! ^= 0x01;
    const anchor = new TrustAnchor(pki.ca);
    expect(() => RevocationList.parse(der, anchor.caCertificate)).toThrow(CrlError);
    expect(() => anchor.reloadCrl(der)).toThrow(/signature/);
  });
});
