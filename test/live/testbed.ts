/**
 * THE multi-host testbed (issue 9): a small internet in network namespaces, built per test file,
 * with unique names, and always taken down. Every multi-host live test and `npm run bench:testbed`
 * use it. Needs root, iproute2, iptables, conntrack and python3 (scripts/install-system-deps.sh).
 *
 * Topology
 *
 *     host ns "a"  192.0.2.10   eth0 ─┐                       ┌─ eth0 203.0.113.7   host ns "c"
 *     host ns "b"  198.51.100.5 eth0 ─┤  switch (one userspace├─ eth0 198.51.100.1  NAT ns "n1"
 *          (+ 2001:db8::/32, opt.)    │  process: learning    │     br0 10.77.1.1/24 ──┬── eth0 10.77.1.10  "p1"
 *                                     │  bridge + netem per   │     (MASQUERADE ...)   └── eth0 10.77.1.11  "p2"
 *                                     └─ port)                ┘
 *
 * - Public hosts and the NAT boxes' public sides sit on ONE link: every public interface carries
 *   on-link routes to 192.0.2.0/24, 198.51.100.0/24 and 203.0.113.0/24 (and 2001:db8::/32 for IPv6
 *   addresses, added with `nodad` so they are usable at once), so any public host reaches any other
 *   directly. There is no default route on a public host: nothing can leave for the real network.
 * - The link layer is test/live/testbed-switch.py, one python3 process holding a TAP device in each
 *   public namespace. It exists because this kernel has no tc netem (CONFIG_NET_SCH_NETEM unset):
 *   it applies, on each host's egress, a delay (+- jitter) and a loss, so the RTT between A and B is
 *   delayA + delayB. `linkConfig()` reads the configuration and frame counters back from it.
 * - A NAT box is a namespace with a public address on the link and a private 10.77.N.0/24 behind
 *   it (a Linux bridge br0 in the NAT namespace, router 10.77.N.1, hosts .10, .11 ... by veth).
 *   Hosts behind it have the NAT as their default route. Three kinds:
 *     'eim'        iptables MASQUERADE: endpoint-independent mapping (one external port per source
 *                  socket, whatever the destination); from the public side only what belongs to a
 *                  mapping passes (FORWARD drops what conntrack does not know).
 *     'symmetric'  MASQUERADE --random-fully: address-and-port-dependent mapping, a new random
 *                  external port per destination (testbed.test.ts verifies it).
 *     'dropping'   MASQUERADE, unsolicited inbound dropped silently (also to the box itself), and
 *                  UDP mappings time out after `udpTimeoutS` idle seconds (nf_conntrack_udp_timeout
 *                  and _stream in that namespace only; default 20 s).
 *   `flushNat(nat)` forgets every mapping (conntrack -F); `changeNatAddress(nat, ip)` renumbers its
 *   public side (mappings are gone and the next ones use the new address).
 * - Names: every namespace is `ktb<pid>x<rand>-<name>` (one run of one vitest worker); interfaces
 *   live inside the namespaces (eth0, br0, lanN), so no name reaches the root namespace. Torn
 *   down by `destroy()`, and, should the test process end otherwise, by 'exit'/SIGINT/SIGTERM
 *   handlers (synchronous); `Testbed.create()` first sweeps namespaces of earlier runs whose owner
 *   pid is dead, killing what still runs in them. The switch exits when its stdin closes.
 *
 * API (all async unless noted)
 *   const tb = await Testbed.create()
 *   tb.addHost(name, ip, { delayMs, jitterMs, lossPct, ip6 })     -> Host      (public host)
 *   tb.addNat(name, kind, publicIp, { delayMs, lossPct, udpTimeoutS }) -> Nat
 *   tb.addPrivateHost(nat, name)                                  -> Host      (10.77.N.10+)
 *   tb.setLink(hostOrNat, { delayMs, jitterMs, lossPct });  tb.linkConfig() -> per-port figures
 *   tb.configuredRttMs(a, b), tb.configuredRttMatrix(hosts?) (sync);
 *   tb.measureRttMs(a, b, samples, { ipv6?, port? }) (UDP echo from a to b, median ms)
 *   tb.exec(host, ...cmd) -> stdout (throws on failure);  tb.run(host, cmd, args, ms) -> RunResult
 *   tb.spawn(host, cmd, args, { stdin?, env? }) -> NsProc (killed at destroy);  tb.signal(proc, sig)
 *   tb.stop(proc, ms?) -> exit code (SIGTERM, then SIGKILL after ms)
 *   tb.startNode(host, args, { domain?, logLevel?, env? }) -> NsProc: `node dist/cli/main.js start
 *     --listen IP:5060 --http 127.0.0.1:8080 --log-level info ...args` in the host's namespace
 *     (with `--trust TESTBED_NETWORKS` unless args or env set trust: the testbed's phones are trusted)
 *   tb.healthy(host, proc, ms?);  tb.http(host, path) -> { ok, body };  tb.status(host) -> /status
 *   tb.kadsip(host, args, ms?) -> RunResult of the kadsip CLI run in that host (lookup, candidates)
 *   tb.sipp(host, scenario, args, { timeoutS, errorFile?, ip? }) -> NsProc: one SIPp call
 *     (`-sf scenario -i IP -m 1 -nostdin -timeout Ns -timeout_error [-trace_err -error_file F] ...args`)
 *   tb.udpProbe(host, port) -> UdpProbe: one UDP socket; send(ip, port, text); received lines
 *   tb.flushNat(nat);  tb.changeNatAddress(nat, newIp);  tb.destroy()
 *   sweepStaleTestbeds() (sync) — what create() runs first; testbedNamespaces() (sync)
 *   requireTestbed() (sync) — the root/tool checks create() makes, failing with a message
 *   startOverlay(tb, count, { minDelayMs, maxDelayMs, lossPct, domain, firstArgs, perNodeArgs,
 *     env, logLevel }) -> { hosts, nodes }: count public hosts h0.. (publicAddress(i)), a node on
 *     each, all bootstrapped through h0's, resolved once every /status says joined
 *   natScene(tb, kind, natOpts?) -> { a, b, nat, p1 }: the NAT tests' small internet: public hosts
 *     a 192.0.2.10 and b 198.51.100.10, NAT n1 of `kind` at 203.0.113.1, private host p1 behind it
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { CLI, REPO, requireBuilt, requireRoot, requireTool, run, type RunResult } from './live-helpers.js';
import { sh, until, type NsProc } from './netns-helpers.js';

export type NatKind = 'eim' | 'symmetric' | 'dropping';

export interface LinkOptions {
  delayMs?: number;
  jitterMs?: number;
  lossPct?: number;
}

export interface Host {
  readonly name: string;
  /** The network namespace (`ip netns exec <ns> ...`). */
  readonly ns: string;
  /** Its IPv4 address: public, or 10.77.N.x behind a NAT. */
  readonly ip: string;
  readonly ip6?: string;
  /** The NAT it sits behind, if any. */
  readonly nat?: Nat;
  /** Its egress link (public hosts; a host behind a NAT shares its NAT's). */
  link: Required<LinkOptions>;
}

