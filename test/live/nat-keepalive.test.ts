/**
 * Keep-alive of phones' flows through a NAT that forgets UDP mappings after 20 s (issue 9), on the
 * multi-host testbed (test/live/testbed.ts):
 *
 *   host a  192.0.2.10    node A (natKeepaliveS 15, the default)
 *   host b  198.51.100.10 node B (KADSIP_NAT_KEEPALIVE_S=0: keep-alive off)
 *   host c  203.0.113.10  the caller (SIPp)
 *   NAT n1  203.0.113.1   'dropping': unsolicited inbound dropped, UDP mappings 20 s
 *     p1    10.77.1.10    bob :5080 registered at A, carol :5082 registered at B (SIPp)
 *
 * Both phones register with Expires 300 at t=0 and never again. After 60 s (three mapping
 * timeouts) the caller calls each through its node. bob's call must go through, INVITE, ACK and
 * BYE (the ACK and BYE name bob's private Contact: node A sends them over his flow too,
 * LocationService.flowOf): node A's CRLF CRLF pings every 15 s kept bob's mapping alive. carol's must fail with 480: nothing
 * refreshed her mapping, the NAT dropped it after 20 s and then drops node B's INVITE (the
 * negative control: it shows the test can fail, and that it is the keep-alive that makes it pass).
 *
 * Why 60 s and not the 5 minutes of a registration: a mapping either survives a 20 s gap or it
 * does not; once it has outlived three timeouts, every further interval is the same situation
 * again (the pings are periodic, at a steady period: test/p2psip/flow-keepalive.test.ts checks that
 * on a virtual clock over 300 s), so waiting 300 s would test nothing 60 s does not.
 *
 * The nodes run with T1 = 100 ms so that an unreachable phone gives its caller a 480 within a
 * second or so (4 x T1, src/proxy/context.ts).
 * Needs root and the testbed's tools (requireTestbed), and SIPp.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { REPO, requireTool, run } from './live-helpers.js';
import { registrationPublished, until, type NsProc } from './netns-helpers.js';
import { natScene, requireTestbed, Testbed, type Host, type Nat } from './testbed.js';

const TAG = randomBytes(3).toString('hex');
const DOMAIN = 'keepalive.example';
const MAPPING_TIMEOUT_S = 20;
const WAIT_S = 3 * MAPPING_TIMEOUT_S;
const SCENARIOS = join(REPO, 'test', 'live', 'nat-scenarios');
const tmp = (name: string): string => `/tmp/kadsip-ka-${TAG}-${name}`;
const FAST_T1 = { KADSIP_SIP_T1_MS: '100' };

describe('a node keeps the NAT flows of its phones alive (dropping NAT, 20 s UDP mappings)', () => {
  let tb: Testbed;
  let a: Host;
  let b: Host;
  let c: Host;
  let nat: Nat;
  let phones: Host;
  let nodeA: NsProc;
  let nodeB: NsProc;

  function sipp(host: Host, scenario: string, name: string, args: string[], timeoutS: number): NsProc {
    return tb.sipp(host, join(SCENARIOS, scenario), args, { timeoutS, errorFile: tmp(`${name}.err`) });
  }

  async function register(user: string, port: number, node: Host, nodeProc: NsProc): Promise<void> {
    const reg = sipp(phones, 'register.xml', `reg-${user}`, ['-p', String(port), '-s', user, '-key', 'domain', DOMAIN, `${node.ip}:5060`], 15);
    expect(await reg.exit, reg.output()).toBe(0);
    await until(`${user}'s registration`, 10_000, () => (registrationPublished(nodeProc, user) ? true : undefined));
  }

  beforeAll(async () => {
    requireTestbed();
    requireTool('sipp', 'sip-tester');
    tb = await Testbed.create();
    ({ a, b, nat, p1: phones } = await natScene(tb, 'dropping', { udpTimeoutS: MAPPING_TIMEOUT_S }));
    c = await tb.addHost('c', '203.0.113.10', { delayMs: 5 });
    // Two overlays of one: each node is the only registrar of its phone.
    nodeA = tb.startNode(a, ['--transports', 'udp'], { domain: DOMAIN, env: FAST_T1 });
    nodeB = tb.startNode(b, ['--transports', 'udp'], { domain: DOMAIN, env: { ...FAST_T1, KADSIP_NAT_KEEPALIVE_S: '0' } });
    await Promise.all([tb.healthy(a, nodeA), tb.healthy(b, nodeB)]);
  }, 60_000);

  afterAll(async () => {
    await tb?.destroy();
    await run('sh', ['-c', `rm -f /tmp/kadsip-ka-${TAG}-*`], { timeoutMs: 2_000 });
  }, 30_000);

  it(`after ${WAIT_S} s without a REGISTER, the phone whose node pings its flow takes a call; the other is unreachable (480)`, async () => {
    await register('bob', 5080, a, nodeA);
    await register('carol', 5082, b, nodeB);
    const registeredAt = Date.now();
    // The phones listen from now on (SIPp discards the CRLF pings as empty datagrams).
    const bob = sipp(phones, 'uas.xml', 'bob', ['-p', '5080', '-s', 'bob'], WAIT_S + 60);
    const carol = sipp(phones, 'uas.xml', 'carol', ['-p', '5082', '-s', 'carol'], WAIT_S + 60);
    await new Promise((r) => setTimeout(r, Math.max(0, registeredAt + WAIT_S * 1000 - Date.now())));

    // The NAT still maps bob's flow (node A pinged it), and no longer carol's.
    const table = await tb.exec(nat, 'conntrack', '-L', '-p', 'udp');
    const ip = (x: string): string => x.replace(/\./g, '\\.');
    expect(table, table).toMatch(new RegExp(`src=${ip(phones.ip)} dst=${ip(a.ip)} sport=5080 dport=5060`));
    expect(table, table).not.toMatch(/sport=5082 dport=5060/);

    const toBob = sipp(c, 'uac.xml', 'call-bob', ['-p', '5070', '-s', 'bob', '-key', 'domain', DOMAIN, `${a.ip}:5060`], 20);
    const [toBobCode, bobCode] = await Promise.all([toBob.exit, bob.exit]);
    const logs = (): string => `caller:\n${toBob.output()}\nbob:\n${bob.output()}\nnode A:\n${nodeA.output().slice(-3000)}`;
    expect(toBobCode, logs()).toBe(0);
    expect(bobCode, logs()).toBe(0);

    const toCarol = sipp(c, 'uac.xml', 'call-carol', ['-p', '5072', '-s', 'carol', '-key', 'domain', DOMAIN, `${b.ip}:5060`], 20);
    expect(await toCarol.exit, toCarol.output()).not.toBe(0);
    const error = await readFile(tmp('call-carol.err'), 'utf8').catch(() => '');
    expect(error, `${error}\n${nodeB.output().slice(-3000)}`).toMatch(/SIP\/2\.0 480 /);
    // carol's phone never saw the INVITE.
    expect(carol.child.exitCode, carol.output()).toBeNull();
  }, (WAIT_S + 90) * 1000);
});
