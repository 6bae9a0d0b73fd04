/**
 * `npm run bench:sip -- --json [--seconds S] [--pause-ms P] [--start-rate R] [--bisect N]
 *  [--max-register-rate R] [--max-call-rate R] [--only kadsip|kamailio] [--keep-logs]
 *  [--max-minutes M] [--figures register,calls,cross,drachtio]`
 *
 * SIP throughput with SIPp (Debian `sip-tester`), kadsip and Kamailio (Debian `kamailio`) measured
 * in the same run, with the same scenarios (bench/sip/*.xml) and the same rates:
 *   register_per_s           REGISTER -> 200 through one kadsip node
 *   calls_per_s              INVITE/100/180/200/ACK/pause/BYE/200, record-routed, through one node;
 *                            caller and callee registered at the node first (register.xml -m 1)
 *   cross_node_calls_per_s   the same call sent to node A for a callee registered at node B
 *                            (A finds the AoR through the overlay; both serve --domain)
 *   drachtio_calls_per_s     the same call sent to drachtio-server, whose app (examples/drachtio-app,
 *                            the kadsip/drachtio plugin) finds the callee, registered at a native
 *                            node, through the overlay: what the plugin path costs beside
 *                            cross_node_calls_per_s (drachtio-server from scripts/build-drachtio.sh)
 *   kamailio_register_per_s, kamailio_calls_per_s   the first two against Kamailio
 *                            (bench/kamailio/kamailio.cfg: registrar + stateful proxy)
 * Each figure is the highest rate at which a step of S seconds had no failed call, no
 * retransmission (sent or received, UAC and UAS alike, from SIPp's -trace_stat CSV and
 * -trace_screen counters), no unexpected or dead-call message, and the sender kept the rate. The
 * ramp starts at --start-rate, doubles until a step fails (or the maximum rate passes), then
 * bisects --bisect times. Every step uses fresh SIPp ports and fresh AoRs, so late traffic of
 * an overloaded step cannot leak into the next. Before each ramp one single call (or REGISTER) is
 * traced; when it fails its SIPp error log and messages go to stderr and into `failures`.
 *
 * One JSON line of figures and conditions on stdout; progress on stderr. Everything runs on
 * 127.0.0.1; every child (nodes, kamailio, sipp) runs in a process group of its own and is killed
 * on exit, error, SIGINT and SIGTERM. Exit status 0, or 1 when a figure could not be measured
 * (e.g. its single traced call failed), 2 on a usage or set-up error.
 */
import { spawnSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { ChildProcesses, type Launched } from './child-processes.js';
import { readStat } from './sipp-stat.js';

const { values } = parseArgs({
  options: {
    seconds: { type: 'string', default: '5' },
    'pause-ms': { type: 'string', default: '1000' },
    'start-rate': { type: 'string', default: '100' },
    'max-register-rate': { type: 'string', default: '25600' },
    'max-call-rate': { type: 'string', default: '12800' },
    bisect: { type: 'string', default: '3' },
    only: { type: 'string' },
    // Which figures to measure (all by default): a quick look at one figure need not wait for all.
    figures: { type: 'string', default: 'register,calls,cross,drachtio' },
    'max-minutes': { type: 'string', default: '15' },
    'keep-logs': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
  },
});

const started = performance.now();
const elapsed = (): string => `${((performance.now() - started) / 1000).toFixed(1)} s`;
const progress = (text: string): void => {
  process.stderr.write(`bench:sip: ${text} (${elapsed()})\n`);
};
function usage(text: string): never {
  process.stderr.write(`bench:sip: ${text}\n`);
  process.exit(2);
}

const stepSeconds = Number(values.seconds);
const pauseMs = Number(values['pause-ms']);
const startRate = Number(values['start-rate']);
const maxRegisterRate = Number(values['max-register-rate']);
const maxCallRate = Number(values['max-call-rate']);
const bisectSteps = Number(values.bisect);
const maxMinutes = Number(values['max-minutes']);
if (!(stepSeconds >= 1 && stepSeconds <= 120)) usage('--seconds must be in [1, 120]');
if (!Number.isInteger(pauseMs) || pauseMs < 0 || pauseMs > 30_000) usage('--pause-ms must be an integer in [0, 30000]');
if (!Number.isInteger(startRate) || startRate < 1 || startRate > 100_000) usage('--start-rate must be an integer in [1, 100000]');
if (!Number.isInteger(maxRegisterRate) || maxRegisterRate < startRate || maxRegisterRate > 200_000) usage('--max-register-rate must be an integer in [start-rate, 200000]');
if (!Number.isInteger(maxCallRate) || maxCallRate < startRate || maxCallRate > 100_000) usage('--max-call-rate must be an integer in [start-rate, 100000]');
if (!Number.isInteger(bisectSteps) || bisectSteps < 0 || bisectSteps > 8) usage('--bisect must be an integer in [0, 8]');
if (!(maxMinutes > 0 && maxMinutes <= 120)) usage('--max-minutes must be in (0, 120]');
const only = values.only;
if (only !== undefined && only !== 'kadsip' && only !== 'kamailio') usage('--only must be kadsip or kamailio');
const figures = new Set(values.figures.split(',').map((f) => f.trim()));
if ([...figures].some((f) => !['register', 'calls', 'cross', 'drachtio'].includes(f))) usage('--figures is a comma-separated list of register, calls, cross, drachtio');
const runKadsip = only !== 'kamailio';
const runKamailio = only !== 'kadsip';

const HOST = '127.0.0.1';
const DOMAIN = 'bench.example';
const SCENARIOS = fileURLToPath(new URL('./sip/', import.meta.url));
const KAMAILIO_CFG = fileURLToPath(new URL('./kamailio/kamailio.cfg', import.meta.url));
const CLI = fileURLToPath(new URL('../dist/cli/main.js', import.meta.url));
const REPO = fileURLToPath(new URL('..', import.meta.url));
const workDir = mkdtempSync(join(tmpdir(), 'kadsip-bench-sip-'));

// ---------------------------------------------------------------- children, always cleaned up

const children = new ChildProcesses({ workDir, keepWorkDir: values['keep-logs'] === true, progress, maxMs: maxMinutes * 60_000 });
const launch = children.launch.bind(children);
const stop = children.stop.bind(children);

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
const round = (x: number, digits = 0): number => {
  const f = 10 ** digits;
  return Math.round(x * f) / f;
};

// ---------------------------------------------------------------- ports, versions

const usedPorts = new Set<number>();
/** A port free on 127.0.0.1 for UDP (and TCP, when asked), never handed out twice in a run. */
async function freePort(tcpToo = false): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000); // below the ephemeral range (32768-60999)
    if (usedPorts.has(port)) continue;
    const udpFree = await new Promise<boolean>((resolve) => {
      const s = createSocket('udp4');
      s.once('error', () => resolve(false));
      s.bind(port, HOST, () => s.close(() => resolve(true)));
    });
    if (!udpFree) continue;
    if (tcpToo) {
      const tcpFree = await new Promise<boolean>((resolve) => {
        const srv = createServer();
        srv.once('error', () => resolve(false));
        srv.listen(port, HOST, () => srv.close(() => resolve(true)));
      });
      if (!tcpFree) continue;
    }
    usedPorts.add(port);
    return port;
  }
  throw new Error('no free port found in 50 attempts');
}

function commandOutput(cmd: string, args: string[]): string | undefined {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 10_000 });
  if (r.error !== undefined) return undefined;
  return `${r.stdout ?? ''}${r.stderr ?? ''}`;
}
const sippVersion = /SIPp (v[^\s]+?)\.?\s/.exec(commandOutput('sipp', ['-v']) ?? '')?.[1];
if (sippVersion === undefined) usage('sipp not found: install Debian sip-tester (bash scripts/install-system-deps.sh)');
const kamailioBin = ['kamailio', '/usr/sbin/kamailio'].find((b) => commandOutput(b, ['-v']) !== undefined);
const kamailioVersion = kamailioBin === undefined ? undefined : /kamailio ([0-9][^\s]*)/.exec(commandOutput(kamailioBin, ['-v']) ?? '')?.[1];
if (runKadsip && !existsSync(CLI)) usage(`${CLI} not found: build first (npx tsc -p tsconfig.json)`);
const gitHead = commandOutput('git', ['-C', REPO, 'rev-parse', '--short', 'HEAD'])?.trim();
const gitDirty = (commandOutput('git', ['-C', REPO, 'status', '--porcelain', '--untracked-files=no', 'src']) ?? '').trim() !== '';

// ---------------------------------------------------------------- SIPp runs

interface SippOutcome {
  code: number | null;
  wallS: number;
  stat: Record<string, number>;
  /** Retransmissions seen on the screen (sent and received, per message), summed. */
  screenRetrans: number;
  errors: string[];
  aborted: string | undefined;
  files: { stat: string; screen: string; errors: string; messages: string | undefined };
}


/** Sums the Retrans column of SIPp's scenario screen (sends: retransmitted; recvs: received again). */
function screenRetransmissions(file: string): number {
  if (!existsSync(file)) return 0;
  let sum = 0;
  for (const line of readFileSync(file, 'utf8').split('\n')) {
    const m = /^\s*(?:-+>|<-+)\s+\S+\s+(\d+)\s+(\d+)/.exec(line);
    if (m) sum += Number(m[2]);
  }
  return sum;
}

