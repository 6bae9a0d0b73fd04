/**
 * `npm run fuzz -- --count N --json [--seed S] [--transports udp,tcp] [--probe-every 1000]
 *  [--out DIR] [--replay FILE] [--max-seconds S] [--linger S] [--log-level info] [--node-log FILE]`
 *
 * Mutated SIP (bench/fuzz/mutate.ts over the seeds of bench/fuzz/seeds.ts: the RFC 4475/5118
 * torture corpus, SIPp's messages from sip-scenarios, kadsip's own dSIP requests and answers) sent
 * to live nodes (`dist/cli/main.js start`), one per transport: datagrams over UDP, and over TCP
 * stream cases with framing games (bench/fuzz/framing.ts). A node fed foreign messages may try to
 * forward them anywhere they name, so this runs in a fresh network namespace with only loopback:
 * started elsewhere as root it re-runs itself under `unshare --net`; without root it stops.
 *
 * Every `--probe-every` inputs (and, over UDP, after every window of 50 datagrams, so the sender
 * never outruns the node's socket buffer) a phone-style OPTIONS must get 200 within 10 s: a probe
 * that fails is a hang, a node process that exits is a crash. Either way the inputs since the last
 * good probe go to a replay file in --out (`npm run fuzz -- --replay FILE` sends them again to a
 * fresh node) and the node is restarted. Every input is rebuilt from (seed, transport, index), so
 * a run is reproducible from the seed it prints.
 *
 * Prints progress on stderr and, with --json, one line of figures on stdout: count, crashes,
 * hangs, rss_mb_max, msgs_per_s (inputs per second, both lanes together), log lines per 1,000
 * inputs, seed, transports and conditions. Exit status 1 when a crash or hang was found.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { connect, type Socket as TcpSocket } from 'node:net';
import { cpus, loadavg, networkInterfaces } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { SENDER_HOSTS, tcpInput, udpInput, udpSenderPort, type Input } from './fuzz/inputs.js';
import { probeTcp, probeUdp, type ProbeResult } from './fuzz/probe.js';

const REPO = fileURLToPath(new URL('..', import.meta.url));
const CLI = join(REPO, 'dist', 'cli', 'main.js');
const HOST = '127.0.0.1';
const UDP_WINDOW = 50;
const UDP_WINDOW_BYTES = 160_000;
const TCP_SLOTS = 16;
const TCP_CLOSE_MS = 15_000;
const MAX_HELD = 32;
const PROBE_TIMEOUT_MS = 10_000;
const NODE_START_MS = 20_000;
const MAX_FAILURES = 5;

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '20000' },
    seed: { type: 'string' },
    transports: { type: 'string', default: 'udp,tcp' },
    'probe-every': { type: 'string', default: '1000' },
    out: { type: 'string', default: '/tmp/kadsip-fuzz' },
    replay: { type: 'string' },
    'node-port': { type: 'string', default: '5080' },
    'log-level': { type: 'string', default: 'info' },
    json: { type: 'boolean', default: false },
    'max-seconds': { type: 'string', default: '0' },
    linger: { type: 'string', default: '0' },
    'node-log': { type: 'string' },
    'in-netns': { type: 'boolean', default: false },
    'allow-network': { type: 'boolean', default: false },
  },
});

const started = performance.now();
const elapsedS = (): number => (performance.now() - started) / 1000;
const progress = (text: string): void => {
  process.stderr.write(`fuzz: ${text} (${elapsedS().toFixed(1)} s)\n`);
};
function usage(text: string): never {
  process.stderr.write(`fuzz: ${text}\n`);
  process.exit(2);
}
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------ only loopback here

/**
 * A network namespace with only loopback, and a PID namespace of its own: when the fuzzer (its
 * first process) ends, however it ends, the kernel ends the nodes it started too.
 */
const UNSHARE = ['--net', '--pid', '--mount', '--mount-proc', '--fork', '--kill-child'];

function onlyLoopback(): boolean {
  return Object.values(networkInterfaces()).every((addrs) => (addrs ?? []).every((a) => a.internal));
}

