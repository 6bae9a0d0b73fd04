/** The policy settings (README "Who may do what"): defaults, precedence, lists, and bad values named as written. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { environmentSource, fileSource, flagSource, resolveConfig, resolveConfigFrom } from '../../src/node/config.js';

const texts = (c: ReturnType<typeof resolveConfig>): string[] => c.trustedNetworks.map((n) => n.text);

describe('policy settings', () => {
  it('default to trusting loopback only, DNS routing on, 10 failures in 60 s, 300 s cooling-off', () => {
    const c = resolveConfig();
    expect(texts(c)).toEqual(['127.0.0.0/8', '::1/128']);
    expect([c.dnsRouting, c.authFailures, c.authFailureWindowS, c.authCoolingOffS]).toEqual([true, 10, 60, 300]);
  });

  it('take trust from the file, the environment and flags, later winning; repeated flags and comma lists mix; none trusts nothing', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kadsip-policy-'));
    const file = join(dir, 'node.json');
    writeFileSync(file, JSON.stringify({ trust: ['10.0.0.0/8'], dnsRouting: false, authFailures: 5 }));
    expect(texts(resolveConfigFrom([fileSource(file)]))).toEqual(['10.0.0.0/8']);
    const env = environmentSource({ KADSIP_TRUST: '192.0.2.0/24,2001:DB8::/32', KADSIP_DNS_ROUTING: 'on', KADSIP_AUTH_COOLING_OFF_S: '30' });
    const c = resolveConfigFrom([fileSource(file), env]);
    expect(texts(c)).toEqual(['192.0.2.0/24', '2001:db8::/32']);
    expect([c.dnsRouting, c.authFailures, c.authCoolingOffS]).toEqual([true, 5, 30]);
    const f = resolveConfigFrom([fileSource(file), env, flagSource({ trust: ['198.51.100.7', '10.1.0.0/16,::1'], dnsRouting: false })]);
    expect(texts(f)).toEqual(['198.51.100.7/32', '10.1.0.0/16', '::1/128']);
    expect(f.dnsRouting).toBe(false);
    expect(resolveConfig({ trust: 'none' }).trustedNetworks).toEqual([]);
  });

  it('refuse a bad value, naming where it came from', () => {
    expect(() => resolveConfigFrom([flagSource({ trust: ['10.0.0.0/33'] })])).toThrow(/^--trust: "10.0.0.0\/33": the prefix length must be 0-32$/);
    expect(() => resolveConfigFrom([environmentSource({ KADSIP_TRUST: 'lan' })])).toThrow(/^KADSIP_TRUST: "lan" is not an IPv4 or IPv6 network/);
    expect(() => resolveConfigFrom([environmentSource({ KADSIP_DNS_ROUTING: 'maybe' })])).toThrow(/^KADSIP_DNS_ROUTING: "maybe" is not on or off$/);
    expect(() => resolveConfigFrom([flagSource({ authFailures: '0' })])).toThrow(/^--auth-failures: "0" is not an integer 1-1000$/);
    expect(() => resolveConfig({ trust: ',' })).toThrow(/^trust: give CIDR networks/);
  });
});
