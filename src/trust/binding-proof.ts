/**
 * The proof a binding carries in a closed or secret overlay (PROTOCOL.md sections 11.3 and 11.4):
 * who published it, that they may, until when, and which publication it is. The P2PSIP charter
 * requires stored data to be authenticated by whoever stored it; a storing peer checks the proof
 * before it stores, a fetching node again before it uses the binding, so a hostile storer cannot
 * make one up.
 *
 * One proof covers, byte for byte (`canonicalBindingBytes`): what it is for (publication or
 * removal), the Resource-ID, the AoR, the contact (the binding's value), the absolute expiry, a
 * sequence number and the signer (the SHA-256 fingerprint of its certificate). It travels as
 * Contact parameters (`formatBindingProof`), which an implementation that does not know them
 * ignores (RFC 3261 section 7.3.1); the overlay core keeps that text as the binding's opaque
 * `proof`. Closed overlay: an Ed25519 or P-256 signature by the signer's certificate key. Secret
 * overlay: an HMAC-SHA256 under a key derived from the overlay secret, with no signer.
 */
import { createHmac, timingSafeEqual, type KeyObject } from 'node:crypto';
import { BINDING_PROOF_PARAMS } from '../dsip/headers.js';
import { idToBytes, type NodeId } from '../overlay/id.js';
import { resourceId } from '../overlay/peer-id.js';
import { quote, unquote } from '../sip/message/chars.js';
import { parseParams } from '../sip/message/params.js';
import { canonicalAor, parseUri } from '../sip/message/uri.js';
import { signBytes, SIGNATURE_BYTES, verifyBytes } from './keys.js';

/** The first 16 bytes of every proof's canonical bytes: the format and its version. */
export const BINDING_PROOF_MAGIC = 'kadsip binding 1';
/** HMAC-SHA256 output. */
export const MAC_BYTES = 32;
/** The label the MAC key is derived with from the overlay secret (the secret also keys Peer-IDs). */
export const BINDING_MAC_LABEL = 'kadsip binding mac 1';
/** Longest AoR or contact a proof covers: each is written with a 16-bit length. */
export const MAX_PROOF_FIELD_BYTES = 0xffff;

const FINGERPRINT_RE = /^[0-9a-f]{64}$/;
const BASE64URL_RE = /^[A-Za-z0-9_-]+$/;
const DECIMAL_RE = /^(?:0|[1-9][0-9]{0,15})$/;
const utf8 = new TextEncoder();

/** Publication (STORE) or removal (REMOVE): a proof for one is never valid for the other. */
export type BindingOp = 'store' | 'remove';

/** What a proof is about, the fields its canonical bytes cover. */
export interface BindingClaim {
  readonly op: BindingOp;
  /** The record's Resource-ID: SHA-1 of the canonical AoR (PROTOCOL.md section 1). */
  readonly key: NodeId;
  /** The canonical AoR, `sip:user@domain`. */
  readonly aor: string;
  /** The binding's value (for a SIP node `sip:user@IP:PORT`, PROTOCOL.md section 4). */
  readonly contact: string;
  /** Absolute expiry, Unix seconds. */
  readonly expiresAtS: number;
  /** The signing time in milliseconds since the Unix epoch, strictly increasing per signer. */
  readonly seq: number;
  /** SHA-256 fingerprint of the signer's certificate (64 lowercase hex); null for a MAC. */
  readonly signer: string | null;
}

/** A proof as it travels: the claim's AoR, expiry, sequence and signer, and the authenticator. */
export type BindingProof =
  | { readonly aor: string; readonly seq: number; readonly expiresAtS: number; readonly kind: 'sig'; readonly signer: string; readonly signature: Buffer }
  | { readonly aor: string; readonly seq: number; readonly expiresAtS: number; readonly kind: 'mac'; readonly mac: Buffer };

/**
 * The bytes a proof signs or MACs, unambiguous by construction (fixed sizes, or a length first):
 *
 *   16  "kadsip binding 1" (ASCII)
 *    1  op: 0x01 publication, 0x02 removal
 *   20  Resource-ID
 *    2  length of the AoR (big-endian), then the AoR (UTF-8)
 *    2  length of the contact (big-endian), then the contact (UTF-8)
 *    8  absolute expiry, Unix seconds (big-endian)
 *    8  sequence number (big-endian)
 *   32  signer fingerprint (SHA-256 of its certificate's DER); 32 zero bytes for a MAC
 */
