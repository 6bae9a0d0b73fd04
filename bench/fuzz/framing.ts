/**
 * TCP framing games around mutated messages (RFC 3261 18.3: a stream is framed by Content-Length
 * alone): several messages pipelined in one write, garbage or keep-alive CRLFs between them, the
 * bytes split at random points into separate writes, a header line far past the size limit, and
 * slowloris cases that stop part-way through a message and leave the connection open.
 */
import { fixContentLength, mutate, type Mutated } from './mutate.js';
import type { Rng } from './rng.js';
import { pickSeed, type Seed } from './seeds.js';

export interface StreamCase {
  /** The writes, in order. */
  readonly chunks: readonly Buffer[];
  /** The connection is left open after the last chunk (an unfinished message): slowloris. */
  readonly hold: boolean;
  readonly ops: readonly string[];
  readonly seeds: readonly string[];
}

const GLUE = ['', '', '', '\r\n', '\r\n\r\n', '\r\n\r\n\r\n\r\n', 'garbage\r\n', '\0\0\0', 'SIP/2.0 200 OK\r\n\r\n', ' \r\n', '\xff\xfe'];

/** One stream case: 1-3 messages (half of them with Content-Length put right so they frame). */
export function streamCase(seeds: readonly Seed[], others: readonly Buffer[], rng: Rng, maxMessage: number, prepare: (b: Buffer) => Buffer): StreamCase {
  const ops: string[] = [];
  const names: string[] = [];
  const parts: Buffer[] = [];
  const n = rng.chance(0.7) ? 1 : rng.range(2, 3);
  for (let i = 0; i < n; i++) {
    const seed = pickSeed(seeds, rng);
    names.push(seed.name);
    const m: Mutated = mutate(prepare(seed.bytes), rng, others, maxMessage);
    const framed = rng.chance(0.5);
    parts.push(framed ? fixContentLength(m.bytes) : m.bytes);
    ops.push(`[${m.ops.join('; ')}${framed ? '; framed' : ''}]`);
    if (i < n - 1) {
      const glue = rng.pick(GLUE);
      if (glue !== '') {
        parts.push(Buffer.from(glue, 'latin1'));
        ops.push(`glue ${JSON.stringify(glue)}`);
      }
    }
  }
  if (rng.chance(0.01)) {
    // A header line with no end past the node's size limit: 513 and close, never an unbounded buffer.
    const size = rng.pick([70_000, 200_000]);
    parts.push(Buffer.from(`X-Long: ${'x'.repeat(size)}`, 'latin1'));
    ops.push(`endless header ${size}`);
  }
  let bytes = Buffer.concat(parts);
  let hold = false;
  if (rng.chance(0.01) && bytes.length > 1) {
    bytes = bytes.subarray(0, rng.range(1, bytes.length - 1));
    hold = true;
    ops.push(`slowloris: ${bytes.length} bytes, then silence`);
  }
  const cuts = rng.chance(0.5) ? 0 : rng.range(1, 6);
  const at = new Set<number>();
  for (let i = 0; i < cuts && bytes.length > 1; i++) at.add(rng.range(1, bytes.length - 1));
  const points = [0, ...[...at].sort((a, b) => a - b), bytes.length];
  const chunks: Buffer[] = [];
  for (let i = 0; i + 1 < points.length; i++) chunks.push(bytes.subarray(points[i]!, points[i + 1]!));
  if (cuts > 0) ops.push(`split ${chunks.length}`);
  return { chunks, hold, ops, seeds: names };
}
