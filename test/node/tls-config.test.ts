/**
 * The TLS settings (README "TLS"): tls among the transports needs a certificate and key (a closed
 * overlay's enrollment pair by default, its CA verifying peers), the TLS port defaults to the listen
 * port + 1 (5061), mutual TLS needs a CA, the peer transport must be one of the transports, and TLS
 * settings without tls are refused rather than silently unused. Flags, KADSIP_* and file keys alike.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, environmentSource, flagSource, resolveConfig, resolveConfigFrom } from '../../src/node/config.js';

describe('TLS settings', () => {
  it('defaults: off, peers over UDP', () => {
    const c = resolveConfig();
    expect(c.transports).not.toContain('tls');
    expect(c.peerTransport).toBe('udp');
  });

  it('tls with a PEM pair: port 5061 beside 5060, one port further for another listen port', () => {
    const c = resolveConfig({ transports: 'udp,tcp,tls', tlsCert: 'c.pem', tlsKey: 'k.pem' });
    expect(c.tls).toEqual({ port: 5061, cert: 'c.pem', key: 'k.pem', mutual: false });
    expect(resolveConfig({ listen: '127.0.0.1:5070', transports: 'udp,tls', tlsCert: 'c', tlsKey: 'k' }).tls.port).toBe(5071);
    expect(resolveConfig({ listen: '127.0.0.1:0', transports: 'udp,tls', tlsCert: 'c', tlsKey: 'k' }).tls.port).toBe(0);
    expect(resolveConfig({ transports: 'udp,tls', tlsCert: 'c', tlsKey: 'k', tlsPort: '5081' }).tls.port).toBe(5081);
  });

  it('a closed overlay serves TLS with its enrollment certificate and verifies peers with its CA', () => {
    const c = resolveConfig({ transports: 'udp,tls', caCert: 'ca.pem', cert: 'node.pem', key: 'node-key.pem', tlsMutual: 'on', peerTransport: 'tls' });
    expect(c.tls).toEqual({ port: 5061, cert: 'node.pem', key: 'node-key.pem', ca: 'ca.pem', mutual: true });
    expect(c.peerTransport).toBe('tls');
  });

  it('refuses what cannot work, naming the setting', () => {
    expect(() => resolveConfig({ transports: 'udp,tls' })).toThrow(/tlsCert: TLS needs a certificate/);
    expect(() => resolveConfig({ transports: 'udp,tls', tlsCert: 'c' })).toThrow(/tlsKey/);
    expect(() => resolveConfig({ tlsCert: 'c', tlsKey: 'k' })).toThrow(/tlsCert: TLS is not among the transports/);
    expect(() => resolveConfig({ transports: 'udp,tls', tlsCert: 'c', tlsKey: 'k', tlsMutual: 'on' })).toThrow(/tlsMutual: mutual TLS needs the CA/);
    expect(() => resolveConfig({ transports: 'udp,tls', tlsCert: 'c', tlsKey: 'k', tlsMutual: 'maybe' })).toThrow(ConfigError);
    expect(() => resolveConfig({ transports: 'udp,tcp', peerTransport: 'tls' })).toThrow(/peerTransport: tls is not one of the transports/);
    expect(() => resolveConfig({ transports: 'udp,tcp,tls', tlsCert: 'c', tlsKey: 'k', tlsPort: '5060' })).toThrow(/tlsPort: 5060 is the TCP listen port/);
    expect(() => resolveConfig({ transports: 'udp,tls', tlsCert: 'c', tlsKey: 'k', tlsPort: '70000' })).toThrow(/tlsPort/);
  });

  it('KADSIP_TLS_* set it, flags win, errors name the source', () => {
    const env = environmentSource({ KADSIP_TRANSPORTS: 'udp,tls', KADSIP_TLS_CERT: 'env.pem', KADSIP_TLS_KEY: 'env-key.pem', KADSIP_PEER_TRANSPORT: 'tls' });
    const c = resolveConfigFrom([env, flagSource({ tlsCert: 'flag.pem' })]);
    expect(c.tls.cert).toBe('flag.pem');
    expect(c.tls.key).toBe('env-key.pem');
    expect(c.peerTransport).toBe('tls');
    expect(() => resolveConfigFrom([environmentSource({ KADSIP_TLS_MUTUAL: 'on' })])).toThrow(/KADSIP_TLS_MUTUAL/);
  });
});
