/**
 * Runs `kadsip start` (the built dist/ CLI) as a child process on 127.0.0.1 and reads its pino log
 * lines, so tests can wait for events ("node listening", "joined overlay") and learn the port it
 * bound when asked for port 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));

export interface ChildNode {
  process: ChildProcess;
  address: string;
  host: string;
  port: number;
  peerId: string;
  logs: Record<string, unknown>[];
  exited: Promise<number | null>;
  waitForLog(msg: string, timeoutMs?: number): Promise<Record<string, unknown>>;
}

export async function startChildNode(args: string[], env: Record<string, string> = {}, timeoutMs = 15_000): Promise<ChildNode> {
  const child = spawn(process.execPath, [CLI, 'start', ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  const waiters: { msg: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
  createInterface({ input: child.stdout! }).on('line', (line) => {
    let parsed: Record<string, unknown>;
    try {
      parsed = JSON.parse(line) as Record<string, unknown>;
    } catch {
      return;
    }
    logs.push(parsed);
    for (const w of [...waiters]) {
      if (parsed.msg === w.msg) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(parsed);
      }
    }
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const waitForLog = (msg: string, ms = timeoutMs): Promise<Record<string, unknown>> => {
    const seen = logs.find((l) => l.msg === msg);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no "${msg}" log within ${ms} ms; stderr: ${stderr}`)), ms);
      waiters.push({ msg, resolve: (l) => { clearTimeout(timer); resolve(l); } });
      void exited.then((code) => reject(new Error(`node exited (${code}) before "${msg}"; stderr: ${stderr}; last logs: ${JSON.stringify(logs.slice(-3))}`)));
    });
  };
  const listening = await waitForLog('node listening');
  const address = String(listening.address);
  const at = address.lastIndexOf(':');
  return {
    process: child,
    address,
    host: address.slice(0, at),
    port: Number(address.slice(at + 1)),
    peerId: String(listening.peerId),
    logs,
    exited,
    waitForLog,
  };
}