export interface Nat {
  readonly name: string;
  readonly ns: string;
  readonly kind: NatKind;
  /** Its public address (changeNatAddress updates it). */
  publicIp: string;
  /** 10.77.N: the private /24 behind it is `${prefix}.0/24`, the router `${prefix}.1`. */
  readonly prefix: string;
  readonly udpTimeoutS?: number;
  readonly hosts: Host[];
  link: Required<LinkOptions>;
}

export interface UdpProbe {
  readonly proc: NsProc;
  /** Sends one datagram from the probe's socket. */
  send(ip: string, port: number, text: string): void;
  /** What the socket received: { from: 'ip', port, text } in order. */
  received(): Array<{ from: string; port: number; text: string }>;
  /** Waits until a datagram matching `pred` arrives; throws after ms. */
  waitFor(pred: (d: { from: string; port: number; text: string }) => boolean, ms: number): Promise<{ from: string; port: number; text: string }>;
}

const SWITCH = fileURLToPath(new URL('./testbed-switch.py', import.meta.url));
const PREFIX = 'ktb';
const PUBLIC_NETS = ['192.0.2.0/24', '198.51.100.0/24', '203.0.113.0/24'];
/** Every address the testbed hands out (public, IPv6, behind its NATs) plus loopback, as a `trust` list. */
export const TESTBED_NETWORKS = [...PUBLIC_NETS, '10.77.0.0/16', '2001:db8::/32', '127.0.0.0/8', '::1'].join(',');
const SIX_NET = '2001:db8::/32';
/** Every testbed of this process, for the exit/signal handlers. */
const live = new Set<Testbed>();

