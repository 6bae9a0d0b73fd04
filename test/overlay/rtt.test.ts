import { describe, expect, it } from 'vitest';
import { RttEstimator } from '../../src/overlay/rtt.js';

describe('RttEstimator (RFC 6298)', () => {
  const bounds = { floorMs: 200, ceilingMs: 2000, initialMs: 1000 };

  it('gives the initial timeout before any sample, then SRTT + 4 * RTTVAR', () => {
    const rtt = new RttEstimator(bounds);
    expect(rtt.timeoutMs).toBe(1000);
    expect(rtt.smoothedMs).toBeUndefined();
    rtt.sample(100); // SRTT 100, RTTVAR 50
    expect(rtt.timeoutMs).toBe(300);
    rtt.sample(180); // RTTVAR 0.75 * 50 + 0.25 * 80 = 57.5, SRTT 110
    expect(rtt.smoothedMs).toBe(110);
    expect(rtt.timeoutMs).toBe(110 + 4 * 57.5);
    expect(rtt.samples).toBe(2);
  });

  it('never goes below the floor nor above the ceiling', () => {
    const fast = new RttEstimator(bounds);
    for (let i = 0; i < 50; i++) fast.sample(1);
    expect(fast.timeoutMs).toBe(200);
    const slow = new RttEstimator(bounds);
    slow.sample(1500); // 1500 + 4 * 750
    expect(slow.timeoutMs).toBe(2000);
  });

  it('converges on a steady RTT; one answer delayed by a retransmission moves it only so far', () => {
    const rtt = new RttEstimator({ floorMs: 10, ceilingMs: 2000, initialMs: 1000 });
    for (let i = 0; i < 100; i++) rtt.sample(90);
    expect(rtt.timeoutMs).toBeCloseTo(90, 0);
    for (let i = 0; i < 100; i++) rtt.sample(i % 2 === 0 ? 80 : 100); // SRTT ~90, RTTVAR ~10
    const before = rtt.timeoutMs;
    expect(before).toBeGreaterThan(120);
    expect(before).toBeLessThan(140);
    // Counted as `before` (~130): about 165 ms after. Unclipped it would be about 680 ms.
    rtt.sample(590);
    expect(rtt.timeoutMs).toBeGreaterThan(before);
    expect(rtt.timeoutMs).toBeLessThan(200);
  });

  it('follows a path that really got slower, a growing step per clipped sample', () => {
    const rtt = new RttEstimator({ floorMs: 10, ceilingMs: 2000, initialMs: 1000 });
    for (let i = 0; i < 100; i++) rtt.sample(i % 2 === 0 ? 80 : 100);
    const seen: number[] = [];
    for (let i = 0; i < 8; i++) {
      rtt.sample(600);
      seen.push(rtt.timeoutMs);
    }
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThan(seen[i - 1]!);
    expect(seen.at(-1)!).toBeGreaterThan(600);
    for (let i = 0; i < 50; i++) rtt.sample(600);
    expect(rtt.smoothedMs!).toBeCloseTo(600, -1);
  });

  it('ignores samples that are not round trips, and rejects inverted bounds', () => {
    const rtt = new RttEstimator(bounds);
    rtt.sample(-5);
    rtt.sample(Number.NaN);
    expect(rtt.samples).toBe(0);
    expect(() => new RttEstimator({ floorMs: 500, ceilingMs: 100, initialMs: 1000 })).toThrow(RangeError);
    expect(() => new RttEstimator({ floorMs: 0, ceilingMs: 100, initialMs: 1000 })).toThrow(RangeError);
  });
});
