/**
 * Failed digest authentications per source IP and the cooling-off that follows too many: after
 * `limit` failures from one IP within `windowMs`, that IP gets 403 for `coolingOffMs` without its
 * credentials being checked (what Kamailio setups build from htable + pike; fail2ban does the
 * same from logs). Sans-IO: `now` is passed in.
 *
 * Memory is bounded whatever the sources: a forged-source flood (UDP) can fill the table of
 * counting sources, which then forgets its oldest entries (an attacker only erases partial counts
 * of other addresses, never makes one pass sooner); sources in cooling-off have their own bounded
 * table, whose entries leave when they expire, or oldest first when it is full.
 */
import { setBounded } from '../common/bounded-map.js';

export interface AuthFailureOptions {
  /** Failures within the window that start a cooling-off. Default 10. */
  readonly limit?: number;
  /** Default 60 000 ms. */
  readonly windowMs?: number;
  /** Default 300 000 ms. */
  readonly coolingOffMs?: number;
  /** Sources whose failures are being counted. Default 10 000. */
  readonly maxCounting?: number;
  /** Sources in cooling-off at once. Default 10 000. */
  readonly maxCooling?: number;
}

export class AuthFailures {
  readonly limit: number;
  readonly windowMs: number;
  readonly coolingOffMs: number;
  readonly #maxCounting: number;
  readonly #maxCooling: number;
  /** ip -> failures in the window that began at `since`; insertion order = oldest first. */
  readonly #counting = new Map<string, { since: number; count: number }>();
  /** ip -> end of its cooling-off; insertion order = the one ending first first. */
  readonly #cooling = new Map<string, number>();

  constructor(opts: AuthFailureOptions = {}) {
    this.limit = Math.max(1, opts.limit ?? 10);
    this.windowMs = opts.windowMs ?? 60_000;
    this.coolingOffMs = opts.coolingOffMs ?? 300_000;
    this.#maxCounting = Math.max(1, opts.maxCounting ?? 10_000);
    this.#maxCooling = Math.max(1, opts.maxCooling ?? 10_000);
  }

  /** Is this source in cooling-off now? */
  coolingOff(ip: string, now: number): boolean {
    const until = this.#cooling.get(ip);
    if (until === undefined) return false;
    if (now < until) return true;
    this.#cooling.delete(ip);
    return false;
  }

  /**
   * Counts one failure; true when it is the one that starts the cooling-off (the caller logs
   * that once). A source already cooling off is not counted again: its credentials are not read.
   */
  fail(ip: string, now: number): boolean {
    if (this.coolingOff(ip, now)) return false;
    let entry = this.#counting.get(ip);
    if (entry === undefined || now - entry.since >= this.windowMs) {
      entry = { since: now, count: 0 };
      setBounded(this.#counting, ip, entry, this.#maxCounting);
    }
    entry.count++;
    if (entry.count < this.limit) return false;
    this.#counting.delete(ip);
    this.#expire(now);
    setBounded(this.#cooling, ip, now + this.coolingOffMs, this.#maxCooling);
    return true;
  }

  /** A success ends the count of its source (a phone that mistyped once is not held to it). */
  succeed(ip: string): void {
    this.#counting.delete(ip);
  }

  /** Sources in cooling-off now (for /status). */
  coolingCount(now: number): number {
    this.#expire(now);
    return this.#cooling.size;
  }

  /** Entries held in both tables (the bound the tests check). */
  get size(): number {
    return this.#counting.size + this.#cooling.size;
  }

  #expire(now: number): void {
    // Every cooling-off lasts the same time, so the map is in order of expiry.
    for (const [ip, until] of this.#cooling) {
      if (until > now) break;
      this.#cooling.delete(ip);
    }
  }
}
