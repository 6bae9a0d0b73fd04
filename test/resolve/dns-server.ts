/**
 * A real DNS server on loopback for tests: dnsmasq (Debian package dnsmasq-base,
 * installed by scripts/install-system-deps.sh) run in the foreground as a child
 * process on 127.0.0.1:<free port>, with no upstream servers, no /etc/hosts, no
 * config file, and only the records the test gives on its command line.
 *
 * Names under `localDomains` (default: "test") that have no record are answered
 * NXDOMAIN (NODATA for a known name and a missing type); names elsewhere are
 * REFUSED (dnsmasq has nothing to forward to) unless `forward` sends them on.
 *
 * Usage:
 *   let dns: DnsServer;
 *   beforeAll(async () => { dns = await startDnsServer({ hosts: [{ name: 'a.example.test', addresses: ['127.0.0.2'] }] }); });
 *   afterAll(() => dns?.stop());
 *   ... new NodeDnsClient({ servers: [dns.address] }) ...
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { delimiter, join } from 'node:path';
import { Resolver } from 'node:dns/promises';

export interface NaptrSpec {
  readonly name: string;
  readonly order: number;
  readonly preference: number;
  /** e.g. "s" */
  readonly flags: string;
  /** e.g. "SIP+D2U" */
  readonly service: string;
  readonly regexp?: string;
  /** e.g. "_sip._udp.example.test" */
  readonly replacement: string;
}

export interface SrvSpec {
  /** e.g. "_sip._udp.example.test" */
  readonly name: string;
  /** Host name, or "." for "service decidedly not available". */
  readonly target: string;
  readonly port: number;
  readonly priority?: number;
  readonly weight?: number;
}

export interface HostSpec {
  readonly name: string;
  /** IPv4 addresses become A records, IPv6 ones AAAA records. */
  readonly addresses: readonly string[];
  /** Seconds; default the server's `ttl`. */
  readonly ttl?: number;
}

/** DNS-SD browsing record (RFC 6763 section 4): `name` PTR `target`. */
export interface PtrSpec {
  /** e.g. "_kadsip._udp.overlay.test" */
  readonly name: string;
  /** e.g. "seed1._kadsip._udp.overlay.test" */
  readonly target: string;
}

/** TXT record: one character-string per entry of `strings` (RFC 6763 section 6: key=value). */
export interface TxtSpec {
  readonly name: string;
  /** Without commas (dnsmasq separates strings with them). */
  readonly strings: readonly string[];
}

export interface DnsZone {
  readonly ptr?: readonly PtrSpec[];
  readonly txt?: readonly TxtSpec[];
  readonly naptr?: readonly NaptrSpec[];
  readonly srv?: readonly SrvSpec[];
  readonly hosts?: readonly HostSpec[];
}

export interface DnsServerOptions {
  /** Domains answered only from the given records (unknown names: NXDOMAIN). Default ["test"]. */
  readonly localDomains?: readonly string[];
  /** TTL in seconds of records without their own (dnsmasq --local-ttl). Default 60. */
  readonly ttl?: number;
  /** Domains forwarded to another server ("127.0.0.1#port"), e.g. to make dnsmasq time out or fail upstream. */
  readonly forward?: readonly { readonly domain: string; readonly server: string }[];
  /** Bound on start-up, ms. Default 5000. */
  readonly startTimeoutMs?: number;
  /** Listen on this port (a restarted server with a changed zone, at the address clients know). Default: a free one. */
  readonly port?: number;
}

export interface DnsQueryLogEntry {
  readonly type: string;
  readonly name: string;
}

export interface DnsServer {
  readonly host: string;
  readonly port: number;
  /** "127.0.0.1:PORT", as Resolver.setServers and NodeDnsClient's `servers` take it. */
  readonly address: string;
  readonly process: ChildProcess;
  /** Queries the server has received so far, from its --log-queries output. */
  queries(): readonly DnsQueryLogEntry[];
  /** Waits until the server has logged `count` queries in total (bounded), then returns them. */
  waitForQueries(count: number, timeoutMs?: number): Promise<readonly DnsQueryLogEntry[]>;
  /** SIGTERM, then SIGKILL after a bounded wait. Idempotent. */
  stop(): Promise<void>;
}

