/** The failed-authentication cooling-off: counts per source, window, duration, and bounded memory under forged sources. */
import { describe, expect, it } from 'vitest';
import { AuthFailures } from '../../src/policy/auth-failures.js';

describe('AuthFailures', () => {
  it('the limit-th failure within the window starts the cooling-off, which ends after its time', () => {
    const f = new AuthFailures({ limit: 3, windowMs: 60_000, coolingOffMs: 300_000 });
    expect(f.fail('192.0.2.9', 0)).toBe(false);
    expect(f.fail('192.0.2.9', 1000)).toBe(false);
    expect(f.coolingOff('192.0.2.9', 1000)).toBe(false);
    expect(f.fail('192.0.2.9', 2000)).toBe(true);
    expect(f.coolingOff('192.0.2.9', 2000)).toBe(true);
    expect(f.coolingOff('192.0.2.10', 2000)).toBe(false);
    expect(f.coolingOff('192.0.2.9', 301_999)).toBe(true);
    expect(f.coolingOff('192.0.2.9', 302_000)).toBe(false);
    // A new count afterwards, from zero.
    expect(f.fail('192.0.2.9', 302_001)).toBe(false);
  });

  it('failures spread wider than the window never add up', () => {
    const f = new AuthFailures({ limit: 3, windowMs: 60_000 });
    for (let i = 0; i < 20; i++) expect(f.fail('192.0.2.9', i * 30_000)).toBe(false);
  });

  it('a success ends the count', () => {
    const f = new AuthFailures({ limit: 3 });
    f.fail('192.0.2.9', 0);
    f.fail('192.0.2.9', 0);
    f.succeed('192.0.2.9');
    expect(f.fail('192.0.2.9', 0)).toBe(false);
  });

  it('stays bounded under a million forged sources, and the flood does not release a source cooling off', () => {
    const f = new AuthFailures({ limit: 2, maxCounting: 1000, maxCooling: 100 });
    f.fail('198.51.100.1', 0);
    f.fail('198.51.100.1', 0);
    expect(f.coolingOff('198.51.100.1', 0)).toBe(true);
    for (let i = 0; i < 1_000_000; i++) f.fail(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, 1);
    expect(f.size).toBeLessThanOrEqual(1100);
    expect(f.coolingOff('198.51.100.1', 1)).toBe(true);
  });

  it('a full cooling-off table drops the one ending first', () => {
    const f = new AuthFailures({ limit: 1, maxCooling: 2, coolingOffMs: 1000 });
    f.fail('a', 0);
    f.fail('b', 1);
    f.fail('c', 2);
    expect([f.coolingOff('a', 3), f.coolingOff('b', 3), f.coolingOff('c', 3)]).toEqual([false, true, true]);
    expect(f.coolingCount(3)).toBe(2);
    expect(f.coolingCount(1002)).toBe(0);
  });
});
