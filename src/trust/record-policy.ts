/**
 * The SIP node's RecordPolicy (src/overlay/record-policy.ts) for a closed or a secret overlay
 * (PROTOCOL.md sections 11.3 and 11.4): which bindings a storing peer stores and removes, and which
 * fetched bindings a node believes.
 *
 * Every binding carries a proof (binding-proof.ts). A proof is good when it parses, names an AoR
 * whose Resource-ID is the record's key, has not expired, is not dated in the future, and its
 * authenticator holds: in a closed overlay a signature by a certificate that chains to the
 * overlay CA, is unexpired and unrevoked, and lists the AoR's domain; in a secret overlay a MAC
 * under the overlay secret. A storing peer then checks it against what it holds for the same
 * contact: the same signer replaces or removes with a sequence number at least the held one's,
 * another authorized signer (a phone that moved) only with a higher one; a removal leaves a
 * tombstone until the removed binding would have expired, so a replayed STORE cannot bring it
 * back. A proof is read and its signature checked once per (binding, proof): the results are
 * cached, while the certificate's dates and revocation are checked on every use and its chain
 * once a minute.
 */
import type { KeyObject } from 'node:crypto';
import type { Logger } from '../common/logger.js';
import { idToHex, type NodeId } from '../overlay/id.js';
import type { Binding } from '../overlay/messages.js';
import type { PolicyVerdict, RecordPolicy } from '../overlay/record-policy.js';
import { setBounded } from '../common/bounded-map.js';
import {
  aorDomain,
  claimOf,
  parseBindingProof,
  verifyBindingMac,
  verifyBindingSignature,
  type BindingOp,
  type BindingProof,
} from './binding-proof.js';

/** How far a proof's signing time (its sequence number) may lie ahead of this node's clock. */
export const MAX_CLOCK_SKEW_MS = 5 * 60_000;
/** Longest lifetime a proof may claim from now (the overlay's maxRecordTtlMs), plus the skew. */
export const DEFAULT_MAX_LIFETIME_MS = 24 * 3_600_000;
/** Bounds of the policy's own memory: verified proofs, tombstones, signers already logged. */
const VERIFIED_CACHE_MAX = 20_000;
/**
 * How often a signer's certificate goes through the anchor's full check (chain, the CA's own
 * validity); its validity dates and revocation are checked on every use, which costs a map lookup.
 */
const CHAIN_RECHECK_MS = 60_000;
const TOMBSTONES_MAX = 20_000;
const LOGGED_SIGNERS_MAX = 1_000;

/** What the policy needs of a signer's certificate (K's NodeIdentity has all of it). */
export interface SignerIdentity {
  readonly fingerprint: string;
  readonly serial: string;
  /** Validity period, ms since the epoch. */
  readonly notBefore: number;
  readonly notAfter: number;
  readonly domains: readonly string[];
  readonly addresses: readonly string[];
  readonly publicKey: KeyObject;
  readonly der: Uint8Array;
}

/** Where signers' certificates are found: this node's own, and those peers showed (A's CertificateCache). */
export interface SignerDirectory {
  byFingerprint(fingerprint: string): SignerIdentity | undefined;
}

/** The overlay CA (K's TrustAnchor): re-checks a known certificate's validity and revocation. */
export interface SignerAnchor {
  verify(der: Uint8Array, now: number): { readonly ok: true } | { readonly ok: false; readonly reason: string; readonly detail: string };
  /** Whether the serial is on the current CRL. */
  isRevoked(serial: string): boolean;
}

/** How a proof's authenticator is checked: by signature (closed overlay) or MAC (secret overlay). */
export interface Authenticator {
  /** Null when the proof's authenticator holds for `domain`, else why not. */
  check(op: BindingOp, key: NodeId, value: string, proof: BindingProof, domain: string, proofText: string, now: number): Refusal | null;
}

type Refusal = Extract<PolicyVerdict, { ok: false }>;

const ADMITTED: PolicyVerdict = { ok: true };

function refuse(reason: Refusal['reason'], detail: string): Refusal {
  return { ok: false, reason, detail };
}

/** Bounded map of strings, oldest first out. */
class BoundedMap<V> {
  private readonly items = new Map<string, V>();
  constructor(private readonly max: number) {}
  get(key: string): V | undefined {
    return this.items.get(key);
  }
  set(key: string, value: V): void {
    setBounded(this.items, key, value, this.max);
  }
}