/** Path of the dnsmasq binary, or null when not installed (it lives in /usr/sbin, often not on a user's PATH). */
export function findDnsmasq(): string | null {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), '/usr/sbin', '/sbin', '/usr/local/sbin'];
  for (const d of dirs) {
    if (d === '') continue;
    const p = join(d, 'dnsmasq');
    if (existsSync(p)) return p;
  }
  return null;
}

/** dnsmasq command-line arguments for a zone (exported for debugging and for scripts). */
export function dnsmasqArgs(zone: DnsZone, port: number, opts: DnsServerOptions = {}): string[] {
  const args = [
    '--keep-in-foreground',
    '--conf-file=/dev/null',
    '--no-resolv',
    '--no-hosts',
    '--no-poll',
    '--pid-file=',
    `--port=${port}`,
    '--listen-address=127.0.0.1',
    '--bind-interfaces',
    '--log-queries',
    '--log-facility=-',
    `--local-ttl=${opts.ttl ?? 60}`,
    // No answer cache in dnsmasq itself, so every client query shows up in the log.
    '--cache-size=0',
  ];
  for (const d of opts.localDomains ?? ['test']) args.push(`--local=/${d}/`);
  for (const f of opts.forward ?? []) args.push(`--server=/${f.domain}/${f.server}`);
  for (const n of zone.naptr ?? []) {
    args.push(`--naptr-record=${n.name},${n.order},${n.preference},${n.flags},${n.service},${n.regexp ?? ''},${n.replacement}`);
  }
  for (const s of zone.srv ?? []) {
    // dnsmasq's order is target,port,priority,weight (unlike zone files).
    const target = s.target === '.' ? '' : s.target;
    args.push(`--srv-host=${s.name},${target},${s.port},${s.priority ?? 0},${s.weight ?? 0}`);
  }
  for (const p of zone.ptr ?? []) args.push(`--ptr-record=${p.name},${p.target}`);
  for (const t of zone.txt ?? []) args.push(`--txt-record=${[t.name, ...t.strings].join(',')}`);
  for (const h of zone.hosts ?? []) {
    for (const a of h.addresses) args.push(`--host-record=${h.name},${a}${h.ttl !== undefined ? `,${h.ttl}` : ''}`);
  }
  return args;
}

/** A port free for both UDP and TCP on 127.0.0.1 right now (dnsmasq binds both). */
export async function freeLoopbackPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const udp = createSocket('udp4');
    const port = await new Promise<number>((resolve, reject) => {
      udp.once('error', reject);
      udp.bind(0, '127.0.0.1', () => resolve(udp.address().port));
    });
    const tcpFree = await new Promise<boolean>((resolve) => {
      const srv = createServer();
      srv.once('error', () => resolve(false));
      srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
    });
    await new Promise<void>((resolve) => udp.close(() => resolve()));
    if (tcpFree) return port;
  }
  throw new Error('no free loopback port found');
}

/** A UDP port on 127.0.0.1 with nobody listening (queries to it are refused by ICMP). */
export async function unusedUdpPort(): Promise<number> {
  return freeLoopbackPort();
}

/** A UDP socket on 127.0.0.1 that receives DNS queries and never answers: for timeout tests. */
export async function startSilentUdpServer(): Promise<{ port: number; received: () => number; close: () => Promise<void> }> {
  const sock: Socket = createSocket('udp4');
  let received = 0;
  sock.on('message', () => {
    received++;
  });
  const port = await new Promise<number>((resolve, reject) => {
    sock.once('error', reject);
    sock.bind(0, '127.0.0.1', () => resolve(sock.address().port));
  });
  return {
    port,
    received: () => received,
    close: () => new Promise<void>((resolve) => sock.close(() => resolve())),
  };
}