function readErrors(file: string, max = 12): string[] {
  if (!existsSync(file)) return [];
  return readFileSync(file, 'utf8')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('The following events occurred'))
    .slice(0, max);
}

let sippRun = 0;
interface SippOptions {
  /** The remote address (the proxy), absent for the UAS. */
  remote?: string;
  scenario: string;
  port: number;
  args: string[];
  calls: number;
  /** SIPp's own global timeout, seconds (-timeout, counted as an error). */
  timeoutS: number;
  traceMessages?: boolean;
}
interface SippRun {
  launched: Launched;
  files: SippOutcome['files'];
  finish: (abort?: () => string | undefined) => Promise<SippOutcome>;
}
function startSipp(name: string, o: SippOptions): SippRun {
  const id = `${String(++sippRun).padStart(3, '0')}-${name}`;
  const files = {
    stat: join(workDir, `${id}.stat.csv`),
    screen: join(workDir, `${id}.screen.log`),
    errors: join(workDir, `${id}.errors.log`),
    messages: o.traceMessages ? join(workDir, `${id}.messages.log`) : undefined,
  };
  const args = [
    ...(o.remote === undefined ? [] : [o.remote]),
    '-sf', join(SCENARIOS, o.scenario),
    '-i', HOST, '-p', String(o.port), '-t', 'u1',
    '-m', String(o.calls),
    '-timeout', `${Math.ceil(o.timeoutS)}s`, '-timeout_error',
    '-recv_timeout', '5000',
    '-nostdin',
    '-trace_stat', '-stf', files.stat, '-fd', '1',
    '-trace_screen', '-screen_file', files.screen,
    '-trace_err', '-error_file', files.errors,
    ...(files.messages === undefined ? [] : ['-trace_msg', '-message_file', files.messages]),
    ...o.args,
  ];
  const t0 = performance.now();
  const launched = launch('sipp', args, join(workDir, `${id}.out`));
  const finish = async (abort?: () => string | undefined): Promise<SippOutcome> => {
    let aborted: string | undefined;
    // Bounded by SIPp's own -timeout; a few seconds more, then it is killed.
    const hardDeadline = performance.now() + (o.timeoutS + 5) * 1000;
    for (;;) {
      const done = await Promise.race([launched.exited.then(() => true), sleep(250).then(() => false)]);
      if (done) break;
      if (abort !== undefined && aborted === undefined) aborted = abort();
      if (aborted !== undefined || performance.now() > hardDeadline) {
        aborted ??= `no end within ${o.timeoutS + 5} s`;
        await stop(launched, 1500);
        break;
      }
    }
    const code = await launched.exited;
    return {
      code,
      wallS: (performance.now() - t0) / 1000,
      stat: readStat(files.stat),
      screenRetrans: screenRetransmissions(files.screen),
      errors: readErrors(files.errors),
      aborted,
      files,
    };
  };
  return { launched, files, finish };
}

/** Why a SIPp run is not clean (undefined: clean). */
function verdict(who: string, r: SippOutcome, calls: number): string | undefined {
  const c = (name: string): number => r.stat[`${name}(C)`] ?? 0;
  // SIPp's watchdog trips when SIPp itself is starved of CPU: then the step measured the machine.
  const starved = c('WatchdogMajor') + c('WatchdogMinor') > 0 ? ' [sipp starved of CPU: watchdog tripped]' : '';
  const why = verdictReason(who, r, calls);
  return why === undefined ? undefined : `${why}${starved}`;
}
function verdictReason(who: string, r: SippOutcome, calls: number): string | undefined {
  const c = (name: string): number => r.stat[`${name}(C)`] ?? 0;
  if (r.aborted !== undefined) return `${who}: ${r.aborted}`;
  const firstError = r.errors.find((l) => !/Overload warning|maximum number of open files/.test(l)) ?? r.errors[0];
  if (c('FailedCall') > 0) return `${who}: ${c('FailedCall')} failed calls (${firstError ?? 'see error log'})`;
  if (c('Retransmissions') > 0 || r.screenRetrans > 0) return `${who}: retransmissions (${c('Retransmissions')} sent, ${r.screenRetrans} on screen)`;
  if (c('OutOfCallMsgs') > 0 || c('DeadCallMsgs') > 0) return `${who}: ${c('OutOfCallMsgs')} out-of-call and ${c('DeadCallMsgs')} dead-call messages`;
  if (r.code !== 0) return `${who}: sipp exit ${r.code} (${firstError ?? 'no error logged'})`;
  if (c('SuccessfulCall') !== calls) return `${who}: ${c('SuccessfulCall')} of ${calls} calls succeeded`;
  return undefined;
}