/** Bounded set of strings, oldest first out. */
class BoundedSet {
  private readonly items: BoundedMap<true>;
  constructor(max: number) {
    this.items = new BoundedMap<true>(max);
  }
  has(item: string): boolean {
    return this.items.get(item) !== undefined;
  }
  add(item: string): void {
    this.items.set(item, true);
  }
}

/** Closed overlay: signatures by enrolled nodes authorized for the AoR's domain. */
export class SignatureAuthenticator implements Authenticator {
  /** (op, key, value, proof) whose signature was found good: the signature never needs checking again. */
  private readonly verified = new BoundedSet(VERIFIED_CACHE_MAX);
  /** Signer fingerprint -> when its certificate last passed the anchor's full check. */
  private readonly chainChecked = new BoundedMap<number>(VERIFIED_CACHE_MAX);
  constructor(
    private readonly signers: SignerDirectory,
    private readonly anchor: SignerAnchor,
  ) {}

  check(op: BindingOp, key: NodeId, value: string, proof: BindingProof, domain: string, proofText: string, now: number): Refusal | null {
    if (proof.kind !== 'sig') return refuse('proof-required', 'a closed overlay needs a signed binding (signer and sig), not a MAC');
    const signer = this.signers.byFingerprint(proof.signer);
    if (signer === undefined) return refuse('unknown-signer', `no certificate known for signer ${proof.signer}`);
    const checkedAt = this.chainChecked.get(proof.signer);
    if (checkedAt === undefined || now - checkedAt >= CHAIN_RECHECK_MS || now < checkedAt) {
      const chain = this.anchor.verify(signer.der, now);
      if (!chain.ok) return refuse('bad-certificate', `signer ${proof.signer}: ${chain.reason}: ${chain.detail}`);
      this.chainChecked.set(proof.signer, now);
    } else if (this.anchor.isRevoked(signer.serial)) {
      return refuse('bad-certificate', `signer ${proof.signer}: revoked: certificate ${signer.serial} is on the CRL`);
    } else if (now < signer.notBefore || now > signer.notAfter) {
      return refuse('bad-certificate', `signer ${proof.signer}: certificate not valid now (${new Date(signer.notBefore).toISOString()} to ${new Date(signer.notAfter).toISOString()})`);
    }
    const cacheKey = `${op} ${idToHex(key)} ${value} ${proofText}`;
    if (!this.verified.has(cacheKey)) {
      if (!verifyBindingSignature(claimOf(op, key, value, proof), proof.signature, signer.publicKey)) {
        return refuse('bad-signature', `signature of ${proof.signer} does not cover this binding`);
      }
      this.verified.add(cacheKey);
    }
    if (!mayPublish(signer, domain)) return refuse('not-authorized', `signer ${proof.signer} may not publish AoRs of ${domain}`);
    return null;
  }
}

/**
 * Whether a certificate lets its holder publish AoRs of `domain`: one of its SIP domains (RFC 5922
 * section 7.1 subjectAltName URIs), or, for an AoR at an IP address, one of its addresses' IPs.
 */
export function mayPublish(signer: Pick<SignerIdentity, 'domains' | 'addresses'>, domain: string): boolean {
  const d = domain.toLowerCase();
  if (signer.domains.some((x) => x.toLowerCase() === d)) return true;
  return signer.addresses.some((a) => ipOf(a) === d);
}

/** The host of a canonical `IP:PORT` / `[v6]:port`, in the AoR's spelling (IPv6 in brackets). */
function ipOf(address: string): string {
  const colon = address.lastIndexOf(':');
  return (colon < 0 ? address : address.slice(0, colon)).toLowerCase();
}

/** Secret overlay: a MAC under the overlay secret's binding key; every holder of the secret may publish. */
export class MacAuthenticator implements Authenticator {
  constructor(private readonly macKey: Uint8Array) {}
  check(op: BindingOp, key: NodeId, value: string, proof: BindingProof): Refusal | null {
    if (proof.kind !== 'mac') return refuse('proof-required', 'a secret overlay needs a MAC under the overlay secret');
    if (!verifyBindingMac(claimOf(op, key, value, proof), proof.mac, this.macKey)) return refuse('bad-signature', 'MAC does not cover this binding (wrong secret or other bytes)');
    return null;
  }
}

interface Tombstone {
  readonly seq: number;
  readonly expiresAtMs: number;
}

