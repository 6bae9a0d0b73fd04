/**
 * Random hex for tags, Call-IDs and branches, cut from a pool refilled 4 KiB at a time.
 *
 * Every response and every new request needs a few random bytes; one randomBytes() call per tag
 * cost about 4 % of a node's CPU under a REGISTER load (a syscall-sized call for 8 bytes). The pool
 * comes from the same CSPRNG, so tags stay unguessable (RFC 3261 section 19.3 asks for at least
 * 32 random bits; Call-IDs and branches should not be predictable either).
 */
import { randomFillSync } from 'node:crypto';

const POOL_BYTES = 4096;
const pool = Buffer.allocUnsafe(POOL_BYTES);
let next = POOL_BYTES;

/** `bytes` random bytes as 2 * bytes lower-case hex digits. */
export function randomHex(bytes: number): string {
  if (bytes > POOL_BYTES) throw new RangeError(`randomHex: at most ${POOL_BYTES} bytes`);
  if (next + bytes > POOL_BYTES) {
    randomFillSync(pool);
    next = 0;
  }
  const out = pool.toString('hex', next, next + bytes);
  next += bytes;
  return out;
}
