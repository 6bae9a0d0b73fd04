/**
 * Small pieces shared by the live tests that run processes in network namespaces (the multi-host
 * testbed, test/live/testbed.ts, and the tests on it): a process handle, whether this machine can
 * make namespaces at all, a checked command run, polling, and reading a node's JSON log.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { run } from './live-helpers.js';

export interface NsProc {
  child: ChildProcess;
  output(): string;
  exit: Promise<number | null>;
}

/** Why this machine cannot build namespaces at all (no root, no netns support), or null when it can. */
export function netnsUnavailable(): string | null {
  if (process.getuid?.() !== 0) return 'needs root: it creates network namespaces (ip netns) and a NAT (iptables)';
  const probe = spawnSync('unshare', ['--net', 'true'], { encoding: 'utf8' });
  if (probe.error || probe.status !== 0) return `this machine cannot make network namespaces (unshare --net: ${probe.error?.message ?? probe.stderr.trim()})`;
  return null;
}

/** Runs a command to completion; a non-zero exit throws with `what` and the output. */
export async function sh(args: string[], what: string): Promise<string> {
  const r = await run(args[0]!, args.slice(1), { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`${what}: \`${args.join(' ')}\` exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

/** Polls `probe` every 150 ms until it gives a value; throws after `ms`. */
export async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** A node's pino JSON log lines, parsed. */
export function logLines(node: NsProc): Array<Record<string, unknown>> {
  return node
    .output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return {};
      }
    });
}

/**
 * Whether the node logged a registration published in the overlay and stored at one peer at least
 * (itself included); with `user`, one of that user's AoR (`sip:user@...`).
 */
export function registrationPublished(node: NsProc, user?: string): boolean {
  return logLines(node).some(
    (l) => l.msg === 'registration published in the overlay' && Number(l.storedAt) >= 1 && (user === undefined || String(l.aor).startsWith(`sip:${user}@`)),
  );
}
