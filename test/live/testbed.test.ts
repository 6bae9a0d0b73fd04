/**
 * The multi-host testbed (test/live/testbed.ts) does what the tests built on it rely on:
 *  - the link adds the configured delay (RTT between two hosts >= delayA + delayB), over IPv4 and
 *    IPv6, and drops about the configured share of frames (read back from the switch);
 *  - the three NAT kinds behave as named, seen by small UDP probes on public hosts that print the
 *    source address they receive from: 'eim' keeps one external port for two destinations and
 *    lets in only what answers a mapping; 'symmetric' gives each destination a new external port;
 *    'dropping' forgets a mapping idle for longer than its UDP timeout (an inbound packet is then
 *    dropped) but keeps one in use; flushNat and changeNatAddress change the mapping;
 *  - a kadsip node starts on its host's own address, port 5060;
 *  - teardown leaves no namespace behind: destroy(), SIGTERM of the owning process, and the
 *    sweeper for a run that was SIGKILLed.
 * Needs root; without it (or a tool) it fails with a message.
 */
import { spawn } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO } from './live-helpers.js';
import { sweepStaleTestbeds, Testbed, testbedNamespaces, type Host, type Nat } from './testbed.js';
import { until } from './netns-helpers.js';

const PORT = 4000;

describe('the multi-host testbed', () => {
  let tb: Testbed;
  let a: Host;
  let b: Host;
  let c: Host;

  beforeAll(async () => {
    tb = await Testbed.create();
    a = await tb.addHost('a', '192.0.2.10', { delayMs: 20, ip6: '2001:db8::10' });
    b = await tb.addHost('b', '198.51.100.10', { delayMs: 30, ip6: '2001:db8:1::10' });
    c = await tb.addHost('c', '203.0.113.10', { delayMs: 2, jitterMs: 1, lossPct: 10 });
  }, 30_000);

  afterAll(async () => {
    await tb?.destroy();
  }, 30_000);

  it('the link adds each host egress delay: RTT a<->b >= 20 + 30 ms, over IPv4 and IPv6', async () => {
    expect(tb.configuredRttMs(a, b)).toBe(50);
    // No datagram can beat the configured delay; the upper bound only says "not lost or stuck"
    // (generous: this 2-core machine runs other tests at the same time).
    const v4 = await tb.measureRttMs(a, b, 5);
    expect(v4).toBeGreaterThanOrEqual(50);
    expect(v4).toBeLessThan(50 + 1_000);
    const v6 = await tb.measureRttMs(a, b, 5, { ipv6: true });
    expect(v6).toBeGreaterThanOrEqual(50);
    expect(v6).toBeLessThan(50 + 1_000);
  }, 90_000);

  it('public hosts have no route off the testbed', async () => {
    const r = await tb.run(a, 'ip', ['route', 'get', '8.8.8.8'], 5_000);
    expect(r.code, r.stdout).not.toBe(0);
  });

  it('loss is configured on the link and drops about that share of frames', async () => {
    const config = await tb.linkConfig();
    expect(config[`${c.ns}/eth0`]).toMatchObject({ delayMs: 2, jitterMs: 1, lossPct: 10 });
    expect(config[`${a.ns}/eth0`]).toMatchObject({ delayMs: 20, lossPct: 0 });
    const sink = await tb.udpProbe(a, PORT);
    const src = await tb.udpProbe(c, PORT);
    const before = (await tb.linkConfig())[`${c.ns}/eth0`]!;
    for (let i = 0; i < 400; i++) src.send(a.ip, PORT, `n${i}`);
    // Wait until the switch has taken all 400 frames from c (dropped or passed on: on a loaded
    // machine the probe and the switch lag well behind a fixed pause), then for the last delays.
    const after = await until('the switch to take 400 frames from c', 30_000, async () => {
      const now = (await tb.linkConfig())[`${c.ns}/eth0`]!;
      return now.sent - before.sent >= 400 ? now : undefined;
    });
    await until('the sink to settle', 10_000, async () => {
      const n = sink.received().length;
      await new Promise((r) => setTimeout(r, 300));
      return sink.received().length === n ? true : undefined;
    });
    const dropped = after.dropped - before.dropped;
    const got = sink.received().length;
    // 10 % of ~400 frames: 40 expected; far outside [10, 90] would mean no loss or far too much.
    expect(dropped).toBeGreaterThan(10);
    expect(dropped).toBeLessThan(90);
    expect(got).toBeLessThanOrEqual(400 - dropped + 2);
    expect(got).toBeGreaterThan(300);
  });

  /** A private host's probe sends to a and b from one socket; what a and b see. */
  async function mappings(nat: Nat, port: number): Promise<{ viaA: { from: string; port: number }; viaB: { from: string; port: number }; probes: Awaited<ReturnType<Testbed['udpProbe']>>[] }> {
    const p = nat.hosts[0]!;
    const [pa, pb, pp] = [await tb.udpProbe(a, port), await tb.udpProbe(b, port), await tb.udpProbe(p, 5000)];
    pp.send(a.ip, port, 'hello-a');
    pp.send(b.ip, port, 'hello-b');
    const viaA = await pa.waitFor((d) => d.text === 'hello-a', 5_000);
    const viaB = await pb.waitFor((d) => d.text === 'hello-b', 5_000);
    return { viaA, viaB, probes: [pa, pb, pp] };
  }

  async function arrives(probe: Awaited<ReturnType<Testbed['udpProbe']>>, text: string, ms: number): Promise<boolean> {
    try {
      await probe.waitFor((d) => d.text === text, ms);
      return true;
    } catch {
      return false;
    }
  }

  it("'eim': one external port for two destinations; only answers to a mapping get in; flush and renumber change the mapping", async () => {
    const nat = await tb.addNat('neim', 'eim', '203.0.113.1');
    await tb.addPrivateHost(nat, 'peim');
    const { viaA, viaB, probes } = await mappings(nat, PORT + 1);
    const [pa, , pp] = probes as [typeof probes[0], typeof probes[0], typeof probes[0]];
    expect(viaA.from).toBe('203.0.113.1');
    expect(viaB.from).toBe('203.0.113.1');
    expect(viaA.port).toBe(viaB.port);
    // c never talked to the private host: its packet to the mapping is not let in ...
    const pc = await tb.udpProbe(c, PORT + 1);
    pc.send(nat.publicIp, viaA.port, 'from-c');
    pc.send(nat.publicIp, viaA.port, 'from-c');
    expect(await arrives(pp, 'from-c', 1_500)).toBe(false);
    // ... while a, which the mapping was made for, gets through.
    pa.send(nat.publicIp, viaA.port, 'reply-a');
    expect(await arrives(pp, 'reply-a', 3_000)).toBe(true);
    // Flushed: the old mapping is gone, a's next packet does not get in.
    await tb.flushNat(nat);
    pa.send(nat.publicIp, viaA.port, 'after-flush');
    expect(await arrives(pp, 'after-flush', 1_500)).toBe(false);
    // Renumbered: the next packet out leaves from the new address.
    await tb.changeNatAddress(nat, '203.0.113.99');
    pp.send(a.ip, PORT + 1, 'renumbered');
    const seen = await pa.waitFor((d) => d.text === 'renumbered', 5_000);
    expect(seen.from).toBe('203.0.113.99');
    expect(nat.publicIp).toBe('203.0.113.99');
  });

  it("'symmetric': a new external port per destination from one source socket", async () => {
    const nat = await tb.addNat('nsym', 'symmetric', '198.51.100.1');
    await tb.addPrivateHost(nat, 'psym');
    const { viaA, viaB } = await mappings(nat, PORT + 2);
    expect(viaA.from).toBe('198.51.100.1');
    expect(viaB.from).toBe('198.51.100.1');
    expect(viaA.port).not.toBe(viaB.port);
  });

  it("'dropping': a mapping idle longer than its UDP timeout is gone, one in use stays", async () => {
    const nat = await tb.addNat('ndrop', 'dropping', '192.0.2.1', { udpTimeoutS: 3 });
    await tb.addPrivateHost(nat, 'pdrop');
    expect((await tb.exec(nat, 'sysctl', '-n', 'net.netfilter.nf_conntrack_udp_timeout')).trim()).toBe('3');
    // The testbed's setting stays in the NAT's namespace.
    expect((await tb.exec(a, 'sysctl', '-n', 'net.netfilter.nf_conntrack_udp_timeout')).trim()).not.toBe('3');
    const { viaA, probes } = await mappings(nat, PORT + 3);
    const [pa, , pp] = probes as [typeof probes[0], typeof probes[0], typeof probes[0]];
    // Within the timeout the answer gets in.
    await new Promise((r) => setTimeout(r, 1_000));
    pa.send(nat.publicIp, viaA.port, 'within');
    expect(await arrives(pp, 'within', 3_000)).toBe(true);
    // Unsolicited from c: dropped.
    const pc = await tb.udpProbe(c, PORT + 3);
    pc.send(nat.publicIp, viaA.port, 'from-c');
    expect(await arrives(pp, 'from-c', 1_000)).toBe(false);
    // Idle for 3 s + margin: the mapping is gone and a's packet is dropped.
    await new Promise((r) => setTimeout(r, 5_000));
    pa.send(nat.publicIp, viaA.port, 'too-late');
    expect(await arrives(pp, 'too-late', 1_500)).toBe(false);
  }, 30_000);

  it('a kadsip node listens on its host address, port 5060', async () => {
    const node = tb.startNode(b, ['--transports', 'udp']);
    await tb.healthy(b, node);
    const status = await tb.status<{ address: string }>(b);
    expect(status.address).toBe(`${b.ip}:5060`);
    expect(await tb.stop(node)).toBe(0);
  });
});

