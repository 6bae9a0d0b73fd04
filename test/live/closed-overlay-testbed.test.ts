/**
 * A closed overlay (PROTOCOL.md 11.2) on three hosts of the multi-host testbed, each node's
 * certificate pinned to its own address (`kadsip ca issue --address IP:5060`), 20-40 ms between
 * hosts: the nodes join (their first contacts, with certificate and proof, are UDP datagrams above
 * 1300 bytes that cross the testbed's link), SIPp phones registered at different nodes call each
 * other both ways as in the open overlay, and from a fourth host q a node without a certificate
 * cannot join, nor can one whose certificate names another address (403), while `kadsip lookup`
 * with a certificate of the CA finds a phone's AoR. Needs root; without it the test fails with a
 * message.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO, requireTool, run } from './live-helpers.js';
import { registrationPublished, until, type NsProc } from './netns-helpers.js';
import { publicAddress, requireTestbed, startOverlay, Testbed, type Host } from './testbed.js';

const DOMAIN = 'closed.example';
const SCENARIOS = join(REPO, 'test', 'live', 'nat-scenarios');

describe('a closed overlay on three hosts of the testbed', () => {
  let tb: Testbed;
  let hosts: Host[];
  let nodes: NsProc[];
  let q: Host;
  let work = '';
  let ca = '';
  const files = (name: string): string[] => ['--ca-cert', join(ca, 'ca-cert.pem'), '--cert', join(work, name, 'node-cert.pem'), '--key', join(work, name, 'node-key.pem')];

  async function issue(name: string, extra: string[]): Promise<void> {
    const r = await run(process.execPath, [CLI, 'ca', 'issue', '--ca', ca, '--name', name, '--domain', DOMAIN, '--out', join(work, name), ...extra], { timeoutMs: 30_000 });
    if (r.code !== 0) throw new Error(`ca issue ${name}: ${r.stderr}`);
  }

  beforeAll(async () => {
    requireTestbed();
    requireTool('sipp', 'sip-tester');
    work = mkdtempSync(join(tmpdir(), 'kadsip-closed-tb-'));
    ca = join(work, 'ca');
    const init = await run(process.execPath, [CLI, 'ca', 'init', '--out', ca, '--overlay', 'tb'], { timeoutMs: 30_000 });
    if (init.code !== 0) throw new Error(`ca init: ${init.stderr}`);
    for (let i = 0; i < 3; i++) await issue(`n${i}`, ['--address', `${publicAddress(i)}:5060`]);
    await issue('tool', []);
    await issue('elsewhere', ['--address', '192.0.2.99:5060']);
    tb = await Testbed.create();
    ({ hosts, nodes } = await startOverlay(tb, 3, { minDelayMs: 10, maxDelayMs: 20, domain: DOMAIN, perNodeArgs: (i) => files(`n${i}`) }));
    q = await tb.addHost('q', '203.0.113.200', { delayMs: 10 });
  }, 120_000);

  afterAll(async () => {
    await tb?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
  }, 30_000);

  function sipp(host: Host, scenario: string, port: number, user: string, target?: string, timeoutS = 20): NsProc {
    return tb.sipp(host, join(SCENARIOS, scenario), ['-p', String(port), '-s', user, '-key', 'domain', DOMAIN, ...(target ? [target] : [])], { timeoutS });
  }

  it('the enrolled nodes join each other under the CA\'s overlay name', async () => {
    for (const h of hosts) {
      await until(`${h.name} to know both others`, 20_000, async () => ((await tb.status<{ contacts: number }>(h)).contacts === 2 ? true : undefined));
      const s = await tb.status<{ overlay: string; trust: { mode: string; addresses?: string[] } }>(h);
      expect(s.overlay).toBe('tb');
      expect(s.trust.mode).toBe('closed');
      expect(s.trust.addresses).toEqual([`${h.ip}:5060`]);
    }
  });

  async function call(from: number, to: number, callee: string): Promise<void> {
    const reg = sipp(hosts[to]!, 'register.xml', 5080, callee, `${hosts[to]!.ip}:5060`);
    expect(await reg.exit, reg.output()).toBe(0);
    await until(`${callee} published in the overlay`, 20_000, () => (registrationPublished(nodes[to]!, callee) ? true : undefined));
    const uas = sipp(hosts[to]!, 'uas.xml', 5080, callee, undefined, 40);
    await new Promise((r) => setTimeout(r, 500)); // SIPp binds its socket
    const uac = sipp(hosts[from]!, 'uac.xml', 5070, callee, `${hosts[from]!.ip}:5060`, 30);
    const [uacCode, uasCode] = await Promise.all([uac.exit, uas.exit]);
    const logs = `UAC:\n${uac.output()}\nUAS:\n${uas.output()}\ncaller node:\n${nodes[from]!.output().slice(-3000)}\ncallee node:\n${nodes[to]!.output().slice(-3000)}`;
    expect(uacCode, logs).toBe(0);
    expect(uasCode, logs).toBe(0);
  }

  it('phones registered at different nodes call each other, both ways', async () => {
    await call(0, 2, 'bob');
    await call(2, 1, 'alice');
  }, 90_000);

  it('kadsip lookup from q finds an AoR with a certificate of the CA, and is refused 428 without', async () => {
    const aor = `sip:bob@${DOMAIN}`;
    const ok = await tb.kadsip(q, ['lookup', aor, '--via', `${hosts[1]!.ip}:5060`, '--json', '--timeout', '10', ...files('tool')], 25_000);
    expect(ok.code, `${ok.stdout}${ok.stderr}`).toBe(0);
    expect(ok.stdout).toContain(`sip:bob@${hosts[2]!.ip}:5060`);
    const bare = await tb.kadsip(q, ['lookup', aor, '--via', `${hosts[1]!.ip}:5060`, '--json', '--timeout', '10'], 25_000);
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/428/);
  }, 60_000);

  it('a node on q cannot join without a certificate, nor with one that names another address (403)', async () => {
    const bare = tb.startNode(q, ['--bootstrap', `${hosts[0]!.ip}:5060`]);
    expect(await bare.exit).toBe(1);
    expect(bare.output()).toMatch(/could not join the overlay/);
    const pinned = tb.startNode(q, ['--bootstrap', `${hosts[0]!.ip}:5060`, ...files('elsewhere')]);
    expect(await pinned.exit).toBe(1);
    expect(pinned.output()).toMatch(/certificate does not name its address/);
    expect(nodes[0]!.output()).toMatch(/"status":403.*does not allow address 203\.0\.113\.200:5060/);
    for (const h of hosts) expect((await tb.status<{ contacts: number }>(h)).contacts).toBe(2);
  }, 60_000);
});
