/** NodeDnsClient against a real DNS server (dnsmasq on loopback): record fields, TTLs and the empty/error contract. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DnsError, NodeDnsClient } from '../../src/resolve/index.js';
import { startDnsServer, type DnsServer } from './dns-server.js';

let dns: DnsServer;
let client: NodeDnsClient;

beforeAll(async () => {
  dns = await startDnsServer(
    {
      naptr: [{ name: 'n.test', order: 10, preference: 20, flags: 's', service: 'SIP+D2T', replacement: '_sip._tcp.n.test' }],
      srv: [
        { name: '_sip._tcp.n.test', target: 'h.n.test', port: 5071, priority: 3, weight: 7 },
        { name: '_sip._udp.none.test', target: '.', port: 0 },
      ],
      hosts: [
        { name: 'h.n.test', addresses: ['127.0.0.7', 'fd00::7'], ttl: 42 },
        { name: 'short.test', addresses: ['127.0.0.8'] },
      ],
    },
    { ttl: 33 },
  );
  client = new NodeDnsClient({ servers: [dns.address], timeoutMs: 500, tries: 1, defaultTtlSec: 77 });
});

afterAll(async () => {
  await dns?.stop();
});

describe('NodeDnsClient', () => {
  it('NAPTR: all fields, replacement without trailing dot, the default TTL (node reports none)', async () => {
    expect(await client.naptr('n.test')).toEqual([
      { order: 10, preference: 20, flags: 's', service: 'SIP+D2T', regexp: '', replacement: '_sip._tcp.n.test', ttl: 77 },
    ]);
  });

  it('SRV: all fields and the default TTL; "." target kept as "."', async () => {
    expect(await client.srv('_sip._tcp.n.test')).toEqual([{ priority: 3, weight: 7, port: 5071, target: 'h.n.test', ttl: 77 }]);
    expect(await client.srv('_sip._udp.none.test')).toEqual([{ priority: 0, weight: 0, port: 0, target: '.', ttl: 77 }]);
  });

  it('A and AAAA with the TTL the server sent', async () => {
    expect(await client.a('h.n.test')).toEqual([{ address: '127.0.0.7', ttl: 42 }]);
    expect(await client.aaaa('h.n.test')).toEqual([{ address: 'fd00::7', ttl: 42 }]);
    expect(await client.a('short.test')).toEqual([{ address: '127.0.0.8', ttl: 33 }]);
  });

  it('NXDOMAIN and NODATA are empty answers', async () => {
    expect(await client.a('missing.test')).toEqual([]);
    expect(await client.srv('_sip._udp.missing.test')).toEqual([]);
    expect(await client.naptr('h.n.test')).toEqual([]);
    expect(await client.aaaa('short.test')).toEqual([]);
  });

  it('REFUSED is a DnsError naming the query', async () => {
    const err = await client.a('www.example.org').catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DnsError);
    expect(err).toMatchObject({ failure: 'refused', rrtype: 'A', query: 'www.example.org', code: 'EREFUSED' });
  });
});