describe('testbed teardown', () => {
  it('destroy() deletes every namespace it made', async () => {
    const tb = await Testbed.create();
    await tb.addHost('x', '192.0.2.20');
    const nat = await tb.addNat('y', 'eim', '192.0.2.21');
    await tb.addPrivateHost(nat, 'z');
    expect(testbedNamespaces().filter((n) => n.startsWith(tb.tag))).toHaveLength(4);
    await tb.destroy();
    expect(testbedNamespaces().filter((n) => n.startsWith(tb.tag))).toEqual([]);
  });

  /** A child process that builds a testbed and then waits; returns it and its namespaces' tag. */
  async function owner(): Promise<{ child: ReturnType<typeof spawn>; tag: string; exit: Promise<number | null> }> {
    const script = `import { Testbed } from './test/live/testbed.ts';
      const tb = await Testbed.create(); await tb.addHost('x', '192.0.2.30'); console.log('TAG ' + tb.tag); setInterval(() => {}, 1000);`;
    const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], { cwd: REPO, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    const exit = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
    const tag = await until('the child testbed', 20_000, () => {
      if (child.exitCode !== null) throw new Error(`child exited: ${out}`);
      return /TAG (\S+)/.exec(out)?.[1];
    });
    return { child, tag, exit };
  }

  it('SIGTERM of the owning process deletes its namespaces', async () => {
    const o = await owner();
    expect(testbedNamespaces().filter((n) => n.startsWith(o.tag))).toHaveLength(2);
    o.child.kill('SIGTERM');
    await o.exit;
    expect(testbedNamespaces().filter((n) => n.startsWith(o.tag))).toEqual([]);
  }, 30_000);

  it('a SIGKILLed run leaves namespaces that the sweeper removes', async () => {
    const o = await owner();
    o.child.kill('SIGKILL');
    await o.exit;
    expect(testbedNamespaces().filter((n) => n.startsWith(o.tag))).toHaveLength(2);
    const swept = sweepStaleTestbeds();
    expect(swept.filter((n) => n.startsWith(o.tag))).toHaveLength(2);
    expect(testbedNamespaces().filter((n) => n.startsWith(o.tag))).toEqual([]);
  }, 30_000);
});