/** Aborts a step as soon as the periodic stat dump shows a failure or a retransmission. */
function earlyAbort(statFiles: string[]): () => string | undefined {
  return () => {
    for (const f of statFiles) {
      const s = readStat(f);
      if ((s['FailedCall(C)'] ?? 0) > 0) return `${s['FailedCall(C)']} failed calls (stopped early)`;
      if ((s['Retransmissions(C)'] ?? 0) > 0) return `${s['Retransmissions(C)']} retransmissions (stopped early)`;
    }
    return undefined;
  };
}

/**
 * SIPp's limit on simultaneous calls (-l): enough for the rate over callSeconds, so that the limit
 * does not throttle a healthy step, and under the open-file limit (20,000 here) SIPp warns about.
 */
function callLimit(rate: number, callSeconds: number): number {
  return Math.min(18_000, Math.max(100, Math.ceil(rate * callSeconds) + 100));
}

function usersFile(name: string, users: string[]): string {
  const file = join(workDir, `${name}.csv`);
  writeFileSync(file, `SEQUENTIAL\n${users.map((u) => `${u};`).join('\n')}\n`);
  return file;
}

// ---------------------------------------------------------------- targets (kadsip, kamailio)

interface Failure {
  figure: string;
  rate: number;
  reason: string;
  sipp_errors: string[];
  messages?: string;
}
const failures: Failure[] = [];

/** Registers user@DOMAIN with Contact at port (SIPp binds that port, then exits). */
async function registerOnce(registrar: string, user: string, port: number, traceMessages = false): Promise<SippOutcome & { reason: string | undefined }> {
  const run = startSipp(`reg-${user}`, {
    remote: registrar,
    scenario: 'register.xml',
    port,
    calls: 1,
    timeoutS: 10,
    traceMessages,
    args: ['-inf', usersFile(`user-${user}`, [user]), '-key', 'domain', DOMAIN, '-key', 'expires', '3600'],
  });
  const r = await run.finish();
  return { ...r, reason: verdict(`REGISTER ${user}@${DOMAIN} to ${registrar}`, r, 1) };
}

let stepNo = 0;
interface StepResult {
  ok: boolean;
  reason?: string;
  detail?: Failure;
}

/** rate REGISTER/s for stepSeconds from a fresh port, fresh AoRs (a pool re-registered in turn). */
async function registerStep(registrar: string, rate: number, trace = false): Promise<StepResult> {
  const step = ++stepNo;
  const calls = trace ? 1 : Math.max(1, Math.round(rate * stepSeconds));
  const pool = Math.min(calls, 10_000);
  const users = Array.from({ length: pool }, (_, i) => `s${step}u${i}`);
  const port = await freePort();
  const run = startSipp(`register-${rate}`, {
    remote: registrar,
    scenario: 'register.xml',
    port,
    calls,
    timeoutS: stepSeconds + 15,
    traceMessages: trace,
    args: [
      '-inf', usersFile(`users-${step}`, users), '-key', 'domain', DOMAIN, '-key', 'expires', '3600',
      '-r', String(rate), '-rp', '1000', '-l', String(callLimit(rate, 1)),
    ],
  });
  const r = await run.finish(earlyAbort([run.files.stat]));
  let reason = verdict('REGISTER', r, calls);
  const maxWall = stepSeconds * 1.15 + 3;
  if (reason === undefined && r.wallS > maxWall) reason = `sender could not keep ${rate}/s (${r.wallS.toFixed(1)} s for ${calls} REGISTERs)`;
  return reason === undefined ? { ok: true } : { ok: false, reason, detail: failureDetail('register', rate, reason, [r]) };
}

function failureDetail(figure: string, rate: number, reason: string, runs: SippOutcome[]): Failure {
  const errors = runs.flatMap((r) => r.errors).slice(0, 12);
  const messages = runs
    .map((r) => (r.files.messages !== undefined && existsSync(r.files.messages) ? readFileSync(r.files.messages, 'utf8') : ''))
    .filter((m) => m !== '')
    .join('\n=====\n');
  return { figure, rate, reason, sipp_errors: errors, ...(messages !== '' ? { messages: messages.slice(-6000) } : {}) };
}

/**
 * rate calls/s for stepSeconds: callee registered at calleeRegistrar, caller at proxy, the UAC
 * sending to proxy. The UAS stops by itself after the step's number of calls (-m).
 */
