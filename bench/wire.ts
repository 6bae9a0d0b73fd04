/**
 * `npm run bench:wire -- --json [--seconds S] [--concurrency C] [--peers P] [--transport udp|tcp]
 *  [--warmup W] [--records R] [--mix options=1,find_node=2,find_value=1] [--role peer|client]
 *  [--deadline-ms D] [--cpu-prof DIR] [--trust both|open|closed]`
 *
 * Peer RPCs through one real node on loopback. The node (KadsipNode.start from src) runs in a child
 * process (bench/wire-node.ts) so that it has an event loop, and a core, of its own. This process
 * starts P lightweight peers that join it (so FIND_NODE is answered by a real 302 with Contacts,
 * about 10 over UDP where the answer is cut to 1300 bytes), STOREs R records on it, then runs a
 * closed loop of C outstanding RPCs (OPTIONS, FIND_NODE and FIND_VALUE REGISTERs, each a SIP
 * client transaction, every answer checked) for a warm-up of W s and a measured window of S s.
 * Prints one JSON line of figures and conditions on stdout; progress goes to stderr. Exit status 1
 * when any RPC of the window failed or timed out (the figures are then not a clean measurement).
 *
 * `--trust both` (the default) measures twice in one run, with the same conditions: an open overlay
 * (the top-level figures) and a closed one (`closed`: PROTOCOL.md 11.2, the node, its peers and
 * the client enrolled by a throw-away CA, each peer proving itself once), with `closed_vs_open`
 * the ratio of the two (issue 11's target: rpcs_per_s at least 0.7). The machine's other load
 * drifts during a run, so each mode is measured `--rounds R` times (default 2) in ABBA order (open,
 * closed, closed, open, ...) and its figures are the means of its rounds (`rounds_rpcs_per_s` lists
 * each round's).
 */
import { hostPort } from '../src/common/host-port.js';
import { fork, type ChildProcess } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCaInit, runCaIssue } from '../src/cli/ca-command.js';
import { loadTrustMaterial, type TrustMaterial } from '../src/trust/material.js';
import { LoadClient, OPS, percentile, startPeers, withDeadline, type Op, type Peers } from './wire-client.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '10' },
    warmup: { type: 'string', default: '1' },
    concurrency: { type: 'string', default: '16' },
    peers: { type: 'string', default: '20' },
    records: { type: 'string', default: '100' },
    transport: { type: 'string', default: 'udp' },
    mix: { type: 'string', default: 'options=1,find_node=2,find_value=1' },
    role: { type: 'string', default: 'peer' },
    'deadline-ms': { type: 'string', default: '2000' },
    'cpu-prof': { type: 'string' },
    'log-level': { type: 'string', default: 'warn' },
    trust: { type: 'string', default: 'both' },
    rounds: { type: 'string', default: '2' },
    json: { type: 'boolean', default: false },
  },
});

