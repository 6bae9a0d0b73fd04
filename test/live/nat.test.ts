/**
 * NAT traversal through a real NAT (issue 5; draft-jiang sections 4-6, PROTOCOL.md sections 1
 * and 5), on the multi-host testbed (test/live/testbed.ts):
 *
 *   host pub  198.51.100.10  public peer :5060 (--stun :3478), caller SIPp :5070, callee SIPp :5072
 *   NAT  n1   198.51.100.1   'eim': iptables MASQUERADE, unsolicited inbound dropped, no hairpin
 *                            (the private side cannot reach 198.51.100.1's mappings)
 *     priv    10.77.1.10     NATed node :5060, callee SIPp :5080, caller SIPp :5090
 *
 * Documentation addresses only, never routed outside the namespaces; pub has no route to 10.77/16.
 * It checks that:
 *  (a) the public peer runs a STUN server and advertises it (stun= in its DHT-PeerID);
 *  (b) the node behind the NAT, bootstrapped at the public peer, learns the STUN server from the
 *      bootstrap's answer, finds its reflexive address (the router's public IP and the mapped
 *      port) with STUN from its SIP socket, and joins with the Peer-ID of that address: its log
 *      says `nat detected`, its /status shows that Peer-ID, behindNat, and the DHT-Candidate it
 *      received on JOIN, and the public peer has it in its routing table at the reflexive address;
 *  (c) a SIPp phone registered at the NATed node is called by a SIPp phone on the public side
 *      through the public peer: INVITE, ACK and BYE all cross the NAT (SIPp exits 0 on both sides);
 *  (d) the other way, a phone behind the NAT calls a phone registered at the public peer through
 *      its node: the node record-routes twice (RFC 5658), its reflexive address above its private
 *      one, so the caller, which sends in-dialog requests to the first entry of its route set as a
 *      real phone does, reaches the node at its private address (the NAT does not hairpin); the
 *      ACK reaches the callee, and a BYE from either side gets its 200.
 * Every SIPp phone sends its ACK and BYE to the first entry of its route set (setdest), not to
 * the address on its command line.
 * Needs root and the testbed's tools (requireTestbed), and SIPp; without them the test fails with a
 * message, it does not skip.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idToHex } from '../../src/overlay/id.js';
import { peerIdFromAddress } from '../../src/overlay/peer-id.js';
import { REPO, requireTool, run } from './live-helpers.js';
import { logLines, registrationPublished, until, type NsProc } from './netns-helpers.js';
import { requireTestbed, Testbed, type Host, type Nat } from './testbed.js';

const TAG = randomBytes(3).toString('hex');
const DOMAIN = 'nat.example';
const SCENARIOS = join(REPO, 'test', 'live', 'nat-scenarios');
const tmp = (name: string): string => `/tmp/kadsip-nat-${TAG}-${name}`;

describe('NAT traversal through a real NAT (testbed, iptables MASQUERADE)', () => {
  let tb: Testbed;
  let pub: Host;
  let nat: Nat;
  let priv: Host;
  let publicPeer: NsProc;
  let natedNode: NsProc;
  let reflexive = '';

  function sipp(host: Host, scenario: string, args: string[], timeoutS: number): NsProc {
    return tb.sipp(host, join(SCENARIOS, scenario), ['-key', 'domain', DOMAIN, ...args], { timeoutS, errorFile: tmp(`${scenario}.err`) });
  }

  beforeAll(async () => {
    requireTestbed();
    requireTool('sipp', 'sip-tester');
    tb = await Testbed.create();
    pub = await tb.addHost('pub', '198.51.100.10');
    nat = await tb.addNat('n1', 'eim', '198.51.100.1');
    priv = await tb.addPrivateHost(nat, 'priv');

    publicPeer = tb.startNode(pub, ['--transports', 'udp', '--stun', `${pub.ip}:3478`], { domain: DOMAIN });
    await tb.healthy(pub, publicPeer);
    natedNode = tb.startNode(priv, ['--transports', 'udp', '--bootstrap', `${pub.ip}:5060`], { domain: DOMAIN });
    await tb.healthy(priv, natedNode);
  }, 60_000);

  afterAll(async () => {
    await tb?.destroy();
    await run('sh', ['-c', `rm -f /tmp/kadsip-nat-${TAG}-*`], { timeoutMs: 2_000 });
  }, 30_000);

  it('the private side cannot be reached from the public side except through the NAT', async () => {
    const r = await tb.run(pub, 'ip', ['route', 'get', priv.ip], 5_000);
    expect(r.code, r.stdout).not.toBe(0);
  });

  it('the public peer advertises its STUN server', async () => {
    const status = await tb.status<{ stun?: string; behindNat: boolean; peerId: string }>(pub);
    expect(status.stun).toBe(`${pub.ip}:3478`);
    expect(status.behindNat).toBe(false);
    expect(status.peerId).toBe(idToHex(peerIdFromAddress(pub.ip, 5060)));
  });

  it('the NATed node learns its reflexive address with STUN and joins with the Peer-ID of that address', async () => {
    const detected = logLines(natedNode).find((l) => l.msg === 'nat detected');
    expect(detected, natedNode.output()).toBeDefined();
    reflexive = String(detected!.reflexive);
    expect(reflexive).toMatch(new RegExp(`^${nat.publicIp.replace(/\./g, '\\.')}:\\d+$`));
    expect(detected!.server).toBe(`${pub.ip}:3478`);
    const [host, port] = [reflexive.slice(0, reflexive.lastIndexOf(':')), Number(reflexive.slice(reflexive.lastIndexOf(':') + 1))];
    const status = await tb.status<{ peerId: string; address: string; behindNat: boolean; state: string; contacts: number; candidates: number }>(priv);
    expect(status).toMatchObject({ address: reflexive, behindNat: true, state: 'joined', contacts: 1 });
    expect(status.peerId).toBe(idToHex(peerIdFromAddress(host, port)));
    // The JOIN asked for candidates (DHT-Candidates-Wanted: 10) and the public peer offered itself.
    expect(status.candidates).toBeGreaterThanOrEqual(1);
    // The public peer pinged the newcomer back through the NAT mapping and keeps it at that address.
    const peer = await until('the public peer to list the NATed node', 10_000, async () => {
      const s = await tb.status<{ contacts: number }>(pub);
      return s.contacts >= 1 ? s : undefined;
    });
    expect(peer.contacts).toBe(1);
  });

  it('a phone behind the NAT registered at the NATed node takes a call from the public side', async () => {
    const reg = sipp(priv, 'register.xml', ['-p', '5080', '-s', 'bob', `${priv.ip}:5060`], 15);
    const regCode = await reg.exit;
    expect(regCode, reg.output()).toBe(0);
    await until('the registration to be published in the overlay', 10_000, () => (registrationPublished(natedNode) ? true : undefined));
    const uas = sipp(priv, 'uas.xml', ['-p', '5080', '-s', 'bob'], 40);
    await new Promise((r) => setTimeout(r, 500)); // SIPp binds its socket
    const uac = sipp(pub, 'uac.xml', ['-p', '5070', '-s', 'bob', `${pub.ip}:5060`], 30);
    const [uacCode, uasCode] = await Promise.all([uac.exit, uas.exit]);
    const logs = (): string =>
      `UAC:\n${uac.output()}\nUAS:\n${uas.output()}\npublic peer:\n${publicPeer.output().slice(-3000)}\nNATed node:\n${natedNode.output().slice(-3000)}`;
    expect(uacCode, logs()).toBe(0);
    expect(uasCode, logs()).toBe(0);
  }, 60_000);

  /** One call from the phone behind the NAT (:5090, through its node) to carol at the public peer. */
  async function callOut(caller: string, callee: string, extra: string[] = []): Promise<void> {
    const uas = sipp(pub, callee, ['-p', '5072', '-s', 'carol'], 40);
    await new Promise((r) => setTimeout(r, 500)); // SIPp binds its socket
    const uac = sipp(priv, caller, ['-p', '5090', '-s', 'carol', ...extra, `${priv.ip}:5060`], 30);
    const [uacCode, uasCode] = await Promise.all([uac.exit, uas.exit]);
    const logs = (): string =>
      `UAC (behind the NAT):\n${uac.output()}\nUAS (public):\n${uas.output()}\npublic peer:\n${publicPeer.output().slice(-3000)}\nNATed node:\n${natedNode.output().slice(-3000)}`;
    expect(uacCode, logs()).toBe(0);
    expect(uasCode, logs()).toBe(0);
  }

  it('a phone behind the NAT calls the public side through its node: double Record-Route, ACK and BYE get through', async () => {
    const reg = sipp(pub, 'register.xml', ['-p', '5072', '-s', 'carol', `${pub.ip}:5060`], 15);
    expect(await reg.exit, reg.output()).toBe(0);
    await until('carol to be published in the overlay', 10_000, () => (registrationPublished(publicPeer, 'carol') ? true : undefined));
    const messages = tmp('caller.msg');
    await callOut('uac.xml', 'uas.xml', ['-trace_msg', '-message_file', messages]);
    // The 200 as the caller received it: the public peer's value on top, then the NATed node's two,
    // its reflexive address above its private one (the caller's route set starts with the latter).
    const trace = await readFile(messages, 'utf8');
    const ok = trace.slice(trace.indexOf('SIP/2.0 200 OK'));
    const rr = [...ok.split(/\r?\n\r?\n/)[0]!.matchAll(/^Record-Route:\s*(.*?)\r?$/gim)].flatMap((m) => m[1]!.trim().split(/\s*,\s*/));
    expect(rr).toEqual([`<sip:${pub.ip}:5060;lr>`, `<sip:${reflexive};lr>`, `<sip:${priv.ip}:5060;lr>`]);
  }, 60_000);

  it('a phone behind the NAT calls the public side and the callee hangs up: the BYE reaches the caller', async () => {
    await callOut('uac-callee-hangs-up.xml', 'uas-hangs-up.xml');
  }, 60_000);
});