const PROBE_PY = `
import socket, sys, os, select
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print('ready', flush=True)
buf = b''
while True:
    r, _, _ = select.select([s, 0], [], [])
    if s in r:
        d, a = s.recvfrom(2048)
        print('recv', a[0], a[1], d.decode(errors='replace'), flush=True)
    if 0 in r:
        chunk = os.read(0, 4096)
        if not chunk:
            break
        buf += chunk
        while b'\\n' in buf:
            line, buf = buf.split(b'\\n', 1)
            p = line.decode().split(' ', 3)
            if p[0] == 'send':
                s.sendto(p[3].encode(), (p[1], int(p[2])))
`;

const ECHO_PY = `
import socket, sys
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.bind((sys.argv[1], int(sys.argv[2])))
print('ready', flush=True)
while True:
    d, a = s.recvfrom(2048)
    s.sendto(d, a)
`;

const RTT_PY = `
import socket, sys, time, statistics
fam = socket.AF_INET6 if ':' in sys.argv[1] else socket.AF_INET
s = socket.socket(fam, socket.SOCK_DGRAM)
s.settimeout(3.0)
out = []
s.sendto(b'warm', (sys.argv[1], int(sys.argv[2])))
try:
    s.recvfrom(100)
except OSError:
    pass
for i in range(int(sys.argv[3])):
    t = time.monotonic()
    s.sendto(str(i).encode(), (sys.argv[1], int(sys.argv[2])))
    try:
        while s.recvfrom(100)[0] != str(i).encode():
            pass
        out.append((time.monotonic() - t) * 1000)
    except OSError:
        pass
print(statistics.median(out) if out else -1)
`;

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Names of every testbed namespace on this machine (any run). Sync. */
export function testbedNamespaces(): string[] {
  const r = spawnSync('ip', ['netns', 'list'], { encoding: 'utf8' });
  return (r.stdout ?? '')
    .split('\n')
    .map((l) => l.split(' ')[0]!)
    .filter((n) => n.startsWith(PREFIX) && /^ktb\d+x/.test(n));
}

/** Kills what runs in `ns` and deletes it. Sync, never throws. */
function deleteNamespaceSync(ns: string): void {
  const pids = spawnSync('ip', ['netns', 'pids', ns], { encoding: 'utf8' });
  for (const pid of (pids.stdout ?? '').split(/\s+/).filter(Boolean)) {
    try {
      process.kill(Number(pid), 'SIGKILL');
    } catch {
      // already gone
    }
  }
  spawnSync('ip', ['netns', 'del', ns], { encoding: 'utf8' });
}

/** Deletes the namespaces of earlier testbeds whose owner process is dead (a killed run). Sync. */
export function sweepStaleTestbeds(): string[] {
  const swept: string[] = [];
  for (const ns of testbedNamespaces()) {
    const pid = Number(/^ktb(\d+)x/.exec(ns)![1]);
    if (pid !== process.pid && !pidAlive(pid)) {
      deleteNamespaceSync(ns);
      swept.push(ns);
    }
  }
  return swept;
}

function destroyAllSync(): void {
  for (const tb of live) tb.destroySync();
}

let handlersInstalled = false;
function installHandlers(): void {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('exit', destroyAllSync);
  for (const sig of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(sig, () => {
      destroyAllSync();
      process.exit(128 + (sig === 'SIGINT' ? 2 : sig === 'SIGTERM' ? 15 : 1));
    });
  }
}

/** Fails with a clear message when this machine cannot build a testbed. */
export function requireTestbed(): void {
  requireBuilt();
  requireRoot('the multi-host testbed needs root: it creates network namespaces (ip netns), TAP devices and NATs (iptables)');
  requireTool('ip', 'iproute2');
  requireTool('iptables', 'iptables');
  requireTool('conntrack', 'conntrack');
  requireTool('python3', 'python3');
  requireTool('curl', 'curl');
}

export class Testbed {
  readonly tag: string;
  readonly hosts: Host[] = [];
  readonly nats: Nat[] = [];
  private readonly procs: NsProc[] = [];
  private readonly namespaces: string[] = [];
  private switchProc!: ChildProcess;
  private switchOut = '';
  private switchWaiters: Array<(line: string) => void> = [];
  private destroyed = false;

  private constructor() {
    this.tag = `${PREFIX}${process.pid}x${randomBytes(2).toString('hex')}`;
  }