async function callStep(proxy: string, calleeRegistrar: string, rate: number, trace = false): Promise<StepResult> {
  const step = ++stepNo;
  const calls = trace ? 1 : Math.max(1, Math.round(rate * stepSeconds));
  const [uasPort, uacPort] = [await freePort(), await freePort()];
  const callee = `callee${step}`;
  const caller = `caller${step}`;
  for (const [registrar, user, port] of [[calleeRegistrar, callee, uasPort], [proxy, caller, uacPort]] as const) {
    const reg = await registerOnce(registrar, user, port, trace);
    if (reg.reason !== undefined) return { ok: false, reason: reg.reason, detail: failureDetail('register-before-call', 1, reg.reason, [reg]) };
  }
  const timeoutS = stepSeconds + pauseMs / 1000 + 15;
  const uas = startSipp(`uas-${rate}`, {
    scenario: 'uas.xml',
    port: uasPort,
    calls,
    timeoutS: timeoutS + 2,
    traceMessages: trace,
    args: ['-s', callee],
  });
  await sleep(300); // the UAS binds its port
  const uac = startSipp(`uac-${rate}`, {
    remote: proxy,
    scenario: 'uac.xml',
    port: uacPort,
    calls,
    timeoutS,
    traceMessages: trace,
    args: [
      '-key', 'domain', DOMAIN, '-key', 'caller', caller, '-key', 'callee', callee,
      '-d', String(pauseMs), '-r', String(rate), '-rp', '1000',
      '-l', String(callLimit(rate, pauseMs / 1000 + 2)),
    ],
  });
  const uacResult = await uac.finish(earlyAbort([uac.files.stat, uas.files.stat]));
  // The UAS ends on its own after its last BYE; when calls were lost on the way it would wait for
  // its -timeout: give it a moment, then stop it.
  const uasResult = await uas.finish(() => (uacResult.code !== 0 || uacResult.aborted !== undefined ? 'stopped with the UAC' : undefined));
  let reason = verdict('UAC', uacResult, calls) ?? verdict('UAS', uasResult, calls);
  if (reason?.startsWith('UAS: stopped with the UAC') === true) reason = verdict('UAC', uacResult, calls);
  const maxWall = stepSeconds * 1.15 + pauseMs / 1000 + 3;
  if (reason === undefined && uacResult.wallS > maxWall) reason = `sender could not keep ${rate}/s (${uacResult.wallS.toFixed(1)} s for ${calls} calls)`;
  return reason === undefined ? { ok: true } : { ok: false, reason, detail: failureDetail('call', rate, reason, [uacResult, uasResult]) };
}

interface RampResult {
  best: number | null;
  /** The maximum rate passed: the figure is a floor. */
  ceiling: boolean;
  /** Every step tried: [rate, clean]. */
  steps: [number, boolean][];
  /** Why the first unclean step (the lowest rate that failed, during the doubling) was not clean. */
  limit?: string;
  /** The first SIPp error event of that step (one line, shortened). */
  limit_sample?: string;
}

/** A single traced attempt, then the ramp: double from startRate until a failure, then bisect. */
async function ramp(figure: string, maxRate: number, step: (rate: number, trace?: boolean) => Promise<StepResult>): Promise<RampResult> {
  progress(`${figure}: one traced attempt`);
  checkTargets();
  const smoke = await step(1, true);
  checkTargets();
  if (!smoke.ok) {
    progress(`${figure}: the single traced attempt failed: ${smoke.reason}`);
    failures.push({ ...(smoke.detail ?? { figure, rate: 1, reason: smoke.reason ?? '?', sipp_errors: [] }), figure });
    for (const line of smoke.detail?.sipp_errors ?? []) progress(`  sipp: ${line}`);
    return { best: null, ceiling: false, steps: [], limit: `single traced attempt failed: ${smoke.reason}` };
  }
  const steps: [number, boolean][] = [];
  let limit: string | undefined;
  let limitSample: string | undefined;
  const attempt = async (rate: number): Promise<boolean> => {
    checkTargets();
    const r = await step(rate);
    checkTargets();
    steps.push([rate, r.ok]);
    progress(`${figure}: ${rate}/s ${r.ok ? 'clean' : `not clean: ${r.reason}`}`);
    if (!r.ok && limit === undefined) {
      limit = r.reason;
      const event = (r.detail?.sipp_errors ?? []).find((l) => /^\d{4}-\d\d-\d\d\t/.test(l) && !/Overload warning|open files/.test(l));
      if (event !== undefined) limitSample = event.replace(/^\S+\t\S+\t[\d.]+:\s*/, '').slice(0, 240);
    }
    await sleep(r.ok ? 500 : 2500); // let the proxy drain what the step left
    return r.ok;
  };
  let lo = 0;
  let hi = Infinity;
  for (let rate = startRate; rate <= maxRate; rate *= 2) {
    if (await attempt(rate)) lo = rate;
    else {
      hi = rate;
      break;
    }
  }
  if (hi === Infinity) return { best: lo, ceiling: true, steps };
  if (lo === 0) {
    // Even startRate failed: try lower rates, halving (bounded by the bisect count too).
    for (let i = 0; i < bisectSteps && lo === 0; i++) {
      const lower = Math.floor(hi / 2);
      if (lower < 1) break;
      if (await attempt(lower)) lo = lower;
      else hi = lower;
    }
  }
  for (let i = 0; i < bisectSteps; i++) {
    const mid = Math.round((lo + hi) / 2 / 10) * 10 || Math.round((lo + hi) / 2);
    if (mid <= lo || mid >= hi) break;
    if (await attempt(mid)) lo = mid;
    else hi = mid;
  }
  return { best: lo, ceiling: false, steps, ...(limit !== undefined ? { limit } : {}), ...(limitSample !== undefined ? { limit_sample: limitSample } : {}) };
}


