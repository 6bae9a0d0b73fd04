import type { NetworkInterfaceInfo } from 'node:os';
import { describe, expect, it } from 'vitest';
import { detectNat } from '../../../src/nat/stun/index.js';

function iface(address: string, family: 'IPv4' | 'IPv6' = address.includes(':') ? 'IPv6' : 'IPv4'): NetworkInterfaceInfo {
  const common = { address, netmask: family === 'IPv4' ? '255.0.0.0' : 'ffff::', mac: '00:00:00:00:00:00', internal: false, cidr: null };
  return family === 'IPv4' ? { ...common, family } : { ...common, family, scopeid: 0 };
}

const interfaces = {
  lo: [iface('127.0.0.1'), iface('::1')],
  eth0: [iface('192.168.1.20'), iface('2001:db8::20'), iface('fe80::1')],
};

describe('detectNat', () => {
  it('not behind NAT when the mapped address is an own interface address and the port is kept', () => {
    expect(detectNat({ host: '192.168.1.20', port: 5060 }, { host: '0.0.0.0', port: 5060 }, interfaces)).toEqual({
      behindNat: false,
      reflexive: { host: '192.168.1.20', port: 5060 },
    });
    expect(detectNat({ host: '127.0.0.1', port: 4000 }, { host: '127.0.0.1', port: 4000 }, interfaces).behindNat).toBe(false);
  });

  it('behind NAT when the mapped address is foreign', () => {
    expect(detectNat({ host: '203.0.113.5', port: 5060 }, { host: '0.0.0.0', port: 5060 }, interfaces)).toEqual({
      behindNat: true,
      reflexive: { host: '203.0.113.5', port: 5060 },
      reason: 'address',
    });
  });

  it('behind NAT when only the port differs', () => {
    expect(detectNat({ host: '192.168.1.20', port: 61000 }, { host: '192.168.1.20', port: 5060 }, interfaces)).toMatchObject({
      behindNat: true,
      reason: 'port',
    });
  });

  it('compares IPv6 in canonical form and unmaps IPv4-mapped addresses', () => {
    expect(detectNat({ host: '2001:0db8:0:0:0:0:0:0020', port: 5060 }, { host: '::', port: 5060 }, interfaces)).toEqual({
      behindNat: false,
      reflexive: { host: '2001:db8::20', port: 5060 },
    });
    expect(detectNat({ host: '::ffff:192.168.1.20', port: 5060 }, { host: '0.0.0.0', port: 5060 }, interfaces)).toEqual({
      behindNat: false,
      reflexive: { host: '192.168.1.20', port: 5060 },
    });
    expect(detectNat({ host: '2001:db8::21', port: 5060 }, { host: '::', port: 5060 }, interfaces).behindNat).toBe(true);
  });

  it('counts the bound local address as own even if the interface list misses it', () => {
    expect(detectNat({ host: '10.9.9.9', port: 7000 }, { host: '10.9.9.9', port: 7000 }, {}).behindNat).toBe(false);
    expect(detectNat({ host: '10.9.9.9', port: 7000 }, { host: '0.0.0.0', port: 7000 }, {}).behindNat).toBe(true);
  });

  it('uses os.networkInterfaces() by default (loopback is always there)', () => {
    expect(detectNat({ host: '127.0.0.1', port: 1234 }, { host: '0.0.0.0', port: 1234 }).behindNat).toBe(false);
  });
});
