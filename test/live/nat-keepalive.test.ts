/**
 * Keep-alive of phones' flows through a NAT that forgets UDP mappings after 20 s (issue 9). The
 * test builds its own namespaces (unique names, always deleted):
 *
 *   pub  198.51.100.10 node A (natKeepaliveS 15, the default)   [ nat ]          10.200.1.2  priv
 *        198.51.100.11 node B (natKeepaliveS 0, keep-alive off)  MASQUERADE,      bob   :5080 -> A
 *        caller SIPp on 198.51.100.10:5070                       unsolicited      carol :5082 -> B
 *                                                                inbound dropped,
 *                                                                UDP mappings 20 s
 *
 * Both phones register with Expires 300 at t=0 and never again. After 60 s (three mapping
 * timeouts) a public caller calls each through its node. bob's call must be answered: node A's
 * CRLF CRLF pings every 15 s kept bob's mapping alive. carol's must fail with 480: nothing
 * refreshed her mapping, the NAT dropped it after 20 s and then drops node B's INVITE (the
 * negative control: it shows the test can fail, and that it is the keep-alive that makes it pass).
 *
 * Why 60 s and not the 5 minutes of a registration: a mapping either survives a 20 s gap or it
 * does not; once it has outlived three timeouts, every further interval is the same situation
 * again (the pings are periodic, at a steady period: test/node/flow-keepalive.test.ts checks that
 * on a virtual clock over 300 s), so waiting 300 s would test nothing 60 s does not.
 *
 * The nodes run with T1 = 100 ms so that an unreachable phone gives its caller a 480 within a
 * second or so (4 x T1, src/proxy/context.ts), not after seconds of waiting.
 * Needs root (ip netns, iptables, sysctl in the NAT's namespace), SIPp and curl.
 */
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO, requireBuilt, requireRoot, requireTool, run } from './live-helpers.js';
import { logLines, NetnsLab, until, type NsProc } from './netns-helpers.js';

const TAG = randomBytes(3).toString('hex');
const NS = { pub: `kk${TAG}pub`, nat: `kk${TAG}nat`, priv: `kk${TAG}prv` };
const NODE_A = '198.51.100.10';
const NODE_B = '198.51.100.11';
const ROUTER_PUBLIC = '198.51.100.1';
const ROUTER_PRIVATE = '10.200.1.1';
const PHONES = '10.200.1.2';
const DOMAIN = 'keepalive.example';
const MAPPING_TIMEOUT_S = 20;
const WAIT_S = 3 * MAPPING_TIMEOUT_S;
const SCENARIOS = join(REPO, 'test', 'live', 'nat-scenarios');
const tmp = (name: string): string => `/tmp/kadsip-ka-${TAG}-${name}`;

const lab = new NetnsLab(TAG, NS);

function sipp(ns: string, scenario: string, name: string, args: string[], timeoutS: number): NsProc {
  return lab.spawnIn(ns, 'sipp', ['-sf', join(SCENARIOS, scenario), '-m', '1', '-nostdin', '-timeout', `${timeoutS}s`, '-timeout_error', '-trace_err', '-error_file', tmp(`${name}.err`), ...args]);
}

/** A node in the public namespace with its own HTTP port there (two nodes share the namespace). */
async function startPublicNode(address: string, http: number, config: object): Promise<NsProc> {
  const file = tmp(`${address}.json`);
  await writeFile(file, JSON.stringify(config));
  const node = lab.spawnIn(NS.pub, process.execPath, [CLI, 'start', '--config', file, '--listen', `${address}:5060`, '--http', `127.0.0.1:${http}`, '--transports', 'udp', '--domain', DOMAIN, '--log-level', 'info']);
  await until(`the node at ${address} to join`, 20_000, () => {
    if (node.child.exitCode !== null) throw new Error(`node at ${address} exited: ${node.output()}`);
    return logLines(node).some((l) => l.msg === 'joined overlay') ? true : undefined;
  });
  return node;
}

async function register(user: string, port: number, node: string, nodeProc: NsProc): Promise<void> {
  const reg = sipp(NS.priv, 'register.xml', `reg-${user}`, ['-i', PHONES, '-p', String(port), '-s', user, '-key', 'domain', DOMAIN, `${node}:5060`], 15);
  expect(await reg.exit, reg.output()).toBe(0);
  await until(`${user}'s registration`, 10_000, () =>
    logLines(nodeProc).some((l) => l.msg === 'registration published in the overlay' && String(l.aor).startsWith(`sip:${user}@`)) ? true : undefined,
  );
}

