/**
 * `kadsip ca init|issue|revoke` as an operator runs them: the built CLI as a process. What scripts
 * rely on: the files and their modes, refusal to overwrite (exit 1 naming the file, nothing
 * written), exit 2 for usage errors, --json; and that the certificates are X.509 that node:crypto
 * and OpenSSL read as PROTOCOL.md 11.1 says (SAN sip: URIs, the kadsip addresses extension, the CRL).
 */
import { execFile } from 'node:child_process';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TrustAnchor } from '../../src/trust/certificate.js';
import { ADDRESSES_OID, OVERLAY_OID } from '../../src/trust/x509.js';
import { CLI } from '../helpers/child-node.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

function kadsip(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, timeout: 30_000 }, (error, stdout, stderr) => {
      const code = error === null ? 0 : typeof error.code === 'number' ? error.code : -1;
      resolve({ code, stdout, stderr });
    });
  });
}

function openssl(args: string[]): Promise<Run> {
  return new Promise((resolve) => {
    execFile('openssl', args, { timeout: 30_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stdout, stderr });
    });
  });
}

const mode = (path: string): number => statSync(path).mode & 0o777;
const derOf = (path: string): X509Certificate => new X509Certificate(readFileSync(path));

let root: string;
beforeAll(() => {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.json)`);
  root = mkdtempSync(join(tmpdir(), 'kadsip-ca-cli-'));
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('kadsip ca init', () => {
  it('writes the CA certificate, its key (0600) and an empty CRL, and prints them with --json', async () => {
    const dir = join(root, 'init-ok');
    const run = await kadsip(['ca', 'init', '--out', dir, '--overlay', 'lab', '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as Record<string, string>;
    expect(out).toMatchObject({ cert: join(dir, 'ca-cert.pem'), key: join(dir, 'ca-key.pem'), crl: join(dir, 'crl.pem'), overlay: 'lab', algorithm: 'ed25519' });
    const cert = derOf(out.cert!);
    expect(out.fingerprint).toBe(cert.fingerprint256.replace(/:/g, '').toLowerCase());
    expect(cert.ca).toBe(true);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(readFileSync(out.key!)))).toBe(true);
    expect(mode(out.key!)).toBe(0o600);
    expect(mode(out.cert!) & 0o077).not.toBe(0); // public: readable by the group and others
    const text = await openssl(['x509', '-in', out.cert!, '-noout', '-text']);
    expect(text.stdout).toContain('CA:TRUE');
    expect(text.stdout).toContain(`${OVERLAY_OID}:`);
    expect(text.stdout).toMatch(/Signature Algorithm: ED25519/i);
    const crl = await openssl(['crl', '-in', out.crl!, '-noout', '-text', '-CAfile', out.cert!]);
    expect(crl.stderr + crl.stdout).toContain('No Revoked Certificates');
    expect(crl.stderr).toMatch(/verify OK/);
  });

  it('refuses to overwrite: exit 1 naming the file, and nothing written', async () => {
    const dir = join(root, 'init-twice');
    expect((await kadsip(['ca', 'init', '--out', dir])).code).toBe(0);
    const before = readFileSync(join(dir, 'ca-key.pem'));
    const again = await kadsip(['ca', 'init', '--out', dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(join(dir, 'ca-cert.pem'));
    expect(readFileSync(join(dir, 'ca-key.pem')).equals(before)).toBe(true);

    // Only the key exists (a half-copied directory): refused, and no certificate appears beside it.
    const half = join(root, 'init-half');
    mkdirSync(half);
    writeFileSync(join(half, 'ca-key.pem'), 'precious\n');
    const refused = await kadsip(['ca', 'init', '--out', half]);
    expect(refused.code).toBe(1);
    expect(refused.stderr).toContain(join(half, 'ca-key.pem'));
    expect(existsSync(join(half, 'ca-cert.pem'))).toBe(false);
    expect(existsSync(join(half, 'crl.pem'))).toBe(false);
    expect(readFileSync(join(half, 'ca-key.pem'), 'utf8')).toBe('precious\n');
  });

  it('exits 2 on usage errors, writing nothing', async () => {
    const dir = join(root, 'init-usage');
    for (const args of [[], ['--out', dir, '--algorithm', 'rsa'], ['--out', dir, '--days', '0'], ['--out', dir, '--days', 'ten'], ['--out', dir, '--overlay', 'bad name']]) {
      const run = await kadsip(['ca', 'init', ...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).not.toBe('');
    }
    expect(existsSync(dir)).toBe(false);
  });

  it('makes a P-256 CA with --algorithm p256', async () => {
    const dir = join(root, 'init-p256');
    expect((await kadsip(['ca', 'init', '--out', dir, '--algorithm', 'p256'])).code).toBe(0);
    const cert = derOf(join(dir, 'ca-cert.pem'));
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const issued = await kadsip(['ca', 'issue', '--ca', dir, '--out', join(root, 'p256-node'), '--json']);
    expect(issued.code).toBe(0);
    const node = derOf(join(root, 'p256-node', 'node-cert.pem'));
    expect(node.verify(cert.publicKey)).toBe(true);
    expect(node.publicKey.asymmetricKeyType).toBe('ec');
  });
});

describe('kadsip ca issue', () => {
  const ca = (): string => join(root, 'issuer');
  beforeAll(async () => {
    expect((await kadsip(['ca', 'init', '--out', ca(), '--overlay', 'lab'])).code).toBe(0);
  });

  it("writes the node's certificate and key (0600): name, SIP domains as sip: URIs, addresses in the kadsip extension", async () => {
    const dir = join(root, 'node-a');
    const run = await kadsip(['ca', 'issue', '--ca', ca(), '--out', dir, '--name', 'node-a', '--domain', 'Victim.test', '--domain', 'b.test', '--address', '192.0.2.1:5060', '--address', '[2001:DB8::A]:5062', '--days', '30', '--json']);
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(out).toMatchObject({ cert: join(dir, 'node-cert.pem'), key: join(dir, 'node-key.pem'), name: 'node-a', domains: ['victim.test', 'b.test'], addresses: ['192.0.2.1:5060', '[2001:db8::a]:5062'] });
    expect(mode(join(dir, 'node-key.pem'))).toBe(0o600);

    // node:crypto: chained to the CA, the key is the certificate's, SAN as written.
    const cert = derOf(join(dir, 'node-cert.pem'));
    const caCert = derOf(join(ca(), 'ca-cert.pem'));
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.checkPrivateKey(createPrivateKey(readFileSync(join(dir, 'node-key.pem'))))).toBe(true);
    expect(cert.subject).toBe('CN=node-a');
    expect(cert.subjectAltName).toBe('URI:sip:victim.test, URI:sip:b.test');
    expect(cert.ca).toBe(false);
    expect(out.fingerprint).toBe(cert.fingerprint256.replace(/:/g, '').toLowerCase());
    expect(out.serial).toBe(cert.serialNumber.toLowerCase().replace(/^0+/, ''));
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29.9);
    expect(days).toBeLessThan(30.1);

    // OpenSSL reads the same: the chain verifies, the extensions are there and readable.
    const verify = await openssl(['verify', '-CAfile', join(ca(), 'ca-cert.pem'), join(dir, 'node-cert.pem')]);
    expect(verify.stdout).toContain(': OK');
    const text = (await openssl(['x509', '-in', join(dir, 'node-cert.pem'), '-noout', '-text'])).stdout;
    expect(text).toContain('URI:sip:victim.test, URI:sip:b.test');
    expect(text).toMatch(/Basic Constraints: critical\s+CA:FALSE/);
    expect(text).toMatch(/Key Usage: critical\s+Digital Signature/);
    expect(text).toContain(`${ADDRESSES_OID}:`);
    expect(text).toContain('192.0.2.1:5060');
    expect(text).toContain('[2001:db8::a]:5062');
    const asn1 = (await openssl(['asn1parse', '-in', join(dir, 'node-cert.pem')])).stdout;
    expect(asn1).toContain(`:${ADDRESSES_OID}`);

    // And the overlay's anchor takes it as the identity the node shows its peers.
    const anchor = new TrustAnchor(caCert.raw);
    const verdict = anchor.verify(cert.raw, Date.now());
    expect(verdict).toMatchObject({ ok: true, identity: { name: 'node-a', overlay: 'lab', domains: ['victim.test', 'b.test'], addresses: ['192.0.2.1:5060', '[2001:db8::a]:5062'] } });
  });

  it('refuses to overwrite a node directory, and exits 2 on bad input', async () => {
    const dir = join(root, 'node-b');
    expect((await kadsip(['ca', 'issue', '--ca', ca(), '--out', dir])).code).toBe(0);
    const before = readFileSync(join(dir, 'node-cert.pem'));
    const again = await kadsip(['ca', 'issue', '--ca', ca(), '--out', dir]);
    expect(again.code).toBe(1);
    expect(again.stderr).toContain(join(dir, 'node-cert.pem'));
    expect(readFileSync(join(dir, 'node-cert.pem')).equals(before)).toBe(true);

    const bad = join(root, 'node-bad');
    for (const args of [['--address', '192.0.2.1'], ['--address', 'example.com:5060'], ['--domain', 'not a domain'], ['--days', '-1'], ['--name', 'a,b=c']]) {
      const run = await kadsip(['ca', 'issue', '--ca', ca(), '--out', bad, ...args]);
      expect(run.code, args.join(' ')).toBe(2);
      expect(run.stderr).toMatch(/^kadsip ca: --(address|domain|days|name) /);
    }
    expect((await kadsip(['ca', 'issue', '--out', bad])).code).toBe(2);
    expect(existsSync(bad)).toBe(false);
    const noCa = await kadsip(['ca', 'issue', '--ca', join(root, 'nowhere'), '--out', bad]);
    expect(noCa.code).toBe(1);
    expect(noCa.stderr).toContain(join(root, 'nowhere', 'ca-cert.pem'));
  });
});

describe('kadsip ca revoke', () => {
  it('puts the certificate on the CRL the nodes reload; OpenSSL and the anchor see it revoked', async () => {
    const ca = join(root, 'revoker');
    expect((await kadsip(['ca', 'init', '--out', ca])).code).toBe(0);
    expect((await kadsip(['ca', 'issue', '--ca', ca, '--out', join(root, 'victim')])).code).toBe(0);
    expect((await kadsip(['ca', 'issue', '--ca', ca, '--out', join(root, 'bystander')])).code).toBe(0);
    const cert = join(root, 'victim', 'node-cert.pem');
    const run = await kadsip(['ca', 'revoke', '--ca', ca, '--cert', cert, '--json']);
    expect(run.code).toBe(0);
    const out = JSON.parse(run.stdout) as Record<string, unknown>;
    const serial = derOf(cert).serialNumber.toLowerCase().replace(/^0+/, '');
    expect(out).toMatchObject({ crl: join(ca, 'crl.pem'), serial, alreadyRevoked: false, revoked: 1 });

    const revoked = await openssl(['verify', '-crl_check', '-CAfile', join(ca, 'ca-cert.pem'), '-CRLfile', join(ca, 'crl.pem'), cert]);
    expect(revoked.code).not.toBe(0);
    expect(revoked.stdout + revoked.stderr).toContain('certificate revoked');
    const fine = await openssl(['verify', '-crl_check', '-CAfile', join(ca, 'ca-cert.pem'), '-CRLfile', join(ca, 'crl.pem'), join(root, 'bystander', 'node-cert.pem')]);
    expect(fine.stdout).toContain(': OK');

    const anchor = new TrustAnchor(derOf(join(ca, 'ca-cert.pem')).raw, readFileSync(join(ca, 'crl.pem'), 'utf8'));
    expect(anchor.verify(derOf(cert).raw, Date.now())).toMatchObject({ ok: false, reason: 'revoked' });
    expect(anchor.verify(derOf(join(root, 'bystander', 'node-cert.pem')).raw, Date.now()).ok).toBe(true);

    // Again: nothing changes, exit 0. The second certificate extends the same CRL.
    const again = await kadsip(['ca', 'revoke', '--ca', ca, '--cert', cert, '--json']);
    expect(JSON.parse(again.stdout)).toMatchObject({ alreadyRevoked: true, revoked: 1 });
    const second = await kadsip(['ca', 'revoke', '--ca', ca, '--cert', join(root, 'bystander', 'node-cert.pem'), '--json']);
    expect(JSON.parse(second.stdout)).toMatchObject({ revoked: 2 });
    const listed = (await openssl(['crl', '-in', join(ca, 'crl.pem'), '-noout', '-text'])).stdout.toLowerCase();
    expect(listed).toContain(serial);

    // A CRL file of its own (--crl) is created when missing.
    const own = join(root, 'own-crl.pem');
    expect((await kadsip(['ca', 'revoke', '--ca', ca, '--cert', cert, '--crl', own])).code).toBe(0);
    expect(new TrustAnchor(derOf(join(ca, 'ca-cert.pem')).raw, readFileSync(own, 'utf8')).isRevoked(serial)).toBe(true);
  });

  it("refuses another CA's certificate and garbage, leaving the CRL alone", async () => {
    const ca = join(root, 'strict');
    const other = join(root, 'other-ca');
    expect((await kadsip(['ca', 'init', '--out', ca])).code).toBe(0);
    expect((await kadsip(['ca', 'init', '--out', other])).code).toBe(0);
    expect((await kadsip(['ca', 'issue', '--ca', other, '--out', join(root, 'foreign')])).code).toBe(0);
    const crl = readFileSync(join(ca, 'crl.pem'));
    const foreign = await kadsip(['ca', 'revoke', '--ca', ca, '--cert', join(root, 'foreign', 'node-cert.pem')]);
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toContain('unknown-ca');
    writeFileSync(join(root, 'garbage.pem'), '-----BEGIN CERTIFICATE-----\nZ2FyYmFnZQ==\n-----END CERTIFICATE-----\n');
    const garbage = await kadsip(['ca', 'revoke', '--ca', ca, '--cert', join(root, 'garbage.pem')]);
    expect(garbage.code).toBe(1);
    expect(garbage.stderr).toContain('malformed');
    expect(readFileSync(join(ca, 'crl.pem')).equals(crl)).toBe(true);
    expect((await kadsip(['ca', 'revoke', '--ca', ca])).code).toBe(2);
  });
});
