/**
 * RFC 3263 section 4 against a real DNS server (dnsmasq) on loopback: one test
 * per branch of 4.1 (transport) and 4.2 (port and address), plus DNS failures
 * and caching.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseUri, type SipUri } from '../../src/sip/message/index.js';
import {
  DnsError,
  NodeDnsClient,
  Rfc3263Error,
  Rfc3263Resolver,
  type DnsClient,
  type Rfc3263ResolverOptions,
  type ServerTarget,
} from '../../src/resolve/index.js';
import { startDnsServer, startSilentUdpServer, unusedUdpPort, type DnsServer } from './dns-server.js';
import { CountingDnsClient, scriptedRandom } from './helpers.js';
import { TEST_ZONE } from './zone.js';

function sipUri(s: string): SipUri {
  const r = parseUri(s);
  if (!r.ok || r.value.kind !== 'sip') throw new Error(`bad test URI ${s}`);
  return r.value;
}

/** The parts of a target the ordering tests care about. */
function brief(ts: readonly ServerTarget[]): string[] {
  return ts.map((t) => `${t.protocol}:${t.host}:${t.port}`);
}

let dns: DnsServer;
let client: DnsClient;

beforeAll(async () => {
  dns = await startDnsServer(TEST_ZONE);
  client = new NodeDnsClient({ servers: [dns.address], timeoutMs: 500, tries: 1 });
});

afterAll(async () => {
  await dns?.stop();
});

function resolver(extra: Partial<Rfc3263ResolverOptions> = {}): Rfc3263Resolver {
  return new Rfc3263Resolver({ dns: client, supportedTransports: ['udp', 'tcp'], cache: false, ...extra });
}