export async function startDnsServer(zone: DnsZone, opts: DnsServerOptions = {}): Promise<DnsServer> {
  const bin = findDnsmasq();
  if (bin === null) throw new Error('dnsmasq not found: run scripts/install-system-deps.sh (Debian package dnsmasq-base)');
  let lastError: unknown;
  // The free port can be taken between the check and dnsmasq's bind: retry a few times.
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = opts.port ?? (await freeLoopbackPort());
    try {
      return await launch(bin, dnsmasqArgs(zone, port, opts), port, opts.startTimeoutMs ?? 5000);
    } catch (err) {
      lastError = err;
      if (!(err instanceof Error && /in use/i.test(err.message))) throw err;
    }
  }
  throw lastError instanceof Error ? lastError : new Error(String(lastError));
}

/** Queried until the server answers; left out of the query log. */
const PROBE_NAME = 'readiness-probe.invalid';
const QUERY_RE = /query\[([A-Za-z0-9]+)\] (\S+) from /;

async function launch(bin: string, args: string[], port: number, timeoutMs: number): Promise<DnsServer> {
  const child = spawn(bin, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  const log: DnsQueryLogEntry[] = [];
  let partial = '';
  const waiters = new Set<() => void>();
  child.stderr!.on('data', (d: Buffer) => {
    const text = d.toString();
    if (stderr.length < 64 * 1024) stderr += text;
    const lines = (partial + text).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      const m = QUERY_RE.exec(line);
      if (m && m[2] !== PROBE_NAME) log.push({ type: m[1] as string, name: (m[2] as string).toLowerCase() });
    }
    for (const w of [...waiters]) w();
  });
  let exitCode: number | null | undefined;
  const exited = new Promise<void>((resolve) => {
    child.once('exit', (code) => {
      exitCode = code;
      resolve();
    });
    child.once('error', () => resolve());
  });
  // If the test process dies without reaching afterAll, do not leave dnsmasq behind.
  const killOnExit = (): void => {
    if (exitCode === undefined) child.kill('SIGKILL');
  };
  process.once('exit', killOnExit);

  let stopped = false;
  const stop = async (): Promise<void> => {
    if (stopped) return exited;
    stopped = true;
    process.removeListener('exit', killOnExit);
    if (exitCode === undefined && child.exitCode === null && child.signalCode === null) {
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 2000);
      await exited;
      clearTimeout(timer);
    }
  };

  try {
    await waitReady(port, exited, () => exitCode !== undefined, timeoutMs);
  } catch (err) {
    await stop();
    const why = err instanceof Error ? err.message : String(err);
    throw new Error(`dnsmasq did not start on 127.0.0.1:${port}: ${why}; stderr: ${stderr.trim()}`);
  }

  return {
    host: '127.0.0.1',
    port,
    address: `127.0.0.1:${port}`,
    process: child,
    queries: () => [...log],
    waitForQueries: (count, ms = 2000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (log.length >= count) {
            waiters.delete(check);
            clearTimeout(timer);
            resolve([...log]);
          }
        };
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`dnsmasq logged ${log.length} queries, expected ${count}: ${JSON.stringify(log)}`));
        }, ms);
        waiters.add(check);
        check();
      }),
    stop,
  };
}

/** Polls with a real query until dnsmasq answers anything at all (NXDOMAIN/REFUSED count as answers). */
async function waitReady(port: number, exited: Promise<void>, hasExited: () => boolean, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const resolver = new Resolver({ timeout: 200, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  while (Date.now() < deadline) {
    if (hasExited()) throw new Error('process exited');
    try {
      await resolver.resolve4(PROBE_NAME);
      return;
    } catch (err) {
      const code = (err as { code?: unknown }).code;
      if (code !== 'ECONNREFUSED' && code !== 'ETIMEOUT') return;
    }
    await Promise.race([exited, new Promise((r) => setTimeout(r, 50))]);
  }
  throw new Error(`no answer within ${timeoutMs} ms`);
}
