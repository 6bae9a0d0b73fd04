/**
 * The certificates a node of a closed overlay has verified (PROTOCOL.md 11.2), held two ways:
 * - by fingerprint: every DHT-Cert a message carried that chained to the overlay's CA (a peer's own,
 *   and the certificates of the signers of the bindings it carried); the record policy reads a
 *   binding's signer here (byFingerprint);
 * - by Peer-ID: the peers that proved possession of their certificate's key. A request or answer
 *   from such a peer needs no certificate or proof until the proof is AUTH_TTL_MS old, so the
 *   per-request cost of a known peer is one map lookup.
 * Verification itself is the TrustAnchor's (parsed and signature-checked once per fingerprint);
 * this cache re-checks validity and revocation on a timer and on CRL reload (recheck), and tells
 * its listeners which peers lost their membership, so the node evicts them from its routing table.
 */
import type { NodeId } from '../overlay/id.js';
import type { NodeIdentity, TrustAnchor, VerifyResult } from './certificate.js';

/** How long a proof keeps a peer authenticated: after that, its next request needs a new one (428). */
export const AUTH_TTL_MS = 60 * 60_000;
/** A sender proves itself again this long after its last accepted proof, before the receiver forgets it. */
export const REPROVE_AFTER_MS = 50 * 60_000;
/** How often validity and revocation are re-checked. */
export const RECHECK_INTERVAL_MS = 60_000;

/** A peer that proved possession of its certificate's key. */
export interface AuthenticatedPeer {
  readonly peerId: NodeId;
  /** IP:PORT it proved from (its Peer-ID hashes this address). */
  readonly address: string;
  readonly identity: NodeIdentity;
  /** When its last proof was accepted (ms). */
  readonly provenAt: number;
}

export interface CertificateCacheOptions {
  anchor: TrustAnchor;
  /** Peers kept at most; the one proven longest ago goes first. Default 10,000. */
  maxPeers?: number;
  /** Certificates kept by fingerprint at most; the oldest goes first. Default 10,000. */
  maxCertificates?: number;
  /** Default AUTH_TTL_MS. */
  authTtlMs?: number;
}

/** Why a verified certificate stopped being valid. */
export type DropReason = 'expired' | 'revoked' | 'not-yet-valid';

export type DropListener = (peer: AuthenticatedPeer, reason: DropReason) => void;

export class CertificateCache {
  readonly anchor: TrustAnchor;
  readonly authTtlMs: number;
  private readonly maxPeers: number;
  private readonly maxCertificates: number;
  private readonly certificates = new Map<string, NodeIdentity>();
  private readonly peers = new Map<NodeId, AuthenticatedPeer>();
  private readonly listeners: DropListener[] = [];
  private timer: NodeJS.Timeout | undefined;

  constructor(options: CertificateCacheOptions) {
    this.anchor = options.anchor;
    this.maxPeers = options.maxPeers ?? 10_000;
    this.maxCertificates = options.maxCertificates ?? 10_000;
    this.authTtlMs = options.authTtlMs ?? AUTH_TTL_MS;
  }

  /**
   * Verifies a certificate a message carried against the anchor and, when valid, keeps it by
   * fingerprint. Never throws; the verdict says why a certificate is refused.
   */
  admit(der: Uint8Array, now: number): VerifyResult {
    const verdict = this.anchor.verify(der, now);
    if (verdict.ok && !this.certificates.has(verdict.identity.fingerprint)) {
      if (this.certificates.size >= this.maxCertificates) this.certificates.delete(this.certificates.keys().next().value!);
      this.certificates.set(verdict.identity.fingerprint, verdict.identity);
    }
    return verdict;
  }

  /**
   * A verified certificate by its fingerprint (64 lower-case hex digits), when it is valid at `now`
   * (not expired, not yet revoked): the signer of a binding, say. Undefined otherwise.
   */
  byFingerprint(fingerprint: string, now: number = Date.now()): NodeIdentity | undefined {
    const identity = this.certificates.get(fingerprint);
    if (identity === undefined) return undefined;
    return validAt(this.anchor, identity, now) === null ? identity : undefined;
  }