if (!values['in-netns'] && !values['allow-network'] && !onlyLoopback()) {
  if (process.getuid?.() !== 0) usage('needs root: it runs the nodes in a fresh network namespace with only loopback (unshare --net)');
  const args = process.argv.slice(2).map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ');
  const child = spawn('unshare', [...UNSHARE, 'sh', '-c', `ip link set lo up && exec "${process.execPath}" --import tsx "${fileURLToPath(import.meta.url)}" ${args} --in-netns`], {
    cwd: REPO,
    stdio: 'inherit',
  });
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => child.kill('SIGKILL'));
  child.on('exit', (code, signal) => process.exit(code ?? (signal !== null ? 1 : 0)));
  // Stop here: everything below runs in the namespace.
  await new Promise(() => {});
}
if (!onlyLoopback() && !values['allow-network']) usage('interfaces other than lo are up');
if (!existsSync(CLI)) usage(`${CLI} is missing: build first (npx tsc -p tsconfig.json)`);

const COUNT = Number(values.count);
const SEED = values.seed !== undefined ? Number(values.seed) >>> 0 : (Math.random() * 2 ** 32) >>> 0;
const PROBE_EVERY = Number(values['probe-every']);
const TRANSPORTS = values.transports.split(',').filter((t) => t !== '') as Array<'udp' | 'tcp'>;
const NODE_PORT = Number(values['node-port']);
/** A bound on the whole run (0: none): the lanes stop sending after it and report what they did. */
const MAX_SECONDS = Number(values['max-seconds']);
if (!Number.isInteger(COUNT) || COUNT < 1) usage('--count must be a positive integer');
if (!Number.isInteger(PROBE_EVERY) || PROBE_EVERY < 1) usage('--probe-every must be a positive integer');
if (TRANSPORTS.length === 0 || TRANSPORTS.some((t) => t !== 'udp' && t !== 'tcp')) usage('--transports is a list of udp, tcp');
if (values.replay === undefined) progress(`seed ${SEED}`);

// ------------------------------------------------------------------ the node under test

interface LogStats {
  lines: number;
  badInput: number;
  errors: number;
  byMsg: Map<string, number>;
  errorSamples: string[];
  /** A few warn lines of each text (they name the branch, and so the input: fz-u<index>). */
  warnSamples: Map<string, string[]>;
}

class NodeUnderTest {
  child!: ChildProcess;
  exited = false;
  exit: Promise<void> = Promise.resolve();
  output = '';
  rssMaxKb = 0;
  /** CPU seconds (user + system) of the node processes this lane ran, summed. */
  cpuS = 0;
  #cpuNow = 0;
  readonly log: LogStats = { lines: 0, badInput: 0, errors: 0, byMsg: new Map(), errorSamples: [], warnSamples: new Map() };
  #partial = '';
  #rssTimer: NodeJS.Timeout | undefined;

  constructor(readonly port: number) {}

