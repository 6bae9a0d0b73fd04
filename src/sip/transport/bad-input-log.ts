/**
 * Rate limit for "bad input from X" log lines: garbage from one source is
 * logged at most once per interval, and the table of sources is bounded so a
 * spray of spoofed addresses cannot grow memory.
 */
import { setBounded } from '../../common/bounded-map.js';

export class PerSourceRateLimit {
  readonly #last = new Map<string, number>();

  constructor(
    private readonly maxSources: number,
    private readonly intervalMs: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** True when `source` may be logged now (and records that it was). */
  allow(source: string): boolean {
    const t = this.now();
    const last = this.#last.get(source);
    if (last !== undefined && t - last < this.intervalMs) return false;
    setBounded(this.#last, source, t, this.maxSources);
    return true;
  }
}
