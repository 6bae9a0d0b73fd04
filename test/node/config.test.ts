import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ConfigError, DEFAULT_CONFIG, inputFromEnv, inputFromFile, parseHostPort, resolveConfig } from '../../src/node/config.js';

describe('node configuration', () => {
  it('defaults to a one-node overlay on 127.0.0.1:5060 over UDP and TCP', () => {
    expect(resolveConfig()).toEqual(DEFAULT_CONFIG);
    expect(DEFAULT_CONFIG.listen).toEqual({ host: '127.0.0.1', port: 5060 });
    expect(DEFAULT_CONFIG.bootstrap).toEqual([]);
    expect(DEFAULT_CONFIG.transports).toEqual(['udp', 'tcp']);
  });

  it('layers file < environment < flags', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kadsip-config-'));
    const file = join(dir, 'node.json');
    writeFileSync(file, JSON.stringify({ listen: '127.0.0.1:5070', overlay: 'fromfile', domain: ['a.example'] }));
    const env = inputFromEnv({ KADSIP_OVERLAY: 'fromenv', KADSIP_BOOTSTRAP: '127.0.0.1:5080,127.0.0.1:5082' });
    const config = resolveConfig(inputFromFile(file), env, { listen: '127.0.0.2:5090' });
    expect(config.listen).toEqual({ host: '127.0.0.2', port: 5090 });
    expect(config.overlay).toBe('fromenv');
    expect(config.domains).toEqual(['a.example']);
    expect(config.bootstrap).toEqual([{ host: '127.0.0.1', port: 5080 }, { host: '127.0.0.1', port: 5082 }]);
    // A repeated flag: entries that are themselves comma lists.
    expect(resolveConfig({}, {}, { bootstrap: ['127.0.0.1:5080,127.0.0.1:5082', '127.0.0.1:5084'] }).bootstrap).toEqual([
      { host: '127.0.0.1', port: 5080 },
      { host: '127.0.0.1', port: 5082 },
      { host: '127.0.0.1', port: 5084 },
    ]);
  });

  it('names the bad value', () => {
    expect(() => resolveConfig({ listen: 'localhost:5060' })).toThrow(/listen: "localhost:5060" needs an IP address/);
    expect(() => resolveConfig({ listen: '127.0.0.1:99999' })).toThrow(/no valid port/);
    expect(() => resolveConfig({ transports: 'udp,sctp' })).toThrow(/"sctp" is not udp, tcp or tls/);
    expect(() => resolveConfig({ overlay: 'has space' })).toThrow(ConfigError);
    expect(() => resolveConfig({ domain: 'bad_domain!' })).toThrow(/domain/);
    expect(() => resolveConfig({ logLevel: 'loud' })).toThrow(/logLevel/);
    expect(() => resolveConfig({ digestAlgorithms: 'SHA-512' })).toThrow(/digestAlgorithms/);
    expect(() => resolveConfig({ sipT1Ms: '10' })).toThrow(/sipT1Ms/);
    expect(resolveConfig({ sipT1Ms: '100' }).sipT1Ms).toBe(100);
    expect(resolveConfig({ digestAlgorithms: 'md5,sha-256' }).digestAlgorithms).toEqual(['MD5', 'SHA-256']);
    const dir = mkdtempSync(join(tmpdir(), 'kadsip-config-'));
    writeFileSync(join(dir, 'bad.json'), '{"listen": "127.0.0.1", "colour": "red"}');
    expect(() => inputFromFile(join(dir, 'bad.json'))).toThrow(/unknown key "colour"/);
    writeFileSync(join(dir, 'broken.json'), '{');
    expect(() => inputFromFile(join(dir, 'broken.json'))).toThrow(/not valid JSON/);
  });

  it('reads the NAT traversal settings: role, stun, turn, candidatesWanted, public (issue 5)', () => {
    expect(resolveConfig()).toMatchObject({ role: 'peer', stun: null, turn: null, candidatesWanted: null, public: null });
    const env = inputFromEnv({ KADSIP_ROLE: 'client', KADSIP_STUN: '198.51.100.10:3478', KADSIP_TURN: '198.51.100.10', KADSIP_CANDIDATES_WANTED: '4', KADSIP_PUBLIC: '203.0.113.5:5070' });
    expect(resolveConfig(env)).toMatchObject({
      role: 'client',
      stun: { host: '198.51.100.10', port: 3478 },
      turn: { host: '198.51.100.10', port: 3478 },
      candidatesWanted: 4,
      public: { host: '203.0.113.5', port: 5070 },
    });
    expect(resolveConfig({ stun: '198.51.100.10:3478' }, { stun: 'off' }).stun).toBeNull();
    expect(() => resolveConfig({ role: 'relay' })).toThrow(/role/);
    expect(() => resolveConfig({ candidatesWanted: 21 })).toThrow(/candidatesWanted/);
    expect(() => resolveConfig({ stun: 'stun.example.com:3478' })).toThrow(/stun/);
  });

  it('reads disjointPaths (lookups over d disjoint paths, PROTOCOL.md 11.5): default 3, 1-8', () => {
    expect(resolveConfig().disjointPaths).toBe(3);
    expect(resolveConfig(inputFromEnv({ KADSIP_DISJOINT_PATHS: '1' })).disjointPaths).toBe(1);
    expect(resolveConfig({ disjointPaths: 2 }, inputFromEnv({ KADSIP_DISJOINT_PATHS: '5' })).disjointPaths).toBe(5);
    expect(() => resolveConfig({ disjointPaths: '0' })).toThrow(/disjointPaths: "0" is not an integer 1-8/);
    expect(() => resolveConfig({ disjointPaths: '2.5' })).toThrow(/disjointPaths/);
  });

  it('reads IPv4, bracketed IPv6 and bare addresses', () => {
    expect(parseHostPort('[::1]:5062', 'x', 5060)).toEqual({ host: '::1', port: 5062 });
    expect(parseHostPort('::1', 'x', 5060)).toEqual({ host: '::1', port: 5060 });
    expect(parseHostPort('10.1.2.3', 'x', 5060)).toEqual({ host: '10.1.2.3', port: 5060 });
  });

  it('never throws anything but ConfigError on arbitrary text (property)', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        try {
          parseHostPort(s, 'x', 5060);
        } catch (e) {
          expect(e).toBeInstanceOf(ConfigError);
        }
      }),
    );
  });
});
