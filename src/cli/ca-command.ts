/**
 * `kadsip ca init|issue|revoke`: the overlay's enrollment CA (PROTOCOL.md section 11.1).
 *
 *   init   --out DIR [--overlay NAME] [--algorithm ed25519|p256] [--days N]
 *          writes DIR/ca-cert.pem, DIR/ca-key.pem (0600) and an empty DIR/crl.pem
 *   issue  --ca DIR --out DIR [--name NAME] [--address IP:PORT]... [--domain NAME]... [--days N]
 *          writes DIR/node-cert.pem and DIR/node-key.pem (0600)
 *   revoke --ca DIR --cert FILE [--crl FILE]
 *          adds the certificate to the CRL (default DIR/crl.pem), which nodes started with --crl reload
 *
 * Nothing is ever overwritten (the CRL excepted: revoking extends it): a file that exists ends the
 * command with exit 1, naming it, before anything is written. Exit 2 for a usage error, 1 for a
 * run-time one, 0 done; `--json` prints one JSON line with the paths and the fingerprint.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isOverlayName } from '../node/config.js';
import {
  caFiles,
  CaInputError,
  createCa,
  CRL_FILE,
  DEFAULT_CA_DAYS,
  DEFAULT_NODE_DAYS,
  extendCrl,
  FileExistsError,
  issueCertificate,
  nodeFiles,
  readCa,
  replaceFile,
  writeNewFiles,
} from '../trust/ca.js';
import { certificateSerial, TrustAnchor } from '../trust/certificate.js';
import { CrlError, RevocationList } from '../trust/crl.js';
import { KEY_ALGORITHMS, type KeyAlgorithm } from '../trust/keys.js';
import { derToPem, pemToDer } from '../trust/x509.js';
import { failer } from './flags.js';

type Out = (text: string) => void;
const stdout: Out = (t) => process.stdout.write(t);

export interface CaInitFlags {
  out: string;
  overlay?: string;
  algorithm?: string;
  days?: string;
  json?: boolean;
}

export interface CaIssueFlags {
  ca: string;
  out: string;
  name?: string;
  address?: string[];
  domain?: string[];
  days?: string;
  algorithm?: string;
  json?: boolean;
}

export interface CaRevokeFlags {
  ca: string;
  cert: string;
  crl?: string;
  json?: boolean;
}

const fail = failer('ca');

/** `kadsip ca: message` on stderr, exit 1 (a run-time failure: a file exists, a CA cannot be read). */
function runtime(message: string): number {
  process.stderr.write(`kadsip ca: ${message}\n`);
  return 1;
}

export async function runCaInit(flags: CaInitFlags, out: Out = stdout): Promise<number> {
  if (flags.overlay !== undefined && !isOverlayName(flags.overlay)) return fail(`--overlay "${flags.overlay}" must be 1-64 letters, digits, '.', '_' or '-'`);
  const algorithm = algorithmFlag(flags.algorithm);
  if (algorithm === null) return fail(`--algorithm "${flags.algorithm}" is not one of ${KEY_ALGORITHMS.join(', ')}`);
  const days = daysFlag(flags.days, DEFAULT_CA_DAYS);
  if (days === null) return fail(`--days "${flags.days}" is not a whole number of days 1-36500`);
  const now = Date.now();
  const ca = await createCa({ ...(flags.overlay !== undefined ? { overlay: flags.overlay } : {}), algorithm, days, now });
  const files = await caFiles(ca, flags.out, now);
  const written = write(flags.out, files);
  if (written !== 0) return written;
  const anchor = new TrustAnchor(ca.certDer);
  const [cert, key, crl] = files.map((f) => f.path) as [string, string, string];
  report(out, flags.json, { cert, key, crl, fingerprint: anchor.caFingerprint, algorithm, ...(flags.overlay !== undefined ? { overlay: flags.overlay } : {}) }, [
    `overlay CA${flags.overlay !== undefined ? ` of overlay ${flags.overlay}` : ''} (${algorithm}), SHA-256 fingerprint ${anchor.caFingerprint}`,
    `  certificate ${cert}   (give it to every node: --ca-cert)`,
    `  key         ${key}   (mode 0600: keep it off the nodes)`,
    `  CRL         ${crl}   (nodes reload it: --crl; kadsip ca revoke extends it)`,
  ]);
  return 0;
}

