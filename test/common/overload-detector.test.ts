/** The overload detector's state machine, fed samples (no timing): when it is overloaded, how the admission factor moves. */
import { describe, expect, it, vi } from 'vitest';
import { MIN_FACTOR, OverloadDetector } from '../../src/common/overload-detector.js';

const calm = { utilisation: 0.2, lagMs: 1, depth: 0 };

describe('OverloadDetector', () => {
  it('halves the factor on each overloaded sample, holds it while warm, and recovers in steps when calm', () => {
    const onChange = vi.fn();
    const d = new OverloadDetector({ thresholds: { utilisation: 0.9, lagMs: 200, depth: 100 }, onChange });
    d.observe(calm);
    expect(d.overloaded).toBe(false);
    expect(d.factor).toBe(1);
    d.observe({ ...calm, utilisation: 0.97 });
    expect(d.overloaded).toBe(true);
    expect(d.factor).toBe(0.5);
    d.observe({ ...calm, lagMs: 450 });
    expect(d.factor).toBe(0.25);
    d.observe({ ...calm, depth: 101 });
    expect(d.factor).toBe(0.125);
    // Warm (over 80 % of a threshold, under it): the factor holds.
    d.observe({ ...calm, utilisation: 0.8 });
    expect(d.factor).toBe(0.125);
    expect(d.overloaded).toBe(true);
    for (let i = 0; i < 20 && d.factor < 1; i++) d.observe(calm);
    expect(d.factor).toBe(1);
    expect(d.overloaded).toBe(false);
    expect(d.stats.episodes).toBe(1);
    expect(onChange.mock.calls.map((c) => c[0])).toEqual([true, false]);
  });

  it('never goes below MIN_FACTOR, and a threshold of 0 is not used', () => {
    const d = new OverloadDetector({ thresholds: { utilisation: 0.9, lagMs: 0, depth: 0 } });
    for (let i = 0; i < 20; i++) d.observe({ utilisation: 1, lagMs: 10_000, depth: 1e9 });
    expect(d.factor).toBe(MIN_FACTOR);
    const off = new OverloadDetector({ thresholds: { utilisation: 0, lagMs: 0, depth: 0 } });
    off.observe({ utilisation: 1, lagMs: 10_000, depth: 1e9 });
    expect(off.overloaded).toBe(false);
  });

  it('samples the running process (start/stop) without keeping it alive', async () => {
    const d = new OverloadDetector({ intervalMs: 20 });
    d.start();
    const deadline = Date.now() + 5000;
    while (d.stats.sample.utilisation === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
    d.stop();
    expect(d.stats.sample.utilisation).toBeGreaterThan(0);
  });
});