describe('RFC 3263 4.1/4.2 against dnsmasq', () => {
  it('numeric IP host: that address, URI port or 5060, UDP unless transport says otherwise; no DNS query', async () => {
    const counting = new CountingDnsClient(client);
    const r = resolver({ dns: counting });
    expect(await r.resolve(sipUri('sip:alice@192.0.2.1'))).toEqual([
      { protocol: 'udp', host: '192.0.2.1', port: 5060, name: null, source: 'numeric', priority: 0, weight: 0 },
    ]);
    expect(brief(await r.resolve(sipUri('sip:alice@192.0.2.1:5070;transport=TCP')))).toEqual(['tcp:192.0.2.1:5070']);
    expect(brief(await r.resolve(sipUri('sip:[2001:db8::1]:5080')))).toEqual(['udp:2001:db8::1:5080']);
    // maddr overrides the host (RFC 3263 section 4).
    expect(brief(await r.resolve(sipUri('sip:bob@example.test;maddr=127.0.0.5')))).toEqual(['udp:127.0.0.5:5060']);
    expect(counting.total()).toBe(0);
  });

  it('explicit port: A/AAAA of the host only, NAPTR and SRV are not consulted', async () => {
    const counting = new CountingDnsClient(client);
    const targets = await resolver({ dns: counting }).resolve(sipUri('sip:bob@ported.test:5090'));
    expect(brief(targets)).toEqual(['udp:127.0.0.31:5090']);
    expect(targets[0]).toMatchObject({ name: 'ported.test', source: 'address' });
    expect(counting.types()).toEqual(['A', 'AAAA']);
    const tcp = await resolver().resolve(sipUri('sip:bob@ported.test:5090;transport=tcp'));
    expect(brief(tcp)).toEqual(['tcp:127.0.0.31:5090']);
  });

  it('transport parameter: SRV for that transport only, no NAPTR', async () => {
    const counting = new CountingDnsClient(client);
    const targets = await resolver({ dns: counting }).resolve(sipUri('sip:bob@example.test;transport=tcp'));
    expect(brief(targets)).toEqual(['tcp:127.0.0.12:5071']);
    expect(targets[0]).toMatchObject({ source: 'srv', priority: 10, weight: 60, name: 'tcp1.example.test' });
    expect(counting.calls.filter((c) => c.type === 'NAPTR' || c.type === 'SRV')).toEqual([{ type: 'SRV', name: '_sip._tcp.example.test' }]);
  });

  it('transport parameter without SRV records: A/AAAA on 5060 with that transport', async () => {
    expect(brief(await resolver().resolve(sipUri('sip:plain.test;transport=tcp')))).toEqual(['tcp:127.0.3.1:5060']);
  });

  it('NAPTR: supported "s" services only, by order then preference, each via its SRV name', async () => {
    const targets = await resolver().resolve(sipUri('sip:carol@example.test'));
    expect(brief(targets)).toEqual(['udp:127.0.0.11:5070', 'tcp:127.0.0.12:5071']);
    expect(targets[0]).toMatchObject({ source: 'naptr', naptr: { order: 10, preference: 10 } });
    expect(targets[1]).toMatchObject({ source: 'naptr', naptr: { order: 10, preference: 50 } });
  });

  it('NAPTR: order beats preference, flags and services compare case-insensitively', async () => {
    expect(brief(await resolver().resolve(sipUri('sip:order.test')))).toEqual(['tcp:127.0.0.21:5081', 'udp:127.0.0.21:5080']);
  });

  it('NAPTR: only services we support are followed', async () => {
    const tcpOnly = resolver({ supportedTransports: ['tcp'] });
    expect(brief(await tcpOnly.resolve(sipUri('sip:carol@example.test')))).toEqual(['tcp:127.0.0.12:5071']);
  });

  it('SRV: ascending priority, weighted random within a priority (RFC 2782), deterministic with an injected source', async () => {
    // Priority 5 (p) alone; priority 10 arranged a(60) b(30) c(10): 0.95 -> draw 95 of 0..100 -> c;
    // 0.8 -> draw 72 of 0..90 -> b; then a; priority 20 (z) alone.
    const r = resolver({ random: scriptedRandom([0.5, 0.95, 0.8, 0.1, 0.5]) });
    const targets = await r.resolve(sipUri('sip:weighted.test'));
    expect(brief(targets)).toEqual(['udp:127.0.1.5:5005', 'udp:127.0.1.3:5003', 'udp:127.0.1.2:5002', 'udp:127.0.1.1:5001', 'udp:127.0.1.26:5020']);
    expect(targets.map((t) => [t.priority, t.weight])).toEqual([[5, 0], [10, 10], [10, 30], [10, 60], [20, 0]]);
    // Low draws favour the arrangement's first record with weight: a, then b, then c.
    const low = await resolver({ random: () => 0 }).resolve(sipUri('sip:weighted.test'));
    expect(brief(low).slice(1, 4)).toEqual(['udp:127.0.1.1:5001', 'udp:127.0.1.2:5002', 'udp:127.0.1.3:5003']);
  });

  it('no NAPTR: SRV for each supported transport, in our order of preference', async () => {
    expect(brief(await resolver().resolve(sipUri('sip:nonaptr.test')))).toEqual(['udp:127.0.2.1:5110', 'tcp:127.0.2.2:5111']);
    const tcpFirst = resolver({ supportedTransports: ['tcp', 'udp'] });
    expect(brief(await tcpFirst.resolve(sipUri('sip:nonaptr.test')))).toEqual(['tcp:127.0.2.2:5111', 'udp:127.0.2.1:5110']);
  });

  it('NAPTR records that lead to no SRV fall back to SRV per transport', async () => {
    expect(brief(await resolver().resolve(sipUri('sip:deadnaptr.test')))).toEqual(['udp:127.0.2.3:5120']);
  });

  it('no NAPTR and no SRV: A/AAAA of the domain on 5060 over UDP', async () => {
    const targets = await resolver().resolve(sipUri('sip:dave@plain.test'));
    expect(targets).toEqual([{ protocol: 'udp', host: '127.0.3.1', port: 5060, name: 'plain.test', source: 'address', priority: 0, weight: 0 }]);
  });

  it('AAAA records: after A records by default, alone when there is no A, and as SRV targets', async () => {
    // Within one RRset the server's order (dnsmasq rotates it) is kept, so compare those as sets.
    const v4first = brief(await resolver().resolve(sipUri('sip:dual.test')));
    expect(v4first[0]).toBe('udp:127.0.4.1:5060');
    expect(new Set(v4first.slice(1))).toEqual(new Set(['udp:::1:5060', 'udp:fd00::4:5060']));
    const v6first = brief(await resolver({ addressFamilies: [6, 4] }).resolve(sipUri('sip:dual.test')));
    expect(new Set(v6first.slice(0, 2))).toEqual(new Set(['udp:::1:5060', 'udp:fd00::4:5060']));
    expect(v6first[2]).toBe('udp:127.0.4.1:5060');
    expect(brief(await resolver({ addressFamilies: [4] }).resolve(sipUri('sip:dual.test')))).toEqual(['udp:127.0.4.1:5060']);
    expect(brief(await resolver().resolve(sipUri('sip:v6only.test:5061')))).toEqual(['udp:fd00::5:5061']);
    expect(brief(await resolver().resolve(sipUri('sip:v6srv.test;transport=tcp')))).toEqual(['tcp:fd00::6:5130']);
  });

  it('NXDOMAIN everywhere: an empty list, not an error', async () => {
    expect(await resolver().resolve(sipUri('sip:nobody@nowhere.test'))).toEqual([]);
    expect(await resolver().resolve(sipUri('sip:nobody@nowhere.test:5070'))).toEqual([]);
    expect(await resolver().resolve(sipUri('sip:nobody@nowhere.test;transport=tcp'))).toEqual([]);
  });

  it('SRV target "." (service decidedly not available): empty, no fallback to the domain A record', async () => {
    expect(await resolver().resolve(sipUri('sip:noservice.test'))).toEqual([]);
  });

  it('sips: and unsupported transports are rejected with Rfc3263Error before any DNS query', async () => {
    const counting = new CountingDnsClient(client);
    const r = resolver({ dns: counting });
    await expect(r.resolve(sipUri('sips:alice@example.test'))).rejects.toMatchObject({ name: 'Rfc3263Error', code: 'unsupported-scheme' });
    await expect(r.resolve(sipUri('sip:alice@example.test;transport=tls'))).rejects.toBeInstanceOf(Rfc3263Error);
    await expect(r.resolve(sipUri('sip:alice@example.test;transport=sctp'))).rejects.toMatchObject({ code: 'unsupported-transport' });
    await expect(resolver({ supportedTransports: ['udp'] }).resolve(sipUri('sip:a@example.test;transport=tcp'))).rejects.toMatchObject({
      code: 'unsupported-transport',
    });
    expect(counting.total()).toBe(0);
  });

  it('a server that REFUSEs (name outside its zones): DnsError "refused"', async () => {
    await expect(resolver().resolve(sipUri('sip:alice@example.org'))).rejects.toMatchObject({ name: 'DnsError', failure: 'refused' });
  });
});