  /** Checks the tools, sweeps stale testbeds, starts the switch. */
  static async create(): Promise<Testbed> {
    requireTestbed();
    sweepStaleTestbeds();
    installHandlers();
    const tb = new Testbed();
    live.add(tb);
    await tb.startSwitch();
    return tb;
  }

  private async startSwitch(): Promise<void> {
    const ns = await this.newNamespace('switch');
    this.switchProc = spawn('ip', ['netns', 'exec', ns, 'python3', '-I', '-S', SWITCH], { stdio: ['pipe', 'pipe', 'pipe'] });
    this.switchProc.stdout!.on('data', (d: Buffer) => {
      this.switchOut += d.toString();
      let i: number;
      while ((i = this.switchOut.indexOf('\n')) >= 0) {
        const line = this.switchOut.slice(0, i);
        this.switchOut = this.switchOut.slice(i + 1);
        this.switchWaiters.shift()?.(line);
      }
    });
    let err = '';
    this.switchProc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const ready = await Promise.race([
      new Promise<string>((resolve) => this.switchWaiters.push(resolve)),
      new Promise<string>((resolve) => setTimeout(() => resolve(`timeout ${err}`), 10_000)),
    ]);
    if (ready !== 'ready') throw new Error(`the testbed switch did not start: ${ready}`);
  }

