/** The `trust` networks: CIDR parsing and matching, checked against node:net's BlockList as an independent reading. */
import { BlockList } from 'node:net';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { inNetworks, parseCidr, type Cidr } from '../../src/policy/cidr.js';

function net(text: string): Cidr {
  const r = parseCidr(text);
  if (!r.ok) throw new Error(r.error);
  return r.value;
}

const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const ipv6 = fc.array(fc.nat(0xffff), { minLength: 8, maxLength: 8 }).map((g) => g.map((x) => x.toString(16)).join(':'));

describe('parseCidr / inNetworks', () => {
  it('reads the default trust list and matches loopback, and nothing else', () => {
    const nets = [net('127.0.0.0/8'), net('::1')];
    expect(nets.map((n) => n.text)).toEqual(['127.0.0.0/8', '::1/128']);
    expect(inNetworks('127.0.0.1', nets)).toBe(true);
    expect(inNetworks('127.255.3.4', nets)).toBe(true);
    expect(inNetworks('::1', nets)).toBe(true);
    expect(inNetworks('[::1]', nets)).toBe(true);
    expect(inNetworks('128.0.0.1', nets)).toBe(false);
    expect(inNetworks('192.0.2.1', nets)).toBe(false);
    expect(inNetworks('::2', nets)).toBe(false);
    expect(inNetworks('not-an-ip', nets)).toBe(false);
  });

  it('matches an IPv4-mapped IPv6 source as its IPv4 address (a dual-stack socket reports those)', () => {
    expect(inNetworks('::ffff:127.0.0.1', [net('127.0.0.0/8')])).toBe(true);
    expect(inNetworks('::ffff:7f00:1', [net('127.0.0.0/8')])).toBe(true);
    expect(inNetworks('::ffff:10.0.0.1', [net('127.0.0.0/8')])).toBe(false);
  });

  it('clears host bits, as iptables does, and writes the network canonically', () => {
    expect(net('10.1.2.3/8').text).toBe('10.0.0.0/8');
    expect(net('2001:DB8:0:0:1::5/32').text).toBe('2001:db8::/32');
    expect(net('0.0.0.0/0').text).toBe('0.0.0.0/0');
    expect(net('fe80::1%eth0/64').text).toBe('fe80::/64');
    expect(inNetworks('8.8.8.8', [net('0.0.0.0/0')])).toBe(true);
    expect(inNetworks('2001:db8::1', [net('0.0.0.0/0')])).toBe(false);
  });

  it('refuses what is not a network, with the text in the message', () => {
    for (const bad of ['', '10.0.0.0/33', '::/129', '10.0.0/8', 'example.com/8', '10.0.0.0/', '10.0.0.0/-1', '10.0.0.0/08x', '1.2.3.4/8/8', '300.1.1.1']) {
      const r = parseCidr(bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.error).toContain(`"${bad}"`);
    }
  });

  it('never throws, whatever the text', () => {
    fc.assert(fc.property(fc.string(), (s) => {
      parseCidr(s);
      inNetworks(s, [net('10.0.0.0/8')]);
    }));
  });

  it('agrees with node:net BlockList for IPv4 networks and addresses', () => {
    fc.assert(
      fc.property(ipv4, fc.integer({ min: 0, max: 32 }), ipv4, (base, prefix, probe) => {
        const n = net(`${base}/${prefix}`);
        const list = new BlockList();
        list.addSubnet(base, prefix, 'ipv4');
        expect(inNetworks(probe, [n])).toBe(list.check(probe, 'ipv4'));
        // The network's own text reads back to the same network, and its base address is inside.
        expect(net(n.text)).toEqual(n);
        expect(inNetworks(base, [n])).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('agrees with node:net BlockList for IPv6 networks and addresses', () => {
    fc.assert(
      fc.property(ipv6, fc.integer({ min: 0, max: 128 }), ipv6, (base, prefix, probe) => {
        // A probe near the base as well as a random one: most random pairs differ early.
        const near = base.replace(/[0-9a-f]+$/, (g) => (parseInt(g, 16) ^ 1).toString(16));
        const n = net(`${base}/${prefix}`);
        const list = new BlockList();
        list.addSubnet(base, prefix, 'ipv6');
        for (const p of [probe, near]) {
          if (/^0:0:0:0:0:ffff:/.test(p)) continue; // IPv4-mapped: matched as IPv4 on purpose
          expect(inNetworks(p, [n]), `${p} in ${n.text}`).toBe(list.check(p, 'ipv6'));
        }
        expect(net(n.text)).toEqual(n);
      }),
      { numRuns: 500 },
    );
  });
});
