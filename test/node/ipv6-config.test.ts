/**
 * Configuration rules for IPv6 (PROTOCOL.md section 9): bracketed IPv6 addresses are read, and a
 * node's bootstraps must be of its listen address's IP family (one socket family per node).
 */
import { describe, expect, it } from 'vitest';
import { ConfigError, resolveConfig } from '../../src/node/config.js';

describe('IPv6 configuration', () => {
  it('reads bracketed IPv6 listen, public and bootstrap addresses', () => {
    const c = resolveConfig({ listen: '[2001:db8::a]:5060', public: '[2001:db8::a]', bootstrap: '[2001:db8::b]:5062,2001:db8::c' });
    expect(c.listen).toEqual({ host: '2001:db8::a', port: 5060 });
    expect(c.public).toEqual({ host: '2001:db8::a', port: 5060 });
    expect(c.bootstrap).toEqual([{ host: '2001:db8::b', port: 5062 }, { host: '2001:db8::c', port: 5060 }]);
  });

  it('refuses a bootstrap of the other IP family, naming it', () => {
    expect(() => resolveConfig({ listen: '192.0.2.7:5060', bootstrap: '192.0.2.8:5060,[2001:db8::b]:5060' })).toThrow(
      new ConfigError('bootstrap: [2001:db8::b]:5060 is an IPv6 address but listen 192.0.2.7 is IPv4: a node speaks one IP family, give bootstraps of that family'),
    );
    expect(() => resolveConfig({ listen: '[2001:db8::a]:5060', bootstrap: '192.0.2.8' })).toThrow(/bootstrap: 192\.0\.2\.8:5060 is an IPv4 address but listen 2001:db8::a is IPv6/);
    // A wildcard has a family too: `::` becomes one of the host's IPv6 addresses at start.
    expect(() => resolveConfig({ listen: '[::]:5060', bootstrap: '192.0.2.8' })).toThrow(/is an IPv4 address but listen :: is IPv6/);
    expect(() => resolveConfig({ listen: '0.0.0.0:5060', bootstrap: '[2001:db8::b]:5060' })).toThrow(/is an IPv6 address but listen 0\.0\.0\.0 is IPv4/);
    expect(resolveConfig({ listen: '0.0.0.0:5060', bootstrap: '192.0.2.8' }).bootstrap).toEqual([{ host: '192.0.2.8', port: 5060 }]);
  });
});