export interface ProvenRecordPolicyOptions {
  readonly authenticator: Authenticator;
  /** Longest lifetime a proof may claim from now; default 24 h (the overlay's maxRecordTtlMs). */
  readonly maxLifetimeMs?: number;
  /** Drops of fetched bindings are logged once per signer. */
  readonly log?: Logger;
  /**
   * Wall-clock time (ms since the epoch), which proofs and certificates are dated in. A node's
   * core clock is monotonic and counts from its start, so a node passes Date.now here; absent, the
   * core's `now` is taken as wall time (a simulation whose clock is the only time there is).
   */
  readonly wallClock?: () => number;
}

/** The policy of a closed or secret overlay, over the authenticator of its mode. */
export class ProvenRecordPolicy implements RecordPolicy {
  private readonly tombstones = new Map<string, Tombstone>();
  /** (key, proof text) -> the proof read and its AoR's domain: reading is pure, and a proof is seen again at every republication and fetch. */
  private readonly read = new BoundedMap<{ proof: BindingProof; domain: string }>(VERIFIED_CACHE_MAX);
  private readonly loggedSigners = new BoundedSet(LOGGED_SIGNERS_MAX);
  private readonly maxLifetimeMs: number;

  constructor(private readonly options: ProvenRecordPolicyOptions) {
    this.maxLifetimeMs = options.maxLifetimeMs ?? DEFAULT_MAX_LIFETIME_MS;
  }

  admitStore(key: NodeId, bindings: readonly Binding[], held: readonly Binding[], coreNow: number): PolicyVerdict {
    const now = this.options.wallClock?.() ?? coreNow;
    for (const b of bindings) {
      const proven = this.prove('store', key, b, now);
      if (!proven.ok) return proven;
      const tomb = this.tombstones.get(tombKey(key, b.value));
      if (tomb && tomb.expiresAtMs > now && proven.proof.seq <= tomb.seq) {
        return refuse('replayed', `seq ${proven.proof.seq} is not above the removal (seq ${tomb.seq}) of this binding`);
      }
      const conflict = this.againstHeld(proven.proof, held.find((h) => h.value === b.value));
      if (conflict) return conflict;
    }
    return ADMITTED;
  }

  admitRemove(key: NodeId, removals: readonly Binding[], held: readonly Binding[], coreNow: number): PolicyVerdict {
    const now = this.options.wallClock?.() ?? coreNow;
    const proofs: BindingProof[] = [];
    for (const r of removals) {
      const proven = this.prove('remove', key, r, now);
      if (!proven.ok) return proven;
      const conflict = this.againstHeld(proven.proof, held.find((h) => h.value === r.value));
      if (conflict) return conflict;
      proofs.push(proven.proof);
    }
    // All admitted: each removal stays as a tombstone until the removal proof expires.
    removals.forEach((r, i) => this.bury(key, r.value, proofs[i]!, now));
    return ADMITTED;
  }

  acceptFetched(key: NodeId, binding: Binding, coreNow: number): boolean {
    const proven = this.prove('store', key, binding, this.options.wallClock?.() ?? coreNow);
    if (proven.ok) return true;
    const signer = signerOf(binding.proof);
    if (!this.loggedSigners.has(signer)) {
      this.loggedSigners.add(signer);
      this.options.log?.warn({ signer, key: idToHex(key), value: binding.value, reason: proven.reason, detail: proven.detail }, 'fetched binding dropped: its proof does not hold (logged once per signer)');
    }
    return false;
  }

  /** The proof of one binding, checked on its own (no stored state). */
  private prove(op: BindingOp, key: NodeId, binding: Binding, now: number): { ok: true; proof: BindingProof } | Refusal {
    if (binding.proof === undefined) return refuse('proof-required', `binding ${binding.value} carries no proof`);
    const readKey = `${key.toString(16)} ${binding.proof}`;
    let read = this.read.get(readKey);
    if (read === undefined) {
      const parsed = parseBindingProof(binding.proof);
      if (!parsed.ok) return refuse('bad-request', parsed.error);
      const domain = aorDomain(parsed.proof.aor, key);
      if (domain === null) return refuse('bad-request', `proof's aor ${parsed.proof.aor} is not the canonical AoR of Resource-ID ${idToHex(key)}`);
      read = { proof: parsed.proof, domain };
      this.read.set(readKey, read);
    }
    const { proof, domain } = read;
    if (proof.expiresAtS * 1000 <= now) return refuse('expired', `proof expired at ${proof.expiresAtS} (Unix seconds)`);
    if (proof.seq > now + MAX_CLOCK_SKEW_MS) return refuse('future-dated', `proof signed at ${proof.seq} ms, ahead of this node's clock (${now})`);
    if (proof.expiresAtS * 1000 > now + this.maxLifetimeMs + MAX_CLOCK_SKEW_MS) return refuse('future-dated', `proof expiry ${proof.expiresAtS} is beyond the longest record lifetime`);
    const bad = this.options.authenticator.check(op, key, binding.value, proof, domain, binding.proof, now);
    return bad ?? { ok: true, proof };
  }

