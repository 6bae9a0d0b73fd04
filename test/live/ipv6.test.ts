/**
 * IPv6 end to end on two hosts of the documentation prefix 2001:db8::/32 (issue 9; PROTOCOL.md
 * section 9), on the shared testbed (test/live/testbed.ts: public hosts on one switched link, 10 ms
 * egress delay each, no default route, torn down on success, failure and interrupt):
 *
 *   host a  2001:db8::a (and 192.0.2.10)                  host b  2001:db8::b (and 198.51.100.5)
 *           node [2001:db8::a]:5060, STUN :3478                   node --listen [2001:0DB8:0:0::B]:5060
 *                                                                      --bootstrap [2001:db8:0::000a]:5060
 *           bob's phone   [2001:db8::a]:5070                      carol's phone [2001:db8::b]:5070
 *           alice's phone [2001:db8::a]:5080                      alice's phone [2001:db8::b]:5080
 *
 * The hosts have IPv4 addresses too (every testbed host has one); the nodes and phones use only
 * their IPv6 addresses, which the traces below show. It checks that:
 *  (a) the nodes peer over IPv6, each under the Peer-ID of its canonical address text (node b was
 *      given its own and its bootstrap's address in other spellings), and the
 *      second checks its address with STUN over IPv6 at the server the first advertises;
 *  (b) phones register over UDP/IPv6 and their nodes store `sip:USER@[2001:db8::X]:5060` records;
 *  (c) phones call each other both ways across the two nodes (INVITE/180/200/ACK/BYE; the caller
 *      sends ACK and BYE along its route set), and SIPp's message traces carry the RFC 5118 forms:
 *      bracketed Via sent-by with a bare `received=`, `Record-Route: <sip:[2001:db8::X]:5060;lr>`,
 *      bracketed Contacts and Request-URIs;
 *  (d) `kadsip lookup sip:bob@DOMAIN --via [2001:db8::a]:5060` from host b finds bob's record, and
 *      `kadsip candidates --via [2001:db8::a]:5060` lists node a's STUN server `[2001:db8::a]:3478`.
 * Needs root (the testbed); without it the test fails with a message, it does not skip.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idToHex } from '../../src/overlay/id.js';
import { peerIdFromAddress } from '../../src/overlay/peer-id.js';
import { REPO, requireTool, run } from './live-helpers.js';
import { logLines, registrationPublished, until, type NsProc } from './netns-helpers.js';
import { Testbed, type Host } from './testbed.js';

const TAG = randomBytes(3).toString('hex');
const IP = { a: '2001:db8::a', b: '2001:db8::b' } as const;
type Side = keyof typeof IP;
const DOMAIN = 'v6.example';
const NAT_SCENARIOS = join(REPO, 'test', 'live', 'nat-scenarios');
const V6_SCENARIOS = join(REPO, 'test', 'live', 'ipv6-scenarios');
const TRACE = (name: string): string => `/tmp/kadsip-ipv6-${TAG}-${name}`;

let tb: Testbed | undefined;
const hosts: Partial<Record<Side, Host>> = {};
const nodes: Partial<Record<Side, NsProc>> = {};

function sipp(side: Side, scenario: string, name: string, port: number, args: string[], timeoutS: number): NsProc {
  return tb!.sipp(hosts[side]!, scenario, ['-t', 'u1', '-p', String(port), '-trace_msg', '-message_file', TRACE(`${name}.msg`), ...args], { timeoutS, errorFile: TRACE(`${name}.err`), ip: IP[side] });
}

interface Status {
  peerId: string;
  address: string;
  contacts: number;
  state: string;
  behindNat: boolean;
  stun?: string;
}

const status = (side: Side): Promise<Status> => tb!.status<Status>(hosts[side]!);

/** A register.xml run: USER@DOMAIN registers from [IP]:port at its host's node. */
async function register(side: Side, user: string, port: number): Promise<void> {
  const reg = sipp(side, join(NAT_SCENARIOS, 'register.xml'), `reg-${user}`, port, ['-s', user, '-key', 'domain', DOMAIN, `[${IP[side]}]:5060`], 15);
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

describe('IPv6 on 2001:db8::/32: two testbed hosts, nodes peer, phones call both ways (RFC 5118)', () => {
  beforeAll(async () => {
    requireTool('sipp', 'sip-tester');
    requireTool('curl', 'curl');
    tb = await Testbed.create();
    hosts.a = await tb.addHost('a', '192.0.2.10', { delayMs: 10, ip6: IP.a });
    hosts.b = await tb.addHost('b', '198.51.100.5', { delayMs: 10, ip6: IP.b });
    // The testbed writes --listen IPv4:5060 first; the later --listen wins.
    nodes.a = tb.startNode(hosts.a, ['--listen', `[${IP.a}]:5060`, '--stun', `[${IP.a}]:3478`, '--transports', 'udp'], { domain: DOMAIN });
    await tb.healthy(hosts.a, nodes.a);
    // Node b is given other spellings of the same addresses: it must hash and write the canonical text.
    nodes.b = tb.startNode(hosts.b, ['--listen', '[2001:0DB8:0:0::B]:5060', '--bootstrap', '[2001:db8:0::000a]:5060', '--transports', 'udp'], { domain: DOMAIN });
    await tb.healthy(hosts.b, nodes.b);
  }, 60_000);

  afterAll(async () => {
    await tb?.destroy();
    await run('sh', ['-c', `rm -f /tmp/kadsip-ipv6-${TAG}-*`], { timeoutMs: 2_000 });
  }, 30_000);

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
    // Nothing of them listens on IPv4: the only SIP sockets are the [v6]:5060 ones.
    for (const side of ['a', 'b'] as const) {
      const sockets = await tb!.run(hosts[side]!, 'ss', ['-H', '-u', '-l', '-n', 'sport', '=', ':5060'], 5_000);
      expect(sockets.stdout.trim().split('\n').map((l) => l.trim().split(/\s+/)[3])).toEqual([`[${IP[side]}]:5060`]);
    }
  });

  it('node b checks its address with STUN over IPv6 at the server node a advertises (stun=[v6]:port)', async () => {
    expect(await status('a')).toMatchObject({ stun: `[${IP.a}]:3478`, behindNat: false });
    const checked = logLines(nodes.b!).find((l) => l.msg === 'public address');
    expect(checked, nodes.b!.output()).toMatchObject({ address: `[${IP.b}]:5060`, server: `[${IP.a}]:3478` });
    expect(await status('b')).toMatchObject({ behindNat: false });
    // And a client on host b asking node a over IPv6 is offered that server (DHT-Candidate <stun:[v6]:port>).
    const r = await tb!.kadsip(hosts.b!, ['candidates', '--via', `[${IP.a}]:5060`, '--json'], 15_000);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual([expect.objectContaining({ stun: `[${IP.a}]:3478`, role: 'peer' })]);
  });

  it('phones register over UDP/IPv6 and their nodes publish [v6] records', async () => {
    await register('a', 'bob', 5070);
    await register('b', 'carol', 5070);
    for (const side of ['a', 'b'] as const) {
      await until(`node ${side} to publish its registration`, 10_000, () => (registrationPublished(nodes[side]!) ? true : undefined));
    }
  });

  /** alice on host `from` (port 5080, through its node) calls `callee`, registered on the other host at port 5070. */
  async function call(from: Side, callee: string): Promise<{ invite: string; ok: string; bye: string }> {
    const to: Side = from === 'a' ? 'b' : 'a';
    const uas = sipp(to, join(NAT_SCENARIOS, 'uas.xml'), `uas-${callee}`, 5070, ['-s', callee, '-key', 'domain', DOMAIN], 40);
    await new Promise((r) => setTimeout(r, 500)); // SIPp binds its socket
    const uac = sipp(from, join(V6_SCENARIOS, 'uac.xml'), `uac-alice-${from}`, 5080, ['-s', callee, '-key', 'domain', DOMAIN, `[${IP[from]}]:5060`], 30);
    const [uacCode, uasCode] = await Promise.all([uac.exit, uas.exit]);
    const logs = (): string => `UAC:\n${uac.output()}\nUAS:\n${uas.output()}\nnode a:\n${nodes.a!.output().slice(-3000)}\nnode b:\n${nodes.b!.output().slice(-3000)}`;
    expect(uacCode, logs()).toBe(0);
    expect(uasCode, logs()).toBe(0);
    const calleeTrace = await readFile(TRACE(`uas-${callee}.msg`), 'utf8');
    const callerTrace = await readFile(TRACE(`uac-alice-${from}.msg`), 'utf8');
    return { invite: messageIn(calleeTrace, 'INVITE sip:'), ok: messageIn(callerTrace, 'SIP/2.0 200 OK'), bye: messageIn(callerTrace, 'BYE sip:') };
  }

  /** The RFC 5118 forms of one call from the phone at [IP[from]]:5080 to the one at [IP[to]]:5070. */
  function expectBracketedForms(from: Side, seen: { invite: string; ok: string; bye: string }): void {
    const to: Side = from === 'a' ? 'b' : 'a';
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
    expectBracketedForms('a', await call('a', 'carol'));
  }, 60_000);

  it('a phone on host b calls bob, registered at host a, over IPv6', async () => {
    expectBracketedForms('b', await call('b', 'bob'));
  }, 60_000);

  it('kadsip lookup from host b through [2001:db8::a]:5060 finds bob\'s record', async () => {
    const r = await tb!.kadsip(hosts.b!, ['lookup', `sip:bob@${DOMAIN}`, '--via', `[${IP.a}]:5060`, '--json', '--timeout', '5'], 15_000);
    expect(r.code, r.stdout + r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ found: true, bindings: [{ uri: `sip:bob@[${IP.a}]:5060` }], answered_by: `[${IP.a}]:5060` });
  }, 20_000);
});