describe('DNS servers that do not answer', () => {
  it('an unused UDP port: DnsError "unreachable" at once', async () => {
    const port = await unusedUdpPort();
    const r = new Rfc3263Resolver({ dns: new NodeDnsClient({ servers: [`127.0.0.1:${port}`], timeoutMs: 200, tries: 1 }), supportedTransports: ['udp', 'tcp'] });
    const started = Date.now();
    const err = await r.resolve(sipUri('sip:alice@example.test')).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsError);
    expect((err as DnsError).failure).toMatch(/unreachable|timeout/);
    expect(Date.now() - started).toBeLessThan(1500);
  });

  it('a server that receives and never answers: DnsError "timeout" within the bound', async () => {
    const silent = await startSilentUdpServer();
    try {
      const dnsClient = new NodeDnsClient({ servers: [`127.0.0.1:${silent.port}`], timeoutMs: 150, tries: 2, deadlineMs: 700 });
      const r = new Rfc3263Resolver({ dns: dnsClient, supportedTransports: ['udp', 'tcp'] });
      const started = Date.now();
      const err = await r.resolve(sipUri('sip:alice@example.test')).catch((e: unknown) => e);
      const elapsed = Date.now() - started;
      expect(err).toBeInstanceOf(DnsError);
      expect(err).toMatchObject({ failure: 'timeout', rrtype: 'NAPTR', query: 'example.test' });
      expect(elapsed).toBeLessThan(1500);
      expect(silent.received()).toBeGreaterThanOrEqual(1);
    } finally {
      await silent.close();
    }
  });
});