  /** One command to the switch; its answer line ("ok ..." or JSON), or throws on "err". */
  private switchCmd(line: string): Promise<string> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`testbed switch: no answer to ${line}`)), 10_000);
      this.switchWaiters.push((answer) => {
        clearTimeout(timer);
        if (answer.startsWith('err')) reject(new Error(`testbed switch: ${line}: ${answer}`));
        else resolve(answer);
      });
      this.switchProc.stdin!.write(`${line}\n`);
    });
  }

  private async newNamespace(name: string): Promise<string> {
    if (!/^[a-z0-9]{1,20}$/.test(name)) throw new Error(`testbed name ${name}: lower-case letters and digits only`);
    const ns = `${this.tag}-${name}`;
    if (this.namespaces.includes(ns)) throw new Error(`testbed: ${name} exists`);
    await sh(['ip', 'netns', 'add', ns], 'create namespace');
    this.namespaces.push(ns);
    await sh(['ip', '-n', ns, 'link', 'set', 'lo', 'up'], 'lo up');
    // Addresses usable at once: no duplicate address detection anywhere in the testbed.
    await sh(['ip', 'netns', 'exec', ns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0'], 'no DAD');
    return ns;
  }

  /** A TAP `eth0` in `ns`, on the switch, up, with its addresses and on-link routes. */
  private async attach(ns: string, ip: string, link: Required<LinkOptions>, ip6?: string): Promise<void> {
    await this.switchCmd(`add ${ns} eth0 ${link.delayMs} ${link.jitterMs} ${link.lossPct}`);
    await sh(['ip', '-n', ns, 'addr', 'add', `${ip}/32`, 'dev', 'eth0'], 'address');
    if (ip6) await sh(['ip', '-n', ns, 'addr', 'add', `${ip6}/128`, 'dev', 'eth0', 'nodad'], 'IPv6 address');
    await sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'up'], 'eth0 up');
    for (const net of PUBLIC_NETS) await sh(['ip', '-n', ns, 'route', 'add', net, 'dev', 'eth0', 'src', ip], `on-link ${net}`);
    if (ip6) await sh(['ip', '-n', ns, '-6', 'route', 'add', SIX_NET, 'dev', 'eth0', 'src', ip6], 'on-link 2001:db8::/32');
  }

  private static link(o: LinkOptions = {}): Required<LinkOptions> {
    return { delayMs: o.delayMs ?? 0, jitterMs: o.jitterMs ?? 0, lossPct: o.lossPct ?? 0 };
  }

  /** A public host at `ip` (one of the three documentation /24s), optionally with an IPv6 address. */
  async addHost(name: string, ip: string, opts: LinkOptions & { ip6?: string } = {}): Promise<Host> {
    const ns = await this.newNamespace(name);
    const host: Host = { name, ns, ip, ip6: opts.ip6, link: Testbed.link(opts) };
    await this.attach(ns, ip, host.link, opts.ip6);
    this.hosts.push(host);
    return host;
  }

  /** A NAT box of `kind` with its public side at `publicIp` and 10.77.N.0/24 behind it. */
  async addNat(name: string, kind: NatKind, publicIp: string, opts: LinkOptions & { udpTimeoutS?: number } = {}): Promise<Nat> {
    const ns = await this.newNamespace(name);
    const prefix = `10.77.${this.nats.length + 1}`;
    const nat: Nat = { name, ns, kind, publicIp, prefix, udpTimeoutS: kind === 'dropping' ? (opts.udpTimeoutS ?? 20) : undefined, hosts: [], link: Testbed.link(opts) };
    await this.attach(ns, publicIp, nat.link);
    const x = (...cmd: string[]): Promise<string> => sh(['ip', 'netns', 'exec', ns, ...cmd], `NAT ${name}`);
    await x('ip', 'link', 'add', 'br0', 'type', 'bridge');
    await x('ip', 'addr', 'add', `${prefix}.1/24`, 'dev', 'br0');
    await x('ip', 'link', 'set', 'br0', 'up');
    await x('sysctl', '-qw', 'net.ipv4.ip_forward=1');
    const masq = ['iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', `${prefix}.0/24`, '-o', 'eth0', '-j', 'MASQUERADE'];
    await x(...masq, ...(kind === 'symmetric' ? ['--random-fully'] : []));
    // A NAT, not a router: from the public side only what belongs to a mapping is forwarded.
    await x('iptables', '-A', 'FORWARD', '-i', 'eth0', '-m', 'conntrack', '!', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'DROP');
    if (kind === 'dropping') {
      // Silent: no ICMP port unreachable from the box either, as a firewalled home router.
      await x('iptables', '-A', 'INPUT', '-i', 'eth0', '-m', 'conntrack', '!', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'DROP');
      await x('sysctl', '-qw', `net.netfilter.nf_conntrack_udp_timeout=${nat.udpTimeoutS}`, `net.netfilter.nf_conntrack_udp_timeout_stream=${nat.udpTimeoutS}`);
    }
    this.nats.push(nat);
    return nat;
  }

  /** A host behind `nat`: 10.77.N.(10 + i), default route via the NAT. */
  async addPrivateHost(nat: Nat, name: string): Promise<Host> {
    const ns = await this.newNamespace(name);
    const ip = `${nat.prefix}.${10 + nat.hosts.length}`;
    const lan = `lan${nat.hosts.length}`;
    await sh(['ip', '-n', nat.ns, 'link', 'add', lan, 'type', 'veth', 'peer', 'name', 'eth0', 'netns', ns], 'veth to the NAT');
    await sh(['ip', '-n', nat.ns, 'link', 'set', lan, 'master', 'br0'], 'veth on br0');
    await sh(['ip', '-n', nat.ns, 'link', 'set', lan, 'up'], 'veth up');
    await sh(['ip', '-n', ns, 'addr', 'add', `${ip}/24`, 'dev', 'eth0'], 'private address');
    await sh(['ip', '-n', ns, 'link', 'set', 'eth0', 'up'], 'eth0 up');
    await sh(['ip', '-n', ns, 'route', 'add', 'default', 'via', `${nat.prefix}.1`], 'default route');
    const host: Host = { name, ns, ip, nat, link: nat.link };
    nat.hosts.push(host);
    this.hosts.push(host);
    return host;
  }

  /** Changes the egress delay/jitter/loss of a public host or a NAT box. */
  async setLink(target: Host | Nat, opts: LinkOptions): Promise<void> {
    if ('nat' in target && target.nat) throw new Error(`${target.name} is behind NAT ${target.nat.name}: set the NAT's link`);
    const link = { ...target.link, ...opts };
    await this.switchCmd(`set ${target.ns}/eth0 ${link.delayMs} ${link.jitterMs} ${link.lossPct}`);
    target.link = link;
  }

  /** Per port (`ns/eth0`): the configured delay/jitter/loss and the frames sent, dropped, delivered. */
  async linkConfig(): Promise<Record<string, { delayMs: number; jitterMs: number; lossPct: number; sent: number; dropped: number; delivered: number }>> {
    return JSON.parse(await this.switchCmd('get')) as Record<string, { delayMs: number; jitterMs: number; lossPct: number; sent: number; dropped: number; delivered: number }>;
  }

  /** The RTT the links add between two hosts (delays of both egress links). Sync. */
  configuredRttMs(a: Host, b: Host): number {
    // A host behind a NAT sends through the NAT's link (the private side adds no delay).
    return (a.nat ?? a).link.delayMs + (b.nat ?? b).link.delayMs;
  }

  /** configuredRttMs for every pair of `hosts` (row i, column j), 0 on the diagonal. Sync. */
  configuredRttMatrix(hosts: Host[] = this.hosts): number[][] {
    return hosts.map((a) => hosts.map((b) => (a === b ? 0 : this.configuredRttMs(a, b))));
  }

  /** Median UDP echo RTT from a to b (`samples` probes, after one warm-up for ARP). */
  async measureRttMs(a: Host, b: Host, samples = 5, opts: { port?: number; ipv6?: boolean } = {}): Promise<number> {
    const target = opts.ipv6 ? b.ip6 : b.ip;
    if (!target) throw new Error(`${b.name} has no IPv6 address`);
    const port = opts.port ?? 7;
    const echo = this.spawn(b, 'python3', ['-I', '-S', '-c', ECHO_PY, target, String(port)]);
    try {
      await until(`echo server on ${b.name}`, 15_000, () => (echo.output().includes('ready') ? true : undefined));
      // Bounded, with room for a loaded machine (each probe waits up to 3 s for its echo).
      const r = await this.run(a, 'python3', ['-I', '-S', '-c', RTT_PY, target, String(port), String(samples)], 15_000 + samples * 3_500);
      const ms = Number(r.stdout.trim());
      if (r.code !== 0 || !(ms >= 0)) throw new Error(`RTT ${a.name} -> ${b.name}: ${r.stdout}${r.stderr}`);
      return ms;
    } finally {
      await this.stop(echo, 1_000);
    }
  }

  /** Runs a command in the host to completion; throws with its output on a non-zero exit. */
  exec(host: Host | Nat, ...cmd: string[]): Promise<string> {
    return sh(['ip', 'netns', 'exec', host.ns, ...cmd], `in ${host.name}`);
  }

  /** Runs a command in the host, killed after ms; never throws. */
  run(host: Host | Nat, cmd: string, args: string[], timeoutMs = 15_000): Promise<RunResult> {
    return run('ip', ['netns', 'exec', host.ns, cmd, ...args], { timeoutMs });
  }

  /** A long-running command in the host (stdout+stderr collected), killed at destroy(). */
  spawn(host: Host | Nat, cmd: string, args: string[], opts: { stdin?: boolean; env?: NodeJS.ProcessEnv } = {}): NsProc {
    const child = spawn('ip', ['netns', 'exec', host.ns, cmd, ...args], { cwd: REPO, env: { ...process.env, ...opts.env }, stdio: [opts.stdin ? 'pipe' : 'ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exit = new Promise<number | null>((resolve) => {
      child.once('exit', (code, signal) => resolve(code ?? (signal ? 128 + (signal === 'SIGKILL' ? 9 : signal === 'SIGTERM' ? 15 : 1) : null)));
      child.once('error', () => resolve(null));
    });
    const proc: NsProc = { child, output: () => out, exit };
    this.procs.push(proc);
    return proc;
  }

  /**
   * Sends a signal to a process spawned in a namespace. `ip netns exec` execs the command (same
   * pid), so the signal reaches the command itself.
   */
  signal(proc: NsProc, sig: NodeJS.Signals): void {
    if (proc.child.exitCode === null && proc.child.signalCode === null) proc.child.kill(sig);
  }

  /** SIGTERM, then SIGKILL after `ms`; the exit code (128+signal when killed by one). */
  async stop(proc: NsProc, ms = 5_000): Promise<number | null> {
    this.signal(proc, 'SIGTERM');
    const timer = setTimeout(() => this.signal(proc, 'SIGKILL'), ms);
    const code = await proc.exit;
    clearTimeout(timer);
    return code;
  }

  /**
   * `kadsip start` on the host's own address, port 5060, with --http on its 127.0.0.1:8080. The
   * testbed's phones are the operator's own: unless `args` give --trust (or KADSIP_TRUST is in
   * `env`), the node trusts every testbed network (TESTBED_NETWORKS), so its phones call out
   * without a digest challenge as they would from a configured office LAN (README "Who may do what").
   */
  startNode(host: Host, args: string[] = [], opts: { domain?: string; logLevel?: string; env?: NodeJS.ProcessEnv } = {}): NsProc {
    const domain = opts.domain ? ['--domain', opts.domain] : [];
    const trust = args.includes('--trust') || opts.env?.KADSIP_TRUST !== undefined ? [] : ['--trust', TESTBED_NETWORKS];
    return this.spawn(host, process.execPath, [CLI, 'start', '--listen', `${host.ip}:5060`, '--http', '127.0.0.1:8080', '--log-level', opts.logLevel ?? 'info', ...domain, ...trust, ...args], { env: opts.env });
  }

  /** The kadsip CLI (lookup, candidates ...) run to completion in the host. */
  kadsip(host: Host, args: string[], timeoutMs = 20_000): Promise<RunResult> {
    return this.run(host, process.execPath, [CLI, ...args], timeoutMs);
  }

  /**
   * One SIPp run of `scenario` (a file path) in the host: from `ip` (the host's address unless
   * given), one call (-m 1), no stdin, failing after `timeoutS` (-timeout, -timeout_error); with
   * `errorFile`, the unexpected messages are written there (-trace_err). `args` follow: port,
   * service, keys, the target.
   */
  sipp(host: Host, scenario: string, args: string[], opts: { timeoutS: number; errorFile?: string; ip?: string }): NsProc {
    const errors = opts.errorFile ? ['-trace_err', '-error_file', opts.errorFile] : [];
    return this.spawn(host, 'sipp', ['-sf', scenario, '-i', opts.ip ?? host.ip, '-m', '1', '-nostdin', '-timeout', `${opts.timeoutS}s`, '-timeout_error', ...errors, ...args]);
  }

  /** GET on the host's node --http (127.0.0.1:8080 inside its namespace). */
  async http(host: Host, path: string): Promise<{ ok: boolean; body: string }> {
    const r = await this.run(host, 'curl', ['-fsS', '--max-time', '2', `http://127.0.0.1:8080${path}`], 4_000);
    return { ok: r.code === 0, body: r.stdout };
  }

  /** The node's /status, parsed (throws when it does not answer). */
  async status<T = Record<string, unknown>>(host: Host): Promise<T> {
    const r = await this.http(host, '/status');
    if (!r.ok) throw new Error(`/status of ${host.name} did not answer`);
    return JSON.parse(r.body) as T;
  }

  /** Waits until the node answers /healthz 200; throws with its output if it exits first. */
  async healthy(host: Host, node: NsProc, ms = 20_000): Promise<void> {
    let exited: number | null | undefined;
    void node.exit.then((c) => (exited = c));
    await until(`the node on ${host.name} to be healthy`, ms, async () => {
      if (exited !== undefined) throw new Error(`node on ${host.name} exited (${exited}): ${node.output()}`);
      return (await this.http(host, '/healthz')).ok ? true : undefined;
    });
  }

  /** One UDP socket bound to ip:port in the host, driven over stdin, printing what it receives. */
  async udpProbe(host: Host, port: number, ip = host.ip): Promise<UdpProbe> {
    const proc = this.spawn(host, 'python3', ['-I', '-S', '-u', '-c', PROBE_PY, ip, String(port)], { stdin: true });
    await until(`UDP probe on ${host.name}`, 5_000, () => {
      if (proc.child.exitCode !== null) throw new Error(`UDP probe on ${host.name}: ${proc.output()}`);
      return proc.output().includes('ready') ? true : undefined;
    });
    const received = (): Array<{ from: string; port: number; text: string }> =>
      proc
        .output()
        .split('\n')
        .filter((l) => l.startsWith('recv '))
        .map((l) => {
          const [, from, p, ...text] = l.split(' ');
          return { from: from!, port: Number(p), text: text.join(' ') };
        });
    return {
      proc,
      send: (ip2, port2, text) => void proc.child.stdin!.write(`send ${ip2} ${port2} ${text}\n`),
      received,
      waitFor: (pred, ms) => until(`a datagram on ${host.name}`, ms, () => received().find(pred)),
    };
  }

  /** Forgets every mapping of the NAT (conntrack -F): the next packet out gets a new one. */
  async flushNat(nat: Nat): Promise<void> {
    await this.exec(nat, 'conntrack', '-F');
  }

  /** Renumbers the NAT's public side; its mappings go (MASQUERADE drops them with the address). */
  async changeNatAddress(nat: Nat, newIp: string): Promise<void> {
    await this.exec(nat, 'ip', 'addr', 'add', `${newIp}/32`, 'dev', 'eth0');
    for (const net of PUBLIC_NETS) await this.exec(nat, 'ip', 'route', 'replace', net, 'dev', 'eth0', 'src', newIp);
    await this.exec(nat, 'ip', 'addr', 'del', `${nat.publicIp}/32`, 'dev', 'eth0');
    await this.exec(nat, 'conntrack', '-F');
    nat.publicIp = newIp;
  }

  /** Kills every process, stops the switch, deletes every namespace. */
  async destroy(): Promise<void> {
    if (this.destroyed) return;
    for (const p of this.procs.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGKILL');
        await Promise.race([p.exit, new Promise((r) => setTimeout(r, 2_000))]);
      }
    }
    this.destroySync();
  }

  /** The synchronous teardown the exit/signal handlers use. */
  destroySync(): void {
    if (this.destroyed) return;
    this.destroyed = true;
    live.delete(this);
    for (const p of this.procs.splice(0)) {
      if (p.child.exitCode === null && p.child.signalCode === null) p.child.kill('SIGKILL');
    }
    this.switchProc?.stdin?.end();
    this.switchProc?.kill('SIGKILL');
    for (const ns of this.namespaces.splice(0).reverse()) deleteNamespaceSync(ns);
  }
}