  /** Records that `peerId`, at `address`, proved possession of the key of `identity` at `now`. */
  bindPeer(peerId: NodeId, address: string, identity: NodeIdentity, now: number): AuthenticatedPeer {
    const entry: AuthenticatedPeer = { peerId, address, identity, provenAt: now };
    // Re-inserted so that the Map's order is the order of proofs (the oldest is evicted first).
    this.peers.delete(peerId);
    if (this.peers.size >= this.maxPeers) this.peers.delete(this.peers.keys().next().value!);
    this.peers.set(peerId, entry);
    if (!this.certificates.has(identity.fingerprint)) {
      if (this.certificates.size >= this.maxCertificates) this.certificates.delete(this.certificates.keys().next().value!);
      this.certificates.set(identity.fingerprint, identity);
    }
    return entry;
  }

  /**
   * The authenticated peer with this Peer-ID at `now`: undefined when it never proved itself, its
   * proof is older than authTtlMs, or its certificate is no longer valid (expired, revoked).
   */
  peer(peerId: NodeId, now: number): AuthenticatedPeer | undefined {
    const entry = this.peers.get(peerId);
    if (entry === undefined) return undefined;
    if (now - entry.provenAt > this.authTtlMs || now > entry.identity.notAfter) return undefined;
    return entry;
  }

  forgetPeer(peerId: NodeId): void {
    this.peers.delete(peerId);
  }

  /** Authenticated peers now (for /status). */
  get peerCount(): number {
    return this.peers.size;
  }

  get certificateCount(): number {
    return this.certificates.size;
  }

  /** Told of every peer a recheck drops (the node evicts it from its routing table). */
  onDrop(listener: DropListener): void {
    this.listeners.push(listener);
  }

  /**
   * Re-checks every certificate held (validity, revocation): the invalid ones go, and so do the
   * peers that proved themselves with them, each told to the listeners. Returns the dropped peers.
   */
  recheck(now: number): AuthenticatedPeer[] {
    for (const [fp, identity] of this.certificates) {
      if (stillValid(this.anchor, identity, now) !== null) this.certificates.delete(fp);
    }
    const dropped: AuthenticatedPeer[] = [];
    for (const [id, entry] of this.peers) {
      const reason = stillValid(this.anchor, entry.identity, now);
      if (reason !== null) {
        this.peers.delete(id);
        dropped.push(entry);
        for (const l of this.listeners) l(entry, reason);
      } else if (now - entry.provenAt > this.authTtlMs) {
        // A lapsed proof is not a lost membership: the peer proves itself again on its next request.
        this.peers.delete(id);
      }
    }
    return dropped;
  }

  /** Re-checks every intervalMs (real time) until stop(). */
  start(intervalMs: number = RECHECK_INTERVAL_MS, now: () => number = Date.now): void {
    this.stop();
    this.timer = setInterval(() => this.recheck(now()), intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer !== undefined) clearInterval(this.timer);
    this.timer = undefined;
  }
}

/** The anchor's full verdict (the CA's own validity too), as a drop reason; null when valid. */
function stillValid(anchor: TrustAnchor, identity: NodeIdentity, now: number): DropReason | null {
  const verdict = anchor.verify(identity.der, now);
  if (verdict.ok) return null;
  return verdict.reason === 'revoked' || verdict.reason === 'not-yet-valid' ? verdict.reason : 'expired';
}

/** Null when the identity is still valid at `now`, else why not (the checks TrustAnchor.verify repeats on every call). */
function validAt(anchor: TrustAnchor, identity: NodeIdentity, now: number): DropReason | null {
  if (anchor.isRevoked(identity.serial)) return 'revoked';
  if (now > identity.notAfter) return 'expired';
  if (now < identity.notBefore) return 'not-yet-valid';
  return null;
}
