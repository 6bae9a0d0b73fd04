/**
 * A node's trust material from its files (`--ca-cert`, `--cert`, `--key`, `--crl`): the overlay's
 * anchor, the node's own verified identity and its private key. Every error names the file and
 * what is wrong with it, since an operator meets these at start-up.
 */
import { readFileSync } from 'node:fs';
import { createPrivateKey, type KeyObject } from 'node:crypto';
import type { Logger } from '../common/logger.js';
import { CrlError, CrlWatcher, fileStamp } from './crl.js';
import { TrustAnchor, TrustAnchorError, type NodeIdentity } from './certificate.js';
import { keyAlgorithm, keyMatches } from './keys.js';
import { pemToDer } from './x509.js';

export { CrlWatcher } from './crl.js';

/** Paths of the files (as resolved config's `trust` carries them). */
export interface TrustFiles {
  caCert: string;
  cert: string;
  key: string;
  crl?: string;
}

export interface TrustMaterial {
  anchor: TrustAnchor;
  own: NodeIdentity;
  key: KeyObject;
}

/** A trust file that cannot be used; the message starts with the file's path. */
export class TrustMaterialError extends Error {}

/**
 * Reads and checks the files: the CA certificate anchors the overlay, the node's certificate must
 * verify against it now (`now`, ms), the key must be the certificate's. Throws TrustMaterialError.
 */
export function loadTrustMaterial(files: TrustFiles, now: number = Date.now()): TrustMaterial {
  const caDer = readPem(files.caCert, 'CA certificate');
  let anchor: TrustAnchor;
  try {
    anchor = new TrustAnchor(caDer);
  } catch (e) {
    if (e instanceof TrustAnchorError) throw new TrustMaterialError(`${files.caCert}: ${e.message}`);
    throw e;
  }
  if (files.crl !== undefined) {
    const text = readText(files.crl, 'CRL');
    try {
      anchor.reloadCrl(text);
    } catch (e) {
      if (e instanceof CrlError) throw new TrustMaterialError(`${files.crl}: ${e.message}`);
      throw e;
    }
  }
  const certDer = readPem(files.cert, 'node certificate');
  const verdict = anchor.verify(certDer, now);
  if (!verdict.ok) throw new TrustMaterialError(`${files.cert}: not a valid certificate of the CA in ${files.caCert} (${verdict.reason}: ${verdict.detail})`);
  let key: KeyObject;
  try {
    key = createPrivateKey(readText(files.key, 'private key'));
  } catch (e) {
    if (e instanceof TrustMaterialError) throw e;
    throw new TrustMaterialError(`${files.key}: not a PEM private key: ${(e as Error).message}`);
  }
  if (keyAlgorithm(key) === undefined) throw new TrustMaterialError(`${files.key}: the key is neither Ed25519 nor P-256`);
  if (!keyMatches(key, verdict.identity.publicKey)) throw new TrustMaterialError(`${files.key}: not the key of the certificate in ${files.cert}`);
  return { anchor, own: verdict.identity, key };
}

/**
 * A watcher that reloads `file` into the anchor when it changes (start() it; stop() on shutdown).
 * Call right after loadTrustMaterial read the same file, so the first look does not reload it again.
 */
export async function watchCrl(
  anchor: TrustAnchor,
  file: string,
  options: { logger: Logger; intervalMs?: number; onReload?: () => void },
): Promise<CrlWatcher> {
  let stamp = '';
  try {
    stamp = await fileStamp(file);
  } catch {
    // Gone already: the watcher's first look logs it.
  }
  return new CrlWatcher(anchor, file, options, stamp);
}

function readText(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new TrustMaterialError(`${file}: cannot read the ${what}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function readPem(file: string, what: string): Buffer {
  const text = readText(file, what);
  try {
    return pemToDer(text, 'CERTIFICATE');
  } catch (e) {
    throw new TrustMaterialError(`${file}: not a PEM ${what}: ${(e as Error).message}`);
  }
}
