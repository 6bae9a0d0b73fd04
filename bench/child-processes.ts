/**
 * The child processes of a benchmark (nodes, SIPp, Kamailio, ...): each in a process group of its
 * own, all killed whatever way the benchmark ends (normal exit, a signal, its watchdog), and the
 * work directory removed at exit unless its logs are to be kept. One piece of code for bench:sip
 * and bench:flood.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { closeSync, openSync, rmSync } from 'node:fs';

export interface Launched {
  child: ChildProcess;
  exited: Promise<number | null>;
}

export interface ChildProcessesOptions {
  /** Where children run and write; removed at exit unless `keepWorkDir` is set. */
  workDir: string;
  keepWorkDir: boolean;
  /** One line of progress on stderr (a signal, a child that cannot start, the watchdog). */
  progress: (line: string) => void;
  /** Past this the benchmark gives up (exit 2): every load loop is bounded in time. */
  maxMs: number;
}

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

export class ChildProcesses {
  readonly #children = new Set<ChildProcess>();
  /** Set to keep the work directory (and its logs) at exit, e.g. after a failure. */
  keepWorkDir: boolean;

  constructor(private readonly opts: ChildProcessesOptions) {
    this.keepWorkDir = opts.keepWorkDir;
    process.on('exit', () => {
      this.killAll();
      if (!this.keepWorkDir) rmSync(opts.workDir, { recursive: true, force: true });
    });
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
      process.on(signal, () => {
        opts.progress(`${signal}: stopping`);
        this.killAll();
        process.exit(130);
      });
    }
    setTimeout(() => {
      opts.progress(`over ${Math.round(opts.maxMs / 60_000)} minutes: giving up`);
      this.killAll();
      process.exit(2);
    }, opts.maxMs).unref();
  }

  /** Starts a command in a process group of its own; stdout and stderr go to a file (or nowhere). */
  launch(cmd: string, args: string[], logFile?: string, env?: NodeJS.ProcessEnv): Launched {
    const out = logFile === undefined ? 'ignore' : openSync(logFile, 'a');
    const child = spawn(cmd, args, { cwd: this.opts.workDir, detached: true, stdio: ['ignore', out, out], ...(env ? { env: { ...process.env, ...env } } : {}) });
    if (typeof out === 'number') closeSync(out);
    this.#children.add(child);
    const exited = new Promise<number | null>((resolve) => {
      child.once('exit', (code, signal) => {
        this.#children.delete(child);
        resolve(code ?? (signal === null ? null : 128));
      });
      child.once('error', (e) => {
        this.#children.delete(child);
        this.opts.progress(`${cmd}: ${e.message}`);
        resolve(255);
      });
    });
    return { child, exited };
  }

  /** SIGTERM to the group, SIGKILL after graceMs; true when it had to be killed. */
  async stop(l: Launched, graceMs = 3000): Promise<boolean> {
    if (l.child.exitCode !== null || l.child.signalCode !== null) return false;
    killGroup(l.child, 'SIGTERM');
    const done = await Promise.race([l.exited.then(() => true), sleep(graceMs).then(() => false)]);
    if (!done) {
      killGroup(l.child, 'SIGKILL');
      await Promise.race([l.exited, sleep(1000)]);
    }
    return !done;
  }

  killAll(): void {
    for (const c of this.#children) killGroup(c, 'SIGKILL');
    this.#children.clear();
  }
}

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined) return;
  try {
    process.kill(-child.pid, signal); // the child leads a process group of its own (detached)
  } catch {
    try {
      child.kill(signal);
    } catch {
      /* already gone */
    }
  }
}
