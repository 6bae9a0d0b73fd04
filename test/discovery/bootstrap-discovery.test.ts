/**
 * The start-up side of bootstrap discovery (src/node/bootstrap-discovery.ts): which bootstraps a
 * node ends up with from typed entries and DNS, when it starts a new overlay, when it fails, and
 * the bounded re-discovery after every bootstrap failed. DNS is an in-memory fake here (the real
 * resolution against dnsmasq is test/discovery/dns-sd.test.ts); config parsing of the new keys too.
 */
import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import type { DnsSdClient } from '../../src/discovery/dns-sd.js';
import { BootstrapDiscoveryError, discoverBootstraps, joinWithRediscovery } from '../../src/node/bootstrap-discovery.js';
import { ConfigError, DEFAULT_CONFIG, inputFromEnv, resolveConfig, type HostPort, type NodeConfig } from '../../src/node/config.js';
import { DnsError, type AddressRecord, type PtrRecord, type SrvRecord, type TxtRecord } from '../../src/resolve/index.js';

const silent = pino({ level: 'silent' });

/** A zone of plain SRV records: service name -> [target, port][]; targets resolve to `ip`. */
class Zone implements DnsSdClient {
  queries = 0;
  constructor(
    private readonly srvs: Record<string, [string, number, number][]>,
    private readonly ips: Record<string, string>,
    private readonly failing = false,
  ) {}
  async ptr(_name: string): Promise<PtrRecord[]> {
    this.queries++;
    if (this.failing) throw new DnsError('servfail', 'PTR', _name, 'ESERVFAIL');
    return [];
  }
  async txt(): Promise<TxtRecord[]> {
    return [];
  }
  async srv(name: string): Promise<SrvRecord[]> {
    if (this.failing) throw new DnsError('servfail', 'SRV', name, 'ESERVFAIL');
    return (this.srvs[name] ?? []).map(([target, port, priority]) => ({ target, port, priority, weight: 0, ttl: 60 }));
  }
  async a(name: string): Promise<AddressRecord[]> {
    const ip = this.ips[name];
    return ip ? [{ address: ip, ttl: 60 }] : [];
  }
  async aaaa(): Promise<AddressRecord[]> {
    return [];
  }
}

function config(extra: Partial<NodeConfig>): NodeConfig {
  return { ...DEFAULT_CONFIG, listen: { host: '192.0.2.10', port: 5060 }, ...extra };
}

const brief = (l: readonly HostPort[]): string[] => l.map((h) => `${h.host}:${h.port}`);

const ZONE = new Zone(
  { '_kadsip._udp.ov.test': [['seed.ov.test', 5060, 10], ['me.ov.test', 5060, 5], ['two.ov.test', 5062, 20]] },
  { 'seed.ov.test': '192.0.2.20', 'me.ov.test': '192.0.2.10', 'two.ov.test': '192.0.2.21' },
);