/** Address of the i-th public host of a generated topology: round-robin over the three /24s. */
export function publicAddress(i: number): string {
  const nets = ['192.0.2', '198.51.100', '203.0.113'];
  return `${nets[i % 3]}.${10 + Math.floor(i / 3)}`;
}

export interface Overlay {
  hosts: Host[];
  nodes: NsProc[];
}

/**
 * The NAT tests' small internet: public hosts a (192.0.2.10) and b (198.51.100.10), a NAT n1 of
 * `kind` at 203.0.113.1 and one private host p1 behind it, every link 5 ms.
 */
export async function natScene(tb: Testbed, kind: NatKind, natOpts: { udpTimeoutS?: number } = {}): Promise<{ a: Host; b: Host; nat: Nat; p1: Host }> {
  const a = await tb.addHost('a', '192.0.2.10', { delayMs: 5 });
  const b = await tb.addHost('b', '198.51.100.10', { delayMs: 5 });
  const nat = await tb.addNat('n1', kind, '203.0.113.1', { delayMs: 5, ...natOpts });
  return { a, b, nat, p1: await tb.addPrivateHost(nat, 'p1') };
}

/**
 * `count` public hosts h0..h(count-1) with egress delays spread evenly over [minDelayMs,
 * maxDelayMs] (so RTTs span 2 x that) and `lossPct`, a kadsip node on each (node 0 first, with
 * `firstArgs`; the others bootstrap through it, `perNodeArgs(i)` added), all waited for until
 * /status says joined. `env` goes to every node (KADSIP_K=4 ...).
 */
