/**
 * A node behind a symmetric NAT (issue 9; PROTOCOL.md section 10), on the multi-host testbed:
 *
 *   host a  192.0.2.10    peer P: --stun 192.0.2.10:3478
 *   host b  198.51.100.10 peer Q: --stun 198.51.100.10:3478, bootstrap P; carol (SIPp) registers here
 *   NAT n1  203.0.113.1   'symmetric': MASQUERADE --random-fully, a new external port per destination
 *     p1    10.77.1.10    node N (bootstrap P, no other setting) and bob (SIPp :5080) registered at N
 *
 * It checks that N finds the symmetric NAT at start (STUN from two servers and P's SIP answer name
 * different mappings), says so in one log line, runs as a client attached to P without being told,
 * and that bob, registered at N, takes a call from carol (Q finds bob's record, which P published
 * under its own address, P sends the INVITE over N's flow, N delivers it) and calls carol, with
 * the ACK and a BYE crossing the NAT along the route set each time.
 * Needs root and the testbed's tools (requireTestbed), and SIPp.
 */
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idToHex } from '../../src/overlay/id.js';
import { peerIdFromAddress } from '../../src/overlay/peer-id.js';
import { REPO, requireTool, run } from './live-helpers.js';
import { logLines, registrationPublished, until, type NsProc } from './netns-helpers.js';
import { natScene, requireTestbed, Testbed, type Host, type Nat } from './testbed.js';

const TAG = randomBytes(3).toString('hex');
const DOMAIN = 'symmetric.example';
const SCENARIOS = join(REPO, 'test', 'live', 'nat-scenarios');
const tmp = (name: string): string => `/tmp/kadsip-sym-${TAG}-${name}`;