describe('discoverBootstraps', () => {
  it('typed bootstraps first, then DNS ones in priority order, without this node and without duplicates', async () => {
    const d = await discoverBootstraps({ config: config({ bootstrap: [{ host: '192.0.2.21', port: 5062 }, { host: '198.51.100.1', port: 5060 }], bootstrapDns: ['ov.test'] }), log: silent, dns: ZONE });
    expect(brief(d.bootstrap)).toEqual(['192.0.2.21:5062', '198.51.100.1:5060', '192.0.2.20:5060']);
    expect(d.rediscover).toBeTypeOf('function');
  });

  it('nothing to discover: the typed list as it is, no DNS query, no rediscovery', async () => {
    const zone = new Zone({}, {});
    const d = await discoverBootstraps({ config: config({ bootstrap: [{ host: '192.0.2.21', port: 5062 }] }), log: silent, dns: zone });
    expect(brief(d.bootstrap)).toEqual(['192.0.2.21:5062']);
    expect(d.rediscover).toBeUndefined();
    expect(zone.queries).toBe(0);
  });

  it('DNS naming only this node (the seed of the zone): a new overlay, not an error', async () => {
    const zone = new Zone({ '_kadsip._udp.ov.test': [['me.ov.test', 5060, 10]] }, { 'me.ov.test': '192.0.2.10' });
    const d = await discoverBootstraps({ config: config({ bootstrapDns: ['ov.test'] }), log: silent, dns: zone });
    expect(d.bootstrap).toEqual([]);
  });

  it('NXDOMAIN with nothing else: a BootstrapDiscoveryError naming the domain', async () => {
    const e = await discoverBootstraps({ config: config({ bootstrapDns: ['nowhere.test'] }), log: silent, dns: ZONE }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(BootstrapDiscoveryError);
    expect((e as Error).message).toBe('bootstrap dns:nowhere.test: no PTR or SRV records at _kadsip._udp.nowhere.test');
  });

  it('a failing DNS server with a typed bootstrap beside it: the typed one, no error', async () => {
    const d = await discoverBootstraps({ config: config({ bootstrap: [{ host: '192.0.2.21', port: 5062 }], bootstrapDns: ['ov.test'] }), log: silent, dns: new Zone({}, {}, true) });
    expect(brief(d.bootstrap)).toEqual(['192.0.2.21:5062']);
  });

  it('a failing DNS server and nothing else: the error says SERVFAIL', async () => {
    const e = await discoverBootstraps({ config: config({ bootstrapDns: ['ov.test'] }), log: silent, dns: new Zone({}, {}, true) }).then(() => new Error("resolved"), (x: unknown) => x as Error);
    expect(e.message).toMatch(/^bootstrap dns:ov\.test: DNS PTR query for _kadsip\._udp\.ov\.test failed: servfail/);
  });
});

describe('joinWithRediscovery', () => {
  const A = [{ host: '192.0.2.20', port: 5060 }];
  const B = [{ host: '192.0.2.30', port: 5060 }];

  it('every bootstrap failed: discovers again and joins through the fresh answer', async () => {
    const tried: string[][] = [];
    let rediscovered = 0;
    await joinWithRediscovery({
      bootstrap: A,
      log: silent,
      retryMs: 1,
      rediscover: async () => {
        rediscovered++;
        return B;
      },
      join: async (list) => {
        tried.push(brief(list));
        if (list[0]?.host !== '192.0.2.30') throw new Error('no bootstrap peer answered');
      },
    });
    expect(tried).toEqual([['192.0.2.20:5060'], ['192.0.2.30:5060']]);
    expect(rediscovered).toBe(1);
  });

  it('DNS failing while discovering again costs a round, not the node: the next round asks again', async () => {
    const tried: string[][] = [];
    let asked = 0;
    await joinWithRediscovery({
      bootstrap: A,
      log: silent,
      retryMs: 1,
      rounds: 3,
      rediscover: async () => {
        if (++asked === 1) throw new BootstrapDiscoveryError('bootstrap dns:moved.test: DNS PTR query failed: unreachable (ECONNREFUSED)');
        return B;
      },
      join: async (list) => {
        tried.push(brief(list));
        if (list[0]?.host !== '192.0.2.30') throw new Error('no bootstrap peer answered');
      },
    });
    expect(tried).toEqual([['192.0.2.20:5060'], ['192.0.2.20:5060'], ['192.0.2.30:5060']]);
    expect(asked).toBe(2);
  });

  it('bounded: after `rounds` attempts the error names what was tried', async () => {
    let joins = 0;
    const e = await joinWithRediscovery({
      bootstrap: A,
      log: silent,
      retryMs: 1,
      rounds: 3,
      rediscover: async () => A,
      join: async () => {
        joins++;
        throw new Error('no bootstrap peer answered');
      },
    }).catch((x: unknown) => x);
    expect(joins).toBe(3);
    expect(e).toBeInstanceOf(BootstrapDiscoveryError);
    expect((e as Error).message).toBe('no bootstrap peer answered (tried 192.0.2.20:5060; discovered 3 times)');
  });

  it('typed bootstraps only (no discovery): one attempt, the join error unchanged', async () => {
    let joins = 0;
    const original = new Error('no bootstrap peer answered');
    const e = await joinWithRediscovery({ bootstrap: A, log: silent, join: async () => { joins++; throw original; } }).catch((x: unknown) => x);
    expect(joins).toBe(1);
    expect(e).toBe(original);
  });
});

describe('config: dns: bootstrap entries and discover', () => {
  it('dns:DOMAIN entries mix with IP:PORT ones (flag, file list, or KADSIP_BOOTSTRAP)', () => {
    const c = resolveConfig({ bootstrap: '192.0.2.1:5060, dns:Overlay.Example.COM., 192.0.2.2' });
    expect(c.bootstrap).toEqual([{ host: '192.0.2.1', port: 5060 }, { host: '192.0.2.2', port: 5060 }]);
    expect(c.bootstrapDns).toEqual(['overlay.example.com']);
    expect(resolveConfig({ bootstrap: ['dns:a.test', 'dns:b.test'] }).bootstrapDns).toEqual(['a.test', 'b.test']);
    expect(resolveConfig(inputFromEnv({ KADSIP_BOOTSTRAP: 'dns:env.test' })).bootstrapDns).toEqual(['env.test']);
  });

  it('a dns: entry without a domain name is a configuration error naming the entry', () => {
    expect(() => resolveConfig({ bootstrap: 'dns:' })).toThrow(ConfigError);
    expect(() => resolveConfig({ bootstrap: 'dns:bad domain' })).toThrow('bootstrap: "dns:bad domain" needs a domain name after dns:');
  });

  it('discover: lan or off (KADSIP_DISCOVER too); anything else, or lan on an IPv6 listen address, is refused', () => {
    expect(resolveConfig({}).discover).toBeNull();
    expect(resolveConfig({ discover: 'lan' }).discover).toBe('lan');
    expect(resolveConfig(inputFromEnv({ KADSIP_DISCOVER: 'lan' })).discover).toBe('lan');
    expect(resolveConfig({ discover: 'off' }).discover).toBeNull();
    expect(() => resolveConfig({ discover: 'wan' })).toThrow('discover: "wan" is not lan or off');
    expect(() => resolveConfig({ listen: '[2001:db8::1]:5060', discover: 'lan' })).toThrow('discover: lan needs an IPv4 listen address');
  });
});