export async function startOverlay(
  tb: Testbed,
  count: number,
  opts: { minDelayMs?: number; maxDelayMs?: number; lossPct?: number; domain?: string; firstArgs?: string[]; perNodeArgs?: (i: number) => string[]; env?: NodeJS.ProcessEnv; logLevel?: string } = {},
): Promise<Overlay> {
  const [lo, hi] = [opts.minDelayMs ?? 10, opts.maxDelayMs ?? 40];
  const hosts: Host[] = [];
  for (let i = 0; i < count; i++) {
    const delayMs = count === 1 ? lo : Math.round(lo + ((hi - lo) * i) / (count - 1));
    hosts.push(await tb.addHost(`h${i}`, publicAddress(i), { delayMs, lossPct: opts.lossPct ?? 0 }));
  }
  const nodeOpts = { domain: opts.domain, env: opts.env, logLevel: opts.logLevel };
  const nodes: NsProc[] = [tb.startNode(hosts[0]!, [...(opts.firstArgs ?? []), ...(opts.perNodeArgs?.(0) ?? [])], nodeOpts)];
  await tb.healthy(hosts[0]!, nodes[0]!);
  for (let i = 1; i < count; i++) nodes.push(tb.startNode(hosts[i]!, ['--bootstrap', `${hosts[0]!.ip}:5060`, ...(opts.perNodeArgs?.(i) ?? [])], nodeOpts));
  await Promise.all(hosts.map((h, i) => tb.healthy(h, nodes[i]!, 60_000)));
  await Promise.all(
    hosts.map((h) =>
      until(`the node on ${h.name} to join`, 60_000, async () => {
        const r = await tb.http(h, '/status');
        return r.ok && (JSON.parse(r.body) as { state: string }).state === 'joined' ? true : undefined;
      }),
    ),
  );
  return { hosts, nodes };
}
