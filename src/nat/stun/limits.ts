/**
 * Bounded per-source tables for the STUN server: a log limiter (one line per source per interval)
 * and a fixed-window request limiter. Both evict the oldest source when full, so a spray of
 * spoofed source addresses cannot grow memory.
 */

import { setBounded } from '../../common/bounded-map.js';

export class LogLimiter {
  readonly #last = new Map<string, number>();
  constructor(
    private readonly maxSources: number,
    private readonly intervalMs: number,
    private readonly now: () => number,
  ) {}

  /** True when `source` may be logged now (and records that it was). */
  allow(source: string): boolean {
    const t = this.now();
    const last = this.#last.get(source);
    if (last !== undefined && t - last < this.intervalMs) return false;
    setBounded(this.#last, source, t, this.maxSources);
    return true;
  }

  get size(): number {
    return this.#last.size;
  }
}

export class RequestLimiter {
  readonly #windows = new Map<string, { start: number; count: number }>();
  constructor(
    private readonly maxSources: number,
    private readonly perSecond: number,
    private readonly now: () => number,
  ) {}

  /** True when one more request from `source` is within its budget for the current second. */
  allow(source: string): boolean {
    const t = this.now();
    const w = this.#windows.get(source);
    if (w !== undefined && t - w.start < 1000) {
      w.count++;
      return w.count <= this.perSecond;
    }
    setBounded(this.#windows, source, { start: t, count: 1 }, this.maxSources);
    return this.perSecond >= 1;
  }

  get size(): number {
    return this.#windows.size;
  }
}
