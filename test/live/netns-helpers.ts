/**
 * Shared by the live tests that build their own network (test/live/nat.test.ts,
 * test/live/turn.test.ts): network namespaces with unique names, veth pairs, processes run inside
 * a namespace, kadsip nodes there watched through their --http (on the namespace's own loopback),
 * and a cleanup that kills every process and deletes every namespace the lab made. Needs root.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { CLI, REPO, run } from './live-helpers.js';

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

/** The test's namespaces (role -> name), the processes started in them, and their cleanup. */
export class NetnsLab {
  readonly procs: NsProc[] = [];

  /** `tag`: unique per run; veth names are `kn<tag><suffix>` (15 characters at most). */
  constructor(
    readonly tag: string,
    readonly ns: Record<string, string>,
  ) {}

  async create(): Promise<void> {
    for (const ns of Object.values(this.ns)) {
      await sh(['ip', 'netns', 'add', ns], 'create namespace');
      await this.exec(ns, 'ip', 'link', 'set', 'lo', 'up');
    }
  }

  exec(ns: string, ...cmd: string[]): Promise<string> {
    return sh(['ip', 'netns', 'exec', ns, ...cmd], `in ${ns}`);
  }

  /** A veth pair `kn<tag><a>` in nsA <-> `kn<tag><b>` in nsB, both up, with the given addresses (CIDR). */
  async veth(nsA: string, a: string, addrsA: string[], nsB: string, b: string, addrsB: string[]): Promise<void> {
    const [ifA, ifB] = [`kn${this.tag}${a}`, `kn${this.tag}${b}`];
    await sh(['ip', 'link', 'add', ifA, 'netns', nsA, 'type', 'veth', 'peer', 'name', ifB, 'netns', nsB], `veth ${ifA}-${ifB}`);
    for (const [ns, dev, addrs] of [[nsA, ifA, addrsA], [nsB, ifB, addrsB]] as const) {
      for (const addr of addrs) await this.exec(ns, 'ip', 'addr', 'add', addr, 'dev', dev);
      await this.exec(ns, 'ip', 'link', 'set', dev, 'up');
    }
  }

  /**
   * A NAT: `pub` (addresses `pubAddrs`, on veth a) <-> b `nat` c <-> d `priv`. The router
   * masquerades the private /24 out of b, forwards from the public side only what belongs to a
   * mapping (replies, and what the mapping lets in), and is priv's default route. All /24.
   */
  async buildNat(ns: { pub: string; nat: string; priv: string }, ip: { pub: string[]; routerPublic: string; routerPrivate: string; priv: string }): Promise<void> {
    await this.veth(ns.pub, 'a', ip.pub.map((a) => `${a}/24`), ns.nat, 'b', [`${ip.routerPublic}/24`]);
    await this.veth(ns.nat, 'c', [`${ip.routerPrivate}/24`], ns.priv, 'd', [`${ip.priv}/24`]);
    await this.exec(ns.priv, 'ip', 'route', 'add', 'default', 'via', ip.routerPrivate);
    await this.exec(ns.nat, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward');
    const privateNet = `${ip.priv.slice(0, ip.priv.lastIndexOf('.'))}.0/24`;
    await this.exec(ns.nat, 'iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', privateNet, '-o', `kn${this.tag}b`, '-j', 'MASQUERADE');
    // A NAT, not a router: from the public side only replies (and what the mapping lets in) pass.
    await this.exec(ns.nat, 'iptables', '-A', 'FORWARD', '-i', `kn${this.tag}b`, '-m', 'conntrack', '!', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'DROP');
  }

  spawnIn(ns: string, cmd: string, args: string[]): NsProc {
    const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exit = new Promise<number | null>((resolve) => {
      child.once('exit', (code) => resolve(code));
      child.once('error', () => resolve(null));
    });
    const proc = { child, output: () => out, exit };
    this.procs.push(proc);
    return proc;
  }

  /** `kadsip start` in `ns`, UDP only, with /status etc. on the namespace's 127.0.0.1:8080. */
  startNode(ns: string, domain: string, args: string[]): NsProc {
    return this.spawnIn(ns, process.execPath, [CLI, 'start', '--http', '127.0.0.1:8080', '--transports', 'udp', '--domain', domain, '--log-level', 'info', ...args]);
  }

  /** GET on a node's --http server inside its namespace (the test's own namespace cannot reach it). */
  async httpIn(ns: string, path: string): Promise<{ ok: boolean; body: string }> {
    const r = await run('ip', ['netns', 'exec', ns, 'curl', '-fsS', '--max-time', '2', `http://127.0.0.1:8080${path}`], { timeoutMs: 4_000 });
    return { ok: r.code === 0, body: r.stdout };
  }

  async healthy(ns: string, node: NsProc): Promise<void> {
    let exited: number | null | undefined;
    void node.exit.then((c) => (exited = c));
    await until(`the node in ${ns} to be healthy`, 20_000, async () => {
      if (exited !== undefined) throw new Error(`node in ${ns} exited (${exited}): ${node.output()}`);
      return (await this.httpIn(ns, '/healthz')).ok ? true : undefined;
    });
  }

  /** Kills what is still running (SIGKILL) and deletes the namespaces. */
  async cleanup(): Promise<void> {
    for (const p of this.procs.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await Promise.race([p.exit, new Promise((r) => setTimeout(r, 2_000))]);
      }
    }
    for (const ns of Object.values(this.ns)) await run('ip', ['netns', 'del', ns], { timeoutMs: 5_000 });
  }
}
