/**
 * NAT traversal through a real NAT (issue 5; draft-jiang sections 4-6, PROTOCOL.md sections 1
 * and 5). The test builds its own network namespaces, with unique names, and always deletes them:
 *
 *   pub  198.51.100.10/24 ---- 198.51.100.1 [ nat: iptables MASQUERADE ] 10.200.1.1 ---- 10.200.1.2/24  priv
 *        public peer :5060 (--stun :3478)    unsolicited inbound dropped            NATed node :5060
 *        caller SIPp :5070                                                          callee SIPp :5080
 *
 * Documentation addresses only, never routed outside the namespaces; pub has no route to 10.200/16.
 * It checks that:
 *  (a) the public peer runs a STUN server and advertises it (stun= in its DHT-PeerID);
 *  (b) the node behind the NAT, bootstrapped at the public peer, learns the STUN server from the
 *      bootstrap's answer, finds its reflexive address (the router's public IP and the mapped
 *      port) with STUN from its SIP socket, and joins with the Peer-ID of that address: its log
 *      says `nat detected`, its /status shows that Peer-ID, behindNat, and the DHT-Candidate it
 *      received on JOIN, and the public peer has it in its routing table at the reflexive address;
 *  (c) a SIPp phone registered at the NATed node is called by a SIPp phone on the public side
 *      through the public peer: INVITE, ACK and BYE all cross the NAT (SIPp exits 0 on both sides).
 * Needs root (ip netns, iptables); without it the test fails with a message, it does not skip.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idToHex } from '../../src/overlay/id.js';
import { peerIdFromAddress } from '../../src/overlay/peer-id.js';
import { CLI, REPO, requireBuilt, requireTool, run } from './live-helpers.js';

const TAG = randomBytes(3).toString('hex');
const NS = { pub: `kn${TAG}pub`, nat: `kn${TAG}nat`, priv: `kn${TAG}prv` };
const PUBLIC_PEER = '198.51.100.10';
const ROUTER_PUBLIC = '198.51.100.1';
const ROUTER_PRIVATE = '10.200.1.1';
const NATED = '10.200.1.2';
const DOMAIN = 'nat.example';
const SCENARIOS = join(REPO, 'test', 'live', 'nat-scenarios');

interface Proc {
  child: ChildProcess;
  output(): string;
  exit: Promise<number | null>;
}

const procs: Proc[] = [];

function spawnIn(ns: string, cmd: string, args: string[]): Proc {
  const child = spawn('ip', ['netns', 'exec', ns, cmd, ...args], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<number | null>((resolve) => {
    child.once('exit', (code) => resolve(code));
    child.once('error', () => resolve(null));
  });
  const proc = { child, output: () => out, exit };
  procs.push(proc);
  return proc;
}

async function sh(args: string[], what: string): Promise<string> {
  const r = await run(args[0]!, args.slice(1), { timeoutMs: 10_000 });
  if (r.code !== 0) throw new Error(`${what}: \`${args.join(' ')}\` exited ${r.code}: ${r.stderr}${r.stdout}`);
  return r.stdout;
}

async function until<T>(what: string, ms: number, probe: () => Promise<T | undefined> | T | undefined): Promise<T> {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${ms} ms waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 150));
  }
}

/** GET on a node's --http server inside its namespace (the test's own namespace cannot reach it). */
async function httpIn(ns: string, path: string): Promise<{ ok: boolean; body: string }> {
  const r = await run('ip', ['netns', 'exec', ns, 'curl', '-fsS', '--max-time', '2', `http://127.0.0.1:8080${path}`], { timeoutMs: 4_000 });
  return { ok: r.code === 0, body: r.stdout };
}

function startNode(ns: string, args: string[]): Proc {
  return spawnIn(ns, process.execPath, [CLI, 'start', '--http', '127.0.0.1:8080', '--transports', 'udp', '--domain', DOMAIN, '--log-level', 'info', ...args]);
}

async function healthy(ns: string, node: Proc): Promise<void> {
  let exited: number | null | undefined;
  void node.exit.then((c) => (exited = c));
  await until(`the node in ${ns} to be healthy`, 20_000, async () => {
    if (exited !== undefined) throw new Error(`node in ${ns} exited (${exited}): ${node.output()}`);
    return (await httpIn(ns, '/healthz')).ok ? true : undefined;
  });
}

