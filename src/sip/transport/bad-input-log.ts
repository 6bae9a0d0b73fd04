/**
 * Rate limit for "bad input from X" log lines: garbage from one source is
 * logged at most once per interval, and the table of sources is bounded so a
 * spray of spoofed addresses cannot grow memory.
 */
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
    this.#last.delete(source);
    if (this.#last.size >= this.maxSources) {
      // Maps iterate in insertion order: the first key is the least recently logged source.
      const oldest = this.#last.keys().next();
      if (!oldest.done) this.#last.delete(oldest.value);
    }
    this.#last.set(source, t);
    return true;
  }
}