export function canonicalBindingBytes(claim: BindingClaim): Buffer {
  const aor = utf8.encode(claim.aor);
  const contact = utf8.encode(claim.contact);
  if (aor.length > MAX_PROOF_FIELD_BYTES || contact.length > MAX_PROOF_FIELD_BYTES) throw new RangeError('AoR or contact too long for a binding proof');
  if (claim.signer !== null && !FINGERPRINT_RE.test(claim.signer)) throw new RangeError(`not a certificate fingerprint: ${claim.signer}`);
  const out = Buffer.alloc(16 + 1 + 20 + 2 + aor.length + 2 + contact.length + 8 + 8 + 32);
  let at = out.write(BINDING_PROOF_MAGIC, 0, 'ascii');
  out[at++] = claim.op === 'store' ? 0x01 : 0x02;
  out.set(idToBytes(claim.key), at);
  at += 20;
  at = out.writeUInt16BE(aor.length, at);
  out.set(aor, at);
  at += aor.length;
  at = out.writeUInt16BE(contact.length, at);
  out.set(contact, at);
  at += contact.length;
  at = out.writeBigUInt64BE(BigInt(claim.expiresAtS), at);
  at = out.writeBigUInt64BE(BigInt(claim.seq), at);
  if (claim.signer !== null) out.write(claim.signer, at, 'hex');
  return out;
}

/**
 * The proof as Contact parameters, in this order (the overlay core stores this text as is):
 * `aor="sip:user@domain";seq=N;exp=N;signer=HEX;sig=BASE64URL` or `aor=...;seq=N;exp=N;mac=BASE64URL`.
 */
export function formatBindingProof(proof: BindingProof): string {
  const head = `aor=${quote(proof.aor)};seq=${proof.seq};exp=${proof.expiresAtS}`;
  return proof.kind === 'sig' ? `${head};signer=${proof.signer};sig=${proof.signature.toString('base64url')}` : `${head};mac=${proof.mac.toString('base64url')}`;
}

export type ParsedProof = { readonly ok: true; readonly proof: BindingProof } | { readonly ok: false; readonly error: string };

/**
 * Reads a proof's text (Contact parameters, with or without the leading ";"). Every field is
 * checked for form here, so what comes back is safe to put in canonical bytes; a signature or MAC
 * of the wrong length ("truncated") is refused with its length named. Never throws.
 */
export function parseBindingProof(text: string): ParsedProof {
  const params = parseParams(text.startsWith(';') ? text : `;${text}`);
  if (!params.ok) return { ok: false, error: `malformed proof: ${params.error.message}` };
  const fields = new Map<string, string>();
  for (const p of params.value) {
    const name = p.name.toLowerCase();
    if (!BINDING_PROOF_PARAMS.includes(name)) continue;
    if (fields.has(name)) return { ok: false, error: `proof parameter ${name} twice` };
    if (p.value === null) return { ok: false, error: `proof parameter ${name} without a value` };
    fields.set(name, p.value);
  }
  const aorText = fields.get('aor');
  if (aorText === undefined || !aorText.startsWith('"')) return { ok: false, error: 'proof without a quoted aor' };
  const aor = unquote(aorText);
  if (utf8.encode(aor).length > MAX_PROOF_FIELD_BYTES) return { ok: false, error: 'proof aor too long' };
  const seq = decimal(fields.get('seq'));
  if (seq === null) return { ok: false, error: 'proof without a valid seq' };
  const expiresAtS = decimal(fields.get('exp'));
  if (expiresAtS === null) return { ok: false, error: 'proof without a valid exp' };
  const signer = fields.get('signer');
  const sig = fields.get('sig');
  const mac = fields.get('mac');
  if (mac !== undefined) {
    if (signer !== undefined || sig !== undefined) return { ok: false, error: 'proof with both a MAC and a signature' };
    const bytes = base64url(mac);
    if (bytes === null) return { ok: false, error: 'proof mac is not base64url' };
    if (bytes.length !== MAC_BYTES) return { ok: false, error: `proof mac is ${bytes.length} bytes, not ${MAC_BYTES}` };
    return { ok: true, proof: { aor, seq, expiresAtS, kind: 'mac', mac: bytes } };
  }
  if (signer === undefined || sig === undefined) return { ok: false, error: 'proof without signer and sig (or mac)' };
  if (!FINGERPRINT_RE.test(signer)) return { ok: false, error: 'proof signer is not a SHA-256 fingerprint (64 lowercase hex digits)' };
  const signature = base64url(sig);
  if (signature === null) return { ok: false, error: 'proof sig is not base64url' };
  if (signature.length !== SIGNATURE_BYTES) return { ok: false, error: `proof sig is ${signature.length} bytes, not ${SIGNATURE_BYTES}` };
  return { ok: true, proof: { aor, seq, expiresAtS, kind: 'sig', signer, signature } };
}

