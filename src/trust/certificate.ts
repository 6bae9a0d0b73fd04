/**
 * Node certificates checked against the overlay's CA (PROTOCOL.md section 11.1): the identity a
 * valid certificate proves, and the TrustAnchor that decides whether a certificate is valid now.
 * Signatures are checked with node:crypto's X509Certificate; x509.ts reads the fields.
 */
import { X509Certificate, createHash, type KeyObject } from 'node:crypto';
import { hostPort } from '../common/host-port.js';
import { splitAddress } from '../dsip/peer-uri.js';
import { RevocationList } from './crl.js';
import { keyAlgorithm } from './keys.js';
import { normalizeSerial, readCertificateFields, type CertificateFields } from './x509.js';
import { setBounded } from '../common/bounded-map.js';

/** What a valid node certificate proves about its holder. */
export interface NodeIdentity {
  /** Subject CN. */
  name: string;
  /** SIP domains whose AoRs the node may publish (subjectAltName `sip:DOMAIN`), lower case. */
  domains: string[];
  /** Addresses the node may use, canonical `IP:PORT` / `[v6]:PORT`; empty: any. */
  addresses: string[];
  /** The overlay's name, from the CA certificate (absent: the CA names none). */
  overlay?: string;
  /** SHA-256 of the certificate's DER, 64 lower-case hex digits. */
  fingerprint: string;
  /** Serial number, lower-case hex without leading zeros (as CRL entries are compared). */
  serial: string;
  /** Validity period, ms since the epoch. */
  notBefore: number;
  notAfter: number;
  /** The certificate's key (Ed25519 or P-256): it verifies the node's proofs and signed bindings. */
  publicKey: KeyObject;
  der: Buffer;
}

export type VerifyFailure = 'malformed' | 'unknown-ca' | 'expired' | 'not-yet-valid' | 'revoked' | 'not-a-node-certificate';

export type VerifyResult = { ok: true; identity: NodeIdentity } | { ok: false; reason: VerifyFailure; detail: string };

/** SHA-256 of the DER bytes, 64 lower-case hex digits: how a certificate is named (bindings' signer, caches). */
export function certificateFingerprint(der: Uint8Array): string {
  return createHash('sha256').update(der).digest('hex');
}

/** A certificate's serial number as NodeIdentity.serial and CRLs write it. Throws for a malformed certificate. */
export function certificateSerial(der: Uint8Array): string {
  return normalizeSerial(new X509Certificate(der).serialNumber);
}

/** A CA certificate that cannot anchor an overlay (not a CA, unreadable, a key of another algorithm). */
export class TrustAnchorError extends Error {}

/** Verified certificates kept at most (each a few hundred bytes and a KeyObject); the oldest goes first. */
const CACHE_LIMIT = 4096;

/**
 * The overlay's CA and its current CRL. verify() parses a certificate and checks its signature once
 * (cached by fingerprint); revocation and validity are checked again on every call, since they
 * change with time and with each CRL reload.
 */
export class TrustAnchor {
  readonly caFingerprint: string;
  /** The overlay's name written in the CA certificate, if any. */
  readonly overlay: string | undefined;
  readonly caCertificate: X509Certificate;
  readonly #caFields: CertificateFields;
  #crl: RevocationList | undefined;
  readonly #verified = new Map<string, NodeIdentity>();

  /** `caDer`: the CA certificate (DER); `crl`: its CRL (PEM or DER), if any. Throws TrustAnchorError or CrlError. */
  constructor(caDer: Uint8Array, crl?: string | Uint8Array) {
    let fields: CertificateFields;
    try {
      this.caCertificate = new X509Certificate(caDer);
      fields = readCertificateFields(caDer);
    } catch (e) {
      throw new TrustAnchorError(`not an X.509 certificate: ${(e as Error).message}`);
    }
    if (!fields.isCa || !fields.keyCertSign) throw new TrustAnchorError('not a CA certificate (needs basicConstraints cA and keyUsage keyCertSign)');
    if (keyAlgorithm(this.caCertificate.publicKey) === undefined) throw new TrustAnchorError('the CA key is neither Ed25519 nor P-256');
    if (!this.caCertificate.verify(this.caCertificate.publicKey)) throw new TrustAnchorError('the CA certificate is not self-signed by its key');
    this.#caFields = fields;
    this.caFingerprint = certificateFingerprint(caDer);
    this.overlay = fields.overlay;
    if (crl !== undefined) this.#crl = RevocationList.parse(crl, this.caCertificate);
  }

  /** The certificate's fingerprint (SHA-256 of the DER, hex). */
  fingerprint(der: Uint8Array): string {
    return certificateFingerprint(der);
  }

