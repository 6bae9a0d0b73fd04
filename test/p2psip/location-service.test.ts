/** LocationService for non-overlay domains: RFC 3263 answers become one target with failover addresses. */
import { describe, expect, it } from 'vitest';
import { realClock } from '../../src/common/real-clock.js';
import { LocationService } from '../../src/p2psip/location-service.js';
import type { OverlayPort } from '../../src/p2psip/overlay-port.js';
import type { Registrar } from '../../src/registrar/index.js';
import { DnsError, NodeDnsClient, Rfc3263Resolver, type ServerTarget } from '../../src/resolve/index.js';
import { createRequest, parseUri, type SipUri } from '../../src/sip/message/index.js';
import { startDnsServer } from '../resolve/dns-server.js';
import { TEST_ZONE } from '../resolve/zone.js';

function service(answer: (uri: SipUri) => Promise<ServerTarget[]>): LocationService {
  const unused = new Proxy({}, { get: () => { throw new Error('not for a DNS domain'); } });
  return new LocationService({
    registrar: unused as Registrar,
    overlay: unused as OverlayPort,
    isOverlayHost: (h) => h === 'overlay.example',
    self: { host: '127.0.0.1', port: 5060 },
    dns: { resolve: answer } as unknown as Rfc3263Resolver,
    clock: realClock,
    peerProtocol: 'udp',
  });
}

const invite = (uri: string) => createRequest({ method: 'INVITE', uri, from: '<sip:alice@overlay.example>;tag=a', to: `<${uri}>`, callId: 'ls-1', cseq: 1 });
const srv = (host: string, port: number): ServerTarget => ({ protocol: 'udp', host, port, name: 'x.pbx.test', source: 'naptr', priority: 10, weight: 0 });

describe('LocationService: RFC 3263 domains', () => {
  it('the resolved addresses are one target (Request-URI unchanged), the later ones its failover, in order', async () => {
    const ls = service(async () => [srv('127.0.0.3', 5070), srv('127.0.0.2', 5080), srv('127.0.0.4', 5090)]);
    expect(await ls.resolve(invite('sip:bob@pbx.test'))).toEqual([
      {
        uri: 'sip:bob@pbx.test',
        destination: { protocol: 'udp', host: '127.0.0.3', port: 5070 },
        failover: [
          { protocol: 'udp', host: '127.0.0.2', port: 5080 },
          { protocol: 'udp', host: '127.0.0.4', port: 5090 },
        ],
      },
    ]);
  });

  it('no SIP server in DNS (NXDOMAIN/NODATA): no target, so 404', async () => {
    expect(await service(async () => []).resolve(invite('sip:bob@nxdomain.test'))).toEqual([]);
  });

  it('DNS failing (timeout, SERVFAIL): 503 with Retry-After', async () => {
    const ls = service(async () => {
      throw new DnsError('timeout', 'NAPTR', 'slow.test', 'ETIMEOUT');
    });
    expect(await ls.resolve(invite('sip:bob@slow.test'))).toEqual({ status: 503, reason: 'Service Unavailable', retryAfterS: 5 });
  });
});

describe('LocationService: a Route naming a host by DNS name (resolveNextHop)', () => {
  const uri = (s: string): SipUri => {
    const r = parseUri(s);
    if (!r.ok || r.value.kind !== 'sip') throw new Error(s);
    return r.value;
  };

  it('the first RFC 3263 address, from a real DNS server (dnsmasq on loopback)', async () => {
    const dns = await startDnsServer(TEST_ZONE);
    try {
      const resolver = new Rfc3263Resolver({ dns: new NodeDnsClient({ servers: [dns.address], timeoutMs: 500, tries: 1 }), supportedTransports: ['udp', 'tcp'], cache: false });
      const ls = service((u) => resolver.resolve(u));
      // order.test: NAPTR order 10 is TCP (SRV host.order.test:5081), ahead of UDP.
      const hop = await ls.resolveNextHop(uri('sip:order.test;lr'));
      expect(hop).toMatchObject({ protocol: 'tcp', port: 5081 });
      // NXDOMAIN: no hop (the proxy answers 503).
      expect(await ls.resolveNextHop(uri('sip:nosuch-domain.test;lr'))).toBeUndefined();
    } finally {
      await dns.stop();
    }
  });

  it('a DNS failure or an overlay host gives no hop; the resolver is not asked for an overlay host', async () => {
    let asked = 0;
    const failing = service(async () => {
      asked++;
      throw new DnsError('timeout', 'NAPTR', 'slow.test', 'ETIMEOUT');
    });
    expect(await failing.resolveNextHop(uri('sip:slow.test;lr'))).toBeUndefined();
    expect(asked).toBe(1);
    expect(await failing.resolveNextHop(uri('sip:overlay.example;lr'))).toBeUndefined();
    expect(asked).toBe(1);
  });
});