  async start(probe: (port: number, timeoutMs: number) => Promise<ProbeResult>): Promise<void> {
    this.exited = false;
    this.output = '';
    this.child = spawn(process.execPath, [CLI, 'start', '--listen', `${HOST}:${this.port}`, '--http', `${HOST}:${this.port + 50}`, '--log-level', values['log-level']], {
      cwd: REPO,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const child = this.child;
    this.exit = new Promise((resolve) =>
      child.once('exit', () => {
        this.exited = true;
        resolve();
      }),
    );
    child.stdout!.on('data', (d: Buffer) => this.#lines(d.toString()));
    child.stderr!.on('data', (d: Buffer) => (this.output = (this.output + d.toString()).slice(-20_000)));
    this.#rssTimer = setInterval(() => this.#sampleRss(), 200);
    const deadline = Date.now() + NODE_START_MS;
    while (Date.now() < deadline) {
      if (this.exited) throw new Error(`node exited at start: ${this.output}`);
      if ((await probe(this.port, 500)).status === 200) {
        // Start-up lines are not the fuzz inputs' doing.
        this.log.lines = 0;
        this.log.byMsg.clear();
        return;
      }
      await sleep(50);
    }
    throw new Error(`node on ${this.port} did not answer OPTIONS within ${NODE_START_MS} ms: ${this.output}`);
  }

  #lines(text: string): void {
    if (values['node-log'] !== undefined) appendFileSync(`${values['node-log']}.${this.port}`, text);
    this.output = (this.output + text).slice(-20_000);
    const all = (this.#partial + text).split('\n');
    this.#partial = all.pop() ?? '';
    for (const line of all) {
      if (line.trim() === '') continue;
      this.log.lines++;
      let msg = line.slice(0, 80);
      let level = 30;
      try {
        const j = JSON.parse(line) as { msg?: string; level?: number };
        msg = j.msg ?? msg;
        level = j.level ?? level;
      } catch {
        // Not pino's JSON: counted as it is.
      }
      if (msg === 'bad SIP input') this.log.badInput++;
      if (level === 40) {
        const samples = this.log.warnSamples.get(msg) ?? [];
        if (samples.length < 3) samples.push(line.slice(0, 600));
        this.log.warnSamples.set(msg, samples);
      }
      if (level >= 50) {
        this.log.errors++;
        if (this.log.errorSamples.length < 5) this.log.errorSamples.push(line.slice(0, 2000));
      }
      this.log.byMsg.set(msg, (this.log.byMsg.get(msg) ?? 0) + 1);
    }
  }

  #sampleRss(): void {
    const pid = this.child.pid;
    if (pid === undefined || this.exited) return;
    try {
      const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
      if (m) this.rssMaxKb = Math.max(this.rssMaxKb, Number(m[1]));
      // /proc/PID/stat fields 14 and 15: utime and stime in clock ticks (100 per second on Linux).
      const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]?.split(' ') ?? [];
      this.#cpuNow = (Number(f[11]) + Number(f[12])) / 100;
    } catch {
      // The process just ended.
    }
  }

  async stop(): Promise<void> {
    this.#sampleRss();
    this.cpuS += this.#cpuNow;
    this.#cpuNow = 0;
    clearInterval(this.#rssTimer);
    if (!this.exited) this.child.kill('SIGKILL');
    await this.exit;
  }
}

// ------------------------------------------------------------------ inputs

/** Writes the inputs since the last good probe where `--replay` can read them. */
function saveFailure(kind: 'crash' | 'hang', transport: 'udp' | 'tcp', inputs: readonly Input[], node: NodeUnderTest): string {
  mkdirSync(values.out, { recursive: true });
  const file = join(values.out, `fuzz-${kind}-${transport}-seed${SEED}-${inputs[0]?.index ?? 0}.json`);
  const data = {
    kind,
    seed: SEED,
    transport,
    // The inputs name this port (Request-URIs, the node's Peer-ID): replayed against the same one.
    nodePort: node.port,
    nodeOutput: node.output.slice(-8000),
    inputs: inputs.map((i) => ({ ...i, chunks: i.chunks.map((c) => c.toString('base64')) })),
  };
  writeFileSync(file, JSON.stringify(data, null, 1));
  return file;
}

function loadReplay(file: string): { transport: 'udp' | 'tcp'; nodePort?: number; inputs: Input[] } {
  const data = JSON.parse(readFileSync(file, 'utf8')) as { transport: 'udp' | 'tcp'; nodePort?: number; inputs: Array<Omit<Input, 'chunks'> & { chunks: string[] }> };
  return { transport: data.transport, ...(data.nodePort !== undefined ? { nodePort: data.nodePort } : {}), inputs: data.inputs.map((i) => ({ ...i, chunks: i.chunks.map((c) => Buffer.from(c, 'base64')) })) };
}

// ------------------------------------------------------------------ senders

class UdpSender {
  readonly #sockets: Socket[] = [];
  replies = 0;

  static async open(nodePort: number): Promise<UdpSender> {
    const s = new UdpSender();
    for (let k = 0; k < SENDER_HOSTS.length; k++) {
      const sock = createSocket('udp4');
      sock.on('message', () => s.replies++);
      sock.on('error', () => {});
      await new Promise<void>((resolve, reject) => {
        sock.once('error', reject);
        sock.bind(udpSenderPort(nodePort, k), SENDER_HOSTS[k], () => {
          sock.off('error', reject);
          resolve();
        });
      });
      s.#sockets.push(sock);
    }
    return s;
  }

  send(input: Input, nodePort: number): Promise<void> {
    const sock = this.#sockets[SENDER_HOSTS.indexOf(input.from)]!;
    return new Promise((resolve) => sock.send(input.chunks[0]!, nodePort, HOST, () => resolve()));
  }

  close(): void {
    for (const s of this.#sockets) s.close();
  }
}

class TcpSender {
  readonly #held: TcpSocket[] = [];
  heldTotal = 0;
  /** Connections the node had not closed TCP_CLOSE_MS after our FIN. */
  stuck = 0;
  /** Cases never sent: the connection could not be opened (the node refused or was gone). */
  connectFailures = 0;
  replyBytes = 0;

  /** Sends one stream case on a fresh connection; a slowloris case is left open (bounded pool). */
  async send(input: Input, nodePort: number): Promise<void> {
    const sock = connect({ host: HOST, port: nodePort, localAddress: input.from });
    sock.setNoDelay(true);
    let closed = false;
    sock.on('data', (d: Buffer) => (this.replyBytes += d.length));
    sock.on('error', () => {});
    sock.on('close', () => {
      closed = true;
    });
    const ok = await new Promise<boolean>((resolve) => {
      sock.once('connect', () => resolve(true));
      sock.once('error', () => resolve(false));
    });
    if (!ok) {
      this.connectFailures++;
      return;
    }
    for (const chunk of input.chunks) {
      if (closed) break;
      await new Promise<void>((resolve) => sock.write(chunk, () => resolve()));
      // A separate segment for each chunk (setNoDelay): the node's framer sees the split.
      await new Promise((r) => setImmediate(r));
    }
    if (input.hold && !closed) {
      this.heldTotal++;
      this.#held.push(sock);
      if (this.#held.length > MAX_HELD) this.#held.shift()!.destroy();
      return;
    }
    // FIN, then the node must close its side once it has read everything (it does not allow half-open
    // connections): one that stays open past the bound is a stuck connection.
    sock.end();
    const closedInTime = await new Promise<boolean>((resolve) => {
      if (closed) return resolve(true);
      const t = setTimeout(() => resolve(false), TCP_CLOSE_MS);
      sock.once('close', () => {
        clearTimeout(t);
        resolve(true);
      });
    });
    if (!closedInTime) this.stuck++;
    sock.destroy();
  }

  close(): void {
    for (const s of this.#held.splice(0)) s.destroy();
  }
}

// ------------------------------------------------------------------ a lane

/** What the node holds at the end (GET /status): where its memory went, if it grew. */
async function stateOf(httpPort: number): Promise<Record<string, unknown>> {
  try {
    const r = await fetch(`http://${HOST}:${httpPort}/status`, { signal: AbortSignal.timeout(5_000) });
    const s = (await r.json()) as Record<string, unknown>;
    const pick = (o: unknown, keys: string[]): Record<string, unknown> =>
      Object.fromEntries(keys.filter((k) => typeof o === 'object' && o !== null && k in o).map((k) => [k, (o as Record<string, unknown>)[k]]));
    return { ...pick(s, ['registeredAors', 'recordsHeld', 'recordsPublished', 'contacts']), proxy: pick(s.proxy, ['contexts', 'branches']) };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

interface LaneReport {
  transport: 'udp' | 'tcp';
  count: number;
  crashes: number;
  hangs: number;
  probes: number;
  rss_mb_max: number;
  node_cpu_s?: number;
  state_at_end?: Record<string, unknown>;
  log_lines: number;
  bad_input_log_lines: number;
  error_log_lines: number;
  failures: string[];
  top_log_lines: Array<[string, number]>;
  error_samples: string[];
  warn_samples: Record<string, string[]>;
  replies?: number;
  slowloris_held?: number;
  tcp_stuck?: number;
  tcp_connect_failures?: number;
}

const probeOf = (transport: 'udp' | 'tcp') => (port: number, timeoutMs: number) => (transport === 'udp' ? probeUdp(HOST, port, timeoutMs) : probeTcp(HOST, port, timeoutMs));

async function runLane(transport: 'udp' | 'tcp', count: number, nodePort: number, inputsOf: (from: number, to: number) => Input[]): Promise<LaneReport> {
  const probe = probeOf(transport);
  const node = new NodeUnderTest(nodePort);
  await node.start(probe);
  const udp = transport === 'udp' ? await UdpSender.open(nodePort) : undefined;
  const tcp = transport === 'tcp' ? new TcpSender() : undefined;
  const report: LaneReport = {
    transport,
    count: 0,
    crashes: 0,
    hangs: 0,
    probes: 0,
    rss_mb_max: 0,
    log_lines: 0,
    bad_input_log_lines: 0,
    error_log_lines: 0,
    failures: [],
    top_log_lines: [],
    error_samples: [],
    warn_samples: {},
  };
  const logTotals = new Map<string, number>();
  const harvestLog = (): void => {
    report.log_lines += node.log.lines;
    report.bad_input_log_lines += node.log.badInput;
    report.error_log_lines += node.log.errors;
    for (const [k, v] of node.log.byMsg) logTotals.set(k, (logTotals.get(k) ?? 0) + v);
    for (const s of node.log.errorSamples) if (report.error_samples.length < 5) report.error_samples.push(s);
    for (const [k, v] of node.log.warnSamples) if (!(k in report.warn_samples)) report.warn_samples[k] = v;
    node.log.warnSamples.clear();
    Object.assign(node.log, { lines: 0, badInput: 0, errors: 0, errorSamples: [] });
    node.log.byMsg.clear();
  };
  const check = async (batch: Input[]): Promise<boolean> => {
    report.probes++;
    const r = node.exited ? { status: null, ms: 0 } : await probe(nodePort, PROBE_TIMEOUT_MS);
    if (!node.exited && r.status === 200) return true;
    const kind = node.exited ? 'crash' : 'hang';
    if (kind === 'crash') report.crashes++;
    else report.hangs++;
    const file = saveFailure(kind, transport, batch, node);
    report.failures.push(file);
    progress(`${transport}: ${kind} in inputs ${batch[0]?.index ?? '?'}-${batch[batch.length - 1]?.index ?? '?'} (probe ${r.status ?? 'none'}); inputs saved to ${file}`);
    harvestLog();
    await node.stop();
    tcp?.close();
    await node.start(probe);
    return false;
  };

  let next = 0;
  let lastReport = performance.now();
  while (next < count && report.crashes + report.hangs < MAX_FAILURES && (MAX_SECONDS === 0 || elapsedS() < MAX_SECONDS)) {
    const batchEnd = Math.min(count, next + PROBE_EVERY);
    const batch = inputsOf(next, batchEnd);
    let failed = false;
    if (udp !== undefined) {
      let window = 0;
      let bytes = 0;
      for (const input of batch) {
        await udp.send(input, nodePort);
        window++;
        bytes += input.chunks[0]!.length;
        if (window >= UDP_WINDOW || bytes >= UDP_WINDOW_BYTES) {
          // Barrier: the node reads its socket in order, so its answer to this OPTIONS means every
          // datagram before it was read (none lost to a full socket buffer).
          window = 0;
          bytes = 0;
          if (!(await check(batch))) {
            failed = true;
            break;
          }
        }
      }
    } else if (tcp !== undefined) {
      let i = 0;
      await Promise.all(
        Array.from({ length: TCP_SLOTS }, async () => {
          while (i < batch.length && !node.exited) await tcp.send(batch[i++]!, nodePort);
        }),
      );
    }
    if (!failed) await check(batch);
    report.count += batch.length;
    next = batchEnd;
    if (performance.now() - lastReport > 10_000) {
      lastReport = performance.now();
      progress(`${transport}: ${next}/${count} inputs, rss max ${(node.rssMaxKb / 1024).toFixed(0)} MB`);
    }
  }
  tcp?.close();
  udp?.close();
  // --linger S: keep the node S seconds more, probed every second, so what inputs leave behind (a
  // transaction nobody answers, Timer H/J expiries) shows in the figures.
  for (const until = performance.now() + Number(values.linger) * 1000; performance.now() < until && !node.exited; ) {
    await sleep(1000);
    if ((await probe(nodePort, PROBE_TIMEOUT_MS)).status !== 200) {
      if (node.exited) report.crashes++;
      else report.hangs++;
      progress(`${transport}: ${node.exited ? 'crash' : 'hang'} while lingering`);
      break;
    }
  }
  harvestLog();
  report.state_at_end = await stateOf(nodePort + 50);
  report.rss_mb_max = Math.round(node.rssMaxKb / 1024);
  await node.stop();
  report.node_cpu_s = Number(node.cpuS.toFixed(1));
  report.top_log_lines = [...logTotals].sort((a, b) => b[1] - a[1]).slice(0, 8);
  if (udp !== undefined) report.replies = udp.replies;
  if (tcp !== undefined) {
    report.slowloris_held = tcp.heldTotal;
    report.tcp_stuck = tcp.stuck;
    report.tcp_connect_failures = tcp.connectFailures;
  }
  return report;
}

// ------------------------------------------------------------------ main

if (values.replay !== undefined) {
  const { transport, nodePort, inputs } = loadReplay(values.replay);
  progress(`replaying ${inputs.length} ${transport} inputs from ${values.replay}`);
  const report = await runLane(transport, inputs.length, nodePort ?? NODE_PORT, (from, to) => inputs.slice(from, to));
  process.stdout.write(JSON.stringify({ replay: values.replay, ...report }) + '\n');
  process.exit(report.crashes + report.hangs > 0 ? 1 : 0);
}

const perLane = TRANSPORTS.map((t, i) => ({ t, n: Math.floor(COUNT / TRANSPORTS.length) + (i < COUNT % TRANSPORTS.length ? 1 : 0) }));
const lanes = await Promise.all(
  perLane.map(({ t, n }, i) => {
    const port = NODE_PORT + i * 100;
    return runLane(t, n, port, (from, to) => Array.from({ length: to - from }, (_, k) => (t === 'udp' ? udpInput(SEED, from + k, port) : tcpInput(SEED, from + k, port))));
  }),
);
const seconds = elapsedS();
const total = lanes.reduce((s, l) => s + l.count, 0);
const sum = (f: (l: LaneReport) => number): number => lanes.reduce((s, l) => s + f(l), 0);
const figures = {
  bench: 'fuzz',
  count: total,
  crashes: sum((l) => l.crashes),
  hangs: sum((l) => l.hangs),
  rss_mb_max: Math.max(...lanes.map((l) => l.rss_mb_max)),
  msgs_per_s: Math.round(total / seconds),
  seconds: Math.round(seconds),
  probes: sum((l) => l.probes),
  log_lines_per_1000: Number(((sum((l) => l.log_lines) * 1000) / Math.max(1, total)).toFixed(2)),
  bad_input_log_lines: sum((l) => l.bad_input_log_lines),
  error_log_lines: sum((l) => l.error_log_lines),
  tcp_stuck: sum((l) => l.tcp_stuck ?? 0),
  tcp_connect_failures: sum((l) => l.tcp_connect_failures ?? 0),
  seed: SEED,
  transports: TRANSPORTS,
  lanes,
  conditions: {
    node: `dist/cli/main.js start --listen ${HOST}:PORT --log-level ${values['log-level']}, one node per transport`,
    network: 'fresh network namespace, loopback only',
    probe_every: PROBE_EVERY,
    udp_window: UDP_WINDOW,
    tcp_slots: TCP_SLOTS,
    cpus: cpus().length,
    loadavg_1m: Number(loadavg()[0]!.toFixed(2)),
    node_version: process.version,
  },
};
if (values.json) process.stdout.write(JSON.stringify(figures) + '\n');
else process.stderr.write(JSON.stringify(figures, null, 2) + '\n');
process.exit(figures.crashes + figures.hangs > 0 ? 1 : 0);