describe('caching (RFC 3263 section 4: DNS TTLs)', () => {
  it('a second resolve makes no DNS query, neither in the client nor on the server', async () => {
    const counting = new CountingDnsClient(client);
    const r = new Rfc3263Resolver({ dns: counting, supportedTransports: ['udp', 'tcp'], cache: { maxEntries: 100, negativeTtlMs: 10_000 } });
    const before = dns.queries().length;
    const first = await r.resolve(sipUri('sip:carol@example.test'));
    const queries = counting.total();
    expect(queries).toBeGreaterThan(0);
    // Every client query reached the server (dnsmasq logs each one)...
    const onServer = (await dns.waitForQueries(before + queries)).length;
    const second = await r.resolve(sipUri('sip:carol@example.test'));
    expect(second).toEqual(first);
    expect(counting.total()).toBe(queries);
    // ...and the second resolve sent none.
    await new Promise((res) => setTimeout(res, 100));
    expect(dns.queries().length).toBe(onServer);
  });

  it('positive answers expire with their TTL', async () => {
    let now = 0;
    const counting = new CountingDnsClient(client);
    const r = new Rfc3263Resolver({ dns: counting, supportedTransports: ['udp'], cache: { maxEntries: 100, negativeTtlMs: 1000, now: () => now } });
    // plain.test A has TTL 120 s; its AAAA, SRV and NAPTR answers are empty (negative, 1 s).
    await r.resolve(sipUri('sip:plain.test:5060'));
    expect(counting.types()).toEqual(['A', 'AAAA']);
    now = 119_000;
    await r.resolve(sipUri('sip:plain.test:5060'));
    expect(counting.types()).toEqual(['A', 'AAAA', 'AAAA']);
    now = 121_000;
    await r.resolve(sipUri('sip:plain.test:5060'));
    expect(counting.types()).toEqual(['A', 'AAAA', 'AAAA', 'A', 'AAAA']);
  });

  it('negative answers (NXDOMAIN) are cached for negativeTtlMs', async () => {
    let now = 0;
    const counting = new CountingDnsClient(client);
    const r = new Rfc3263Resolver({ dns: counting, supportedTransports: ['udp', 'tcp'], cache: { maxEntries: 100, negativeTtlMs: 5000, now: () => now } });
    expect(await r.resolve(sipUri('sip:nowhere.test'))).toEqual([]);
    const queries = counting.total();
    // NAPTR, SRV udp, SRV tcp, A, AAAA.
    expect(queries).toBe(5);
    now = 4999;
    expect(await r.resolve(sipUri('sip:nowhere.test'))).toEqual([]);
    expect(counting.total()).toBe(queries);
    now = 5001;
    expect(await r.resolve(sipUri('sip:nowhere.test'))).toEqual([]);
    expect(counting.total()).toBe(2 * queries);
  });

  it('failures are not cached', async () => {
    const counting = new CountingDnsClient(client);
    const r = new Rfc3263Resolver({ dns: counting, supportedTransports: ['udp'] });
    await expect(r.resolve(sipUri('sip:example.org'))).rejects.toBeInstanceOf(DnsError);
    await expect(r.resolve(sipUri('sip:example.org'))).rejects.toBeInstanceOf(DnsError);
    expect(counting.calls.filter((c) => c.type === 'NAPTR')).toHaveLength(2);
  });
});