const started = performance.now();
const progress = (text: string): void => {
  process.stderr.write(`bench:wire: ${text} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
};
function usage(text: string): never {
  process.stderr.write(`bench:wire: ${text}\n`);
  process.exit(2);
}

const seconds = Number(values.seconds);
const warmupS = Number(values.warmup);
const concurrency = Number(values.concurrency);
const peersWanted = Number(values.peers);
const records = Number(values.records);
const deadlineMs = Number(values['deadline-ms']);
if (!(seconds > 0 && seconds <= 3600)) usage('--seconds must be in (0, 3600]');
if (!(warmupS >= 0 && warmupS <= 600)) usage('--warmup must be in [0, 600]');
if (!Number.isInteger(concurrency) || concurrency < 1 || concurrency > 10_000) usage('--concurrency must be an integer in [1, 10000]');
if (!Number.isInteger(peersWanted) || peersWanted < 0 || peersWanted > 500) usage('--peers must be an integer in [0, 500]');
if (!Number.isInteger(records) || records < 0 || records > 10_000) usage('--records must be an integer in [0, 10000]');
if (!(deadlineMs >= 10 && deadlineMs <= 60_000)) usage('--deadline-ms must be in [10, 60000]');
const protocol = values.transport;
if (protocol !== 'udp' && protocol !== 'tcp') usage('--transport must be udp or tcp');
const role = values.role;
if (role !== 'peer' && role !== 'client') usage('--role must be peer or client');
const mix: Record<Op, number> = { options: 0, find_node: 0, find_value: 0 };
for (const part of values.mix.split(',')) {
  const [name, weight] = part.split('=');
  if (!OPS.includes(name as Op) || !(Number(weight) >= 0)) usage(`--mix: "${part}" is not op=weight with op one of ${OPS.join(', ')}`);
  mix[name as Op] = Number(weight);
}
const mixTotal = OPS.reduce((s, op) => s + mix[op], 0);
if (!(mixTotal > 0)) usage('--mix: all weights are 0');
const overlay = 'kadsip';
const trustChoice = values.trust;
if (trustChoice !== 'both' && trustChoice !== 'open' && trustChoice !== 'closed') usage('--trust must be both, open or closed');
const rounds = Number(values.rounds);
if (!Number.isInteger(rounds) || rounds < 1 || rounds > 10) usage('--rounds must be an integer in [1, 10]');

// ---------------------------------------------------------------- the node, in its own process

interface NodeStats {
  cpu: NodeJS.CpuUsage;
  wall_ms: number;
  heap_used: number;
  rss: number;
  transport: { udpIn: number; udpOut: number; tcpIn: number; tcpOut: number; parseErrors: number; dropped: number; tcpConnections: number };
  transactions: { clientTransactions: number; serverTransactions: number; retransmissionsSent: number; timeouts: number; rejectedFull: number };
  overlay: { rpcsSent: number; rpcsFailed: number; requestsHandled: number; contacts: number; records: number };
}

class NodeProcess {
  #nextId = 1;
  readonly #pending = new Map<number, (s: NodeStats) => void>();
  #stopped: ((s: NodeStats) => void) | undefined;
  readonly exited: Promise<number | null>;

  private constructor(readonly child: ChildProcess, readonly address: { host: string; port: number }) {
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
    child.on('message', (m: { type: string; id?: number; stats?: NodeStats }) => {
      if (m.type === 'stats' && m.id !== undefined) {
        this.#pending.get(m.id)?.(m.stats!);
        this.#pending.delete(m.id);
      } else if (m.type === 'stopped') {
        this.#stopped?.(m.stats!);
      }
    });
  }

  static async start(lifetimeS: number, trustDir?: string): Promise<NodeProcess> {
    const execArgv = ['--import', 'tsx'];
    if (values['cpu-prof'] !== undefined) execArgv.push('--cpu-prof', `--cpu-prof-dir=${values['cpu-prof']}`);
    const child = fork(fileURLToPath(new URL('./wire-node.ts', import.meta.url)), [], {
      execArgv,
      // The node's stdout (logs, if any) goes to our stderr: our stdout is the JSON line only.
      stdio: ['ignore', 2, 'inherit', 'ipc'],
      env: { ...process.env, KADSIP_BENCH_LIFETIME_S: String(Math.ceil(lifetimeS)), KADSIP_BENCH_LOG_LEVEL: values['log-level'], ...(trustDir ? { KADSIP_BENCH_TRUST_DIR: trustDir } : {}) },
    });
    children.add(child);
    child.once('exit', () => children.delete(child));
    const ready = new Promise<{ host: string; port: number }>((resolve, reject) => {
      child.on('message', (m: { type: string; host?: string; port?: number }) => {
        if (m.type === 'ready') resolve({ host: m.host!, port: m.port! });
      });
      child.once('exit', (code) => reject(new Error(`node process exited (${code}) before it was ready`)));
      child.once('error', reject);
    });
    return new NodeProcess(child, await withDeadline(30_000, 'node start', ready));
  }

  stats(): Promise<NodeStats> {
    const id = this.#nextId++;
    return withDeadline(5_000, 'node stats', new Promise<NodeStats>((resolve) => {
      this.#pending.set(id, resolve);
      this.child.send({ type: 'stats', id });
    }));
  }

  /** Asks the node to close and exit; kills it when it does not within 10 s. */
  async stop(): Promise<NodeStats | undefined> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return undefined;
    const final = new Promise<NodeStats>((resolve) => {
      this.#stopped = resolve;
    });
    this.child.send({ type: 'stop' });
    try {
      const [stats] = await withDeadline(10_000, 'node stop', Promise.all([final, this.exited]));
      return stats;
    } catch {
      this.child.kill('SIGKILL');
      return undefined;
    }
  }
}

const children = new Set<ChildProcess>();
const killChildren = (): void => {
  for (const c of children) c.kill('SIGKILL');
};
process.on('exit', killChildren);
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => {
    killChildren();
    process.exit(130);
  });
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const round = (x: number, digits = 0): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

// ---------------------------------------------------------------- the run

/**
 * A closed overlay's files in a temporary folder: a CA of overlay `kadsip`, a certificate for the
 * node (DIR/node/...) and one the bench's peers and client share (DIR/peer/...; no addresses, so
 * any Peer-ID may use it, each proving itself).
 */
async function enrollment(): Promise<{ dir: string; peer: TrustMaterial }> {
  const dir = mkdtempSync(join(tmpdir(), 'kadsip-bench-wire-'));
  const quiet = (): void => undefined;
  const ca = join(dir, 'ca');
  if ((await runCaInit({ out: ca, overlay }, quiet)) !== 0) throw new Error('ca init failed');
  for (const name of ['node', 'peer']) {
    // The client's records are AoRs of bench.invalid: its certificate must allow that domain (11.4).
    if ((await runCaIssue({ ca, out: join(dir, name), name: `bench-${name}`, domain: ['bench.invalid'] }, quiet)) !== 0) throw new Error(`ca issue ${name} failed`);
  }
  const peer = loadTrustMaterial({ caCert: join(ca, 'ca-cert.pem'), cert: join(dir, 'peer', 'node-cert.pem'), key: join(dir, 'peer', 'node-key.pem') });
  return { dir, peer };
}

interface Measured {
  line: Record<string, unknown>;
  failed: boolean;
}

/** One measurement: a fresh node process, peers and client, open or closed. */
// An arrow function, so the option checks above still narrow protocol and role in it.
const measure = async (trust: 'open' | 'closed'): Promise<Measured> => {
  let node: NodeProcess | undefined;
  let peers: Peers | undefined;
  let client: LoadClient | undefined;
  const enrolled = trust === 'closed' ? await enrollment() : undefined;
  try {
    node = await NodeProcess.start(warmupS + seconds + 120, enrolled?.dir);
    const nodeAddress = hostPort(node.address.host, node.address.port);
    progress(`${trust}: node listening on ${nodeAddress} (pid ${node.child.pid})`);
    const material = enrolled ? { trust: enrolled.peer } : {};

    peers = await startPeers(peersWanted, nodeAddress, overlay, 10_000, enrolled?.peer);
    // The node admits a joiner after pinging it: wait (bounded) until it knows them all.
    let contacts = (await node.stats()).overlay.contacts;
    for (let i = 0; i < 50 && contacts < peersWanted; i++) {
      await sleep(100);
      contacts = (await node.stats()).overlay.contacts;
    }
    if (contacts < peersWanted) throw new Error(`node knows ${contacts} contacts after ${peersWanted} peers joined`);
    progress(`${trust}: ${peersWanted} peers joined, node has ${contacts} contacts`);

    client = await LoadClient.start({ node: node.address, protocol, overlay, concurrency, mix, records, peers: peersWanted, role, deadlineMs, ...material });
    await client.storeRecords();
    progress(`${trust}: ${records} records stored`);

    client.run();
    await sleep(warmupS * 1000);
    const nodeBefore = await node.stats();
    const cpuBefore = process.cpuUsage();
    const retransBefore = client.retransmissionsSent;
    const wallBefore = performance.now();
    client.startWindow();
    progress(`${trust}: warm-up done, measuring ${seconds} s with ${concurrency} outstanding over ${protocol}`);
    await sleep(seconds * 1000);
    const wallS = (performance.now() - wallBefore) / 1000;
    const cpu = process.cpuUsage(cpuBefore);
    const result = client.endWindow(wallS, (cpu.user + cpu.system) / 1e6 / wallS, client.retransmissionsSent - retransBefore);
    const nodeAfter = await node.stats();
    await withDeadline(deadlineMs + 2_000, 'drain', client.drain()).catch(() => progress('drain did not finish; closing anyway'));
    progress(`${trust}: window done: ${result.rpcs} RPCs`);

    const nodeCpuS = (nodeAfter.cpu.user - nodeBefore.cpu.user + nodeAfter.cpu.system - nodeBefore.cpu.system) / 1e6;
    const nodeWallS = (nodeAfter.wall_ms - nodeBefore.wall_ms) / 1000;
    const sorted = result.rtts.sort();
    const perOp = Object.fromEntries(
      OPS.filter((op) => mix[op] > 0).map((op) => {
        const c = result.perOp[op];
        const n = Math.max(1, c.rpcs);
        return [
          op,
          {
            share: round(mix[op] / mixTotal, 3),
            rpcs: c.rpcs,
            errors: c.errors,
            timeouts: c.timeouts,
            rtt_ms_mean: round(c.rttSumMs / n, 3),
            request_bytes: round(c.requestBytes / n),
            response_bytes: round(c.responseBytes / n),
            ...(op === 'find_node' ? { contacts_per_answer: round(c.contacts / n, 1) } : {}),
            ...(op === 'find_value' ? { hits: c.hits, contacts_per_miss: round(c.contacts / Math.max(1, c.rpcs - c.hits), 1) } : {}),
          },
        ];
      }),
    );
    const line = {
      rpcs_per_s: round(result.rpcs / result.seconds),
      rtt_ms_p50: round(percentile(sorted, 50), 3),
      rtt_ms_p99: round(percentile(sorted, 99), 3),
      rtt_ms_max: round(sorted.length > 0 ? sorted[sorted.length - 1]! : NaN, 1),
      bytes_per_rpc: round(result.bytes / Math.max(1, result.rpcs)),
      rpcs: result.rpcs,
      timeouts: result.timeouts,
      errors: result.errors,
      retransmissions: result.retransmissions,
      mix: perOp,
      ...(result.errorSamples.length > 0 ? { error_samples: result.errorSamples } : {}),
      node: {
        // CPU time per RPC is the figure least disturbed by other load on the machine.
        cpu_us_per_rpc: round((nodeCpuS * 1e6) / Math.max(1, result.rpcs)),
        cpu_share: round(nodeCpuS / nodeWallS, 2),
        client_cpu_us_per_rpc: round((result.cpuShare * result.seconds * 1e6) / Math.max(1, result.rpcs)),
        client_cpu_share: round(result.cpuShare, 2),
        requests_handled: nodeAfter.overlay.requestsHandled - nodeBefore.overlay.requestsHandled,
        retransmissions_sent: nodeAfter.transactions.retransmissionsSent - nodeBefore.transactions.retransmissionsSent,
        rejected_full: nodeAfter.transactions.rejectedFull - nodeBefore.transactions.rejectedFull,
        dropped: nodeAfter.transport.dropped - nodeBefore.transport.dropped,
        parse_errors: nodeAfter.transport.parseErrors - nodeBefore.transport.parseErrors,
        server_transactions_at_end: nodeAfter.transactions.serverTransactions,
        heap_mb_at_end: round(nodeAfter.heap_used / 2 ** 20, 1),
        rss_mb_at_end: round(nodeAfter.rss / 2 ** 20, 1),
        contacts: nodeAfter.overlay.contacts,
        records: nodeAfter.overlay.records,
      },
    };
    progress(`${trust}: ${line.rpcs_per_s} RPC/s, RTT p50 ${line.rtt_ms_p50} ms p99 ${line.rtt_ms_p99} ms, ${line.bytes_per_rpc} B/RPC, node CPU ${line.node.cpu_share}, client CPU ${line.node.client_cpu_share}`);
    return { line, failed: result.errors > 0 || result.timeouts > 0 || result.rpcs === 0 };
  } finally {
    await client?.close();
    await peers?.close();
    const final = await node?.stop();
    if (final === undefined && node !== undefined) progress('node process did not stop cleanly (killed)');
    if (enrolled) rmSync(enrolled.dir, { recursive: true, force: true });
  }
};

/** A mode's rounds as one: the first round's line with the headline figures the means of all rounds. */
function summary(measured: Measured[]): Measured {
  const mean = (get: (l: Record<string, unknown>) => number, digits: number): number => round(measured.reduce((s, m) => s + get(m.line), 0) / measured.length, digits);
  const first = measured[0]!.line;
  return {
    failed: measured.some((m) => m.failed),
    line: {
      ...first,
      rpcs_per_s: mean((l) => Number(l.rpcs_per_s), 0),
      rtt_ms_p50: mean((l) => Number(l.rtt_ms_p50), 3),
      rtt_ms_p99: mean((l) => Number(l.rtt_ms_p99), 3),
      rounds_rpcs_per_s: measured.map((m) => m.line.rpcs_per_s),
      node: { ...(first.node as object), cpu_us_per_rpc: mean((l) => Number((l.node as { cpu_us_per_rpc: number }).cpu_us_per_rpc), 0) },
    },
  };
}

const loadBefore = round(loadavg()[0]!, 2);
let exitCode = 0;
try {
  const modes: Array<'open' | 'closed'> = trustChoice === 'both' ? ['open', 'closed'] : [trustChoice];
  const runs: Record<'open' | 'closed', Measured[]> = { open: [], closed: [] };
  for (let r = 0; r < rounds; r++) {
    for (const mode of r % 2 === 0 ? modes : [...modes].reverse()) runs[mode].push(await measure(mode));
  }
  const open = runs.open.length > 0 ? summary(runs.open) : undefined;
  const closed = runs.closed.length > 0 ? summary(runs.closed) : undefined;
  const main = (open ?? closed)!;
  const ratio = (key: string): number => round(Number(closed!.line[key]) / Number(open!.line[key]), 2);
  const line = {
    bench: 'wire',
    trust: open ? 'open' : 'closed',
    ...main.line,
    ...(open && closed
      ? {
          closed: closed.line,
          closed_vs_open: { rpcs_per_s: ratio('rpcs_per_s'), rtt_ms_p50: ratio('rtt_ms_p50'), rtt_ms_p99: ratio('rtt_ms_p99'), cpu_us_per_rpc: round(Number((closed.line.node as { cpu_us_per_rpc: number }).cpu_us_per_rpc) / Number((open.line.node as { cpu_us_per_rpc: number }).cpu_us_per_rpc), 2) },
        }
      : {}),
    conditions: {
      seconds,
      warmup_s: warmupS,
      concurrency,
      peers: peersWanted,
      records,
      role,
      deadline_ms: deadlineMs,
      transport: protocol,
      trust: trustChoice,
      rounds,
      node: process.version,
      cpus: cpus().length,
      // Other processes compete for the cores: a 1-minute load average above ~1 makes the figures noisy.
      loadavg_1m_before: loadBefore,
      ...(values['cpu-prof'] !== undefined ? { cpu_prof_dir: values['cpu-prof'] } : {}),
    },
  };
  process.stdout.write(JSON.stringify(line) + '\n');
  if (!values.json && open && closed) progress(`closed/open: ${line.closed_vs_open?.rpcs_per_s} of the RPCs per second`);
  if (open?.failed || closed?.failed) exitCode = 1;
} catch (e) {
  progress(`failed: ${(e as Error).stack ?? String(e)}`);
  exitCode = 2;
} finally {
  if (values['cpu-prof'] !== undefined) progress(`node CPU profile written to ${values['cpu-prof']}`);
}
process.exit(exitCode);