describe('a node behind a symmetric NAT runs as a client and its phones still call and are called', () => {
  let tb: Testbed;
  let a: Host;
  let b: Host;
  let nat: Nat;
  let p1: Host;
  let peerP: NsProc;
  let peerQ: NsProc;
  let nodeN: NsProc;

  function sipp(host: Host, scenario: string, name: string, args: string[], timeoutS: number): NsProc {
    return tb.sipp(host, join(SCENARIOS, scenario), ['-key', 'domain', DOMAIN, ...args], { timeoutS, errorFile: tmp(`${name}.err`) });
  }

  beforeAll(async () => {
    requireTestbed();
    requireTool('sipp', 'sip-tester');
    tb = await Testbed.create();
    ({ a, b, nat, p1 } = await natScene(tb, 'symmetric'));
    const opts = { domain: DOMAIN, env: { KADSIP_K: '4' } };
    peerP = tb.startNode(a, ['--transports', 'udp', '--stun', `${a.ip}:3478`], opts);
    await tb.healthy(a, peerP);
    peerQ = tb.startNode(b, ['--transports', 'udp', '--stun', `${b.ip}:3478`, '--bootstrap', `${a.ip}:5060`], opts);
    await tb.healthy(b, peerQ);
    // P lists Q (with its stun=) before N asks, so N hears of two STUN servers.
    await until('P to know Q', 10_000, async () => ((JSON.parse((await tb.http(a, '/status')).body) as { contacts: number }).contacts >= 1 ? true : undefined));
    nodeN = tb.startNode(p1, ['--transports', 'udp', '--bootstrap', `${a.ip}:5060`], opts);
    await tb.healthy(p1, nodeN, 30_000);
  }, 90_000);

  afterAll(async () => {
    await tb?.destroy();
    await run('sh', ['-c', `rm -f /tmp/kadsip-sym-${TAG}-*`], { timeoutMs: 2_000 });
  }, 30_000);

  it('finds the symmetric NAT at start, says so in one line, and runs as a client attached to its bootstrap', async () => {
    const lines = logLines(nodeN).filter((l) => String(l.msg).startsWith('symmetric NAT'));
    expect(lines, nodeN.output()).toHaveLength(1);
    const line = lines[0]!;
    expect(line.attachPeer).toBe(`${a.ip}:5060`);
    // Three destinations (two STUN servers, P's SIP port), three different mappings of one socket.
    const mappings = line.mappings as string[];
    expect(mappings.length, JSON.stringify(line)).toBeGreaterThanOrEqual(2);
    expect(new Set(mappings.map((m) => m.slice(m.indexOf('->') + 2))).size).toBe(mappings.length);
    expect(logLines(nodeN).some((l) => l.msg === 'nat detected'), 'one line, not two').toBe(false);
    const reflexive = String(line.reflexive);
    expect(reflexive.startsWith(`${nat.publicIp}:`)).toBe(true);
    const status = JSON.parse((await tb.http(p1, '/status')).body) as { role: string; behindNat: boolean; state: string; address: string; peerId: string; attachPeer: string };
    expect(status).toMatchObject({ role: 'client', behindNat: true, state: 'joined', address: reflexive, attachPeer: `${a.ip}:5060` });
    const port = Number(reflexive.slice(reflexive.lastIndexOf(':') + 1));
    expect(status.peerId).toBe(idToHex(peerIdFromAddress(nat.publicIp, port)));
    // A client: in nobody's routing table (P knows only Q).
    const p = JSON.parse((await tb.http(a, '/status')).body) as { contacts: number };
    expect(p.contacts).toBe(1);
  });

  it('bob registers at N, and N registers his AoR at P, which publishes it', async () => {
    const reg = sipp(p1, 'register.xml', 'reg-bob', ['-p', '5080', '-s', 'bob', `${p1.ip}:5060`], 15);
    expect(await reg.exit, reg.output()).toBe(0);
    await until('N to register bob at P', 10_000, () => (logLines(nodeN).some((l) => l.msg === 'registered at the attach peer' && l.aor === `sip:bob@${DOMAIN}`) ? true : undefined));
    await until('P to publish bob', 10_000, () => (registrationPublished(peerP, 'bob') ? true : undefined));
    expect(registrationPublished(nodeN, 'bob'), 'a client publishes nothing itself').toBe(false);
    const reg2 = sipp(b, 'register.xml', 'reg-carol', ['-p', '5072', '-s', 'carol', `${b.ip}:5060`], 15);
    expect(await reg2.exit, reg2.output()).toBe(0);
    await until('Q to publish carol', 10_000, () => (registrationPublished(peerQ, 'carol') ? true : undefined));
  }, 40_000);

  it('bob takes a call from carol at Q: INVITE, ACK and BYE cross the NAT', async () => {
    const uas = sipp(p1, 'uas.xml', 'bob-uas', ['-p', '5080', '-s', 'bob'], 40);
    await new Promise((r) => setTimeout(r, 500)); // SIPp binds its socket
    const uac = sipp(b, 'uac.xml', 'carol-uac', ['-p', '5072', '-s', 'bob', `${b.ip}:5060`], 30);
    const [uacCode, uasCode] = await Promise.all([uac.exit, uas.exit]);
    const logs = (): string => `UAC:\n${uac.output()}\nUAS:\n${uas.output()}\nP:\n${peerP.output().slice(-3000)}\nN:\n${nodeN.output().slice(-3000)}`;
    expect(uacCode, logs()).toBe(0);
    expect(uasCode, logs()).toBe(0);
  }, 60_000);

  it('bob calls carol at Q through N: INVITE, ACK and BYE cross the NAT', async () => {
    const uas = sipp(b, 'uas.xml', 'carol-uas', ['-p', '5072', '-s', 'carol'], 40);
    await new Promise((r) => setTimeout(r, 500));
    const uac = sipp(p1, 'uac.xml', 'bob-uac', ['-p', '5090', '-s', 'carol', `${p1.ip}:5060`], 30);
    const [uacCode, uasCode] = await Promise.all([uac.exit, uas.exit]);
    const logs = (): string => `UAC:\n${uac.output()}\nUAS:\n${uas.output()}\nP:\n${peerP.output().slice(-3000)}\nN:\n${nodeN.output().slice(-3000)}`;
    expect(uacCode, logs()).toBe(0);
    expect(uasCode, logs()).toBe(0);
  }, 60_000);
});
