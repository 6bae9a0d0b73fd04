/**
 * The overlay CA's operations behind `kadsip ca` (PROTOCOL.md section 11.1): make a CA, issue a
 * node certificate, revoke one; and the files they live in. In memory first (tests make their
 * PKI with these), then the file layer the CLI uses: keys mode 0600, never overwriting a file.
 */
import { randomBytes, X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { closeSync, existsSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { hostPort } from '../common/host-port.js';
import { splitAddress } from '../dsip/peer-uri.js';
import { certificateFingerprint } from './certificate.js';
import { RevocationList } from './crl.js';
import { generateKeyPair, keyAlgorithm, privateKeyPem, type KeyAlgorithm } from './keys.js';
import { createCaCertificate, createCrl, createNodeCertificate, derToPem, normalizeSerial, pemToDer, readCertificateFields, type CrlEntry } from './x509.js';

const DAY_MS = 86_400_000;
/**
 * Certificates start this long before the moment they are made, so a peer whose clock is a little
 * behind the CA's does not see a fresh certificate as not yet valid.
 */
export const BACKDATE_MS = 5 * 60_000;
export const DEFAULT_CA_DAYS = 3650;
export const DEFAULT_NODE_DAYS = 365;

/** The CA's file names in its directory (`kadsip ca init --out DIR`). */
export const CA_CERT_FILE = 'ca-cert.pem';
export const CA_KEY_FILE = 'ca-key.pem';
export const CRL_FILE = 'crl.pem';
/** A node's file names in its directory (`kadsip ca issue --out DIR`). */
export const NODE_CERT_FILE = 'node-cert.pem';
export const NODE_KEY_FILE = 'node-key.pem';

/** An input to a CA operation that is wrong (a usage error: exit 2 in the CLI). */
export class CaInputError extends Error {}

/** The overlay CA: its certificate (DER) and private key. */
export interface OverlayCa {
  certDer: Buffer;
  key: KeyObject;
}

/** A node's new certificate and key. */
export interface IssuedCertificate {
  der: Buffer;
  key: KeyObject;
  fingerprint: string;
  /** Normalized hex serial (what `kadsip ca revoke` puts on the CRL). */
  serial: string;
}

export interface CaOptions {
  /** The overlay's name, written into the CA certificate. */
  overlay?: string;
  algorithm?: KeyAlgorithm;
  days?: number;
  now?: number;
}

/** A new overlay CA (key and self-signed certificate). */
export async function createCa(options: CaOptions = {}): Promise<OverlayCa> {
  const now = options.now ?? Date.now();
  const { privateKey } = generateKeyPair(options.algorithm ?? 'ed25519');
  const certDer = await createCaCertificate({
    privateKey,
    ...(options.overlay !== undefined ? { overlay: options.overlay } : {}),
    serial: newSerial(),
    notBefore: now - BACKDATE_MS,
    notAfter: now + (options.days ?? DEFAULT_CA_DAYS) * DAY_MS,
  });
  return { certDer, key: privateKey };
}

export interface IssueOptions {
  /** Subject CN; default `node-` and 16 hex digits of the new key's hash. */
  name?: string;
  /** SIP domains the node may publish AoRs of. */
  domains?: string[];
  /** IP:PORT addresses the node may use (any form splitAddress reads; written canonical). */
  addresses?: string[];
  days?: number;
  /** Default: the CA key's algorithm. */
  algorithm?: KeyAlgorithm;
  now?: number;
  /** Exact validity (tests of expiry and not-yet-valid); default now - BACKDATE_MS .. now + days. */
  notBefore?: number;
  notAfter?: number;
}

/** A node's new key and its certificate issued by the CA. Throws CaInputError for a bad name, domain or address. */
export async function issueCertificate(ca: OverlayCa, options: IssueOptions = {}): Promise<IssuedCertificate> {
  const now = options.now ?? Date.now();
  const domains = (options.domains ?? []).map(checkDomain);
  const addresses = (options.addresses ?? []).map(checkAddress);
  const algorithm = options.algorithm ?? keyAlgorithm(ca.key) ?? 'ed25519';
  const { privateKey, publicKey } = generateKeyPair(algorithm);
  const name = options.name ?? `node-${certificateFingerprint(publicKey.export({ format: 'der', type: 'spki' })).slice(0, 16)}`;
  if (!NAME.test(name)) throw new CaInputError(`name "${name}" must be 1-64 letters, digits, '.', '_' or '-'`);
  const serial = newSerial();
  const der = await createNodeCertificate({
    caKey: ca.key,
    caDer: ca.certDer,
    publicKey,
    name,
    domains,
    addresses,
    serial,
    notBefore: options.notBefore ?? now - BACKDATE_MS,
    // Never past the CA's own end: peers would refuse the certificate from then on anyway.
    notAfter: options.notAfter ?? Math.min(now + (options.days ?? DEFAULT_NODE_DAYS) * DAY_MS, readCertificateFields(ca.certDer).notAfter),
  });
  return { der, key: privateKey, fingerprint: certificateFingerprint(der), serial: normalizeSerial(serial) };
}

/**
 * A CRL signed by the CA listing `previous`'s entries plus `serials` (each once). Its thisUpdate is
 * never before the previous CRL's, so nodes accept it as the newer one.
 */
export async function extendCrl(ca: OverlayCa, previous: RevocationList | undefined, serials: string[], now: number = Date.now()): Promise<Buffer> {
  const entries: CrlEntry[] = [...(previous?.entries ?? [])];
  const listed = new Set(entries.map((e) => e.serial));
  for (const s of serials.map(normalizeSerial)) {
    if (!listed.has(s)) entries.push({ serial: s, revokedAt: now });
    listed.add(s);
  }
  return createCrl({ caKey: ca.key, caDer: ca.certDer, entries, thisUpdate: Math.max(now, previous?.thisUpdate ?? 0) });
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const DOMAIN = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/;

function checkDomain(domain: string): string {
  const lower = domain.toLowerCase();
  if (!DOMAIN.test(lower)) throw new CaInputError(`domain "${domain}" is not a host name`);
  return lower;
}

function checkAddress(address: string): string {
  const at = splitAddress(address.trim());
  if (at === null || at.port === 0) throw new CaInputError(`address "${address}" is not IP:PORT ([IPv6]:PORT), port 1-65535`);
  return hostPort(at.host, at.port);
}

/** 16 random bytes, positive and without a leading zero byte, as hex (RFC 5280 section 4.1.2.2: at most 20 octets). */
function newSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x10;
  return bytes.toString('hex');
}

// ---- files ----

/** A file to write: its path, its text, and whether it is a private key (mode 0600). */
export interface OutputFile {
  path: string;
  text: string;
  secret: boolean;
}

/** A file that exists already; nothing was written. */
export class FileExistsError extends Error {
  constructor(readonly path: string) {
    super(`${path} exists already (nothing written; remove it or choose another --out)`);
  }
}

/**
 * Writes all files or none: refuses (FileExistsError) when any of them exists, creates each with
 * O_EXCL so a file that appears meanwhile is not overwritten either, keys with mode 0600 from the
 * start (never world-readable for a moment).
 */
export function writeNewFiles(files: OutputFile[]): void {
  for (const f of files) if (existsSync(f.path)) throw new FileExistsError(f.path);
  for (const f of files) {
    let fd: number;
    try {
      fd = openSync(f.path, 'wx', f.secret ? 0o600 : 0o644);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'EEXIST') throw new FileExistsError(f.path);
      throw e;
    }
    try {
      writeSync(fd, f.text);
    } finally {
      closeSync(fd);
    }
  }
}

/** Replaces a public file atomically (write beside it, rename over it): a node reloading it never reads half a CRL. */
export function replaceFile(path: string, text: string): void {
  const temporary = `${path}.${process.pid}.tmp`;
  const fd = openSync(temporary, 'w', 0o644);
  try {
    writeSync(fd, text);
  } finally {
    closeSync(fd);
  }
  renameSync(temporary, path);
}

/** The files `kadsip ca init` writes into DIR: certificate, key (0600), and an empty CRL. */
export async function caFiles(ca: OverlayCa, dir: string, now: number = Date.now()): Promise<OutputFile[]> {
  return [
    { path: join(dir, CA_CERT_FILE), text: derToPem('CERTIFICATE', ca.certDer), secret: false },
    { path: join(dir, CA_KEY_FILE), text: privateKeyPem(ca.key), secret: true },
    { path: join(dir, CRL_FILE), text: derToPem('X509 CRL', await extendCrl(ca, undefined, [], now)), secret: false },
  ];
}

/** The files `kadsip ca issue` writes into DIR: certificate and key (0600). */
export function nodeFiles(issued: IssuedCertificate, dir: string): OutputFile[] {
  return [
    { path: join(dir, NODE_CERT_FILE), text: derToPem('CERTIFICATE', issued.der), secret: false },
    { path: join(dir, NODE_KEY_FILE), text: privateKeyPem(issued.key), secret: true },
  ];
}

/** Reads the CA from DIR (ca-cert.pem, ca-key.pem). Throws an Error naming the file. */
export function readCa(dir: string): OverlayCa {
  const certPath = join(dir, CA_CERT_FILE);
  const keyPath = join(dir, CA_KEY_FILE);
  let certDer: Buffer;
  let key: KeyObject;
  try {
    certDer = pemToDer(readFileSync(certPath, 'utf8'), 'CERTIFICATE');
    new X509Certificate(certDer);
  } catch (e) {
    throw new Error(`${certPath}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing (is it a `kadsip ca init` directory?)' : (e as Error).message}`);
  }
  try {
    key = createPrivateKey(readFileSync(keyPath, 'utf8'));
  } catch (e) {
    throw new Error(`${keyPath}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : (e as Error).message}`);
  }
  return { certDer, key };
}
