/**
 * Who may do what (issue 12, README "Who may do what") on real addresses: a node at 192.0.2.10 in
 * the multi-host testbed (test/live/testbed.ts) that trusts only 198.51.100.0/24, with a users
 * file, a second node of the overlay at 203.0.113.20, dnsmasq in the first node's namespace
 * answering pbx.test -> 198.51.100.20 (a SIPp "PBX"), and SIPp phones:
 *
 *   c 203.0.113.7   untrusted phone of N1 (alice, bob)      t 198.51.100.5  trusted LAN phone of N1
 *   x 203.0.113.9   a password guesser                        e 203.0.113.30  a phone of N2
 *   d 198.51.100.20 the SIP server of pbx.test (another domain, RFC 3263 by an A record)
 *
 * - the done-when test: an INVITE from the unknown source c to another domain gets 407, read off
 *   the wire by a raw UDP client (no kadsip code on its side), and nothing reaches the PBX;
 * - SIPp with [authentication] answers the 407 and the call to pbx.test completes;
 * - the trusted phone calls pbx.test without any challenge;
 * - a call from N2's phone to bob, registered at N1 (from the untrusted c, with digest), is
 *   accepted by N1 without a challenge: it terminates there;
 * - wrong passwords: 407, 407, then 403 (the third failure starts a cooling-off), 403 even with the
 *   right password meanwhile, logged once; after the cooling-off the right password works.
 * SIPp 3.6 answers only the first challenge and computes MD5 only: N1 offers MD5 alone here (the
 * SHA-256-first order of the 407 is tested in test/policy/admission.test.ts).
 */
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, requireTool, run } from './live-helpers.js';
import { logLines, registrationPublished, until, type NsProc } from './netns-helpers.js';
import { requireTestbed, Testbed, type Host } from './testbed.js';

const TAG = randomBytes(3).toString('hex');
const tmp = (name: string): string => `/tmp/kadsip-policy-${TAG}-${name}`;
const DOMAIN = 'overlay.test';
const SCENARIOS = join(REPO, 'sip-scenarios');
const UAS = join(REPO, 'test', 'live', 'nat-scenarios', 'uas.xml');
const UAC = join(REPO, 'test', 'live', 'nat-scenarios', 'uac.xml');
const REGISTER_AUTH = join(REPO, 'test', 'live', 'drachtio-scenarios', 'register-auth-stay.xml');
const COOLING_OFF_S = 8;

/** One INVITE from a bare UDP socket; prints every datagram that comes back within 5 s, ACKs a final. */
const RAW_INVITE_PY = `
import socket, sys, time
me, node, ruri = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((me, 5090))
s.settimeout(1.0)
head = lambda m, extra: (f"{m} {ruri} SIP/2.0\\r\\nVia: SIP/2.0/UDP {me}:5090;branch=z9hG4bKpolicy1;rport\\r\\n"
  f"Max-Forwards: 70\\r\\nFrom: <sip:mallory@{me}>;tag=m1\\r\\nTo: <{ruri}>{extra}\\r\\nCall-ID: policy-{me}\\r\\n")
s.sendto((head('INVITE', '') + "CSeq: 1 INVITE\\r\\nContact: <sip:mallory@" + me + ":5090>\\r\\nContent-Length: 0\\r\\n\\r\\n").encode(), (node, 5060))
end = time.time() + 5
while time.time() < end:
    try:
        d, _ = s.recvfrom(4096)
    except socket.timeout:
        continue
    text = d.decode(errors='replace')
    print(text.replace('\\r\\n', '\\n'), flush=True)
    status = int(text.split(' ')[1])
    if status >= 200:
        tag = [l for l in text.split('\\r\\n') if l.lower().startswith('to:')][0].split(';tag=')[1]
        s.sendto((head('ACK', ';tag=' + tag) + "CSeq: 1 ACK\\r\\nContent-Length: 0\\r\\n\\r\\n").encode(), (node, 5060))
        break
`;

