/** The overload settings: defaults, file < environment < flag, and a bad value named as the user wrote it. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ConfigError, environmentSource, fileSource, flagSource, resolveConfig, resolveConfigFrom } from '../../src/node/config.js';

describe('overload settings', () => {
  it('default to 50 requests/s per phone source, 2000 peer requests/s, utilisation 0.9, p99 delay 200 ms, 5000 in progress', () => {
    const c = resolveConfig();
    expect([c.rateLimit, c.overlayRateLimit, c.overloadUtilisation, c.overloadLagMs, c.overloadDepth]).toEqual([50, 2000, 0.9, 200, 5000]);
  });

  it('come from the file, the environment and flags, later winning; 0 turns one off', () => {
    const dir = mkdtempSync(join(tmpdir(), 'kadsip-overload-'));
    const file = join(dir, 'node.json');
    writeFileSync(file, JSON.stringify({ rateLimit: 5, overloadDepth: 0, overlayRateLimit: 100 }));
    const c = resolveConfigFrom([fileSource(file), environmentSource({ KADSIP_RATE_LIMIT: '7', KADSIP_OVERLOAD_LAG_MS: '50' }), flagSource({ rateLimit: '9', overloadUtilisation: '0.75' })]);
    expect(c.rateLimit).toBe(9);
    expect(c.overloadDepth).toBe(0);
    expect(c.overlayRateLimit).toBe(100);
    expect(c.overloadLagMs).toBe(50);
    expect(c.overloadUtilisation).toBe(0.75);
  });

  it('refuse a bad value, naming where it came from', () => {
    expect(() => resolveConfigFrom([environmentSource({ KADSIP_OVERLOAD_UTILISATION: '1.5' })])).toThrow(/KADSIP_OVERLOAD_UTILISATION: "1.5" is not a number 0-1/);
    expect(() => resolveConfigFrom([flagSource({ rateLimit: '-1' })])).toThrow(/--rate-limit: "-1"/);
    expect(() => resolveConfig({ overlayRateLimit: 'lots' })).toThrow(ConfigError);
  });
});