  /**
   * Replace and remove rules against the binding held for the same contact: the same signer with a
   * sequence number at least the held one's (a republication carries the same proof), another
   * (authorized) signer only with a higher one.
   */
  private againstHeld(proof: BindingProof, held: Binding | undefined): Refusal | null {
    if (held?.proof === undefined) return null;
    const was = parseBindingProof(held.proof);
    if (!was.ok) return null; // nothing this peer could have admitted; let the good proof replace it
    const same = signerOfProof(was.proof) === signerOfProof(proof);
    if (same && proof.seq < was.proof.seq) return refuse('replayed', `seq ${proof.seq} is below the held binding's ${was.proof.seq}`);
    if (!same && proof.seq <= was.proof.seq) return refuse('not-authorized', `held by signer ${signerOfProof(was.proof)} at seq ${was.proof.seq}; another signer needs a higher seq`);
    return null;
  }

  private bury(key: NodeId, value: string, proof: BindingProof, now: number): void {
    const k = tombKey(key, value);
    this.tombstones.delete(k);
    if (this.tombstones.size >= TOMBSTONES_MAX) {
      for (const [t, stone] of this.tombstones) if (stone.expiresAtMs <= now) this.tombstones.delete(t);
      const oldest = this.tombstones.keys().next().value;
      if (this.tombstones.size >= TOMBSTONES_MAX && oldest !== undefined) this.tombstones.delete(oldest);
    }
    this.tombstones.set(k, { seq: proof.seq, expiresAtMs: proof.expiresAtS * 1000 });
  }
}

function tombKey(key: NodeId, value: string): string {
  return `${idToHex(key)} ${value}`;
}

function signerOfProof(proof: BindingProof): string {
  return proof.kind === 'sig' ? proof.signer : 'overlay-secret';
}

/** A name for the signer of a proof text, for the once-per-signer log. */
function signerOf(proofText: string | undefined): string {
  if (proofText === undefined) return 'unsigned';
  const parsed = parseBindingProof(proofText);
  return parsed.ok ? signerOfProof(parsed.proof) : 'malformed';
}

/**
 * Signers' certificates travel with the bindings they signed (PROTOCOL.md 11.4): the DER of every
 * signer of `bindings` but `own` (the receiver has the sender's from peer authentication), each
 * once, at most `max` (with the sender's own, a message stays within 11.2's bound on DHT-Cert).
 */
export function signerCertificates(bindings: readonly Binding[], signers: SignerDirectory, own: string, max: number = MAX_SIGNER_CERTIFICATES): Uint8Array[] {
  const seen = new Set<string>([own]);
  const out: Uint8Array[] = [];
  for (const b of bindings) {
    if (out.length >= max) break;
    const signer = b.proof === undefined ? undefined : parseBindingProof(b.proof);
    if (!signer?.ok || signer.proof.kind !== 'sig' || seen.has(signer.proof.signer)) continue;
    seen.add(signer.proof.signer);
    const identity = signers.byFingerprint(signer.proof.signer);
    if (identity !== undefined) out.push(identity.der);
  }
  return out;
}

/** Signers' certificates one message carries at most (PROTOCOL.md 11.4). */
export const MAX_SIGNER_CERTIFICATES = 7;

/** Closed overlay: bindings signed by enrolled nodes authorized for their AoR's domain. */
export function signedRecordPolicy(signers: SignerDirectory, anchor: SignerAnchor, options: Omit<ProvenRecordPolicyOptions, 'authenticator'> = {}): ProvenRecordPolicy {
  return new ProvenRecordPolicy({ authenticator: new SignatureAuthenticator(signers, anchor), ...options });
}

/** Secret overlay: bindings MACed under the overlay secret's binding key (bindingMacKey). */
export function macRecordPolicy(macKey: Uint8Array, options: Omit<ProvenRecordPolicyOptions, 'authenticator'> = {}): ProvenRecordPolicy {
  return new ProvenRecordPolicy({ authenticator: new MacAuthenticator(macKey), ...options });
}
