/**
 * Where TLS shows in routing (RFC 3261 26.2, RFC 5630): the next hop a URI names, a registered
 * Contact's destination, the Record-Route values per hop transport, and which hops a sips:
 * request may take. The live side is test/live/tls.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { numericEndpoint } from '../../src/proxy/route.js';
import { SelfAddresses } from '../../src/proxy/self.js';
import { needsTls } from '../../src/proxy/sips.js';
import { contactEndpoint } from '../../src/registrar/flow.js';
import { createRequest, parseUri, type Uri } from '../../src/sip/message/index.js';

function uri(text: string): Uri {
  const u = parseUri(text);
  if (!u.ok) throw new Error(text);
  return u.value;
}

describe('TLS in routing', () => {
  it('sips: and ;transport=tls name TLS hops, 5061 by default; sips: never goes over UDP', () => {
    expect(numericEndpoint(uri('sips:192.0.2.1'))).toEqual({ protocol: 'tls', host: '192.0.2.1', port: 5061 });
    expect(numericEndpoint(uri('sips:192.0.2.1;transport=tcp'))).toEqual({ protocol: 'tls', host: '192.0.2.1', port: 5061 });
    expect(numericEndpoint(uri('sip:192.0.2.1:5081;transport=tls'))).toEqual({ protocol: 'tls', host: '192.0.2.1', port: 5081 });
    expect(numericEndpoint(uri('sips:192.0.2.1;transport=udp'))).toBeUndefined();
    expect(numericEndpoint(uri('sip:192.0.2.1'))).toEqual({ protocol: 'udp', host: '192.0.2.1', port: 5060 });
    expect(contactEndpoint(uri('sips:alice@192.0.2.7'))).toEqual({ protocol: 'tls', host: '192.0.2.7', port: 5061 });
    expect(contactEndpoint(uri('sip:alice@192.0.2.7:5071;transport=TLS'))).toEqual({ protocol: 'tls', host: '192.0.2.7', port: 5071 });
  });

  it('Record-Route: the TLS port and ;transport=tls on a TLS hop, the UDP port on a UDP hop, sips: for a sips: request', () => {
    const self = new SelfAddresses([
      { host: '192.0.2.1', port: 5060, protocol: 'udp' },
      { host: '192.0.2.1', port: 5060, protocol: 'tcp' },
      { host: '192.0.2.1', port: 5061, protocol: 'tls' },
    ]);
    const tlsPhone = { protocol: 'tls' as const, host: '192.0.2.9', port: 40000 };
    const udpPeer = { protocol: 'udp' as const, host: '192.0.2.20', port: 5060 };
    expect(self.recordRoutes(tlsPhone, udpPeer)).toEqual(['<sip:192.0.2.1:5060;lr>', '<sip:192.0.2.1:5061;transport=tls;lr>']);
    expect(self.recordRoutes(tlsPhone, tlsPhone)).toEqual(['<sip:192.0.2.1:5061;transport=tls;lr>']);
    expect(self.recordRoutes(udpPeer, udpPeer)).toEqual(['<sip:192.0.2.1:5060;lr>']);
    expect(self.recordRoutes(tlsPhone, { ...tlsPhone, port: 5061 }, true)).toEqual(['<sips:192.0.2.1:5061;lr>']);
    // Our own sips: Route value is recognised at the TLS port (16.4).
    expect(self.isSelfUri(uri('sips:192.0.2.1;lr'))).toBe(true);
  });

  it('a sips: request is one whose Request-URI or next Route is sips: (RFC 3261 16.6 step 4)', () => {
    const sips = createRequest({ method: 'INVITE', uri: 'sips:bob@example.net', from: '<sips:a@example.net>', to: '<sips:bob@example.net>' });
    const plain = createRequest({ method: 'INVITE', uri: 'sip:bob@example.net', from: '<sip:a@example.net>', to: '<sip:bob@example.net>' });
    const routed = createRequest({ method: 'INVITE', uri: 'sip:bob@example.net', from: '<sip:a@example.net>', to: '<sip:bob@example.net>' });
    routed.headers.append('Route', '<sips:192.0.2.5;lr>');
    expect(needsTls(sips)).toBe(true);
    expect(needsTls(routed)).toBe(true);
    expect(needsTls(plain)).toBe(false);
  });
});
