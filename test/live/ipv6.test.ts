/**
 * IPv6 end to end on two hosts of the documentation prefix 2001:db8::/32 (issue 9; PROTOCOL.md
 * section 9). The test builds its own network namespaces, with unique names, and always deletes
 * them:
 *
 *   host a  2001:db8::a/64 ---- veth ---- 2001:db8::b/64  host b
 *           node [2001:db8::a]:5060, STUN :3478           node [2001:db8::b]:5060 (--bootstrap [2001:db8::a]:5060)
 *           bob's phone   [2001:db8::a]:5070              carol's phone [2001:db8::b]:5070
 *           alice's phone [2001:db8::a]:5080              dave's phone  [2001:db8::b]:5080
 *
 * It checks that:
 *  (a) the nodes peer over IPv6, each under the Peer-ID of its canonical address text, and the
 *      second checks its address with STUN over IPv6 at the server the first advertises;
 *  (b) phones register over UDP/IPv6 and their nodes store `sip:USER@[2001:db8::X]:5060` records;
 *  (c) phones call each other both ways across the two nodes (INVITE/180/200/ACK/BYE; the caller
 *      sends ACK and BYE along its route set), and SIPp's message traces carry the RFC 5118 forms:
 *      bracketed Via sent-by with a bare `received=`, `Record-Route: <sip:[2001:db8::X]:5060;lr>`,
 *      bracketed Contacts and Request-URIs;
 *  (d) `kadsip lookup sip:bob@DOMAIN --via [2001:db8::a]:5060` from host b finds bob's record.
 * Needs root (ip netns); without it the test fails with a message, it does not skip.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idToHex } from '../../src/overlay/id.js';
import { peerIdFromAddress } from '../../src/overlay/peer-id.js';
import { CLI, REPO, requireBuilt, requireRoot, requireTool, run } from './live-helpers.js';
import { logLines, NetnsLab, until, type NsProc } from './netns-helpers.js';

const TAG = randomBytes(3).toString('hex');
const NS = { a: `kn${TAG}v6a`, b: `kn${TAG}v6b` };
const IP = { a: '2001:db8::a', b: '2001:db8::b' } as const;
const DOMAIN = 'v6.example';
const NAT_SCENARIOS = join(REPO, 'test', 'live', 'nat-scenarios');
const V6_SCENARIOS = join(REPO, 'test', 'live', 'ipv6-scenarios');
const TRACE = (name: string): string => `/tmp/kadsip-ipv6-${TAG}-${name}`;

const lab = new NetnsLab(TAG, NS);
type Host = keyof typeof NS;

function sipp(host: Host, scenario: string, name: string, port: number, args: string[], timeoutS: number): NsProc {
  return lab.spawnIn(NS[host], 'sipp', [
    '-sf', scenario, '-t', 'u1', '-i', IP[host], '-p', String(port), '-m', '1', '-nostdin', '-timeout', `${timeoutS}s`, '-timeout_error',
    '-trace_msg', '-message_file', TRACE(`${name}.msg`), '-trace_err', '-error_file', TRACE(`${name}.err`), ...args,
  ]);
}

async function status(host: Host): Promise<{ peerId: string; address: string; contacts: number; state: string; registeredAors: number }> {
  return JSON.parse((await lab.httpIn(NS[host], '/status')).body) as { peerId: string; address: string; contacts: number; state: string; registeredAors: number };
}

/** A register.xml run: USER@DOMAIN registers from [IP]:port at its host's node. */
async function register(host: Host, user: string, port: number): Promise<void> {
  const reg = sipp(host, join(NAT_SCENARIOS, 'register.xml'), `reg-${user}`, port, ['-s', user, '-key', 'domain', DOMAIN, `[${IP[host]}]:5060`], 15);
  expect(await reg.exit, reg.output()).toBe(0);
}

/** The first message of a SIPp trace that starts with `startLine`, as text. */
function messageIn(trace: string, startLine: string): string {
  const at = trace.indexOf(`\n${startLine}`);
  if (at < 0) throw new Error(`no "${startLine}" in the trace:\n${trace.slice(0, 3000)}`);
  const end = trace.indexOf('\n-----', at);
  return trace.slice(at + 1, end < 0 ? undefined : end);
}

const headerValues = (msg: string, name: string): string[] => [...msg.matchAll(new RegExp(`^${name}: (.*)$`, 'gm'))].map((m) => m[1]!.trim());