function logLines(node: Proc): Array<Record<string, unknown>> {
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

function sipp(ns: string, scenario: string, args: string[], timeoutS: number): Proc {
  return spawnIn(ns, 'sipp', ['-sf', join(SCENARIOS, scenario), '-m', '1', '-nostdin', '-timeout', `${timeoutS}s`, '-timeout_error', '-trace_err', '-error_file', `/tmp/kadsip-nat-${TAG}-${scenario}.err`, ...args]);
}

async function cleanup(): Promise<void> {
  for (const p of procs.splice(0)) {
    if (p.child.exitCode === null && p.child.signalCode === null) {
      p.child.kill('SIGKILL');
      await Promise.race([p.exit, new Promise((r) => setTimeout(r, 2_000))]);
    }
  }
  for (const ns of Object.values(NS)) await run('ip', ['netns', 'del', ns], { timeoutMs: 5_000 });
  await run('sh', ['-c', `rm -f /tmp/kadsip-nat-${TAG}-*`], { timeoutMs: 2_000 });
}

describe('NAT traversal through a real NAT (network namespaces, iptables MASQUERADE)', () => {
  let publicPeer: Proc;
  let natedNode: Proc;
  let reflexive = '';

  beforeAll(async () => {
    requireBuilt();
    if (process.getuid?.() !== 0) {
      throw new Error('the NAT test needs root: it creates network namespaces (ip netns) and a NAT (iptables); run the tests as root');
    }
    requireTool('ip', 'iproute2');
    requireTool('iptables', 'iptables');
    requireTool('sipp', 'sip-tester');
    requireTool('curl', 'curl');
    for (const ns of Object.values(NS)) await sh(['ip', 'netns', 'add', ns], 'create namespace');
    const exec = (ns: string, ...cmd: string[]): Promise<string> => sh(['ip', 'netns', 'exec', ns, ...cmd], `in ${ns}`);
    // veth pairs: pub <-> nat (public side), nat <-> priv (private side).
    await sh(['ip', 'link', 'add', `kn${TAG}a`, 'netns', NS.pub, 'type', 'veth', 'peer', 'name', `kn${TAG}b`, 'netns', NS.nat], 'veth pub-nat');
    await sh(['ip', 'link', 'add', `kn${TAG}c`, 'netns', NS.nat, 'type', 'veth', 'peer', 'name', `kn${TAG}d`, 'netns', NS.priv], 'veth nat-priv');
    for (const ns of Object.values(NS)) await exec(ns, 'ip', 'link', 'set', 'lo', 'up');
    await exec(NS.pub, 'ip', 'addr', 'add', `${PUBLIC_PEER}/24`, 'dev', `kn${TAG}a`);
    await exec(NS.pub, 'ip', 'link', 'set', `kn${TAG}a`, 'up');
    await exec(NS.nat, 'ip', 'addr', 'add', `${ROUTER_PUBLIC}/24`, 'dev', `kn${TAG}b`);
    await exec(NS.nat, 'ip', 'addr', 'add', `${ROUTER_PRIVATE}/24`, 'dev', `kn${TAG}c`);
    await exec(NS.nat, 'ip', 'link', 'set', `kn${TAG}b`, 'up');
    await exec(NS.nat, 'ip', 'link', 'set', `kn${TAG}c`, 'up');
    await exec(NS.priv, 'ip', 'addr', 'add', `${NATED}/24`, 'dev', `kn${TAG}d`);
    await exec(NS.priv, 'ip', 'link', 'set', `kn${TAG}d`, 'up');
    await exec(NS.priv, 'ip', 'route', 'add', 'default', 'via', ROUTER_PRIVATE);
    await exec(NS.nat, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward');
    await exec(NS.nat, 'iptables', '-t', 'nat', '-A', 'POSTROUTING', '-s', '10.200.1.0/24', '-o', `kn${TAG}b`, '-j', 'MASQUERADE');
    // A NAT, not a router: from the public side only replies (and what the mapping lets in) pass.
    await exec(NS.nat, 'iptables', '-A', 'FORWARD', '-i', `kn${TAG}b`, '-m', 'conntrack', '!', '--ctstate', 'ESTABLISHED,RELATED', '-j', 'DROP');

    publicPeer = startNode(NS.pub, ['--listen', `${PUBLIC_PEER}:5060`, '--stun', `${PUBLIC_PEER}:3478`]);
    await healthy(NS.pub, publicPeer);
    natedNode = startNode(NS.priv, ['--listen', `${NATED}:5060`, '--bootstrap', `${PUBLIC_PEER}:5060`]);
    await healthy(NS.priv, natedNode);
  }, 60_000);

  afterAll(async () => {
    await cleanup();
  }, 30_000);

  it('the private side cannot be reached from the public side except through the NAT', async () => {
    const r = await run('ip', ['netns', 'exec', NS.pub, 'ip', 'route', 'get', NATED], { timeoutMs: 5_000 });
    expect(r.code, r.stdout).not.toBe(0);
  });

  it('the public peer advertises its STUN server', async () => {
    const status = JSON.parse((await httpIn(NS.pub, '/status')).body) as { stun?: string; behindNat: boolean; peerId: string };
    expect(status.stun).toBe(`${PUBLIC_PEER}:3478`);
    expect(status.behindNat).toBe(false);
    expect(status.peerId).toBe(idToHex(peerIdFromAddress(PUBLIC_PEER, 5060)));
  });

  it('the NATed node learns its reflexive address with STUN and joins with the Peer-ID of that address', async () => {
    const detected = logLines(natedNode).find((l) => l.msg === 'nat detected');
    expect(detected, natedNode.output()).toBeDefined();
    reflexive = String(detected!.reflexive);
    expect(reflexive).toMatch(new RegExp(`^${ROUTER_PUBLIC.replace(/\./g, '\\.')}:\\d+$`));
    expect(detected!.server).toBe(`${PUBLIC_PEER}:3478`);
    const [host, port] = [reflexive.slice(0, reflexive.lastIndexOf(':')), Number(reflexive.slice(reflexive.lastIndexOf(':') + 1))];
    const status = JSON.parse((await httpIn(NS.priv, '/status')).body) as { peerId: string; address: string; behindNat: boolean; state: string; contacts: number; candidates: number };
    expect(status).toMatchObject({ address: reflexive, behindNat: true, state: 'joined', contacts: 1 });
    expect(status.peerId).toBe(idToHex(peerIdFromAddress(host, port)));
    // The JOIN asked for candidates (DHT-Candidates-Wanted: 10) and the public peer offered itself.
    expect(status.candidates).toBeGreaterThanOrEqual(1);
    // The public peer pinged the newcomer back through the NAT mapping and keeps it at that address.
    const pub = await until('the public peer to list the NATed node', 10_000, async () => {
      const s = JSON.parse((await httpIn(NS.pub, '/status')).body) as { contacts: number };
      return s.contacts >= 1 ? s : undefined;
    });
    expect(pub.contacts).toBe(1);
  });

  it('a phone behind the NAT registered at the NATed node takes a call from the public side', async () => {
    const reg = sipp(NS.priv, 'register.xml', ['-i', NATED, '-p', '5080', '-s', 'bob', '-key', 'domain', DOMAIN, `${NATED}:5060`], 15);
    const regCode = await reg.exit;
    expect(regCode, reg.output()).toBe(0);
    await until('the registration to be published in the overlay', 10_000, () =>
      logLines(natedNode).some((l) => l.msg === 'registration published in the overlay' && Number(l.storedAt) >= 1) ? true : undefined,
    );
    const uas = sipp(NS.priv, 'uas.xml', ['-i', NATED, '-p', '5080', '-s', 'bob', '-key', 'domain', DOMAIN], 40);
    await new Promise((r) => setTimeout(r, 500)); // SIPp binds its socket
    const uac = sipp(NS.pub, 'uac.xml', ['-i', PUBLIC_PEER, '-p', '5070', '-s', 'bob', '-key', 'domain', DOMAIN, `${PUBLIC_PEER}:5060`], 30);
    const [uacCode, uasCode] = await Promise.all([uac.exit, uas.exit]);
    const logs = (): string =>
      `UAC:\n${uac.output()}\nUAS:\n${uas.output()}\npublic peer:\n${publicPeer.output().slice(-3000)}\nNATed node:\n${natedNode.output().slice(-3000)}`;
    expect(uacCode, logs()).toBe(0);
    expect(uasCode, logs()).toBe(0);
  }, 60_000);
});
