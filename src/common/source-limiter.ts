/**
 * Token buckets per source, in a bounded table: how many new requests one source may start per
 * second, and how many refusals it is owed on top of that. Knows nothing of SIP: a key is whatever
 * the caller names a source by (src/sip/admission.ts uses the IP address, an IPv6 /64).
 *
 * Two buckets per source:
 *  - `tokens`, refilled at `rate` per second up to `burst`: one per admitted request;
 *  - `answers`, refilled at ANSWER_FACTOR times that: one per refusal. A source that keeps sending
 *    at more than ANSWER_FACTOR times its rate has been told (Retry-After) and ignores it; its
 *    excess is dropped rather than answered, since each answer costs a send and, from a spoofed
 *    source, reflects traffic at the address it forged (the choice Kamailio's pike module makes
 *    for every request over its limit).
 * The table holds at most `maxSources` entries; a new source evicts the least recently seen, so a
 * spray of spoofed addresses cannot grow memory (it gets a fresh bucket per address instead: the
 * caller refuses newcomers while the node is overloaded, `take(key, factor, false)`).
 */
import type { Clock } from './clock.js';
import { setBounded } from './bounded-map.js';

/** A source that keeps sending past its limit is answered up to this many times its rate, then dropped. */
export const ANSWER_FACTOR = 10;
/** A source limited within this long counts as rate-limited in `limitedSources`. */
export const LIMITED_WINDOW_MS = 10_000;
/** A source dropped is dropped unread for this long (source-limiter `dropping`). */
export const DROP_HOLD_MS = 1000;
/** Longest Retry-After the limiter asks for (seconds). */
const MAX_RETRY_AFTER_S = 60;

export type SourceVerdict =
  | { readonly action: 'admit' }
  | { readonly action: 'reject'; readonly retryAfterS: number; readonly reason: 'rate' | 'newcomer' }
  | { readonly action: 'drop' };

const ADMIT: SourceVerdict = { action: 'admit' };
const DROP: SourceVerdict = { action: 'drop' };

interface Entry {
  tokens: number;
  answers: number;
  at: number;
  /** When the source was last refused or dropped (-Infinity: never). */
  limitedAt: number;
  /** When the source was last dropped (-Infinity: never). */
  droppedAt: number;
}

export interface SourceLimiterOptions {
  /** Admitted requests per second per source (0: no limit). */
  readonly rate: number;
  /** Bucket size: the burst a quiet source may send at once. Default 2 * rate, at least 1. */
  readonly burst?: number;
  readonly maxSources: number;
  readonly clock: Pick<Clock, 'now'>;
}

export class SourceLimiter {
  readonly #table = new Map<string, Entry>();
  readonly #rate: number;
  readonly #burst: number;
  readonly #max: number;
  readonly #clock: Pick<Clock, 'now'>;

  constructor(opts: SourceLimiterOptions) {
    this.#rate = opts.rate;
    this.#burst = opts.burst ?? Math.max(1, 2 * opts.rate);
    this.#max = Math.max(1, opts.maxSources);
    this.#clock = opts.clock;
  }

  /** Sources in the table now (bounded by maxSources). */
  get size(): number {
    return this.#table.size;
  }

  /**
   * One new request from `key`. `factor` (0-1] scales the rate and burst of every source: the
   * overload detector's admission factor, so that under overload the heaviest sources are cut
   * first and light ones (a phone's few requests a minute) keep going. `newcomers` false: a source
   * the table does not hold is refused (reason `newcomer`) and enters it with an empty bucket, the
   * defence against a spray of spoofed addresses that each send one request.
   */
  take(key: string, factor = 1, newcomers = true): SourceVerdict {
    if (this.#rate <= 0) return ADMIT;
    const now = this.#clock.now();
    const rate = this.#rate * factor;
    const burst = Math.max(1, this.#burst * factor);
    // The answers scale with overload too: a node that cannot keep up answers each heavy source
    // fewer 503s and drops the rest (before parsing them, `dropping`), which is what frees it.
    const answerRate = rate * ANSWER_FACTOR;
    const answerBurst = burst * ANSWER_FACTOR;
    let e = this.#table.get(key);
    if (e === undefined) {
      e = { tokens: newcomers ? burst : 0, answers: answerBurst, at: now, limitedAt: -Infinity, droppedAt: -Infinity };
      if (!newcomers) {
        e.limitedAt = now;
        e.answers -= 1;
        setBounded(this.#table, key, e, this.#max);
        return { action: 'reject', retryAfterS: Math.min(MAX_RETRY_AFTER_S, Math.max(1, Math.ceil(1 / rate))), reason: 'newcomer' };
      }
    } else {
      const dt = Math.max(0, now - e.at) / 1000;
      e.tokens = Math.min(burst, e.tokens + dt * rate);
      e.answers = Math.min(answerBurst, e.answers + dt * answerRate);
      e.at = now;
    }
    // Every request re-inserts its source: the least recently seen is the one evicted.
    setBounded(this.#table, key, e, this.#max);
    if (e.tokens >= 1) {
      e.tokens -= 1;
      return ADMIT;
    }
    e.limitedAt = now;
    if (e.answers >= 1) {
      e.answers -= 1;
      // When the bucket holds a token again, at the current rate.
      const wait = rate > 0 ? (1 - e.tokens) / rate : MAX_RETRY_AFTER_S;
      return { action: 'reject', retryAfterS: Math.min(MAX_RETRY_AFTER_S, Math.max(1, Math.ceil(wait))), reason: 'rate' };
    }
    e.droppedAt = now;
    return DROP;
  }

  /**
   * Whether `key` was dropped within the last DROP_HOLD_MS: its datagrams may then be dropped
   * before they are parsed (no bucket is touched, so after the hold the source is heard again and
   * gets its share of admissions and 503s). Read-only and one map lookup: cheap enough per datagram.
   */
  dropping(key: string): boolean {
    const e = this.#table.get(key);
    return e !== undefined && this.#clock.now() - e.droppedAt < DROP_HOLD_MS;
  }

  /** Sources refused or dropped within the last LIMITED_WINDOW_MS (a walk over the bounded table). */
  limitedSources(): number {
    const since = this.#clock.now() - LIMITED_WINDOW_MS;
    let n = 0;
    for (const e of this.#table.values()) if (e.limitedAt >= since) n++;
    return n;
  }
}
