/**
 * The node-wide overload detector. Knows nothing of SIP: every `intervalMs` it reads three signals
 * and moves an admission factor in (0, 1] that the admission control (src/sip/admission.ts) scales
 * its budgets by.
 *
 * Signals, any one over its threshold is overload:
 *  - event-loop utilisation (performance.eventLoopUtilization over the interval): the share of time
 *    the loop was busy. A UDP flood saturates the loop without delaying it much (libuv reads a
 *    bounded batch of datagrams per turn, the rest waits, then overflows, in the kernel's socket
 *    buffer), so utilisation is the signal that sees it; default 0.9.
 *  - event-loop delay (perf_hooks.monitorEventLoopDelay, the 99th percentile over the interval):
 *    long synchronous work (a big hand-over, a GC pause storm); default 200 ms.
 *  - queue depth, given by the caller (the node: requests the proxy is working on, in-flight
 *    overlay RPCs): work accepted but not finished; default 5,000.
 *
 * The factor falls by half on every overloaded sample (down to MIN_FACTOR) and rises by RECOVERY
 * on every calm one (all signals under CALM of their thresholds), back to 1: multiplicative
 * decrease, additive increase, as TCP does, so the admitted load settles under capacity instead of
 * swinging between everything and nothing. `overloaded` is true from the first overloaded sample
 * until the factor is back to 1.
 */
import { monitorEventLoopDelay, performance, type EventLoopUtilization, type IntervalHistogram } from 'node:perf_hooks';

/**
 * The factor's floor: with the default rateLimit of 50/s a source keeps about 3 new requests a
 * second however long the overload lasts (a phone makes a few a minute), so the cut falls on heavy
 * sources; what a spray of new sources sends is refused outright while overloaded (admission.ts).
 */
export const MIN_FACTOR = 1 / 16;
/** Added to the factor per calm sample: from MIN_FACTOR back to 1 in ten samples (5 s by default). */
export const RECOVERY = 0.1;
/** A sample is calm when every signal is under this share of its threshold (hysteresis). */
export const CALM = 0.8;
export const DEFAULT_INTERVAL_MS = 500;
const LAG_RESOLUTION_MS = 10;

export interface OverloadThresholds {
  /** Event-loop utilisation, 0-1 (0: not used). */
  readonly utilisation: number;
  /** p99 event-loop delay in ms (0: not used). */
  readonly lagMs: number;
  /** Queue depth (0: not used). */
  readonly depth: number;
}

export const DEFAULT_THRESHOLDS: OverloadThresholds = { utilisation: 0.9, lagMs: 200, depth: 5000 };

export interface OverloadSample {
  readonly utilisation: number;
  readonly lagMs: number;
  readonly depth: number;
}

export interface OverloadStats {
  readonly overloaded: boolean;
  /** What the budgets are scaled by now, (0, 1]. */
  readonly factor: number;
  /** The last sample read. */
  readonly sample: OverloadSample;
  /** Overload episodes since start (calm -> overloaded transitions). */
  readonly episodes: number;
}

export interface OverloadDetectorOptions {
  readonly thresholds?: Partial<OverloadThresholds>;
  /** Queue depth now (requests in progress); default none. */
  readonly depth?: () => number;
  readonly intervalMs?: number;
  /** Told on every change of `overloaded` (for one log line per episode, not per sample). */
  readonly onChange?: (overloaded: boolean, sample: OverloadSample) => void;
}

export class OverloadDetector {
  readonly #thresholds: OverloadThresholds;
  readonly #depth: () => number;
  readonly #intervalMs: number;
  readonly #onChange: ((overloaded: boolean, sample: OverloadSample) => void) | undefined;
  #factor = 1;
  #overloaded = false;
  #episodes = 0;
  #sample: OverloadSample = { utilisation: 0, lagMs: 0, depth: 0 };
  #timer: NodeJS.Timeout | undefined;
  #histogram: IntervalHistogram | undefined;
  #elu: EventLoopUtilization | undefined;

  constructor(opts: OverloadDetectorOptions = {}) {
    this.#thresholds = { ...DEFAULT_THRESHOLDS, ...opts.thresholds };
    this.#depth = opts.depth ?? (() => 0);
    this.#intervalMs = opts.intervalMs ?? DEFAULT_INTERVAL_MS;
    this.#onChange = opts.onChange;
  }

  get overloaded(): boolean {
    return this.#overloaded;
  }

  get factor(): number {
    return this.#factor;
  }

  get stats(): OverloadStats {
    return { overloaded: this.#overloaded, factor: this.#factor, sample: this.#sample, episodes: this.#episodes };
  }

  /** Samples the running process every intervalMs (the timer does not keep the process alive). */
  start(): void {
    if (this.#timer) return;
    const histogram = monitorEventLoopDelay({ resolution: LAG_RESOLUTION_MS });
    histogram.enable();
    this.#histogram = histogram;
    this.#elu = performance.eventLoopUtilization();
    this.#timer = setInterval(() => {
      const now = performance.eventLoopUtilization();
      const delta = performance.eventLoopUtilization(now, this.#elu);
      this.#elu = now;
      // The histogram holds whole timer intervals in ns, the 10 ms resolution included: lateness is the excess.
      const lagMs = histogram.count > 0 ? Math.max(0, histogram.percentile(99) / 1e6 - LAG_RESOLUTION_MS) : 0;
      histogram.reset();
      this.observe({ utilisation: delta.utilization, lagMs, depth: this.#depth() });
    }, this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
    this.#histogram?.disable();
    this.#histogram = undefined;
  }

  /** One sample: the state transition, pure (the tests feed it samples). */
  observe(sample: OverloadSample): void {
    this.#sample = sample;
    const t = this.#thresholds;
    const over = (value: number, threshold: number, share: number): boolean => threshold > 0 && value > threshold * share;
    const hot = over(sample.utilisation, t.utilisation, 1) || over(sample.lagMs, t.lagMs, 1) || over(sample.depth, t.depth, 1);
    const warm = over(sample.utilisation, t.utilisation, CALM) || over(sample.lagMs, t.lagMs, CALM) || over(sample.depth, t.depth, CALM);
    const was = this.#overloaded;
    if (hot) {
      this.#factor = Math.max(MIN_FACTOR, this.#factor / 2);
      this.#overloaded = true;
    } else if (!warm && this.#factor < 1) {
      this.#factor = Math.min(1, this.#factor + RECOVERY);
    }
    if (!hot && this.#factor >= 1) this.#overloaded = false;
    if (this.#overloaded !== was) {
      if (this.#overloaded) this.#episodes++;
      this.#onChange?.(this.#overloaded, sample);
    }
  }
}