// ---------------------------------------------------------------- kadsip nodes, kamailio

function httpStatus(port: number, path: string): Promise<number> {
  return new Promise((resolve) => {
    const req = request({ host: HOST, port, path, timeout: 1000 }, (res) => {
      res.resume();
      resolve(res.statusCode ?? 0);
    });
    req.on('error', () => resolve(0));
    req.on('timeout', () => {
      req.destroy();
      resolve(0);
    });
    req.end();
  });
}

interface Target {
  name: string;
  address: string;
  launched: Launched;
  log: string;
}

async function startKadsip(name: string, bootstrap?: string): Promise<Target> {
  const port = await freePort(true);
  const httpPort = await freePort(true);
  const log = join(workDir, `${name}.log`);
  // --rate-limit 0: each figure's SIPp is one source, and the per-source flood limit (50/s by
  // default, README "Under a flood") would measure the limit instead of the node, as a Kamailio
  // with pike would; Kamailio here runs without it too.
  const args = [CLI, 'start', '--listen', `${HOST}:${port}`, '--domain', DOMAIN, '--http', `${HOST}:${httpPort}`, '--log-level', 'warn', '--rate-limit', '0'];
  if (bootstrap !== undefined) args.push('--bootstrap', bootstrap);
  const launched = launch(process.execPath, args, log);
  for (let i = 0; i < 150; i++) {
    if (launched.child.exitCode !== null) break;
    if ((await httpStatus(httpPort, '/healthz')) === 200) {
      progress(`${name}: kadsip node on ${HOST}:${port} (pid ${launched.child.pid})`);
      return { name, address: `${HOST}:${port}`, launched, log };
    }
    await sleep(100);
  }
  await stop(launched);
  throw new Error(`${name}: node not healthy within 15 s; log: ${tail(log)}`);
}

async function startKamailio(): Promise<Target> {
  const port = await freePort();
  const log = join(workDir, 'kamailio.log');
  const launched = launch(kamailioBin!, ['-f', KAMAILIO_CFG, '-P', join(workDir, 'kamailio.pid'), '-m', '1024', '-M', '16', '-DD', '-E', '-l', `udp:${HOST}:${port}`], log);
  // Ready when it answers: an OPTIONS to it with no user goes through lookup() and gets a 404.
  for (let i = 0; i < 100; i++) {
    if (launched.child.exitCode !== null) break;
    if (await udpAnswers(port)) {
      progress(`kamailio ${kamailioVersion} on ${HOST}:${port} (pid ${launched.child.pid})`);
      return { name: 'kamailio', address: `${HOST}:${port}`, launched, log };
    }
    await sleep(100);
  }
  await stop(launched);
  throw new Error(`kamailio did not start; log: ${tail(log)}`);
}

/**
 * drachtio-server (examples/drachtio-app/drachtio.conf.xml on free ports) and the example app
 * connected to it, whose overlay peer joins through `bootstrap`: two targets, the proxy address
 * being drachtio-server's. The binary comes from scripts/build-drachtio.sh (built once per machine).
 */