  /** Whether the serial (hex, any case, leading zeros or not) is on the current CRL. */
  isRevoked(serial: string): boolean {
    return this.#crl?.has(normalizeSerial(serial)) ?? false;
  }

  /** The current CRL's issue time (ms), if a CRL is loaded. */
  get crlIssuedAt(): number | undefined {
    return this.#crl?.thisUpdate;
  }

  /**
   * Replaces the CRL with this one (PEM or DER). Throws CrlError, keeping the current CRL, when it
   * is not a CRL of this CA, is badly signed, or is older than the current one (a stale copy must
   * not un-revoke anybody).
   */
  reloadCrl(pem: string | Uint8Array): void {
    const next = RevocationList.parse(pem, this.caCertificate);
    next.checkNotOlderThan(this.#crl);
    this.#crl = next;
  }

  /** Whether the certificate is a node certificate of this overlay, valid at `now` (ms). Never throws. */
  verify(der: Uint8Array, now: number): VerifyResult {
    const fingerprint = certificateFingerprint(der);
    let identity = this.#verified.get(fingerprint);
    if (identity === undefined) {
      const checked = this.#check(der, fingerprint);
      if (!checked.ok) return checked;
      identity = checked.identity;
      setBounded(this.#verified, fingerprint, identity, CACHE_LIMIT);
    }
    if (this.isRevoked(identity.serial)) return { ok: false, reason: 'revoked', detail: `certificate ${identity.serial} of ${identity.name} is on the CRL` };
    if (now < identity.notBefore) return { ok: false, reason: 'not-yet-valid', detail: `certificate of ${identity.name} is valid from ${iso(identity.notBefore)}` };
    if (now > identity.notAfter) return { ok: false, reason: 'expired', detail: `certificate of ${identity.name} expired ${iso(identity.notAfter)}` };
    if (now > this.#caFields.notAfter) return { ok: false, reason: 'expired', detail: `the CA certificate expired ${iso(this.#caFields.notAfter)}` };
    if (now < this.#caFields.notBefore) return { ok: false, reason: 'not-yet-valid', detail: `the CA certificate is valid from ${iso(this.#caFields.notBefore)}` };
    return { ok: true, identity };
  }

  /** The time-independent checks: parse, chain, profile. */
  #check(der: Uint8Array, fingerprint: string): VerifyResult {
    let cert: X509Certificate;
    let fields: CertificateFields;
    try {
      cert = new X509Certificate(der);
      fields = readCertificateFields(der);
    } catch (e) {
      return { ok: false, reason: 'malformed', detail: `not a DER X.509 certificate: ${(e as Error).message}` };
    }
    // checkIssued compares the issuer name (and key identifiers); verify checks the CA's signature.
    if (!cert.checkIssued(this.caCertificate) || !cert.verify(this.caCertificate.publicKey)) {
      return { ok: false, reason: 'unknown-ca', detail: `issued by "${oneLine(cert.issuer)}", not signed by this overlay's CA ${this.caFingerprint.slice(0, 16)}` };
    }
    const notNode = (detail: string): VerifyResult => ({ ok: false, reason: 'not-a-node-certificate', detail });
    if (fields.isCa) return notNode('a CA certificate (basicConstraints cA) is not a node certificate');
    if (!fields.digitalSignature) return notNode('keyUsage lacks digitalSignature');
    if (fields.unknownCritical.length > 0) return notNode(`unknown critical extension ${fields.unknownCritical.join(', ')}`);
    if (fields.commonName === undefined || fields.commonName === '') return notNode('no subject CN (the node name)');
    if (keyAlgorithm(cert.publicKey) === undefined) return notNode('the key is neither Ed25519 nor P-256');
    const addresses: string[] = [];
    for (const text of fields.addresses ?? []) {
      const at = splitAddress(text);
      if (at === null) return notNode(`address "${text}" is not IP:PORT`);
      addresses.push(hostPort(at.host, at.port));
    }
    const domains = fields.uris.filter((u) => /^sip:/i.test(u)).map((u) => u.slice(4).toLowerCase());
    return {
      ok: true,
      identity: {
        name: fields.commonName,
        domains,
        addresses,
        ...(this.overlay !== undefined ? { overlay: this.overlay } : {}),
        fingerprint,
        serial: normalizeSerial(cert.serialNumber),
        notBefore: fields.notBefore,
        notAfter: fields.notAfter,
        publicKey: cert.publicKey,
        der: Buffer.from(der),
      },
    };
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function oneLine(name: string): string {
  return name.replace(/\n/g, ', ');
}