describe('a node keeps the NAT flows of its phones alive (dropping NAT, 20 s UDP mappings)', () => {
  let nodeA: NsProc;
  let nodeB: NsProc;

  beforeAll(async () => {
    requireBuilt();
    requireRoot('the keep-alive test needs root: it creates network namespaces (ip netns), a NAT (iptables) and sets its conntrack timeouts (sysctl)');
    requireTool('ip', 'iproute2');
    requireTool('iptables', 'iptables');
    requireTool('sipp', 'sip-tester');
    requireTool('curl', 'curl');
    await lab.create();
    await lab.buildNat(NS, { pub: [NODE_A, NODE_B], routerPublic: ROUTER_PUBLIC, routerPrivate: ROUTER_PRIVATE, priv: PHONES });
    // The dropping NAT: a UDP mapping lives 20 s after its last packet, whether or not a reply was
    // seen (Linux conntrack refreshes the timer on packets in either direction).
    await lab.exec(NS.nat, 'sysctl', '-q', '-w', `net.netfilter.nf_conntrack_udp_timeout=${MAPPING_TIMEOUT_S}`, `net.netfilter.nf_conntrack_udp_timeout_stream=${MAPPING_TIMEOUT_S}`);
    nodeA = await startPublicNode(NODE_A, 8080, { sipT1Ms: 100 });
    nodeB = await startPublicNode(NODE_B, 8081, { sipT1Ms: 100, natKeepaliveS: 0 });
  }, 60_000);

  afterAll(async () => {
    await lab.cleanup();
    await run('sh', ['-c', `rm -f /tmp/kadsip-ka-${TAG}-*`], { timeoutMs: 2_000 });
  }, 30_000);

  it(`after ${WAIT_S} s without a REGISTER, the phone whose node pings its flow takes a call; the other is unreachable (480)`, async () => {
    await register('bob', 5080, NODE_A, nodeA);
    await register('carol', 5082, NODE_B, nodeB);
    const registeredAt = Date.now();
    // The phones listen from now on (SIPp discards the CRLF pings as empty datagrams).
    const bob = sipp(NS.priv, 'uas-answers.xml', 'bob', ['-i', PHONES, '-p', '5080', '-s', 'bob'], WAIT_S + 60);
    const carol = sipp(NS.priv, 'uas-answers.xml', 'carol', ['-i', PHONES, '-p', '5082', '-s', 'carol'], WAIT_S + 60);
    await new Promise((r) => setTimeout(r, Math.max(0, registeredAt + WAIT_S * 1000 - Date.now())));

    // The NAT still maps bob's flow (node A pinged it), and no longer carol's.
    const table = await lab.exec(NS.nat, 'conntrack', '-L', '-p', 'udp');
    expect(table, table).toMatch(new RegExp(`src=${PHONES.replace(/\./g, '\\.')} dst=${NODE_A.replace(/\./g, '\\.')} sport=5080 dport=5060`));
    expect(table, table).not.toMatch(/sport=5082 dport=5060/);

    const toBob = sipp(NS.pub, 'uac-answered.xml', 'call-bob', ['-i', NODE_A, '-p', '5070', '-s', 'bob', '-key', 'domain', DOMAIN, `${NODE_A}:5060`], 20);
    const [toBobCode, bobCode] = await Promise.all([toBob.exit, bob.exit]);
    const logs = (): string => `caller:\n${toBob.output()}\nbob:\n${bob.output()}\nnode A:\n${nodeA.output().slice(-3000)}`;
    expect(toBobCode, logs()).toBe(0);
    expect(bobCode, logs()).toBe(0);

    const toCarol = sipp(NS.pub, 'uac-answered.xml', 'call-carol', ['-i', NODE_B, '-p', '5070', '-s', 'carol', '-key', 'domain', DOMAIN, `${NODE_B}:5060`], 20);
    expect(await toCarol.exit, toCarol.output()).not.toBe(0);
    const error = await readFile(tmp('call-carol.err'), 'utf8').catch(() => '');
    expect(error, `${error}\n${nodeB.output().slice(-3000)}`).toMatch(/SIP\/2\.0 480 /);
    // carol's phone never saw the INVITE.
    expect(carol.child.exitCode, carol.output()).toBeNull();
  }, (WAIT_S + 90) * 1000);
});
