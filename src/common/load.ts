/**
 * A STUN/TURN server's load figure, as kadsip advertises it (`load=N` in DHT-PeerID and
 * DHT-Candidate, the KADSIP-LOAD STUN attribute; docs/PROTOCOL.md section 7): the number of
 * distinct clients, by source transport address, that sent the service a Binding request (not a
 * load query) in the last LOAD_WINDOW_MS, at most MAX_LOAD. The STUN server and the simulator both
 * count with RecentClients, so the simulated figure is the one a node would advertise.
 */

/** How far back the figure looks. A NATed kadsip node re-checks its server every 5 minutes. */
export const LOAD_WINDOW_MS = 5 * 60_000;
/** Largest figure written or accepted; a busier server saturates at it. */
export const MAX_LOAD = 65_535;

/** Distinct keys seen in a sliding window; memory bounded by `max` keys (the oldest go first). */
export class RecentClients {
  /** key -> last time seen; Map order is oldest first (a refresh deletes and re-inserts). */
  private readonly seen = new Map<string, number>();

  constructor(
    private readonly windowMs = LOAD_WINDOW_MS,
    private readonly max = MAX_LOAD,
  ) {}

  note(key: string, now: number): void {
    this.seen.delete(key);
    this.seen.set(key, now);
    if (this.seen.size > this.max) this.seen.delete(this.seen.keys().next().value!);
  }

  /** Distinct keys seen in (now - window, now]. */
  count(now: number): number {
    for (const [key, at] of this.seen) {
      if (at > now - this.windowMs) break;
      this.seen.delete(key);
    }
    return this.seen.size;
  }
}
