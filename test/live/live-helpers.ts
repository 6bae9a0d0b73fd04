/**
 * Shared by the live tests that drive real processes (SIPp, tshark, a namespaced node): free ports,
 * `kadsip start` as a child process watched through its --http /healthz, and bounded child runs.
 * Nothing here builds: dist/ comes from `npm test` (scripts/test.sh runs tsc before vitest).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { fileURLToPath } from 'node:url';

export const REPO = fileURLToPath(new URL('../..', import.meta.url));
export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

/** Fails (never skips) when dist/ is missing: the test command builds it first. */
export function requireBuilt(): void {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: build first (npx tsc -p tsconfig.json, or npm test which does)`);
}

/** Fails with a clear message when the tests do not run as root; `why` says what needs it. */
export function requireRoot(why: string): void {
  if (process.getuid?.() !== 0) throw new Error(`${why}: run the tests as root`);
}

/** Fails with a clear message when a system tool is missing (scripts/install-system-deps.sh installs it). */
export function requireTool(name: string, pkg: string): void {
  const found = spawnSync('sh', ['-c', `command -v ${name}`], { encoding: 'utf8' });
  if (found.status !== 0) {
    throw new Error(`${name} is not installed: run \`bash scripts/install-system-deps.sh\` (Debian package ${pkg}); npm test does it`);
  }
}

/** Where Debian (and a source build) put baresip's modules. */
const BARESIP_MODULE_DIRS = ['/usr/lib/baresip/modules', '/usr/lib/x86_64-linux-gnu/baresip/modules', '/usr/lib/aarch64-linux-gnu/baresip/modules', '/usr/local/lib/baresip/modules'];

/** baresip's module folder holding `module` (cons.so, turn.so ...); fails with a message when none does. */
export function baresipModuleDir(module: string): string {
  const dir = BARESIP_MODULE_DIRS.find((d) => existsSync(`${d}/${module}`));
  if (!dir) throw new Error(`baresip is installed but its module ${module} is in none of ${BARESIP_MODULE_DIRS.join(', ')}: reinstall baresip-core`);
  return dir;
}

/** Text without ANSI colour codes (baresip colours its log). */
export const plain = (s: string): string => s.replace(/\x1b\[[0-9;]*m/g, '');

function udpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

function tcpFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

/**
 * Ports for live tests come from 20000-31999: below Linux's ephemeral range (32768-60999), so no
 * socket bound to port 0 anywhere (SIPp, HTTP clients, other tests) can take one between our check
 * and the node's bind. Each vitest worker (VITEST_POOL_ID 1..8) owns a slice of its own and walks
 * it in order, so two test files never pick the same block either: files in one worker run one
 * after the other, and a block is bound lazily, case by case, long after it was picked.
 */
const PORT_FLOOR = 20_000;
const PORT_SLICE = 1_500;
const POOL = (Number(process.env.VITEST_POOL_ID ?? '1') - 1 + 8) % 8;
const SLICE_START = PORT_FLOOR + POOL * PORT_SLICE;
let nextPort = SLICE_START + Math.floor(Math.random() * PORT_SLICE);

/** P such that P..P+count-1 are free on 127.0.0.1 for both UDP and TCP, from this worker's slice. */
export async function freePorts(count: number): Promise<number> {
  if (count > PORT_SLICE) throw new Error(`at most ${PORT_SLICE} ports at once`);
  for (let attempt = 0; attempt < 50; attempt++) {
    if (nextPort + count > SLICE_START + PORT_SLICE) nextPort = SLICE_START;
    const base = nextPort;
    nextPort += count;
    let ok = true;
    for (let p = base; p < base + count && ok; p++) ok = (await udpFree(p)) && (await tcpFree(p));
    if (ok) return base;
  }
  throw new Error(`no ${count} consecutive free ports found`);
}

export interface RunningNode {
  readonly process: ChildProcess;
  readonly sipPort: number;
  readonly httpPort: number;
  output(): string;
  stop(): Promise<void>;
}

/** `kadsip start` on 127.0.0.1:sipPort with --http on httpPort; resolves once /healthz says 200. */
export async function startNode(sipPort: number, httpPort: number, extra: string[] = [], timeoutMs = 15_000): Promise<RunningNode> {
  const args = [CLI, 'start', '--listen', `127.0.0.1:${sipPort}`, '--http', `127.0.0.1:${httpPort}`, '--log-level', 'warn', ...extra];
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  let exited: number | null | undefined;
  const exit = new Promise<void>((resolve) =>
    child.once('exit', (code) => {
      exited = code;
      resolve();
    }),
  );
  const node: RunningNode = {
    process: child,
    sipPort,
    httpPort,
    output: () => out,
    async stop() {
      if (exited !== undefined) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 4_000);
      await exit;
      clearTimeout(killer);
    },
  };
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (exited !== undefined) throw new Error(`kadsip start exited (${exited}): ${out}`);
    try {
      const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`, { signal: AbortSignal.timeout(1_000) });
      if (res.status === 200) return node;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  await node.stop();
  throw new Error(`node on ${sipPort} not healthy within ${timeoutMs} ms: ${out}`);
}

export async function statusOf(node: RunningNode): Promise<{ peerId: string; contacts: number; state: string }> {
  const res = await fetch(`http://127.0.0.1:${node.httpPort}/status`, { signal: AbortSignal.timeout(2_000) });
  return (await res.json()) as { peerId: string; contacts: number; state: string };
}

export interface RunResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Runs a command to completion, killed (SIGKILL) after timeoutMs. Never rejects. */
export function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string; timeoutMs: number }): Promise<RunResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { cwd: opts.cwd ?? REPO, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs);
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ code: null, signal: null, stdout, stderr: stderr + String(e) });
    });
    child.once('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}