export async function runCaIssue(flags: CaIssueFlags, out: Out = stdout): Promise<number> {
  const days = daysFlag(flags.days, DEFAULT_NODE_DAYS);
  if (days === null) return fail(`--days "${flags.days}" is not a whole number of days 1-36500`);
  const algorithm = flags.algorithm === undefined ? undefined : algorithmFlag(flags.algorithm);
  if (algorithm === null) return fail(`--algorithm "${flags.algorithm}" is not one of ${KEY_ALGORITHMS.join(', ')}`);
  let ca;
  try {
    ca = readCa(flags.ca);
  } catch (e) {
    return runtime((e as Error).message);
  }
  let issued;
  try {
    issued = await issueCertificate(ca, {
      ...(flags.name !== undefined ? { name: flags.name } : {}),
      domains: flags.domain ?? [],
      addresses: flags.address ?? [],
      days,
      ...(algorithm !== undefined ? { algorithm } : {}),
    });
  } catch (e) {
    if (e instanceof CaInputError) return fail(e.message.replace(/^(name|domain|address) /, '--$1 '));
    throw e;
  }
  const files = nodeFiles(issued, flags.out);
  const written = write(flags.out, files);
  if (written !== 0) return written;
  const identity = new TrustAnchor(ca.certDer).verify(issued.der, Date.now());
  if (!identity.ok) return runtime(`the new certificate does not verify (${identity.reason}: ${identity.detail})`);
  const id = identity.identity;
  const [cert, key] = files.map((f) => f.path) as [string, string];
  report(out, flags.json, { cert, key, fingerprint: id.fingerprint, serial: id.serial, name: id.name, domains: id.domains, addresses: id.addresses, notAfter: new Date(id.notAfter).toISOString() }, [
    `node ${id.name}, serial ${id.serial}, SHA-256 fingerprint ${id.fingerprint}`,
    `  domains   ${id.domains.join(' ') || '(none: may publish no AoRs)'}`,
    `  addresses ${id.addresses.join(' ') || '(any)'}`,
    `  valid to  ${new Date(id.notAfter).toISOString()}`,
    `  certificate ${cert}   (--cert)`,
    `  key         ${key}   (--key, mode 0600)`,
  ]);
  return 0;
}

export async function runCaRevoke(flags: CaRevokeFlags, out: Out = stdout): Promise<number> {
  let ca;
  try {
    ca = readCa(flags.ca);
  } catch (e) {
    return runtime((e as Error).message);
  }
  const anchor = new TrustAnchor(ca.certDer);
  let der: Buffer;
  try {
    der = pemToDer(readFileSync(flags.cert, 'utf8'), 'CERTIFICATE');
  } catch (e) {
    return runtime(`${flags.cert}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'missing' : `not a PEM certificate: ${(e as Error).message}`}`);
  }
  // Any certificate this CA issued can be revoked, expired or not yet valid ones included.
  const verdict = anchor.verify(der, Date.now());
  if (!verdict.ok && (verdict.reason === 'malformed' || verdict.reason === 'unknown-ca' || verdict.reason === 'not-a-node-certificate')) {
    return runtime(`${flags.cert}: not a node certificate of the CA in ${flags.ca} (${verdict.reason}: ${verdict.detail})`);
  }
  const serial = verdict.ok ? verdict.identity.serial : certificateSerial(der);
  const crlPath = flags.crl ?? join(flags.ca, CRL_FILE);
  let previous: RevocationList | undefined;
  if (existsSync(crlPath)) {
    try {
      previous = RevocationList.parse(readFileSync(crlPath, 'utf8'), anchor.caCertificate);
    } catch (e) {
      return runtime(`${crlPath}: ${e instanceof CrlError ? e.message : (e as Error).message} (not extended)`);
    }
  }
  const already = previous?.has(serial) ?? false;
  if (!already) {
    try {
      replaceFile(crlPath, derToPem('X509 CRL', await extendCrl(ca, previous, [serial])));
    } catch (e) {
      return runtime(`cannot write ${crlPath}: ${(e as Error).message}`);
    }
  }
  const count = (previous?.entries.length ?? 0) + (already ? 0 : 1);
  report(out, flags.json, { crl: crlPath, serial, fingerprint: anchor.fingerprint(der), alreadyRevoked: already, revoked: count }, [
    already ? `serial ${serial} was already on the CRL ${crlPath}` : `revoked serial ${serial}: ${crlPath} now lists ${count} certificate(s)`,
    '  copy the CRL to the nodes\' --crl file: they reload it and drop the peer',
  ]);
  return 0;
}

function write(dir: string, files: Parameters<typeof writeNewFiles>[0]): number {
  try {
    if (!existsSync(dir)) mkdirSync(dir, { recursive: true, mode: 0o700 });
    writeNewFiles(files);
    return 0;
  } catch (e) {
    if (e instanceof FileExistsError) return runtime(e.message);
    return runtime(`cannot write into ${dir}: ${(e as Error).message}`);
  }
}

function report(out: Out, json: boolean | undefined, fields: Record<string, unknown>, lines: string[]): void {
  out(json ? `${JSON.stringify(fields)}\n` : lines.map((l) => `${l}\n`).join(''));
}

function algorithmFlag(text: string | undefined): KeyAlgorithm | null {
  if (text === undefined) return 'ed25519';
  return (KEY_ALGORITHMS as readonly string[]).includes(text) ? (text as KeyAlgorithm) : null;
}

function daysFlag(text: string | undefined, fallback: number): number | null {
  if (text === undefined) return fallback;
  const n = Number(text);
  return /^\d+$/.test(text) && n >= 1 && n <= 36500 ? n : null;
}