async function startDrachtio(bin: string, bootstrap: string, keep: (t: Target) => Target): Promise<Target> {
  const [admin, sip, overlay] = [await freePort(true), await freePort(true), await freePort()];
  const example = join(REPO, 'examples', 'drachtio-app');
  const conf = join(workDir, 'drachtio.conf.xml');
  writeFileSync(conf, readFileSync(join(example, 'drachtio.conf.xml'), 'utf8').replaceAll('9022', String(admin)).replaceAll('127.0.0.1:5090', `${HOST}:${sip}`));
  const log = join(workDir, 'drachtio.log');
  const server = keep({ name: 'drachtio-server', address: `${HOST}:${sip}`, launched: launch(bin, ['-f', conf], log), log });
  const appLog = join(workDir, 'drachtio-app.log');
  const env = { KADSIP_LISTEN: `${HOST}:${overlay}`, KADSIP_BOOTSTRAP: bootstrap, KADSIP_DOMAIN: DOMAIN, SIP_ADDRESS: `${HOST}:${sip}`, DRACHTIO_PORT: String(admin), LOG_LEVEL: 'warn' };
  // The app retries the admin connection itself; it logs at info once connected, so wait with info.
  const app = keep({ name: 'drachtio-app', address: `${HOST}:${overlay}`, launched: launch(process.execPath, [join(example, 'app.js')], appLog, { ...env, LOG_LEVEL: 'info' }), log: appLog });
  for (let i = 0; i < 150; i++) {
    if (app.launched.child.exitCode !== null || server.launched.child.exitCode !== null) break;
    if (existsSync(appLog) && readFileSync(appLog, 'utf8').includes('connected to drachtio-server')) {
      progress(`drachtio-server on ${server.address} (pid ${server.launched.child.pid}), the example app's overlay peer on ${app.address}`);
      return server;
    }
    await sleep(100);
  }
  throw new Error(`drachtio-server and its app did not come up; logs: ${tail(log)}\n${tail(appLog)}`);
}

/** scripts/build-drachtio.sh's binary (it builds drachtio-server the first time), or why not. */
function drachtioBinary(): { bin: string } | { skipped: string } {
  const r = spawnSync('bash', [join(REPO, 'scripts', 'build-drachtio.sh')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] });
  const bin = r.stdout?.trim().split('\n').pop();
  return r.status === 0 && bin ? { bin } : { skipped: `drachtio-server not available: scripts/build-drachtio.sh exited ${r.status}` };
}

function udpAnswers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), 300);
    s.once('message', () => done(true));
    s.once('error', () => done(false));
    s.bind(0, HOST, () => {
      const local = s.address().port;
      const msg = [
        `OPTIONS sip:${HOST}:${port} SIP/2.0`,
        `Via: SIP/2.0/UDP ${HOST}:${local};branch=z9hG4bK-ping${Date.now()}`,
        'Max-Forwards: 70',
        `From: <sip:ping@${HOST}>;tag=ping`,
        `To: <sip:${HOST}:${port}>`,
        `Call-ID: ping-${Date.now()}@${HOST}`,
        'CSeq: 1 OPTIONS',
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      s.send(msg, port, HOST);
    });
  });
}

function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return '(no log)';
  return readFileSync(file, 'utf8').split('\n').slice(-lines).join('\n');
}

// ---------------------------------------------------------------- the run

const loadBefore = round(loadavg()[0]!, 2);
const ramps: Record<string, RampResult | { skipped: string }> = {};
let exitCode = 0;


/** The proxies of the ramps under way: a ramp stops when one of them has died. */
let liveTargets: Target[] = [];
function checkTargets(): void {
  for (const t of liveTargets) {
    if (t.launched.child.exitCode !== null || t.launched.child.signalCode !== null) {
      throw new Error(`${t.name} exited during the run (${t.launched.child.exitCode ?? t.launched.child.signalCode}); its log ends:\n${tail(t.log)}`);
    }
  }
}

/** Starts proxies (each kept as soon as it runs), runs body, stops them whatever happens. */
async function withTargets<T>(start: (keep: (t: Target) => Target) => Promise<void>, body: () => Promise<T>): Promise<T> {
  liveTargets = [];
  try {
    await start((t) => {
      liveTargets.push(t);
      return t;
    });
    return await body();
  } finally {
    const targets = liveTargets;
    liveTargets = [];
    for (const t of targets.reverse()) {
      // A kadsip node hands its records over on SIGTERM (README: at most shutdownGraceS, 10 s);
      // the bench does not wait for that.
      if (await stop(t.launched)) progress(`${t.name} did not exit within 3 s of SIGTERM: killed; its log ends:\n${tail(t.log, 3).slice(0, 1500)}`);
    }
  }
}


