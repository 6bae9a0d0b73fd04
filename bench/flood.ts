/**
 * `npm run bench:flood -- --json [--seconds 30] [--factor 5] [--legit-share 0.1]
 *  [--capacity-calls N] [--capacity-register N] [--flood-sources 20] [--max-flood-rate R]
 *  [--step-seconds 3] [--keep-logs]`
 *
 * A phone-side flood against one kadsip node (issue 12, "Overload"), everything on loopback:
 *  1. capacity: the highest rate of clean calls (bench/sip/uac.xml through the node to a registered
 *     SIPp UAS) and of clean REGISTERs, each a short doubling ramp then two bisections, on a node
 *     with no per-source limit (`--rate-limit 0`: the ramp's SIPp is one source); a step is clean
 *     when every call succeeded with no retransmission. --capacity-calls/--capacity-register skip it.
 *  2. the flood, on a fresh node with the default settings and a second node it peers with: for
 *     --seconds, SIPp offers --factor times the capacity of INVITEs (to a user registered nowhere)
 *     and of REGISTERs (a bounded set of users), from --flood-sources addresses 127.0.0.101..., each
 *     request sent once (-nr); meanwhile legitimate callers run --legit-share of the call capacity
 *     from addresses 127.0.0.2..., each registered first (at most 2 calls/s each, up to 60 sources, as phones would: they
 *     retransmit, hold each call 1 s, and send BYE), and `kadsip lookup` asks the flooded node
 *     for a user registered at the other node every 2 s (FIND_VALUE through the node).
 * One JSON line on stdout: legit_success_ratio (calls that completed / calls attempted),
 * flood_answered_503_ratio and flood_silent_ratio (of flood requests sent), rss_mb_before (the
 * node's RSS before the flood), rss_mb_peak (polled every 0.5 s during it), rss_mb_after (5 s after
 * it), overlay_lookup_success_during_flood, what the node's /status said, and the conditions.
 * Progress on stderr. Every child runs in a process group of its own and is killed on exit.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ChildProcesses, type Launched } from './child-processes.js';
import { readStat } from './sipp-stat.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '30' },
    factor: { type: 'string', default: '5' },
    'legit-share': { type: 'string', default: '0.1' },
    'capacity-calls': { type: 'string' },
    'capacity-register': { type: 'string' },
    'flood-sources': { type: 'string', default: '20' },
    'max-flood-rate': { type: 'string', default: '30000' },
    'step-seconds': { type: 'string', default: '3' },
    'keep-logs': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

const started = performance.now();
const progress = (text: string): void => {
  process.stderr.write(`bench:flood: ${text} (${((performance.now() - started) / 1000).toFixed(1)} s)\n`);
};
function usage(text: string): never {
  process.stderr.write(`bench:flood: ${text}\n`);
  process.exit(2);
}
const seconds = Number(values.seconds);
const factor = Number(values.factor);
const legitShare = Number(values['legit-share']);
const floodSources = Number(values['flood-sources']);
const maxFloodRate = Number(values['max-flood-rate']);
const stepSeconds = Number(values['step-seconds']);
if (!(seconds >= 5 && seconds <= 300)) usage('--seconds must be in [5, 300]');
if (!(factor > 0 && factor <= 50)) usage('--factor must be in (0, 50]');
if (!(legitShare > 0 && legitShare <= 1)) usage('--legit-share must be in (0, 1]');
if (!Number.isInteger(floodSources) || floodSources < 2 || floodSources > 100) usage('--flood-sources must be an integer in [2, 100]');
if (!(maxFloodRate >= 100 && maxFloodRate <= 200_000)) usage('--max-flood-rate must be in [100, 200000]');
if (!(stepSeconds >= 1 && stepSeconds <= 30)) usage('--step-seconds must be in [1, 30]');
const givenCapacity = (name: string): number | undefined => {
  const v = values[name as 'capacity-calls'];
  if (v === undefined) return undefined;
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) usage(`--${name} must be an integer in [1, 100000]`);
  return n;
};

const HOST = '127.0.0.1';
const DOMAIN = 'bench.example';
const BENCH = fileURLToPath(new URL('./', import.meta.url));
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const REPO = fileURLToPath(new URL('..', import.meta.url));
const workDir = mkdtempSync(join(tmpdir(), 'kadsip-bench-flood-'));
if (!existsSync(CLI)) usage(`${CLI} not found: build first (npx tsc -p tsconfig.json)`);
const sippVersion = /SIPp (v[^\s]+?)\.?\s/.exec(spawnSync('sipp', ['-v'], { encoding: 'utf8' }).stdout ?? '')?.[1];
if (sippVersion === undefined) usage('sipp not found: install Debian sip-tester (bash scripts/install-bench-deps.sh)');

// ---------------------------------------------------------------- children, always cleaned up

// Bounded whatever happens: capacity ramps, the flood and its drain.
const children = new ChildProcesses({ workDir, keepWorkDir: values['keep-logs'] === true, progress, maxMs: 20 * 60_000 });
const launch = children.launch.bind(children);
const stop = async (l: Launched): Promise<void> => {
  await children.stop(l);
};
const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const round = (x: number, digits = 3): number => Math.round(x * 10 ** digits) / 10 ** digits;

let nextPort = 20_000 + Math.floor(Math.random() * 8_000);
/** A port free for UDP on HOST (checked), never handed out twice in a run. */
async function freePort(): Promise<number> {
  for (let i = 0; i < 100; i++) {
    const port = nextPort++;
    const free = await new Promise<boolean>((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, HOST, () => s.close(() => resolve(true)));
    });
    if (free) return port;
  }
  throw new Error('no free port');
}