describe('IPv6 on 2001:db8::/32: two hosts, nodes peer, phones call both ways (RFC 5118)', () => {
  const nodes: Partial<Record<Host, NsProc>> = {};

  beforeAll(async () => {
    requireBuilt();
    requireRoot('the IPv6 test needs root: it creates network namespaces (ip netns)');
    requireTool('ip', 'iproute2');
    requireTool('sipp', 'sip-tester');
    requireTool('curl', 'curl');
    await lab.create();
    // No duplicate address detection: an address stays "tentative" (not bindable) for a second or
    // two otherwise, and these two are the only hosts on their link.
    for (const ns of Object.values(NS)) await lab.exec(ns, 'sysctl', '-qw', 'net.ipv6.conf.all.accept_dad=0', 'net.ipv6.conf.default.accept_dad=0');
    await lab.veth(NS.a, 'a', [`${IP.a}/64`], NS.b, 'b', [`${IP.b}/64`]);

    nodes.a = lab.startNode(NS.a, DOMAIN, ['--listen', `[${IP.a}]:5060`, '--stun', `[${IP.a}]:3478`]);
    await lab.healthy(NS.a, nodes.a);
    nodes.b = lab.startNode(NS.b, DOMAIN, ['--listen', `[${IP.b}]:5060`, '--bootstrap', `[${IP.a}]:5060`]);
    await lab.healthy(NS.b, nodes.b);
  }, 60_000);

  afterAll(async () => {
    await lab.cleanup();
    await run('sh', ['-c', `rm -f /tmp/kadsip-ipv6-${TAG}-*`], { timeoutMs: 2_000 });
  }, 30_000);

  it('the hosts have no IPv4 address but loopback: whatever crosses between them is IPv6', async () => {
    for (const ns of Object.values(NS)) {
      const v4 = await run('ip', ['netns', 'exec', ns, 'ip', '-4', '-o', 'addr', 'show', 'scope', 'global'], { timeoutMs: 5_000 });
      expect(v4.code).toBe(0);
      expect(v4.stdout.trim()).toBe('');
    }
  });

  it('the nodes peer over IPv6 under the Peer-IDs of their canonical address text', async () => {
    const b = await status('b');
    expect(b).toMatchObject({ address: `[${IP.b}]:5060`, state: 'joined', contacts: 1 });
    expect(b.peerId).toBe(idToHex(peerIdFromAddress(IP.b, 5060)));
    const a = await until('node a to list node b', 10_000, async () => {
      const s = await status('a');
      return s.contacts >= 1 ? s : undefined;
    });
    expect(a.address).toBe(`[${IP.a}]:5060`);
    expect(a.peerId).toBe(idToHex(peerIdFromAddress(IP.a, 5060)));
  });

  it('node b checks its address with STUN over IPv6 at the server node a advertises (stun=[v6]:port)', async () => {
    expect(JSON.parse((await lab.httpIn(NS.a, '/status')).body)).toMatchObject({ stun: `[${IP.a}]:3478`, behindNat: false });
    const checked = logLines(nodes.b!).find((l) => l.msg === 'public address');
    expect(checked, nodes.b!.output()).toMatchObject({ address: `[${IP.b}]:5060`, server: `[${IP.a}]:3478` });
    expect(JSON.parse((await lab.httpIn(NS.b, '/status')).body)).toMatchObject({ behindNat: false });
  });

  it('phones register over UDP/IPv6 and their nodes publish [v6] records', async () => {
    await register('a', 'bob', 5070);
    await register('b', 'carol', 5070);
    for (const host of ['a', 'b'] as const) {
      await until(`node ${host} to publish its registration`, 10_000, () =>
        logLines(nodes[host]!).some((l) => l.msg === 'registration published in the overlay' && Number(l.storedAt) >= 1) ? true : undefined,
      );
    }
  });

  /** `caller` on host `from` (port 5080, through its node) calls `callee`, registered on the other host at port 5070. */
  async function call(from: Host, caller: string, callee: string): Promise<{ invite: string; ok: string; bye: string }> {
    const to: Host = from === 'a' ? 'b' : 'a';
    const uas = sipp(to, join(NAT_SCENARIOS, 'uas.xml'), `uas-${callee}`, 5070, ['-s', callee, '-key', 'domain', DOMAIN], 40);
    await new Promise((r) => setTimeout(r, 500)); // SIPp binds its socket
    const uac = sipp(from, join(V6_SCENARIOS, 'uac.xml'), `uac-${caller}-${from}`, 5080, ['-s', callee, '-key', 'domain', DOMAIN, `[${IP[from]}]:5060`], 30);
    const [uacCode, uasCode] = await Promise.all([uac.exit, uas.exit]);
    const logs = (): string => `UAC:\n${uac.output()}\nUAS:\n${uas.output()}\nnode a:\n${nodes.a!.output().slice(-3000)}\nnode b:\n${nodes.b!.output().slice(-3000)}`;
    expect(uacCode, logs()).toBe(0);
    expect(uasCode, logs()).toBe(0);
    const calleeTrace = await readFile(TRACE(`uas-${callee}.msg`), 'utf8');
    const callerTrace = await readFile(TRACE(`uac-${caller}-${from}.msg`), 'utf8');
    return { invite: messageIn(calleeTrace, 'INVITE sip:'), ok: messageIn(callerTrace, 'SIP/2.0 200 OK'), bye: messageIn(callerTrace, 'BYE sip:') };
  }

  /** The RFC 5118 forms of one call from the phone at [IP[from]]:5080 to the one at [IP[to]]:5070. */
  function expectBracketedForms(from: Host, seen: { invite: string; ok: string; bye: string }): void {
    const to: Host = from === 'a' ? 'b' : 'a';
    const [f, t] = [`\\[${IP[from]}\\]`, `\\[${IP[to]}\\]`];
    // The callee's node delivers to the registered Contact.
    expect(seen.invite).toMatch(new RegExp(`^INVITE sip:[a-z]+@${t}:5070 SIP/2\\.0`));
    // Via: both nodes' sent-by in brackets, received= bare (RFC 3261 via-received; RFC 5118 4.5).
    const vias = headerValues(seen.invite, 'Via');
    expect(vias).toHaveLength(3);
    expect(vias[0]).toMatch(new RegExp(`^SIP/2\\.0/UDP ${t}:5060;branch=z9hG4bK\\S+$`));
    expect(vias[1]).toMatch(new RegExp(`^SIP/2\\.0/UDP ${f}:5060;branch=z9hG4bK\\S*;rport=5060;received=${IP[from]}$`));
    expect(vias[2]).toMatch(new RegExp(`^SIP/2\\.0/UDP ${f}:5080;branch=\\S+;rport=5080;received=${IP[from]}$`));
    // Record-Route: each node once, <sip:[v6]:5060;lr>.
    expect(headerValues(seen.invite, 'Record-Route')).toEqual([`<sip:[${IP[to]}]:5060;lr>`, `<sip:[${IP[from]}]:5060;lr>`]);
    expect(headerValues(seen.invite, 'Contact')[0]).toMatch(new RegExp(`^<sip:alice@${f}:5080>$`));
    // The caller's view: the route set and the callee's Contact, and its BYE along that route set.
    expect(headerValues(seen.ok, 'Record-Route')).toEqual([`<sip:[${IP[to]}]:5060;lr>, <sip:[${IP[from]}]:5060;lr>`]);
    expect(headerValues(seen.ok, 'Contact')[0]).toMatch(new RegExp(`^<sip:[a-z]+@${t}:5070>$`));
    expect(headerValues(seen.ok, 'Via')).toEqual([expect.stringMatching(new RegExp(`^SIP/2\\.0/UDP ${f}:5080;branch=\\S+;rport=5080;received=${IP[from]}$`))]);
    expect(seen.bye).toMatch(new RegExp(`^BYE sip:[a-z]+@${t}:5070 SIP/2\\.0`));
    expect(headerValues(seen.bye, 'Route')).toEqual([`<sip:[${IP[from]}]:5060;lr>, <sip:[${IP[to]}]:5060;lr>`]);
  }

  it('a phone on host a calls carol, registered at host b, over IPv6', async () => {
    expectBracketedForms('a', await call('a', 'alice', 'carol'));
  }, 60_000);

  it('a phone on host b calls bob, registered at host a, over IPv6', async () => {
    expectBracketedForms('b', await call('b', 'alice', 'bob'));
  }, 60_000);

  it('kadsip lookup from host b through [2001:db8::a]:5060 finds bob\'s record', async () => {
    const r = await run('ip', ['netns', 'exec', NS.b, process.execPath, CLI, 'lookup', `sip:bob@${DOMAIN}`, '--via', `[${IP.a}]:5060`, '--json', '--timeout', '5'], { timeoutMs: 15_000 });
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(r.stdout).toContain(`sip:bob@[${IP.a}]:5060`);
  }, 20_000);
});
