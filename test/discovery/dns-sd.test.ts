/**
 * `--bootstrap dns:DOMAIN` resolution (src/discovery/dns-sd.ts, docs/PROTOCOL.md section 8.1)
 * against dnsmasq on loopback (test/resolve/dns-server.ts), through the project's NodeDnsClient:
 * DNS-SD and plain SRV together in RFC 2782 order, the TXT overlay/transport checks, and the
 * failures a node reports at start.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BootstrapDiscoveryError, resolveDnsBootstraps, type DnsBootstrapOptions } from '../../src/discovery/dns-sd.js';
import { NodeDnsClient } from '../../src/resolve/index.js';
import { startDnsServer, startSilentUdpServer, type DnsServer } from '../resolve/dns-server.js';

let dns: DnsServer;
let client: NodeDnsClient;

const S = '_kadsip._udp';

beforeAll(async () => {
  dns = await startDnsServer({
    ptr: [
      { name: `${S}.overlay.test`, target: `seed1.${S}.overlay.test` },
      { name: `${S}.overlay.test`, target: `seed2.${S}.overlay.test` },
      { name: `${S}.overlay.test`, target: `foreign.${S}.overlay.test` },
      { name: `${S}.overlay.test`, target: `tcponly.${S}.overlay.test` },
      { name: `${S}.overlay.test`, target: `nosrv.${S}.overlay.test` },
      { name: `${S}.foreign.test`, target: `one.${S}.foreign.test` },
      { name: `${S}.sdonly.test`, target: `only.${S}.sdonly.test` },
    ],
    txt: [
      { name: `seed1.${S}.overlay.test`, strings: ['txtvers=1', 'overlay=kadsip', 'transports=udp'] },
      // Keys compare case-insensitively; the first occurrence wins (RFC 6763 section 6.4).
      { name: `seed2.${S}.overlay.test`, strings: ['Overlay=kadsip', 'overlay=other'] },
      { name: `foreign.${S}.overlay.test`, strings: ['txtvers=1', 'overlay=other'] },
      { name: `tcponly.${S}.overlay.test`, strings: ['overlay=kadsip', 'transports=tcp'] },
      { name: `one.${S}.foreign.test`, strings: ['overlay=other'] },
      // No TXT for only.sdonly.test: read as no keys, so accepted.
    ],
    srv: [
      { name: `seed1.${S}.overlay.test`, target: 's1.overlay.test', port: 5061, priority: 10, weight: 0 },
      { name: `seed2.${S}.overlay.test`, target: 's2.overlay.test', port: 5062, priority: 20, weight: 0 },
      { name: `foreign.${S}.overlay.test`, target: 'f.overlay.test', port: 5064, priority: 1, weight: 0 },
      { name: `tcponly.${S}.overlay.test`, target: 't.overlay.test', port: 5065, priority: 1, weight: 0 },
      // Plain SRV at the service name itself (RFC 2782), the best priority of all.
      { name: `${S}.overlay.test`, target: 's3.overlay.test', port: 5063, priority: 5, weight: 0 },
      { name: `${S}.srvonly.test`, target: 'a.srvonly.test', port: 5070, priority: 20, weight: 0 },
      { name: `${S}.srvonly.test`, target: 'b.srvonly.test', port: 5071, priority: 10, weight: 0 },
      { name: `one.${S}.foreign.test`, target: 'x.foreign.test', port: 5080 },
      { name: `only.${S}.sdonly.test`, target: 'h.sdonly.test', port: 5090 },
      { name: `${S}.noaddr.test`, target: 'gone.noaddr.test', port: 5100 },
      { name: `${S}.dot.test`, target: '.', port: 0 },
    ],
    hosts: [
      { name: 's1.overlay.test', addresses: ['127.0.0.61', 'fd00::61'] },
      { name: 's2.overlay.test', addresses: ['127.0.0.62'] },
      { name: 's3.overlay.test', addresses: ['127.0.0.63'] },
      { name: 'f.overlay.test', addresses: ['127.0.0.64'] },
      { name: 't.overlay.test', addresses: ['127.0.0.65'] },
      { name: 'a.srvonly.test', addresses: ['127.0.0.70'] },
      { name: 'b.srvonly.test', addresses: ['127.0.0.71'] },
      { name: 'x.foreign.test', addresses: ['127.0.0.80'] },
      { name: 'h.sdonly.test', addresses: ['127.0.0.90'] },
    ],
  });
  client = new NodeDnsClient({ servers: [dns.address], timeoutMs: 500, tries: 1 });
});

afterAll(async () => {
  await dns?.stop();
});

function opts(extra: Partial<DnsBootstrapOptions> = {}): DnsBootstrapOptions {
  return { dns: client, overlay: 'kadsip', protocol: 'udp', family: 4, ...extra };
}

function brief(peers: readonly { host: string; port: number }[]): string[] {
  return peers.map((p) => `${p.host}:${p.port}`);
}

describe('dns:DOMAIN bootstrap resolution against dnsmasq', () => {
  it('DNS-SD instances and plain SRV together, in RFC 2782 priority order; foreign overlays and other transports left out', async () => {
    const r = await resolveDnsBootstraps('overlay.test', opts());
    // s3 (plain SRV, priority 5), s1 (instance, 10), s2 (instance, 20); f and t have priority 1 but are skipped.
    expect(brief(r.peers)).toEqual(['127.0.0.63:5063', '127.0.0.61:5061', '127.0.0.62:5062']);
    const reasons = Object.fromEntries(r.skipped.map((s) => [s.name, s.reason]));
    expect(reasons[`foreign.${S}.overlay.test`]).toBe('overlay=other is not kadsip');
    expect(reasons[`tcponly.${S}.overlay.test`]).toBe('transports=tcp lacks udp');
    expect(reasons[`nosrv.${S}.overlay.test`]).toBe('no SRV record');
    const asked = dns.queries().map((q) => `${q.type} ${q.name}`);
    expect(asked).toEqual(expect.arrayContaining([`PTR ${S}.overlay.test`, `SRV ${S}.overlay.test`, `SRV seed1.${S}.overlay.test`, `TXT seed1.${S}.overlay.test`, 'A s1.overlay.test']));
  });

  it('the overlay name in TXT decides: a node of overlay "other" gets only the foreign instance', async () => {
    const r = await resolveDnsBootstraps('overlay.test', opts({ overlay: 'other' }));
    // Plain SRV has no TXT: it stays; of the instances only foreign.* says overlay=other.
    expect(brief(r.peers)).toEqual(['127.0.0.64:5064', '127.0.0.63:5063']);
  });

  it('plain SRV only (no PTR): ordered by priority', async () => {
    const r = await resolveDnsBootstraps('srvonly.test', opts());
    expect(brief(r.peers)).toEqual(['127.0.0.71:5071', '127.0.0.70:5070']);
  });

  it('DNS-SD only, an instance without TXT: accepted', async () => {
    const r = await resolveDnsBootstraps('sdonly.test', opts());
    expect(brief(r.peers)).toEqual(['127.0.0.90:5090']);
  });

  it('an IPv6 node asks AAAA of the targets', async () => {
    const r = await resolveDnsBootstraps('overlay.test', opts({ family: 6 }));
    expect(brief(r.peers)).toEqual(['fd00::61:5061']);
  });

  it('NXDOMAIN: a BootstrapDiscoveryError naming the domain and the records looked for', async () => {
    const e = await resolveDnsBootstraps('missing.test', opts()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BootstrapDiscoveryError);
    expect((e as Error).message).toBe(`dns:missing.test: no PTR or SRV records at ${S}.missing.test`);
  });

  it('every instance of another overlay: an error saying why each was left out', async () => {
    const e = await resolveDnsBootstraps('foreign.test', opts()).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BootstrapDiscoveryError);
    expect((e as Error).message).toContain(`one.${S}.foreign.test: overlay=other is not kadsip`);
  });

  it('SRV target without an address, or ".": an error naming it', async () => {
    const noaddr = await resolveDnsBootstraps('noaddr.test', opts()).then(() => new Error("resolved"), (x: unknown) => x as Error);
    expect(noaddr.message).toContain('gone.noaddr.test: no A record');
    const dot = await resolveDnsBootstraps('dot.test', opts()).then(() => new Error("resolved"), (x: unknown) => x as Error);
    expect(dot.message).toContain('service not offered');
  });

  it('a DNS server that does not answer: an error naming the failure, within the client deadline', async () => {
    const silent = await startSilentUdpServer();
    try {
      const c = new NodeDnsClient({ servers: [`127.0.0.1:${silent.port}`], timeoutMs: 200, tries: 1 });
      const started = Date.now();
      const e = await resolveDnsBootstraps('overlay.test', opts({ dns: c })).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(BootstrapDiscoveryError);
      expect((e as Error).message).toMatch(/^dns:overlay\.test: DNS PTR query for _kadsip\._udp\.overlay\.test (got no answer|failed: timeout)/);
      expect(Date.now() - started).toBeLessThan(5_000);
    } finally {
      await silent.close();
    }
  });
});
