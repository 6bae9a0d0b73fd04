/** --listen 0.0.0.0 / :: (src/node/listen-address.ts): the host's one address, or a message naming the candidates. */
import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../../src/node/config.js';
import { concreteListen } from '../../src/node/listen-address.js';

const iface = (address: string, family: 'IPv4' | 'IPv6', internal = false): NetworkInterfaceInfo =>
  ({ address, family, internal, netmask: '', mac: '00:00:00:00:00:00', cidr: null, ...(family === 'IPv6' ? { scopeid: 0 } : {}) }) as NetworkInterfaceInfo;

const LO = [iface('127.0.0.1', 'IPv4', true), iface('::1', 'IPv6', true)];

describe('concreteListen', () => {
  it('a concrete address is left alone', () => {
    const config = resolveConfig({ listen: '192.0.2.7:5060' });
    expect(concreteListen(config, { lo: LO })).toEqual({ config });
  });

  it('0.0.0.0 on a host with one IPv4 address (a container): that address, same port, and says what it replaced', () => {
    const r = concreteListen(resolveConfig({ listen: '0.0.0.0:5070' }), { lo: LO, eth0: [iface('192.0.2.7', 'IPv4'), iface('2001:db8::7', 'IPv6')] });
    expect(r.config.listen).toEqual({ host: '192.0.2.7', port: 5070 });
    expect(r.replaced).toBe('0.0.0.0');
  });

  it(':: takes the one global IPv6 address; link-local and loopback do not count', () => {
    const r = concreteListen(resolveConfig({ listen: '[::]:5060' }), { lo: LO, eth0: [iface('fe80::1', 'IPv6'), iface('2001:db8::7', 'IPv6'), iface('192.0.2.7', 'IPv4')] });
    expect(r.config.listen).toEqual({ host: '2001:db8::7', port: 5060 });
  });

  it('several addresses: refused, naming them and --public', () => {
    const config = resolveConfig({ listen: '0.0.0.0' });
    const run = () => concreteListen(config, { lo: LO, eth0: [iface('192.0.2.7', 'IPv4')], eth1: [iface('198.51.100.7', 'IPv4')] });
    expect(run).toThrow(ConfigError);
    expect(run).toThrow(/192\.0\.2\.7, 198\.51\.100\.7.*--listen IP:5060.*--public/);
  });

  it('only loopback: refused', () => {
    expect(() => concreteListen(resolveConfig({ listen: '0.0.0.0' }), { lo: LO })).toThrow(/no IPv4 address other than loopback/);
  });
});
