/**
 * The overlay secret (PROTOCOL.md 11.3), the light mode for small overlays: every node is given the
 * same secret file. Its Peer-ID part lives here: Peer-IDs `algorithm=hmac-sha1`, HMAC-SHA1 keyed
 * with the secret over the address text (the canonical IP text of section 9), the low 16 bits
 * replaced by the port, as section 1's `sha1` scheme does with a plain hash. A receiver recomputes
 * the ID from the address it sees (mismatch: 493), so a peer without the secret cannot make a
 * Peer-ID others accept. The bindings' MAC under the same secret is src/trust/binding-proof.ts's.
 */
import { createHmac } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { PeerIdScheme } from '../dsip/trust-headers.js';
import { idFromBytes, type NodeId } from '../overlay/id.js';

export const ALGORITHM_HMAC_SHA1 = 'hmac-sha1';
/** Shortest secret accepted: 16 bytes (128 bits), what HMAC-SHA1 needs to resist guessing. */
export const MIN_SECRET_BYTES = 16;
/** Longest secret file read (HMAC hashes longer keys down anyway). */
export const MAX_SECRET_BYTES = 4096;

/** A secret file that cannot be used; the message starts with the file's path. */
export class OverlaySecretError extends Error {}

/**
 * The secret in a file: its bytes, without trailing whitespace (an editor's final newline is not
 * part of it). Throws OverlaySecretError when unreadable, shorter than MIN_SECRET_BYTES or too long.
 */
export function loadOverlaySecret(file: string): Buffer {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (e) {
    throw new OverlaySecretError(`${file}: cannot read the overlay secret: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  let end = bytes.length;
  while (end > 0 && [0x20, 0x09, 0x0a, 0x0d].includes(bytes[end - 1]!)) end--;
  const secret = bytes.subarray(0, end);
  if (secret.length < MIN_SECRET_BYTES) throw new OverlaySecretError(`${file}: the overlay secret must be at least ${MIN_SECRET_BYTES} bytes (it has ${secret.length})`);
  if (secret.length > MAX_SECRET_BYTES) throw new OverlaySecretError(`${file}: the overlay secret must be at most ${MAX_SECRET_BYTES} bytes`);
  return Buffer.from(secret);
}

const LOW_16 = 0xffffn;
/** Addresses whose 144-bit prefix is memoised per scheme (as peer-id.ts does for sha1), bounded. */
const MEMO_MAX = 4096;

/** Peer-IDs under the overlay secret: `algorithm=hmac-sha1`. */
export function hmacPeerIds(secret: Uint8Array): PeerIdScheme {
  const key = Buffer.from(secret);
  const memo = new Map<string, NodeId>();
  return {
    algorithm: ALGORITHM_HMAC_SHA1,
    idOf(ip: string, port: number): NodeId {
      if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`port out of range: ${port}`);
      let prefix = memo.get(ip);
      if (prefix === undefined) {
        if (memo.size >= MEMO_MAX) memo.clear();
        prefix = idFromBytes(createHmac('sha1', key).update(ip, 'utf8').digest()) & ~LOW_16;
        memo.set(ip, prefix);
      }
      return prefix | BigInt(port);
    },
  };
}
