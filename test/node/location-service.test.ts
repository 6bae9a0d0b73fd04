/** LocationService for non-overlay domains: RFC 3263 answers become one target with failover addresses. */
import { describe, expect, it } from 'vitest';
import { realClock } from '../../src/common/real-clock.js';
import { LocationService } from '../../src/node/location-service.js';
import type { OverlayNode } from '../../src/overlay/node.js';
import type { Registrar } from '../../src/registrar/index.js';
import { DnsError, type Rfc3263Resolver, type Target } from '../../src/resolve/index.js';
import { createRequest, type SipUri } from '../../src/sip/message/index.js';

function service(answer: (uri: SipUri) => Promise<Target[]>): LocationService {
  const unused = new Proxy({}, { get: () => { throw new Error('not for a DNS domain'); } });
  return new LocationService({
    registrar: unused as Registrar,
    overlay: unused as OverlayNode,
    isOverlayHost: (h) => h === 'overlay.example',
    self: { host: '127.0.0.1', port: 5060 },
    dns: { resolve: answer } as unknown as Rfc3263Resolver,
    clock: realClock,
    peerProtocol: 'udp',
  });
}

const invite = (uri: string) => createRequest({ method: 'INVITE', uri, from: '<sip:alice@overlay.example>;tag=a', to: `<${uri}>`, callId: 'ls-1', cseq: 1 });
const srv = (host: string, port: number): Target => ({ protocol: 'udp', host, port, name: 'x.pbx.test', source: 'naptr', priority: 10, weight: 0 });

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
