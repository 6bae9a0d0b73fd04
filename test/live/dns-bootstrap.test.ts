/**
 * `--bootstrap dns:DOMAIN` end to end (docs/PROTOCOL.md section 8.1): real `kadsip start`
 * processes whose `dns` setting points at dnsmasq on loopback (test/resolve/dns-server.ts, as the
 * RFC 3263 tests use it). The zone overlay.test lists node A by DNS-SD (PTR -> instance -> SRV +
 * TXT overlay=kadsip) and an instance of another overlay that must not be used.
 *
 * - A is started with `--bootstrap dns:overlay.test` too: DNS names only A itself, so A starts the
 *   overlay (one configuration for every node of a zone, the seed included).
 * - B, started with `--bootstrap dns:overlay.test` and no address, joins A: each has the other as
 *   a contact.
 * - C with `--bootstrap dns:missing.test` (NXDOMAIN) exits 1 with one human line on stderr.
 * - D's zone first names a dead address; while D's JOIN goes unanswered the zone changes (dnsmasq
 *   restarted on the same port) to name A: D resolves again and joins A.
 * Nothing is skipped: no dnsmasq or no dist/ is a failure saying so.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findDnsmasq, startDnsServer, type DnsServer } from '../resolve/dns-server.js';
import { CLI, freePorts, requireBuilt, run, startNode, statusOf, type RunningNode } from './live-helpers.js';

const S = '_kadsip._udp';
let work = '';
let dns: DnsServer | undefined;
let config = '';
let ports = 0;
const nodes: RunningNode[] = [];
const servers: DnsServer[] = [];

beforeAll(async () => {
  requireBuilt();
  if (findDnsmasq() === null) throw new Error('dnsmasq not found: run scripts/install-system-deps.sh (Debian package dnsmasq-base)');
  work = mkdtempSync(join(tmpdir(), 'kadsip-dns-bootstrap-'));
  ports = await freePorts(9);
  dns = await startDnsServer({
    ptr: [
      { name: `${S}.overlay.test`, target: `seed-a.${S}.overlay.test` },
      { name: `${S}.overlay.test`, target: `stranger.${S}.overlay.test` },
    ],
    srv: [
      { name: `seed-a.${S}.overlay.test`, target: 'a.overlay.test', port: ports, priority: 10, weight: 0 },
      // Another overlay's peer, with the better priority: B must not join through it.
      { name: `stranger.${S}.overlay.test`, target: 'stranger.overlay.test', port: ports + 4, priority: 1, weight: 0 },
    ],
    txt: [
      { name: `seed-a.${S}.overlay.test`, strings: ['txtvers=1', 'overlay=kadsip', 'transports=udp'] },
      { name: `stranger.${S}.overlay.test`, strings: ['txtvers=1', 'overlay=elsewhere'] },
    ],
    hosts: [
      { name: 'a.overlay.test', addresses: ['127.0.0.1'] },
      { name: 'stranger.overlay.test', addresses: ['127.0.0.1'] },
    ],
  });
  config = join(work, 'node.json');
  writeFileSync(config, JSON.stringify({ dns: dns.address, bootstrap: ['dns:overlay.test'] }));
});

afterAll(async () => {
  for (const n of nodes) await n.stop();
  await dns?.stop();
  for (const s of servers) await s.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('kadsip start --bootstrap dns:DOMAIN against dnsmasq', () => {
  it('A (listed in the zone) starts the overlay; B, given only dns:overlay.test, joins A', async () => {
    const a = await startNode(ports, ports + 1, ['--config', config, '--log-level', 'info']);
    nodes.push(a);
    expect(a.output()).toContain('DNS names only this node: starting a new overlay');
    const before = dns!.queries().length;
    const b = await startNode(ports + 2, ports + 3, ['--config', config, '--log-level', 'info', '--bootstrap', 'dns:overlay.test']);
    nodes.push(b);
    const asked = dns!.queries().slice(before).map((q) => `${q.type} ${q.name}`);
    expect(asked).toEqual(expect.arrayContaining([`PTR ${S}.overlay.test`, `SRV ${S}.overlay.test`, `SRV seed-a.${S}.overlay.test`, `TXT seed-a.${S}.overlay.test`, 'A a.overlay.test']));
    // The stranger's TXT names another overlay: not used, and said so.
    const notUsed = b.output().split('\n').find((l) => l.includes('DNS bootstrap record not used'));
    expect(notUsed, b.output()).toContain('overlay=elsewhere is not kadsip');
    const line = b.output().split('\n').find((l) => l.includes('bootstrap peers from DNS'));
    expect(line, b.output()).toContain(`"127.0.0.1:${ports}"`);
    const [sa, sb] = [await statusOf(a), await statusOf(b)];
    expect(sb.state).toBe('joined');
    expect(sb.contacts).toBeGreaterThanOrEqual(1);
    // A learned B from B's JOIN: the two are one overlay, not two.
    expect(sa.contacts).toBeGreaterThanOrEqual(1);
  });

  it('a domain without records: exit 1, one line on stderr naming the domain and the records looked for', async () => {
    const r = await run(process.execPath, [CLI, 'start', '--listen', `127.0.0.1:${ports + 5}`, '--config', config, '--bootstrap', 'dns:missing.test'], { timeoutMs: 20_000 });
    expect(r.code, r.stderr + r.stdout).toBe(1);
    expect(r.stderr).toBe(`kadsip start: bootstrap dns:missing.test: no PTR or SRV records at ${S}.missing.test\n`);
  });

  it('every bootstrap dead: the node resolves again and joins through the changed zone', async () => {
    const deadPort = ports + 8;
    const zone = (target: string, port: number) => ({ srv: [{ name: `${S}.moved.test`, target, port }], hosts: [{ name: target, addresses: ['127.0.0.1'] }] });
    const before = await startDnsServer(zone('old.moved.test', deadPort));
    servers.push(before);
    const cfg = join(work, 'moved.json');
    writeFileSync(cfg, JSON.stringify({ dns: before.address, bootstrap: ['dns:moved.test'] }));
    const starting = startNode(ports + 6, ports + 7, ['--config', cfg, '--log-level', 'info'], 40_000);
    // Once the node has read the old zone, the zone moves to A (same server address).
    const deadline = Date.now() + 10_000;
    while (!before.queries().some((q) => q.type === 'A' && q.name === 'old.moved.test') && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // The answer is on its way: let it arrive before the server goes.
    await new Promise((r) => setTimeout(r, 200));
    await before.stop();
    servers.push(await startDnsServer(zone('a.moved.test', ports), { port: before.port }));
    const d = await starting;
    nodes.push(d);
    expect(d.output()).toContain('no bootstrap answered: discovering the bootstraps again');
    const found = d.output().split('\n').filter((l) => l.includes('bootstrap peers from DNS'));
    expect(found[0], d.output()).toContain(`"127.0.0.1:${deadPort}"`);
    expect(found[1], d.output()).toContain(`"127.0.0.1:${ports}"`);
    const sd = await statusOf(d);
    expect(sd.state).toBe('joined');
    expect(sd.contacts).toBeGreaterThanOrEqual(1);
  }, 60_000);
});
