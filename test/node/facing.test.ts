import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { addressFacing } from '../../src/node/facing.js';

const LOCAL = { host: '10.200.1.2', port: 5060 };
const REFLEXIVE = { host: '198.51.100.1', port: 40123 };

function iface(address: string, cidr: string, family: 'IPv4' | 'IPv6' = 'IPv4'): NetworkInterfaceInfo {
  return { address, cidr, family, netmask: '', mac: '00:00:00:00:00:00', internal: false } as NetworkInterfaceInfo;
}

/** The NATed node of test/live/nat.test.ts: loopback and one /24 behind the NAT. */
const INTERFACES = { lo: [iface('127.0.0.1', '127.0.0.1/8')], eth0: [iface('10.200.1.2', '10.200.1.2/24')] };

describe('addressFacing (RFC 5658 for a node behind NAT)', () => {
  const facing = addressFacing(LOCAL, REFLEXIVE, INTERFACES);

  it('the private side (own subnet, own address, private ranges) gets the listen address', () => {
    for (const host of ['10.200.1.2', '10.200.1.77', '127.0.0.1', '192.168.5.5', '172.20.0.1', '100.64.0.9', '[fd00::1]', '::ffff:10.200.1.3']) {
      expect(facing({ host }), host).toEqual(LOCAL);
    }
  });

  it('everyone else gets the reflexive address', () => {
    for (const host of ['198.51.100.10', '203.0.113.7', '8.8.8.8', '2001:db8::1', 'example.com']) {
      expect(facing({ host }), host).toEqual(REFLEXIVE);
    }
  });

  it('a node reached where it listens has one address for everybody', () => {
    const one = addressFacing(LOCAL, LOCAL, INTERFACES);
    expect(one({ host: '10.200.1.77' })).toEqual(LOCAL);
    expect(one({ host: '198.51.100.10' })).toEqual(LOCAL);
  });

  it('a reflexive address in a private range (carrier-grade NAT) leaves other private ranges to it: only own subnets are inside', () => {
    const cgn = addressFacing(LOCAL, { host: '100.64.3.4', port: 1024 }, INTERFACES);
    expect(cgn({ host: '10.200.1.9' })).toEqual(LOCAL);
    expect(cgn({ host: '192.168.1.1' })).toEqual({ host: '100.64.3.4', port: 1024 });
  });
});