try {
  progress(`sipp ${sippVersion}, kamailio ${kamailioVersion ?? 'not installed'}, ${cpus().length} CPUs, steps of ${stepSeconds} s, work dir ${workDir}`);
  const withKamailio = runKamailio && kamailioBin !== undefined;
  if (runKamailio && !withKamailio) ramps.kamailio_register = ramps.kamailio_calls = { skipped: 'kamailio not installed (Debian kamailio)' };
  // One kadsip node and Kamailio side by side (the idle one costs nothing), each figure measured
  // right after its counterpart, so that a change in the machine's load between them stays small.
  let a: Target | undefined;
  let k: Target | undefined;
  await withTargets(
    async (keep) => {
      if (runKadsip) a = keep(await startKadsip('kadsip-a'));
      if (withKamailio) k = keep(await startKamailio());
    },
    async () => {
      const kadsip = a?.address;
      const kamailio = k?.address;
      if (kadsip && figures.has('register')) ramps.register = await ramp('kadsip REGISTER', maxRegisterRate, (rate, trace) => registerStep(kadsip, rate, trace));
      if (kamailio && figures.has('register')) ramps.kamailio_register = await ramp('kamailio REGISTER', maxRegisterRate, (rate, trace) => registerStep(kamailio, rate, trace));
      if (kadsip && figures.has('calls')) ramps.calls = await ramp('kadsip calls', maxCallRate, (rate, trace) => callStep(kadsip, kadsip, rate, trace));
      if (kamailio && figures.has('calls')) ramps.kamailio_calls = await ramp('kamailio calls', maxCallRate, (rate, trace) => callStep(kamailio, kamailio, rate, trace));
    },
  );
  if (runKadsip && figures.has('cross')) {
    // Two fresh nodes: the callee registers at B, the caller sends to A, A finds the AoR through
    // the overlay.
    let b: Target | undefined;
    await withTargets(
      async (keep) => {
        a = keep(await startKadsip('kadsip-a'));
        b = keep(await startKadsip('kadsip-b', a.address));
      },
      async () => {
        ramps.cross_node_calls = await ramp('kadsip cross-node calls', maxCallRate, (rate, trace) => callStep(a!.address, b!.address, rate, trace));
      },
    );
  }
  if (runKadsip && figures.has('drachtio')) {
    // The callee registers at a native node, the caller at drachtio-server (to the plugin app), and
    // calls through it: drachtio-server -> app (overlay lookup) -> node -> callee, as cross-node
    // calls cross two kadsip nodes.
    const found = drachtioBinary();
    if ('skipped' in found) ramps.drachtio_calls = found;
    else {
      let d: Target | undefined;
      await withTargets(
        async (keep) => {
          a = keep(await startKadsip('kadsip-a'));
          d = await startDrachtio(found.bin, a.address, keep);
        },
        async () => {
          ramps.drachtio_calls = await ramp('drachtio-server + kadsip/drachtio calls', maxCallRate, (rate, trace) => callStep(d!.address, a!.address, rate, trace));
        },
      );
    }
  }
} catch (e) {
  progress(`failed: ${(e as Error).stack ?? String(e)}`);
  exitCode = 2;
}

const best = (key: string): number | null => {
  const r = ramps[key];
  return r !== undefined && 'best' in r ? r.best : null;
};
const ratio = (a: number | null, b: number | null): number | null => (a !== null && b !== null && b > 0 ? round(a / b, 3) : null);
const line = {
  bench: 'sip',
  register_per_s: best('register'),
  calls_per_s: best('calls'),
  cross_node_calls_per_s: best('cross_node_calls'),
  drachtio_calls_per_s: best('drachtio_calls'),
  kamailio_register_per_s: best('kamailio_register'),
  kamailio_calls_per_s: best('kamailio_calls'),
  ratio_register: ratio(best('register'), best('kamailio_register')),
  ratio_calls: ratio(best('calls'), best('kamailio_calls')),
  // Per figure: the rates tried ([rate, clean]) and whether the maximum rate passed (a floor then).
  ramps,
  ...(failures.length > 0 ? { failures: failures.map(({ messages: _m, ...f }) => f) } : {}),
  conditions: {
    step_seconds: stepSeconds,
    pause_ms: pauseMs,
    start_rate: startRate,
    max_register_rate: maxRegisterRate,
    max_call_rate: maxCallRate,
    bisect_steps: bisectSteps,
    figures: [...figures],
    transport: 'udp',
    sipp_version: sippVersion ?? null,
    kamailio_version: kamailioVersion ?? null,
    kamailio_children: 2,
    kadsip_commit: gitHead === undefined ? null : `${gitHead}${gitDirty ? '+dirty' : ''}`,
    node: process.version,
    cpus: cpus().length,
    loadavg_1m_before: loadBefore,
    // Other processes compete for the 2 cores with SIPp and the proxies: a 1-minute load average
    // above ~1 besides this run makes the figures noisy (the ratios less so).
    loadavg_1m_after: round(loadavg()[0]!, 2),
    wall_s: round((performance.now() - started) / 1000, 1),
  },
};
process.stdout.write(JSON.stringify(line) + '\n');
for (const f of failures) {
  if (f.messages !== undefined) progress(`${f.figure} (traced attempt) SIPp messages, last part:\n${f.messages}`);
}
if (exitCode === 0 && Object.entries(ramps).some(([, r]) => 'best' in r && r.best === null)) exitCode = 1;
if (exitCode !== 0 || failures.some((f) => f.messages !== undefined)) {
  children.keepWorkDir = true;
  progress(`logs kept in ${workDir}`);
}
process.exit(exitCode);
