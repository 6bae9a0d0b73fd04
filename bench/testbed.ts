/**
 * `npm run bench:testbed -- --json [--nodes 12] [--lookups 500] [--records 48] [--clients 6]
 *  [--min-delay-ms 10] [--max-delay-ms 40] [--loss 1] [--k 4] [--seed 1] [--mode fresh|warm]`
 *
 * Overlay lookups over real sockets on the multi-host testbed (test/live/testbed.ts; needs root):
 * N kadsip nodes on N public hosts, egress delays spread over [min, max] ms per host (RTT between
 * two hosts = the sum) and a loss on every link, bootstrapped through the first. C client hosts
 * (delays spread the same way, no node) each run one lookup client (bench/testbed-client.ts: a
 * P2PSIP client as `kadsip lookup` is, on one socket, in a bounded loop), one client after the
 * other so that they do not compete for the two cores. The first publishes R AoRs; then the
 * lookups, spread over the clients at random, ask for AoRs drawn from those. --mode fresh (the
 * default) starts each lookup from a client table that knows one node drawn at random, as
 * `kadsip lookup --via NODE` does; --mode warm runs them all from one client per host whose table
 * knows every node (then, on 12 nodes, every lookup is one round).
 * Records go to k peers (KADSIP_K; default 4, not the deployed 20, so that a lookup among 12 nodes
 * needs more than one round rather than finding every record at the first peer it asks).
 * The round trip between hosts is measured, not assumed: every client PINGs every node 3 times
 * (the overlay's own RPC), and `rtt_median_ms` is the median over client-node pairs of each pair's
 * median. `wall_over_rounds_rtt` = median lookup wall time / (median rounds x median RTT): 1.0 is
 * the physical floor (each round costs one round trip and nothing else).
 * Prints one JSON line (figures and conditions) with --json, else a summary; progress on stderr.
 * Exit 1 when a lookup failed.
 */
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SeededRandom } from '../src/overlay/random.js';
import { publicAddress, startOverlay, Testbed, type Host } from '../test/live/testbed.js';

const { values } = parseArgs({
  options: {
    nodes: { type: 'string', default: '12' },
    lookups: { type: 'string', default: '500' },
    records: { type: 'string', default: '48' },
    clients: { type: 'string', default: '6' },
    'min-delay-ms': { type: 'string', default: '10' },
    'max-delay-ms': { type: 'string', default: '40' },
    loss: { type: 'string', default: '1' },
    k: { type: 'string', default: '4' },
    seed: { type: 'string', default: '1' },
    mode: { type: 'string', default: 'fresh' },
    json: { type: 'boolean', default: false },
  },
});
const n = (name: keyof typeof values): number => {
  const v = Number(values[name]);
  if (!Number.isFinite(v) || v < 0) {
    process.stderr.write(`bench:testbed: --${name} "${String(values[name])}" is not a number\n`);
    process.exit(2);
  }
  return v;
};
const [NODES, LOOKUPS, RECORDS, CLIENTS, MIN, MAX, LOSS, K, SEED] = [n('nodes'), n('lookups'), n('records'), n('clients'), n('min-delay-ms'), n('max-delay-ms'), n('loss'), n('k'), n('seed')];
if (NODES < 2 || CLIENTS < 1 || NODES + CLIENTS > 60) {
  process.stderr.write('bench:testbed: 2 or more nodes, 1 or more clients, at most 60 hosts\n');
  process.exit(2);
}
const MODE = values.mode === 'warm' ? 'warm' : 'fresh';
const CLIENT = fileURLToPath(new URL('./testbed-client.ts', import.meta.url));
const DOMAIN = 'bench.example';
const log = (s: string): void => void process.stderr.write(`bench:testbed: ${s}\n`);

function median(xs: number[]): number {
  return percentile(xs, 0.5);
}
function percentile(xs: number[], p: number): number {
  if (xs.length === 0) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]!;
}

type Line = { rtt?: string; ms?: number; published?: string; storedAt?: number; lookup?: string; found?: boolean; rounds?: number; rpcs?: number; stalls?: number; failures?: number };