/** The claim a proof makes about the binding `contact` under `key`. */
export function claimOf(op: BindingOp, key: NodeId, contact: string, proof: BindingProof): BindingClaim {
  return { op, key, aor: proof.aor, contact, expiresAtS: proof.expiresAtS, seq: proof.seq, signer: proof.kind === 'sig' ? proof.signer : null };
}

/**
 * Whether the proof's AoR is a canonical SIP AoR whose Resource-ID is `key`; its domain (the lower-case
 * host, an IPv6 address in brackets) when so. A proof for another record is a proof for nothing here.
 */
export function aorDomain(aor: string, key: NodeId): string | null {
  const uri = parseUri(aor);
  if (!uri.ok || uri.value.kind !== 'sip' || uri.value.user === null) return null;
  if (canonicalAor(uri.value) !== aor || resourceId(aor) !== key) return null;
  return canonicalAor({ ...uri.value, user: null, params: [] }).replace(/^sips?:/, '');
}

// ---------------------------------------------------------------- signatures (closed overlay)

export interface SignedFields {
  readonly op: BindingOp;
  readonly key: NodeId;
  readonly aor: string;
  readonly contact: string;
  readonly expiresAtS: number;
  readonly seq: number;
}

/** Signs a binding with the node's certificate key: the proof text. */
export function signBinding(fields: SignedFields, key: KeyObject, signerFingerprint: string): string {
  const signature = signBytes(key, canonicalBindingBytes({ ...fields, signer: signerFingerprint }));
  return formatBindingProof({ aor: fields.aor, seq: fields.seq, expiresAtS: fields.expiresAtS, kind: 'sig', signer: signerFingerprint, signature });
}

/** Whether a parsed signature proof is the signer's over the claim (the caller found the signer's key). */
export function verifyBindingSignature(claim: BindingClaim, signature: Uint8Array, publicKey: KeyObject): boolean {
  return verifyBytes(publicKey, canonicalBindingBytes(claim), signature);
}

// ---------------------------------------------------------------- MACs (secret overlay)

/**
 * The MAC key: HMAC-SHA256 of BINDING_MAC_LABEL keyed with the overlay secret. Derived, not the
 * secret itself, so the two uses of one secret (Peer-IDs, bindings) never share a key.
 */
export function bindingMacKey(secret: Uint8Array): Buffer {
  return createHmac('sha256', secret).update(BINDING_MAC_LABEL, 'ascii').digest();
}

/** MACs a binding under the overlay secret's binding key: the proof text. */
export function macBinding(fields: SignedFields, macKey: Uint8Array): string {
  const mac = createHmac('sha256', macKey).update(canonicalBindingBytes({ ...fields, signer: null })).digest();
  return formatBindingProof({ aor: fields.aor, seq: fields.seq, expiresAtS: fields.expiresAtS, kind: 'mac', mac });
}

/** Whether `mac` is the binding key's MAC of the claim (constant time). */
export function verifyBindingMac(claim: BindingClaim, mac: Uint8Array, macKey: Uint8Array): boolean {
  if (mac.length !== MAC_BYTES) return false;
  const want = createHmac('sha256', macKey).update(canonicalBindingBytes({ ...claim, signer: null })).digest();
  return timingSafeEqual(want, mac);
}

// ---------------------------------------------------------------- sequence numbers

/**
 * Sequence numbers of one signer: the signing time in milliseconds, one more than the last when
 * the clock has not moved on. Time-based so a node that restarts (and forgot its last number)
 * still outnumbers what it signed before.
 */
export class SequenceClock {
  private last = 0;
  next(nowMs: number): number {
    this.last = Math.max(Math.floor(nowMs), this.last + 1);
    return this.last;
  }
}

function decimal(text: string | undefined): number | null {
  if (text === undefined || !DECIMAL_RE.test(text)) return null;
  const n = Number(text);
  return Number.isSafeInteger(n) ? n : null;
}

function base64url(text: string): Buffer | null {
  if (!BASE64URL_RE.test(text) || text.length % 4 === 1) return null;
  return Buffer.from(text, 'base64url');
}

