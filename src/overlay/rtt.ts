/**
 * Round-trip estimate of one node's RPCs, as TCP keeps it (RFC 6298, Jacobson/Karels): a smoothed
 * RTT and its mean deviation, and from them a timeout SRTT + 4 * RTTVAR, clamped to [floor, ceiling].
 * The overlay uses it for the lookup's soft timeout: an RPC not answered by then counts as stalled
 * and the lookup asks one more peer (src/overlay/lookup.ts); the RPC itself keeps its hard deadline.
 *
 * One estimator per node, over every peer it asks: lookups mostly ask peers they never asked
 * before, so a per-peer estimate would rarely exist; the deviation term covers the spread between
 * near and far peers. Samples are answered RPCs only, and a sample is clipped to the timeout in
 * force: an answer slower than that says only that the round trip was at least the timeout. The
 * core cannot tell an answer that needed a retransmission (500 ms and more over SIP/UDP) from a
 * slow path, as TCP can with Karn's rule; unclipped, one such answer raised a node's timeout from
 * about 0.3 s to over 1 s (2,000 simulated nodes, 1 % loss: p99 1.27 s across nodes). A path that
 * really got slower still lifts the estimate, by a growing step per clipped sample.
 */
export interface RttEstimatorOptions {
  /** Lowest timeout it gives, however fast the answers (ms). */
  floorMs: number;
  /** Highest timeout it gives, however slow (ms): the RPC's hard deadline. */
  ceilingMs: number;
  /** Timeout before the first sample (ms); RFC 6298 says 1 s. */
  initialMs: number;
}

export class RttEstimator {
  private srtt: number | undefined;
  private rttvar = 0;
  private count = 0;

  constructor(private readonly options: RttEstimatorOptions) {
    if (!(options.floorMs > 0 && options.floorMs <= options.ceilingMs)) {
      throw new RangeError(`RTT bounds must satisfy 0 < floor <= ceiling (got ${options.floorMs}, ${options.ceilingMs})`);
    }
  }

  /** One measured round trip in ms, clipped to the current timeout (negative or non-finite: ignored). */
  sample(rttMs: number): void {
    if (!Number.isFinite(rttMs) || rttMs < 0) return;
    this.count++;
    if (this.srtt === undefined) {
      const first = Math.min(rttMs, this.options.ceilingMs);
      this.srtt = first;
      this.rttvar = first / 2;
      return;
    }
    const r = Math.min(rttMs, this.timeoutMs);
    // RFC 6298 2.3, alpha = 1/8, beta = 1/4; RTTVAR first, from the old SRTT.
    this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - r);
    this.srtt = 0.875 * this.srtt + 0.125 * r;
  }

  /** SRTT + 4 * RTTVAR within [floor, ceiling]; the initial value before any sample. */
  get timeoutMs(): number {
    const { floorMs, ceilingMs, initialMs } = this.options;
    const raw = this.srtt === undefined ? initialMs : this.srtt + 4 * this.rttvar;
    return Math.min(ceilingMs, Math.max(floorMs, raw));
  }

  /** The smoothed RTT (ms), undefined before any sample. */
  get smoothedMs(): number | undefined {
    return this.srtt;
  }

  get samples(): number {
    return this.count;
  }
}
