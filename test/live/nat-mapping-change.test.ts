/**
 * A NAT whose public address changes under a node (issue 9; PROTOCOL.md section 10.4), on the
 * multi-host testbed:
 *
 *   host a  192.0.2.10    peer P: --stun 192.0.2.10:3478
 *   host b  198.51.100.10 peer Q: bootstrap P; the caller (SIPp) calls through it
 *   NAT n1  203.0.113.1   'eim' (MASQUERADE), renumbered to 203.0.113.2 during the test
 *     p1    10.77.1.10    node N (bootstrap P) and bob (SIPp :5080) registered at N
 *
 * After the renumbering (testbed changeNatAddress: new public address, every mapping gone) the
 * caller calls bob every few seconds. It checks that N notices within 60 s (its periodic STUN check
 * names another mapping), rejoins under the Peer-ID of the new address and republishes bob; that a
 * call reaches bob, with its ACK and BYE, within 90 s of the change; and that no attempt before
 * that got a 404 (480 with Retry-After is what the old record's dead address gives).
 * Needs root and the testbed's tools (requireTestbed), and SIPp.
 */
import { randomBytes } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idToHex } from '../../src/overlay/id.js';
import { peerIdFromAddress } from '../../src/overlay/peer-id.js';
import { REPO, requireTool, run } from './live-helpers.js';
import { logLines, registrationPublished, until, type NsProc } from './netns-helpers.js';
import { natScene, requireTestbed, Testbed, type Host, type Nat } from './testbed.js';

const TAG = randomBytes(3).toString('hex');
const DOMAIN = 'renumbered.example';
const NEW_ADDRESS = '203.0.113.2';
const SCENARIOS = join(REPO, 'test', 'live', 'nat-scenarios');
const tmp = (name: string): string => `/tmp/kadsip-remap-${TAG}-${name}`;

describe('a NAT mapping that changes: the node rejoins under its new Peer-ID and its phone is reachable again', () => {
  let tb: Testbed;
  let a: Host;
  let b: Host;
  let nat: Nat;
  let p1: Host;
  let peerP: NsProc;
  let nodeN: NsProc;

  function sipp(host: Host, scenario: string, name: string, args: string[], timeoutS: number): NsProc {
    return tb.sipp(host, join(SCENARIOS, scenario), ['-key', 'domain', DOMAIN, ...args], { timeoutS, errorFile: tmp(`${name}.err`) });
  }

  beforeAll(async () => {
    requireTestbed();
    requireTool('sipp', 'sip-tester');
    tb = await Testbed.create();
    ({ a, b, nat, p1 } = await natScene(tb, 'eim'));
    const opts = { domain: DOMAIN, env: { KADSIP_K: '4' } };
    peerP = tb.startNode(a, ['--transports', 'udp', '--stun', `${a.ip}:3478`], opts);
    await tb.healthy(a, peerP);
    const peerQ = tb.startNode(b, ['--transports', 'udp', '--bootstrap', `${a.ip}:5060`], opts);
    nodeN = tb.startNode(p1, ['--transports', 'udp', '--bootstrap', `${a.ip}:5060`], opts);
    await Promise.all([tb.healthy(b, peerQ), tb.healthy(p1, nodeN, 30_000)]);
    expect(logLines(nodeN).some((l) => l.msg === 'nat detected'), nodeN.output()).toBe(true);
  }, 90_000);

  afterAll(async () => {
    await tb?.destroy();
    await run('sh', ['-c', `rm -f /tmp/kadsip-remap-${TAG}-*`], { timeoutMs: 2_000 });
  }, 30_000);

  it('notices within 60 s, rejoins, and bob takes a call again within 90 s; no attempt gets 404', async () => {
    const reg = sipp(p1, 'register.xml', 'reg-bob', ['-p', '5080', '-s', 'bob', `${p1.ip}:5060`], 15);
    expect(await reg.exit, reg.output()).toBe(0);
    await until('bob to be published', 10_000, () => (registrationPublished(nodeN) ? true : undefined));
    const bob = sipp(p1, 'uas.xml', 'bob', ['-p', '5080', '-s', 'bob'], 150);

    const changedAt = Date.now();
    await tb.changeNatAddress(nat, NEW_ADDRESS);

    // The caller tries every few seconds, each attempt bounded, until one is answered (at most 100 s).
    const failures: string[] = [];
    let answeredAt: number | undefined;
    for (let attempt = 0; attempt < 30 && Date.now() - changedAt < 100_000; attempt++) {
      const started = Date.now();
      const uac = sipp(b, 'uac.xml', `call-${attempt}`, ['-p', String(5070 + 2 * (attempt % 10)), '-s', 'bob', `${b.ip}:5060`], 15);
      const code = await uac.exit;
      if (code === 0) {
        answeredAt = Date.now();
        break;
      }
      const error = await readFile(tmp(`call-${attempt}.err`), 'utf8').catch(() => '');
      const statuses = [...error.matchAll(/SIP\/2\.0 (\d{3}) /g)].map((m) => m[1]);
      failures.push(`${Math.round((started - changedAt) / 1000)}s: ${statuses.at(-1) ?? `no final (exit ${code})`}`);
      await new Promise((r) => setTimeout(r, Math.max(0, started + 3_000 - Date.now())));
    }
    const logs = (): string => `failures: ${failures.join(', ')}\nN:\n${nodeN.output().slice(-5000)}`;

    const changed = logLines(nodeN).find((l) => l.msg === 'NAT mapping changed: rejoining under the new Peer-ID');
    expect(changed, logs()).toBeDefined();
    expect(Date.parse(String(changed!.time)) - changedAt, logs()).toBeLessThanOrEqual(60_000);
    expect(String(changed!.to).startsWith(`${NEW_ADDRESS}:`), logs()).toBe(true);

    expect(answeredAt, logs()).toBeDefined();
    expect(answeredAt! - changedAt, logs()).toBeLessThanOrEqual(90_000);
    expect(await bob.exit, `${bob.output()}\n${logs()}`).toBe(0);
    // In between: 480 (the old address does not answer), never 404.
    for (const f of failures) expect(f, logs()).not.toMatch(/ 404$/);

    const status = JSON.parse((await tb.http(p1, '/status')).body) as { address: string; peerId: string; state: string };
    expect(status.address).toBe(String(changed!.to));
    const port = Number(status.address.slice(status.address.lastIndexOf(':') + 1));
    expect(status.peerId).toBe(idToHex(peerIdFromAddress(NEW_ADDRESS, port)));
    expect(status.state).toBe('joined');
  }, 180_000);
});
