/** A throw-away overlay CA and node certificates for the peer-authentication tests (K's x509 builders, real crypto). */
import type { KeyObject } from 'node:crypto';
import { TrustAnchor, type NodeIdentity } from '../../src/trust/certificate.js';
import { generateKeyPair, type KeyAlgorithm } from '../../src/trust/keys.js';
import { createCaCertificate, createCrl, createNodeCertificate } from '../../src/trust/x509.js';

export const DAY = 86_400_000;

export interface TestCa {
  key: KeyObject;
  der: Buffer;
  anchor: TrustAnchor;
  overlay: string | undefined;
}

export interface TestNode {
  der: Buffer;
  key: KeyObject;
  identity: NodeIdentity;
}

let serial = 0x1000;

export async function makeCa(options: { overlay?: string; algorithm?: KeyAlgorithm; now?: number } = {}): Promise<TestCa> {
  const now = options.now ?? Date.now();
  const { privateKey } = generateKeyPair(options.algorithm ?? 'ed25519');
  const der = await createCaCertificate({
    privateKey,
    ...(options.overlay !== undefined ? { overlay: options.overlay } : {}),
    serial: (serial++).toString(16),
    notBefore: now - 10 * DAY,
    notAfter: now + 365 * DAY,
  });
  return { key: privateKey, der, anchor: new TrustAnchor(der), overlay: options.overlay };
}

export async function issue(
  ca: TestCa,
  options: { name?: string; domains?: string[]; addresses?: string[]; notBefore?: number; notAfter?: number; algorithm?: KeyAlgorithm } = {},
): Promise<TestNode> {
  const now = Date.now();
  const pair = generateKeyPair(options.algorithm ?? 'ed25519');
  const der = await createNodeCertificate({
    caKey: ca.key,
    caDer: ca.der,
    publicKey: pair.publicKey,
    name: options.name ?? 'node',
    domains: options.domains ?? [],
    addresses: options.addresses ?? [],
    serial: (serial++).toString(16),
    notBefore: options.notBefore ?? now - DAY,
    notAfter: options.notAfter ?? now + 30 * DAY,
  });
    // Checked at a moment inside its validity (an expired fixture too: it was valid once).
  const notBefore = options.notBefore ?? now - DAY;
  const notAfter = options.notAfter ?? now + 30 * DAY;
  const verdict = ca.anchor.verify(der, Math.min(Math.max(now, notBefore + 1000), notAfter - 1000));
  if (!verdict.ok) throw new Error(`fixture certificate does not verify: ${verdict.detail}`);
  return { der, key: pair.privateKey, identity: verdict.identity };
}

/** A CRL of the CA revoking these serials, issued at `at`. */
export async function crlRevoking(ca: TestCa, serials: string[], at: number = Date.now()): Promise<Buffer> {
  return createCrl({ caKey: ca.key, caDer: ca.der, entries: serials.map((s) => ({ serial: s, revokedAt: at })), thisUpdate: at });
}