const tb = await Testbed.create();
try {
  const started = Date.now();
  log(`starting ${NODES} nodes (delays ${MIN}-${MAX} ms per host, loss ${LOSS} %, k ${K})`);
  const { hosts } = await startOverlay(tb, NODES, { minDelayMs: MIN, maxDelayMs: MAX, lossPct: LOSS, domain: DOMAIN, env: { KADSIP_K: String(K) }, logLevel: 'warn' });
  const clients: Host[] = [];
  for (let i = 0; i < CLIENTS; i++) {
    const delayMs = CLIENTS === 1 ? MIN : Math.round(MIN + ((MAX - MIN) * i) / (CLIENTS - 1));
    clients.push(await tb.addHost(`c${i}`, publicAddress(NODES + i), { delayMs, lossPct: LOSS }));
  }
  const via = hosts.map((h) => `${h.ip}:5060`);
  const aors = Array.from({ length: RECORDS }, (_, i) => `sip:user${i}@${DOMAIN}`);

  const runClient = async (c: Host, args: string[]): Promise<Line[]> => {
    // Its first --via is a node chosen at random: every client attaches somewhere else.
    const r = await tb.run(c, process.execPath, ['--import', 'tsx', CLIENT, '--bind', c.ip, '--k', String(K), ...args], 600_000);
    if (r.code !== 0) throw new Error(`lookup client on ${c.name} exited ${r.code}: ${r.stderr}`);
    return r.stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Line);
  };

  const random = new SeededRandom(SEED);
  const rotate = (i: number): string => [...via.slice(i), ...via.slice(0, i)].join(',');
  log(`publishing ${RECORDS} AoRs from ${clients[0]!.name}`);
  const published = await runClient(clients[0]!, ['--via', rotate(0), '--publish', aors.join(',')]);
  const storedAt = published.map((l) => l.storedAt ?? 0);

  // The lookups, spread over the clients at random.
  const perClient = new Array<number>(CLIENTS).fill(0);
  for (let i = 0; i < LOOKUPS; i++) perClient[Math.floor(random.next() * CLIENTS)]!++;
  const lines: Line[] = [];
  // RTT per client-node pair: the median of its pings; then the median over pairs.
  const pairRtts: number[] = [];
  for (const [i, c] of clients.entries()) {
    log(`${c.name} (${c.ip}, ${c.link.delayMs} ms): ${perClient[i]} lookups`);
    const own = await runClient(c, ['--via', rotate(Math.floor(random.next() * NODES)), '--pings', '3', '--lookups', String(perClient[i]), '--keys', aors.join(','), '--seed', String(SEED * 100 + i), '--mode', MODE]);
    for (const node of via) pairRtts.push(median(own.filter((l) => l.rtt === node).map((l) => l.ms!)));
    lines.push(...own);
  }
  const rttMedian = median(pairRtts.filter((x) => Number.isFinite(x)));
  const lookups = lines.filter((l) => l.lookup !== undefined);
  const found = lookups.filter((l) => l.found);
  const rounds = lookups.map((l) => l.rounds!);
  const wall = lookups.map((l) => l.ms!);
  const figures = {
    bench: 'testbed',
    lookups: lookups.length,
    success: lookups.length === 0 ? 0 : Number((found.length / lookups.length).toFixed(4)),
    rounds_p50: percentile(rounds, 0.5),
    rounds_p99: percentile(rounds, 0.99),
    wall_ms_p50: Number(percentile(wall, 0.5).toFixed(1)),
    wall_ms_p99: Number(percentile(wall, 0.99).toFixed(1)),
    rtt_median_ms: Number(rttMedian.toFixed(1)),
    wall_over_rounds_rtt: Number((median(wall) / (median(rounds) * rttMedian)).toFixed(3)),
    rpcs_p50: percentile(lookups.map((l) => l.rpcs!), 0.5),
    stalls_total: lookups.reduce((s, l) => s + (l.stalls ?? 0), 0),
    failures_total: lookups.reduce((s, l) => s + (l.failures ?? 0), 0),
    stored_at_min: Math.min(...storedAt),
    conditions: {
      nodes: NODES,
      clients: CLIENTS,
      records: RECORDS,
      k: K,
      mode: MODE,
      delay_ms_per_host: [MIN, MAX],
      loss_pct: LOSS,
      seed: SEED,
      commit: execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim(),
      seconds: Math.round((Date.now() - started) / 1000),
    },
  };
  if (values.json) process.stdout.write(JSON.stringify(figures) + '\n');
  else process.stdout.write(`${found.length}/${lookups.length} found; rounds p50 ${figures.rounds_p50} p99 ${figures.rounds_p99}; wall p50 ${figures.wall_ms_p50} ms p99 ${figures.wall_ms_p99} ms; RTT median ${figures.rtt_median_ms} ms; wall/(rounds x RTT) ${figures.wall_over_rounds_rtt}\n`);
  process.exitCode = found.length === lookups.length ? 0 : 1;
} finally {
  await tb.destroy();
}
