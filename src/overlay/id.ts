/**
 * 160-bit identifiers as bigint. Distances are XOR and compare exactly (k-bucket's doubles lose
 * precision past 53 bits; bigint does not).
 */
import { sha1 } from '@noble/hashes/legacy.js';
import { ID_BITS } from './constants.js';

export type NodeId = bigint;

export const ID_MAX: NodeId = (1n << BigInt(ID_BITS)) - 1n;
const HEX_DIGITS = ID_BITS / 4;
const HEX_ID = /^[0-9a-f]{40}$/;

const textEncoder = new TextEncoder();

export function idFromBytes(bytes: Uint8Array): NodeId {
  if (bytes.length !== ID_BITS / 8) throw new RangeError(`an ID is ${ID_BITS / 8} bytes, got ${bytes.length}`);
  let id = 0n;
  for (const b of bytes) id = (id << 8n) | BigInt(b);
  return id;
}

export function idToBytes(id: NodeId): Uint8Array {
  const out = new Uint8Array(ID_BITS / 8);
  let v = id;
  for (let i = out.length - 1; i >= 0; i--) {
    out[i] = Number(v & 0xffn);
    v >>= 8n;
  }
  return out;
}

/** 40 lowercase hex digits, as PROTOCOL.md section 1 shows IDs. */
export function idToHex(id: NodeId): string {
  return id.toString(16).padStart(HEX_DIGITS, '0');
}

/** Parses 40 hex digits (either case); returns null for anything else, never throws. */
export function idFromHex(hex: string): NodeId | null {
  const lower = hex.toLowerCase();
  if (!HEX_ID.test(lower)) return null;
  return BigInt('0x' + lower);
}

/** SHA-1 of text (UTF-8) or bytes, as an ID. */
export function sha1Id(data: string | Uint8Array): NodeId {
  return idFromBytes(sha1(typeof data === 'string' ? textEncoder.encode(data) : data));
}

export function distance(a: NodeId, b: NodeId): bigint {
  return a ^ b;
}

/** Number of significant bits: 0 for 0n. */
export function bitLength(v: bigint): number {
  if (v === 0n) return 0;
  // Hex is a quarter the length of binary: whole digits below the first, then that digit's bits.
  const hex = v.toString(16);
  return (hex.length - 1) * 4 + (32 - Math.clz32(parseInt(hex[0]!, 16)));
}

/**
 * Index of the bucket `other` falls in from `self`'s point of view: the position of the highest
 * differing bit (0..159), or -1 when the IDs are equal.
 */
export function bucketIndex(self: NodeId, other: NodeId): number {
  return bitLength(self ^ other) - 1;
}

/** Negative when a is closer to target than b, positive when farther, 0 when equal. */
export function compareDistance(target: NodeId, a: NodeId, b: NodeId): number {
  const da = a ^ target;
  const db = b ^ target;
  return da < db ? -1 : da > db ? 1 : 0;
}

/** A uniformly random ID whose highest bit differing from `self` is `index` (for bucket refresh). */
export function randomIdInBucket(self: NodeId, index: number, randomBits: (bits: number) => bigint): NodeId {
  const high = 1n << BigInt(index);
  const low = index === 0 ? 0n : randomBits(index);
  return self ^ (high | low);
}