// ---------------------------------------------------------------- nodes

interface Node {
  name: string;
  sip: number;
  http: number;
  launched: Launched;
  log: string;
}
async function startNode(name: string, extra: string[]): Promise<Node> {
  const [sip, http] = [await freePort(), await freePort()];
  const log = join(workDir, `${name}.log`);
  // UDP only: the flood and the phones are UDP, and TCP would need its port free too.
  const launched = launch(process.execPath, [CLI, 'start', '--listen', `${HOST}:${sip}`, '--transports', 'udp', '--http', `${HOST}:${http}`, '--domain', DOMAIN, '--log-level', 'warn', ...extra], log);
  for (let i = 0; i < 150; i++) {
    if (launched.child.exitCode !== null) break;
    if ((await httpGet(http, '/healthz'))?.status === 200) {
      progress(`${name}: node on ${HOST}:${sip}`);
      return { name, sip, http, launched, log };
    }
    await sleep(100);
  }
  await stop(launched);
  throw new Error(`${name} not healthy within 15 s: ${readFileSync(log, 'utf8').slice(-1500)}`);
}
async function httpGet(port: number, path: string): Promise<{ status: number; text: string } | undefined> {
  try {
    const res = await fetch(`http://${HOST}:${port}${path}`, { signal: AbortSignal.timeout(3000) });
    return { status: res.status, text: await res.text() };
  } catch {
    return undefined;
  }
}
async function rssMb(n: Node): Promise<number | undefined> {
  const text = (await httpGet(n.http, '/metrics'))?.text;
  const line = text?.split('\n').find((l) => l.startsWith('kadsip_process_process_resident_memory_bytes '));
  return line === undefined ? undefined : Number(line.split(' ')[1]) / 2 ** 20;
}
async function overloadStatus(n: Node): Promise<Record<string, unknown> | undefined> {
  const text = (await httpGet(n.http, '/status'))?.text;
  try {
    return text === undefined ? undefined : ((JSON.parse(text) as { overload: Record<string, unknown> }).overload);
  } catch {
    return undefined;
  }
}

/** Runs a command to its end (killed after timeoutMs) without blocking the event loop. */
function capture(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; stdout: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'ignore'] });
    let stdout = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout });
    });
    child.once('error', () => {
      clearTimeout(timer);
      resolve({ code: null, stdout });
    });
  });
}

// ---------------------------------------------------------------- SIPp

