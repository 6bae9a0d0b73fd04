/**
 * The fuzzer's mutations (bench/fuzz/mutate.ts, the same ones `npm run fuzz` sends to a live node)
 * run in-process through fast-check against the parser, the stream framer and the dSIP codec:
 * whatever the bytes, parseMessage answers a result (never throws), the framer never throws and
 * never holds more than the size limit, and a parsed peer request or overlay answer is decoded to
 * an acceptance or a refusal with a SIP status, without an exception. A failure prints the
 * fast-check seed and the shrunk input to replay.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { fixContentLength, MAX_DATAGRAM, mutate } from '../../bench/fuzz/mutate.js';
import { mulberry32 } from '../../bench/fuzz/rng.js';
import { loadSeeds, pickSeed } from '../../bench/fuzz/seeds.js';
import { decodeRequest, decodeResponse, isPeerRequest } from '../../src/dsip/index.js';
import type { OverlayRequest } from '../../src/overlay/messages.js';
import { peerIdFromAddress } from '../../src/overlay/peer-id.js';
import { parseMessage, StreamFramer } from '../../src/sip/message/index.js';
import { REPO } from '../live/live-helpers.js';

const NODE = { host: '127.0.0.1', port: 5080 };
const SENDER = { host: '127.0.0.1', port: 5090 };
const SEEDS = loadSeeds({ repo: REPO, node: NODE, self: SENDER, overlay: 'kadsip' });
const OTHERS = SEEDS.map((s) => s.bytes);
const SELF = { id: peerIdFromAddress(NODE.host, NODE.port), address: `${NODE.host}:${NODE.port}` };
const MAX_STREAM = 64 * 1024;
/** What a response may answer: the reading of its Contacts depends on the request. */
const ASKED: OverlayRequest[] = [{ op: 'FIND_VALUE', key: 1n }, { op: 'FIND_NODE', target: 1n }, { op: 'STORE', key: 1n, bindings: [{ value: 'sip:a@b', ttlMs: 1000 }] }, { op: 'PING' }];

/** One mutated seed, from a fast-check integer (so fast-check reports what to replay). */
const mutated = fc.integer().map((r) => {
  const rng = mulberry32(r);
  const seed = pickSeed(SEEDS, rng);
  const m = mutate(seed.bytes, rng, OTHERS, MAX_DATAGRAM);
  return { seed: seed.name, ops: m.ops, bytes: m.bytes };
});

describe('fuzz mutations in-process: parser, framer and dSIP codec never throw', () => {
  it('has seeds from every source: torture corpus, SIPp scenarios, kadsip dSIP requests and answers', () => {
    for (const prefix of ['rfc4475/', 'rfc5118/', 'sipp/', 'kadsip/']) expect(SEEDS.some((s) => s.name.startsWith(prefix)), prefix).toBe(true);
  });

  it('parseMessage (datagram and stream rules) and the dSIP decoders', () => {
    fc.assert(
      fc.property(mutated, ({ bytes }) => {
        for (const transport of ['datagram', 'stream'] as const) {
          const r = parseMessage(bytes, { transport });
          if (!r.ok) {
            expect(r.error.status).toBeGreaterThanOrEqual(400);
            continue;
          }
          const m = r.message;
          if (m.kind === 'request' && isPeerRequest(m)) {
            const d = decodeRequest(m, SENDER, { overlay: 'kadsip', self: SELF });
            if (!d.ok) expect(d.status).toBeGreaterThanOrEqual(300);
          } else if (m.kind === 'response') {
            for (const op of ASKED) {
              expect(typeof decodeResponse(m, op, SENDER, { overlay: 'kadsip' }).ok).toBe('boolean');
            }
          }
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('the stream framer, fed mutated messages split at random points, never throws nor buffers past its limit', () => {
    fc.assert(
      fc.property(fc.array(mutated, { minLength: 1, maxLength: 3 }), fc.array(fc.nat(), { maxLength: 6 }), fc.boolean(), (msgs, cuts, framed) => {
        const bytes = Buffer.concat(msgs.map((m) => (framed ? fixContentLength(m.bytes) : m.bytes)));
        const framer = new StreamFramer({ maxMessageSize: MAX_STREAM });
        const points = [...new Set(cuts.map((c) => c % (bytes.length + 1)))].sort((a, b) => a - b);
        let from = 0;
        for (const at of [...points, bytes.length]) {
          for (const item of framer.push(bytes.subarray(from, at))) if (item.kind === 'error') expect(item.error.status).toBeGreaterThanOrEqual(400);
          from = at;
          expect(framer.buffered).toBeLessThanOrEqual(MAX_STREAM);
        }
      }),
      { numRuns: 1500 },
    );
  });
});
