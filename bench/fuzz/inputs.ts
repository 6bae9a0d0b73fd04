/**
 * Input number N of a run, rebuilt from (seed, transport, N) alone: over UDP one mutated datagram
 * from one of four loopback senders, over TCP one stream case (bench/fuzz/framing.ts).
 */
import { fileURLToPath } from 'node:url';
import { streamCase, type StreamCase } from './framing.js';
import { MAX_DATAGRAM, mutate } from './mutate.js';
import { rngFor } from './rng.js';
import { loadSeeds, personalize, pickSeed, type Seed } from './seeds.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));
const HOST = '127.0.0.1';
/** The fuzz inputs come from four loopback addresses, so per-source tables see more than one source. */
export const SENDER_HOSTS = ['127.0.0.1', '127.0.0.2', '127.0.0.3', '127.0.0.4'];
/** The node's default stream limit (src/sip/transport/types.ts), for sizing stream inputs. */
const MAX_STREAM_MESSAGE = 64 * 1024;

export interface Input {
  readonly transport: 'udp' | 'tcp';
  readonly index: number;
  readonly seeds: readonly string[];
  readonly ops: readonly string[];
  /** The writes (UDP: one datagram). */
  readonly chunks: readonly Buffer[];
  readonly hold: boolean;
  /** The loopback address it is sent from. */
  readonly from: string;
  /** UDP: the local port it is sent from. */
  readonly fromPort?: number;
}

const seedCache = new Map<string, { seeds: Seed[]; bytes: Buffer[] }>();
function seedsFor(host: string, port: number, nodePort: number): { seeds: Seed[]; bytes: Buffer[] } {
  const key = `${host}:${port}:${nodePort}`;
  let s = seedCache.get(key);
  if (s === undefined) {
    const seeds = loadSeeds({ repo: REPO, node: { host: HOST, port: nodePort }, self: { host, port }, overlay: 'kadsip' });
    s = { seeds, bytes: seeds.map((x) => x.bytes) };
    seedCache.set(key, s);
  }
  return s;
}

export const udpSenderPort = (nodePort: number, k: number): number => nodePort + 10 + k;

export function udpInput(runSeed: number, index: number, nodePort: number): Input {
  const rng = rngFor(runSeed, 'udp', index);
  const k = index % SENDER_HOSTS.length;
  const from = SENDER_HOSTS[k]!;
  const fromPort = udpSenderPort(nodePort, k);
  const { seeds, bytes } = seedsFor(from, fromPort, nodePort);
  const seed = pickSeed(seeds, rng);
  const m = mutate(personalize(seed.bytes, `u${index}`), rng, bytes, MAX_DATAGRAM);
  return { transport: 'udp', index, seeds: [seed.name], ops: m.ops, chunks: [m.bytes], hold: false, from, fromPort };
}

export function tcpInput(runSeed: number, index: number, nodePort: number): Input {
  const rng = rngFor(runSeed, 'tcp', index);
  const from = SENDER_HOSTS[index % SENDER_HOSTS.length]!;
  // Over TCP the source port is the kernel's: the dSIP seeds name port 5060, so their Peer-IDs are
  // checked (and refused 493) as a real peer's would be when it sends from another port.
  const { seeds, bytes } = seedsFor(from, 5060, nodePort);
  const c: StreamCase = streamCase(seeds, bytes, rng, MAX_STREAM_MESSAGE + 1024, (b) => personalize(b, `t${index}-${rng.int(1000)}`));
  return { transport: 'tcp', index, seeds: c.seeds, ops: c.ops, chunks: c.chunks, hold: c.hold, from };
}