/** One stray ACK (To tag, no Route of the node's) whose Route names another host: a relay attempt. */
const RAW_ACK_PY = `
import socket, sys
me, node, target = sys.argv[1], sys.argv[2], sys.argv[3]
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind((me, 5094))
s.sendto((f"ACK sip:carol@{target} SIP/2.0\\r\\nVia: SIP/2.0/UDP {me}:5094;branch=z9hG4bKack{me.replace('.', '')};rport\\r\\n"
  f"Route: <sip:{target};lr>\\r\\nMax-Forwards: 70\\r\\nFrom: <sip:mallory@{me}>;tag=m1\\r\\nTo: <sip:carol@{target}>;tag=c1\\r\\n"
  f"Call-ID: ack-{me}\\r\\nCSeq: 1 ACK\\r\\nContent-Length: 0\\r\\n\\r\\n").encode(), (node, 5060))
`;

interface PolicyStatus {
  challenges407: number;
  challenges401: number;
  authFailures: number;
  coolingOffStarted: number;
  coolingOffRefusals: number;
  coolingOffNow: number;
  acksDropped: number;
  accepted: Record<string, number>;
  trust: string[];
}

describe('who may do what, on real addresses (issue 12)', () => {
  let tb: Testbed;
  const h = {} as Record<'n1' | 'n2' | 'c' | 't' | 'x' | 'e' | 'd', Host>;
  let n1: NsProc;
  let n2: NsProc;

  const policy = async (): Promise<PolicyStatus> => (await tb.status<{ policy: PolicyStatus }>(h.n1)).policy;
  const sipp = (host: Host, scenario: string, name: string, args: string[], timeoutS = 30): NsProc =>
    tb.sipp(host, scenario, args, { timeoutS, errorFile: tmp(`${name}.err`) });
  /** The PBX of pbx.test answers one call as carol. */
  const pbx = (name: string): NsProc => sipp(h.d, UAS, `pbx-${name}`, ['-p', '5060', '-s', 'carol'], 40);
  const logs = (...procs: NsProc[]): string => `${procs.map((p) => p.output().slice(-2500)).join('\n---\n')}\n--- N1:\n${n1.output().slice(-4000)}`;

  beforeAll(async () => {
    requireTestbed();
    requireTool('sipp', 'sip-tester');
    requireTool('dnsmasq', 'dnsmasq-base');
    tb = await Testbed.create();
    h.n1 = await tb.addHost('n1', '192.0.2.10', { delayMs: 2 });
    h.n2 = await tb.addHost('n2', '203.0.113.20', { delayMs: 2 });
    h.c = await tb.addHost('c', '203.0.113.7', { delayMs: 2 });
    h.t = await tb.addHost('t', '198.51.100.5', { delayMs: 2 });
    h.x = await tb.addHost('x', '203.0.113.9', { delayMs: 2 });
    h.e = await tb.addHost('e', '203.0.113.30', { delayMs: 2 });
    h.d = await tb.addHost('d', '198.51.100.20', { delayMs: 2 });
    writeFileSync(tmp('users'), 'alice:alice-secret\nbob:bob-secret\n');
    // pbx.test for N1's RFC 3263 lookups: NAPTR and SRV answered empty, then the A record (port 5060).
    tb.spawn(h.n1, '/usr/sbin/dnsmasq', [
      '--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--no-poll', '--pid-file=',
      '--port=5353', '--listen-address=127.0.0.1', '--bind-interfaces', '--log-facility=-', '--local=/test/',
      '--host-record=pbx.test,198.51.100.20',
    ]);
    n1 = tb.startNode(h.n1, ['--transports', 'udp', '--trust', '198.51.100.0/24', '--auth-failures', '3', '--auth-cooling-off-s', String(COOLING_OFF_S)], {
      domain: DOMAIN,
      env: { KADSIP_USERS_FILE: tmp('users'), KADSIP_DIGEST_ALGORITHMS: 'MD5', KADSIP_DNS: '127.0.0.1:5353', KADSIP_REALM: DOMAIN },
    });
    await tb.healthy(h.n1, n1);
    // N2 trusts the testbed's networks (tb.startNode's default): e is its own phone.
    n2 = tb.startNode(h.n2, ['--transports', 'udp', '--bootstrap', `${h.n1.ip}:5060`], { domain: DOMAIN });
    await tb.healthy(h.n2, n2);
    expect((await policy()).trust).toEqual(['198.51.100.0/24']);
  }, 90_000);

  afterAll(async () => {
    await tb?.destroy();
    await run('sh', ['-c', `rm -f /tmp/kadsip-policy-${TAG}-*`], { timeoutMs: 2_000 });
  }, 30_000);

  it('an INVITE from an unknown source to another domain, through a node on a non-loopback address, gets 407', async () => {
    const before = await policy();
    const r = await tb.run(h.c, 'python3', ['-I', '-S', '-c', RAW_INVITE_PY, h.c.ip, h.n1.ip, 'sip:+15551234@pbx.test'], 15_000);
    const answers = r.stdout.split(/\n(?=SIP\/2\.0 )/).filter((m) => m.startsWith('SIP/2.0'));
    expect(answers.map((m) => m.split('\n')[0]), r.stdout + r.stderr).toEqual(['SIP/2.0 407 Proxy Authentication Required']);
    expect(answers[0]).toMatch(/^Proxy-Authenticate: Digest realm="overlay\.test", nonce="[^"]+", opaque="[^"]+", algorithm=MD5, qop="auth"$/m);
    expect(answers[0]).not.toMatch(/^WWW-Authenticate:/im);
    const after = await policy();
    expect(after.challenges407).toBe(before.challenges407 + 1);
    expect(after.authFailures).toBe(before.authFailures);
  });

  it('the untrusted phone answers the 407 with its credentials (SIPp [authentication]) and the call to pbx.test completes', async () => {
    const before = await policy();
    const server = pbx('auth');
    const uac = sipp(h.c, join(SCENARIOS, 'uac-auth-call.xml'), 'alice-auth', ['-p', '5070', '-s', 'carol', '-key', 'domain', 'pbx.test', '-key', 'caller', 'alice', '-au', 'alice', '-ap', 'alice-secret', '-auth_uri', 'carol@pbx.test', `${h.n1.ip}:5060`]);
    const [uacCode, serverCode] = await Promise.all([uac.exit, server.exit]);
    expect(uacCode, logs(uac, server)).toBe(0);
    expect(serverCode, logs(uac, server)).toBe(0);
    const after = await policy();
    expect(after.challenges407).toBe(before.challenges407 + 1);
    expect(after.accepted.authenticated).toBe(before.accepted.authenticated! + 1);
    // The BYE came by our Record-Route: an in-dialog request, not challenged again.
    expect(after.accepted['in-dialog']).toBeGreaterThan(before.accepted['in-dialog']!);
  });

  it('a phone of the trusted network calls pbx.test without credentials, unchallenged', async () => {
    const before = await policy();
    const server = pbx('trusted');
    const uac = sipp(h.t, join(SCENARIOS, 'uac-auth-call.xml'), 'trusted', ['-p', '5070', '-s', 'carol', '-key', 'domain', 'pbx.test', '-key', 'caller', 'tina', `${h.n1.ip}:5060`]);
    const [uacCode, serverCode] = await Promise.all([uac.exit, server.exit]);
    expect(uacCode, logs(uac, server)).toBe(0);
    expect(serverCode, logs(uac, server)).toBe(0);
    const after = await policy();
    expect(after.challenges407).toBe(before.challenges407);
    expect(after.accepted.trusted).toBe(before.accepted.trusted! + 1);
  });

  it('a call from a phone of the other node to bob, registered here, is accepted without a challenge', async () => {
    const reg = sipp(h.c, REGISTER_AUTH, 'reg-bob', ['-p', '5080', '-s', 'bob', '-key', 'domain', DOMAIN, '-key', 'expires', '300', '-au', 'bob', '-ap', 'bob-secret', `${h.n1.ip}:5060`], 15);
    expect(await reg.exit, reg.output()).toBe(0);
    await until("bob's registration in the overlay", 15_000, () => (registrationPublished(n1, 'bob') ? true : undefined));
    const before = await policy();
    expect(before.challenges401).toBeGreaterThanOrEqual(1);
    const bob = sipp(h.c, UAS, 'bob', ['-p', '5080', '-s', 'bob'], 40);
    const caller = sipp(h.e, UAC, 'to-bob', ['-p', '5070', '-s', 'bob', '-key', 'domain', DOMAIN, `${h.n2.ip}:5060`], 30);
    const [callerCode, bobCode] = await Promise.all([caller.exit, bob.exit]);
    const more = `${logs(caller, bob)}\n--- N2:\n${n2.output().slice(-3000)}`;
    expect(callerCode, more).toBe(0);
    expect(bobCode, more).toBe(0);
    const after = await policy();
    expect(after.challenges407).toBe(before.challenges407);
    expect(after.accepted.terminating).toBe(before.accepted.terminating! + 1);
  });

  it('a stray ACK whose Route points past the node is relayed for the trusted network only (no open relay through Route)', async () => {
    const probe = await tb.udpProbe(h.d, 5062);
    const target = `${h.d.ip}:5062`;
    const before = await policy();
    await tb.run(h.c, 'python3', ['-I', '-S', '-c', RAW_ACK_PY, h.c.ip, h.n1.ip, target], 10_000);
    await until('the untrusted ACK counted as dropped', 10_000, async () => ((await policy()).acksDropped > before.acksDropped ? true : undefined));
    // The control: the same ACK from the trusted network arrives, so the probe would have seen the first.
    await tb.run(h.t, 'python3', ['-I', '-S', '-c', RAW_ACK_PY, h.t.ip, h.n1.ip, target], 10_000);
    await probe.waitFor((d) => d.text.startsWith('ACK '), 10_000);
    expect(probe.received().filter((d) => d.text.startsWith('ACK ')).map((d) => d.from)).toEqual([h.n1.ip]);
  });

  it(`wrong passwords: 407 twice, then 403 for ${COOLING_OFF_S} s (the right one too), logged once; then the right one works`, async () => {
    const guess = (name: string, password: string): NsProc =>
      sipp(h.x, join(SCENARIOS, 'uac-auth-refused.xml'), name, ['-p', '5070', '-s', 'carol', '-key', 'domain', 'pbx.test', '-key', 'caller', 'alice', '-au', 'alice', '-ap', password, '-auth_uri', 'carol@pbx.test', `${h.n1.ip}:5060`], 15);
    // uac-auth-refused.xml passes only on a 403: a 407 to the credentials fails it.
    const codes: number[] = [];
    for (const [i, password] of ['guess1', 'guess2', 'guess3', 'alice-secret'].entries()) codes.push((await guess(`guess${i}`, password).exit) ?? -1);
    expect(codes).toEqual([1, 1, 0, 0]);
    const during = await policy();
    expect(during).toMatchObject({ coolingOffNow: 1 });
    expect(during.coolingOffStarted).toBe(1);
    const warned = logLines(n1).filter((l) => l.msg === 'too many failed authentications: source refused (403) for the cooling-off time');
    expect(warned.map((l) => l.source)).toEqual([h.x.ip]);
    // Bounded wait for the end of the cooling-off, then the right password is accepted.
    await until('the end of the cooling-off', (COOLING_OFF_S + 20) * 1000, async () => ((await policy()).coolingOffNow === 0 ? true : undefined));
    const server = pbx('after');
    const uac = sipp(h.x, join(SCENARIOS, 'uac-auth-call.xml'), 'after', ['-p', '5072', '-s', 'carol', '-key', 'domain', 'pbx.test', '-key', 'caller', 'alice', '-au', 'alice', '-ap', 'alice-secret', '-auth_uri', 'carol@pbx.test', `${h.n1.ip}:5060`]);
    const [uacCode, serverCode] = await Promise.all([uac.exit, server.exit]);
    expect(uacCode, logs(uac, server)).toBe(0);
    expect(serverCode, logs(uac, server)).toBe(0);
  }, 90_000);
});
