/**
 * The overlay CA's certificate revocation list (RFC 5280 section 5): parsed and checked against the
 * CA with node:crypto, and a watcher that reloads the CRL file a node was started with whenever it
 * changes, so `kadsip ca revoke` plus copying the file ends a peer's membership without restarts.
 */
import { stat, readFile } from 'node:fs/promises';
import { verify, type KeyObject, type X509Certificate } from 'node:crypto';
import type { Logger } from '../common/logger.js';
import { keyAlgorithm } from './keys.js';
import { pemToDer, readCrl, subjectNameDer, type CrlEntry } from './x509.js';

/** A CRL that is unreadable, not the CA's, badly signed, or older than the one in use. */
export class CrlError extends Error {}

/** A CRL whose signature by the CA was checked: the revoked serial numbers. */
export class RevocationList {
  readonly entries: readonly CrlEntry[];
  readonly #serials: ReadonlySet<string>;

  private constructor(entries: CrlEntry[], readonly thisUpdate: number) {
    this.entries = entries;
    this.#serials = new Set(entries.map((e) => e.serial));
  }

  /** The CRL (PEM text or DER) if the CA signed it; else CrlError saying why. */
  static parse(crl: string | Uint8Array, ca: X509Certificate): RevocationList {
    let fields;
    try {
      fields = readCrl(typeof crl === 'string' ? pemToDer(crl, 'X509 CRL') : crl);
    } catch (e) {
      throw new CrlError(`not a CRL: ${(e as Error).message}`);
    }
    if (!fields.issuer.equals(subjectNameDer(ca.raw))) throw new CrlError(`issued by another CA than "${ca.subject.replace(/\n/g, ', ')}"`);
    if (!signedBy(ca.publicKey, fields.algorithm, fields.tbs, fields.signature)) throw new CrlError("the CA's signature does not verify");
    return new RevocationList(fields.entries, fields.thisUpdate);
  }

  has(serial: string): boolean {
    return this.#serials.has(serial);
  }

  /** Throws CrlError when this CRL was issued before `current` (a stale copy would un-revoke peers). */
  checkNotOlderThan(current: RevocationList | undefined): void {
    if (current !== undefined && this.thisUpdate < current.thisUpdate) {
      throw new CrlError(`issued ${new Date(this.thisUpdate).toISOString()}, before the CRL in use (${new Date(current.thisUpdate).toISOString()})`);
    }
  }
}

/** Whether `signature` over `tbs` is the CA key's (a CRL's signatureValue is DER-encoded for ECDSA, RFC 5758 section 3.2). */
function signedBy(caKey: KeyObject, algorithm: string, tbs: Buffer, signature: Buffer): boolean {
  const keyAlg = keyAlgorithm(caKey);
  if (keyAlg === undefined || algorithm !== keyAlg) return false;
  try {
    return keyAlg === 'ed25519' ? verify(null, tbs, caKey, signature) : verify('sha256', tbs, { key: caKey, dsaEncoding: 'der' }, signature);
  } catch {
    return false;
  }
}

/** Whatever takes a reloaded CRL: TrustAnchor.reloadCrl, which throws CrlError for a bad one. */
export interface CrlTarget {
  reloadCrl(crl: string | Uint8Array): void;
}

export interface CrlWatcherOptions {
  logger: Logger;
  /** How often the file's size and modification time are looked at (default 2000 ms). */
  intervalMs?: number;
  /** Called after each successful reload (peer caches re-check their members then). */
  onReload?: () => void;
}

/**
 * Polls the CRL file and reloads it into the anchor when it changes. Polling rather than fs.watch:
 * operators replace the file (scp, a rename, a config-management run), which inotify reports on the
 * old inode. A bad file keeps the last good CRL in force and is logged once until the file changes.
 */
export class CrlWatcher {
  #timer: NodeJS.Timeout | undefined;
  #seen: string;
  #busy = false;

  /** `initialStamp`: the file's stamp (see fileStamp) when the anchor's CRL was loaded from it. */
  constructor(
    private readonly target: CrlTarget,
    private readonly file: string,
    private readonly options: CrlWatcherOptions,
    initialStamp = '',
  ) {
    this.#seen = initialStamp;
  }

  start(): void {
    if (this.#timer !== undefined) return;
    this.#timer = setInterval(() => void this.check(), this.options.intervalMs ?? 2000);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Looks at the file once (what the timer does); resolves true if a new CRL was loaded. */
  async check(): Promise<boolean> {
    if (this.#busy) return false;
    this.#busy = true;
    try {
      let stamp: string;
      try {
        stamp = await fileStamp(this.file);
      } catch (e) {
        return this.#bad(`missing:${(e as NodeJS.ErrnoException).code}`, `cannot read: ${(e as Error).message}`);
      }
      if (stamp === this.#seen) return false;
      let text: string;
      try {
        text = await readFile(this.file, 'utf8');
      } catch (e) {
        return this.#bad(stamp, `cannot read: ${(e as Error).message}`);
      }
      try {
        this.target.reloadCrl(text);
      } catch (e) {
        if (!(e instanceof CrlError)) throw e;
        return this.#bad(stamp, e.message);
      }
      this.#seen = stamp;
      this.options.logger.info({ crl: this.file }, 'CRL reloaded');
      this.options.onReload?.();
      return true;
    } finally {
      this.#busy = false;
    }
  }

  /** Logs once per bad state of the file, keeping the CRL in force. */
  #bad(stamp: string, why: string): false {
    if (stamp !== this.#seen) this.options.logger.warn({ crl: this.file, error: why }, 'CRL file not loaded, the previous CRL stays in force');
    this.#seen = stamp;
    return false;
  }
}

/** The file's identity for change detection: inode, size and modification time. */
export async function fileStamp(file: string): Promise<string> {
  const s = await stat(file, { bigint: true });
  return `${s.ino}:${s.size}:${s.mtimeNs}`;
}