let sippRun = 0;
interface Sipp {
  launched: Launched;
  stat: string;
  screen: string;
  /** The scenario file's name without .xml (SIPp names its counts file after it). */
  scenario: string;
}
function sipp(name: string, args: string[], ip = HOST): Sipp {
  const id = `${String(++sippRun).padStart(3, '0')}-${name}`;
  const stat = join(workDir, `${id}.stat.csv`);
  const screen = join(workDir, `${id}.screen.log`);
  const launched = launch('sipp', ['-i', ip, '-t', 'u1', '-nostdin', '-trace_stat', '-stf', stat, '-fd', '1', '-trace_screen', '-screen_file', screen, '-trace_err', '-error_file', join(workDir, `${id}.errors.log`), ...args], join(workDir, `${id}.out`));
  const sf = args[args.indexOf('-sf') + 1] ?? '';
  return { launched, stat, screen, scenario: sf.replace(/^.*\//, '').replace(/\.xml$/, '') };
}
/**
 * Messages sent and received per label (INVITE, 503, 404 ...) from the last line of SIPp's
 * -trace_counts file (SCENARIO_PID_counts.csv in its working directory, columns N_LABEL_Sent and
 * N_LABEL_Recv), so a run that had to be stopped still has its figures.
 */
function messageCounts(run: Sipp): Record<string, number> {
  const out: Record<string, number> = {};
  const file = join(workDir, `${run.scenario}_${run.launched.child.pid}_counts.csv`);
  if (!existsSync(file)) return out;
  const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
  if (lines.length < 2) return out;
  const head = lines[0]!.split(';');
  const last = lines[lines.length - 1]!.split(';');
  head.forEach((h, i) => {
    const m = /^\d+_(.+)_(?:Sent|Recv)$/.exec(h);
    if (m) out[m[1]!] = (out[m[1]!] ?? 0) + (Number(last[i]) || 0);
  });
  return out;
}
function usersFile(name: string, users: string[]): string {
  const file = join(workDir, `${name}.csv`);
  writeFileSync(file, `SEQUENTIAL\n${users.map((u) => `${u};`).join('\n')}\n`);
  return file;
}
async function register(node: Node, user: string, port: number, ip = HOST): Promise<void> {
  const r = sipp(`reg-${user}`, [`${HOST}:${node.sip}`, '-sf', join(BENCH, 'sip', 'register.xml'), '-p', String(port), '-m', '1', '-timeout', '10s', '-timeout_error', '-inf', usersFile(`user-${user}`, [user]), '-key', 'domain', DOMAIN, '-key', 'expires', '3600'], ip);
  if ((await r.launched.exited) !== 0) throw new Error(`registering ${user} at ${node.name} failed`);
}

/** Legitimate calls: a UAS for `callee` (registered at the node first) and UACs from `sources`, `rate` calls/s in all for `secs`. */
async function calls(node: Node, callee: string, rate: number, secs: number, sources: string[], registerCallers = false): Promise<{ uas: Sipp; uacs: Sipp[]; attempted: number }> {
  const uasPort = await freePort();
  await register(node, callee, uasPort);
  const perSource = rate / sources.length;
  const each = Math.max(1, Math.round(perSource * secs));
  const attempted = each * sources.length;
  const uas = sipp(`uas-${callee}`, ['-sf', join(BENCH, 'sip', 'uas.xml'), '-p', String(uasPort), '-s', callee, '-m', String(attempted), '-timeout', `${secs + 40}s`]);
  await sleep(300); // the UAS binds its port
  const uacs: Sipp[] = [];
  // Phones register before they call: each caller address is one the node has seen before any
  // overload (a newcomer is refused while the node is overloaded, src/sip/admission.ts).
  if (registerCallers) for (const ip of sources) await register(node, `caller-${ip}`, await freePort(), ip);
  for (const ip of sources) {
    uacs.push(
      sipp(`uac-${callee}-${ip}`, [`${HOST}:${node.sip}`, '-sf', join(BENCH, 'sip', 'uac.xml'), '-p', String(await freePort()), '-key', 'domain', DOMAIN, '-key', 'caller', `caller-${ip}`, '-key', 'callee', callee, '-d', '1000', '-r', String(round(perSource, 2)), '-rp', '1000', '-m', String(each), '-l', String(Math.ceil(perSource * 40) + 100), '-timeout', `${secs + 35}s`], ip),
    );
  }
  return { uas, uacs, attempted };
}

// ---------------------------------------------------------------- capacity

/** One step: is `rate` of `kind` clean (every call succeeded, nothing retransmitted, rate kept)? */
async function cleanStep(node: Node, kind: 'calls' | 'register', rate: number, step: number): Promise<boolean> {
  const count = Math.max(1, Math.round(rate * stepSeconds));
  const t0 = performance.now();
  let runs: Sipp[];
  let ends: Promise<unknown>[];
  if (kind === 'calls') {
    const c = await calls(node, `cap${step}`, rate, stepSeconds, [HOST]);
    runs = c.uacs;
    ends = [...c.uacs.map((u) => u.launched.exited)];
    await Promise.race([Promise.all(ends), sleep((stepSeconds + 25) * 1000)]);
    await stop(c.uas.launched);
  } else {
    const users = usersFile(`cap-reg-${step}`, Array.from({ length: count }, (_, i) => `cap${step}u${i}`));
    const r = sipp(`cap-reg-${rate}`, [`${HOST}:${node.sip}`, '-sf', join(BENCH, 'sip', 'register.xml'), '-p', String(await freePort()), '-inf', users, '-key', 'domain', DOMAIN, '-key', 'expires', '60', '-r', String(rate), '-rp', '1000', '-m', String(count), '-l', String(rate * 10 + 100), '-timeout', `${stepSeconds + 20}s`]);
    runs = [r];
    await r.launched.exited;
  }
  for (const r of runs) await stop(r.launched);
  const wall = (performance.now() - t0) / 1000;
  const s = runs.map((r) => readStat(r.stat));
  const sum = (k: string): number => s.reduce((a, x) => a + (x[k] ?? 0), 0);
  const ok = sum('FailedCall(C)') === 0 && sum('Retransmissions(C)') === 0 && sum('SuccessfulCall(C)') === count && wall < stepSeconds * 1.3 + (kind === 'calls' ? 4 : 2);
  progress(`capacity ${kind} ${rate}/s: ${ok ? 'clean' : `not clean (${sum('SuccessfulCall(C)')}/${count} ok, ${sum('FailedCall(C)')} failed, ${sum('Retransmissions(C)')} retransmissions, ${wall.toFixed(1)} s)`}`);
  return ok;
}
async function capacity(node: Node, kind: 'calls' | 'register'): Promise<{ best: number; steps: [number, boolean][] }> {
  const steps: [number, boolean][] = [];
  let step = 0;
  const attempt = async (rate: number): Promise<boolean> => {
    const ok = await cleanStep(node, kind, rate, ++step);
    steps.push([rate, ok]);
    await sleep(ok ? 500 : 3000);
    return ok;
  };
  let lo = 0;
  let hi = 0;
  for (let rate = 100; rate <= 25_600; rate *= 2) {
    if (await attempt(rate)) lo = rate;
    else {
      hi = rate;
      break;
    }
  }
  if (hi === 0) return { best: lo, steps };
  for (let i = 0; i < 2; i++) {
    const mid = Math.round((lo + hi) / 2 / 10) * 10;
    if (mid <= lo || mid >= hi) break;
    if (await attempt(mid)) lo = mid;
    else hi = mid;
  }
  return { best: Math.max(lo, 10), steps };
}

// ---------------------------------------------------------------- the run

const loadBefore = round(loadavg()[0]!, 2);
let exitCode = 0;
let line: Record<string, unknown> = { bench: 'flood' };
const nodes: Node[] = [];
try {
  progress(`sipp ${sippVersion}, ${cpus().length} CPUs, work dir ${workDir}`);
  // 1. Capacity, on a node without per-source limits (the ramp is one SIPp source).
  let capCalls = givenCapacity('capacity-calls');
  let capRegister = givenCapacity('capacity-register');
  const ramps: Record<string, unknown> = {};
  if (capCalls === undefined || capRegister === undefined) {
    const cap = await startNode('capacity', ['--rate-limit', '0']);
    nodes.push(cap);
    if (capCalls === undefined) {
      const r = await capacity(cap, 'calls');
      capCalls = r.best;
      ramps.calls = r.steps;
    }
    if (capRegister === undefined) {
      const r = await capacity(cap, 'register');
      capRegister = r.best;
      ramps.register = r.steps;
    }
    await stop(cap.launched);
    nodes.length = 0;
  }
  progress(`capacity: ${capCalls} calls/s, ${capRegister} REGISTER/s`);

  // 2. The flood, on fresh nodes with the default settings.
  const a = await startNode('flooded', []);
  const b = await startNode('peer', ['--bootstrap', `${HOST}:${a.sip}`]);
  nodes.push(a, b);
  await register(b, 'carol', await freePort());
  const legitRate = Math.max(1, legitShare * capCalls!);
  const legitSources = Array.from({ length: Math.min(60, Math.max(1, Math.ceil(legitRate / 2))) }, (_, i) => `127.0.0.${2 + i}`);
  let inviteRate = factor * capCalls!;
  let registerRate = factor * capRegister!;
  const offered = inviteRate + registerRate;
  if (offered > maxFloodRate) {
    inviteRate *= maxFloodRate / offered;
    registerRate *= maxFloodRate / offered;
  }
  const half = Math.floor(floodSources / 2);
  const floodIps = Array.from({ length: floodSources }, (_, i) => `127.0.0.${101 + i}`);
  await sleep(2000);
  const rssBefore = await rssMb(a);
  progress(`flood: ${round(inviteRate, 0)} INVITE/s + ${round(registerRate, 0)} REGISTER/s from ${floodSources} sources for ${seconds} s; legitimate ${round(legitRate, 1)} calls/s from ${legitSources.length} sources`);

  const legit = await calls(a, 'callee', legitRate, seconds, legitSources, true);
  const floodUsers = usersFile('flood-users', Array.from({ length: 1000 }, (_, i) => `flood${i}`));
  const flood: Sipp[] = [];
  for (const [i, ip] of floodIps.entries()) {
    const invite = i < half;
    const rate = invite ? inviteRate / half : registerRate / (floodSources - half);
    // -recv_timeout ends a call whose request was never answered (the scenario's own timeout does
    // not end it with -nr); -trace_counts writes each scenario line's counts every -fd seconds.
    const common = ['-p', String(await freePort()), '-nr', '-recv_timeout', '5000', '-trace_counts', '-r', String(round(rate, 2)), '-rp', '1000', '-m', String(Math.round(rate * seconds)), '-l', String(Math.ceil(rate * 7) + 100), '-timeout', `${seconds + 30}s`, '-key', 'domain', DOMAIN];
    flood.push(invite ? sipp(`flood-invite-${ip}`, [`${HOST}:${a.sip}`, '-sf', join(BENCH, 'flood', 'invite.xml'), '-s', 'nobody', ...common], ip) : sipp(`flood-register-${ip}`, [`${HOST}:${a.sip}`, '-sf', join(BENCH, 'flood', 'register.xml'), '-inf', floodUsers, ...common], ip));
  }
  const floodStart = performance.now();
  const floodDone = Promise.all(flood.map((f) => f.launched.exited));
  let floodOver = false;
  void floodDone.then(() => (floodOver = true));
  // During the flood: RSS and the detector every 0.5 s, a FIND_VALUE through the node every 2 s.
  let rssPeak = rssBefore ?? 0;
  let minFactor = 1;
  let overloadedSeen = false;
  const poll = (async () => {
    while (!floodOver) {
      const [rss, st] = [await rssMb(a), await overloadStatus(a)];
      if (rss !== undefined) rssPeak = Math.max(rssPeak, rss);
      if (st !== undefined) {
        minFactor = Math.min(minFactor, Number(st.admissionFactor));
        overloadedSeen ||= st.overloaded === true;
      }
      await sleep(500);
    }
  })();
  const lookups = { tried: 0, found: 0 };
  const lookupLoop = (async () => {
    while (!floodOver && (performance.now() - floodStart) / 1000 < seconds) {
      const t0 = performance.now();
      const r = await capture(process.execPath, [CLI, 'lookup', `sip:carol@${DOMAIN}`, '--via', `${HOST}:${a.sip}`, '--json', '--timeout', '5'], 15_000);
      lookups.tried++;
      if (r.code === 0 && r.stdout.includes(`${HOST}:${b.sip}`)) lookups.found++;
      else progress(`lookup through the flooded node failed: exit ${r.code} ${r.stdout.trim().slice(0, 200)}`);
      await sleep(Math.max(0, 2000 - (performance.now() - t0)));
    }
  })();
  await Promise.race([floodDone, sleep((seconds + 45) * 1000)]);
  floodOver = true;
  for (const f of flood) await stop(f.launched);
  await Promise.all([poll, lookupLoop]);
  const floodWall = (performance.now() - floodStart) / 1000;
  await Promise.race([Promise.all(legit.uacs.map((u) => u.launched.exited)), sleep(45_000)]);
  for (const u of legit.uacs) await stop(u.launched);
  await stop(legit.uas.launched);
  await sleep(5000);
  const rssAfter = await rssMb(a);
  const status = await overloadStatus(a);

  // Figures.
  const counts = flood.map((f) => messageCounts(f));
  const total = (k: string): number => counts.reduce((s, c) => s + (c[k] ?? 0), 0);
  const sent = total('INVITE') + total('REGISTER');
  const got503 = total('503');
  const otherFinal = total('404') + total('480') + total('200');
  const legitStats = legit.uacs.map((u) => readStat(u.stat));
  const legitOk = legitStats.reduce((s, x) => s + (x['SuccessfulCall(C)'] ?? 0), 0);
  const floodStats = flood.map((f) => readStat(f.stat));
  line = {
    bench: 'flood',
    legit_success_ratio: legit.attempted > 0 ? round(legitOk / legit.attempted) : null,
    flood_answered_503_ratio: sent > 0 ? round(got503 / sent) : null,
    flood_answered_other_ratio: sent > 0 ? round(otherFinal / sent) : null,
    flood_silent_ratio: sent > 0 ? round(Math.max(0, sent - got503 - otherFinal) / sent) : null,
    rss_mb_before: rssBefore === undefined ? null : round(rssBefore, 1),
    rss_mb_peak: round(rssPeak, 1),
    rss_mb_after: rssAfter === undefined ? null : round(rssAfter, 1),
    rss_peak_over_before: rssBefore ? round(rssPeak / rssBefore, 2) : null,
    overlay_lookup_success_during_flood: lookups.tried > 0 ? round(lookups.found / lookups.tried) : null,
    overlay_lookups: lookups.tried,
    capacity_calls_per_s: capCalls,
    capacity_register_per_s: capRegister,
    flood_offered_invite_per_s: round(inviteRate, 0),
    flood_offered_register_per_s: round(registerRate, 0),
    flood_sent_per_s: round(sent / seconds, 0),
    flood_sent: sent,
    flood_503: got503,
    flood_answered_other: otherFinal,
    flood_sipp_watchdog: floodStats.reduce((s, x) => s + (x['WatchdogMajor(C)'] ?? 0) + (x['WatchdogMinor(C)'] ?? 0), 0),
    legit_calls_attempted: legit.attempted,
    legit_calls_ok: legitOk,
    legit_sources: legitSources.length,
    node_overloaded_seen: overloadedSeen,
    node_min_admission_factor: round(minFactor),
    node_status_after: status ?? null,
    ...(Object.keys(ramps).length > 0 ? { capacity_ramps: ramps } : {}),
    conditions: {
      seconds,
      factor,
      legit_share: legitShare,
      flood_sources: floodSources,
      max_flood_rate: maxFloodRate,
      step_seconds: stepSeconds,
      flood_wall_s: round(floodWall, 1),
      transport: 'udp',
      sipp_version: sippVersion,
      kadsip_commit: spawnSync('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).stdout.trim() || null,
      node: process.version,
      cpus: cpus().length,
      loadavg_1m_before: loadBefore,
      loadavg_1m_after: round(loadavg()[0]!, 2),
      wall_s: round((performance.now() - started) / 1000, 1),
    },
  };
} catch (e) {
  progress(`failed: ${(e as Error).stack ?? String(e)}`);
  exitCode = 2;
  children.keepWorkDir = true;
} finally {
  for (const n of nodes) await stop(n.launched);
}
process.stdout.write(JSON.stringify(line) + '\n');
if (children.keepWorkDir) progress(`logs kept in ${workDir}`);
process.exit(exitCode);
