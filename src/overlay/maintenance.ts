/**
 * Maintenance: a periodic tick (spread over the interval so that nodes do not all fire at once)
 * that expires records, refreshes idle buckets (Kademlia paper 2.3) and republishes.
 */
import type { TimerHandle } from '../common/clock.js';
import type { NodeContext } from './context.js';
import { randomIdInBucket } from './id.js';
import type { Lookups } from './lookups.js';
import type { Publications } from './publications.js';

export class Maintenance {
  private timer?: TimerHandle;

  constructor(
    private readonly ctx: NodeContext,
    private readonly lookups: Lookups,
    private readonly publications: Publications,
  ) {}

  start(): void {
    const tick = (): void => {
      this.maintain();
      this.timer = this.ctx.clock.setTimer(this.ctx.config.maintenanceIntervalMs, tick);
    };
    // Spread the nodes' ticks so that they do not all fire at once.
    this.timer = this.ctx.clock.setTimer(this.ctx.random.int(this.ctx.config.maintenanceIntervalMs) + 1, tick);
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  /** Kademlia paper 2.3: after joining, refresh the buckets farther than the closest neighbours. */
  refreshFartherBuckets(): void {
    for (const index of this.ctx.routingTable.idleBuckets(this.ctx.clock.now(), 0)) this.refreshBucket(index);
  }

  /** Expires records, refreshes idle buckets and republishes what this node published. */
  private maintain(): void {
    const { ctx } = this;
    if (ctx.state !== 'joined') return;
    const now = ctx.clock.now();
    ctx.store.expire(now);
    for (const index of ctx.routingTable.idleBuckets(now, ctx.config.bucketRefreshMs)) this.refreshBucket(index);
    this.publications.republishDue(now);
  }

  private refreshBucket(index: number): void {
    const target = randomIdInBucket(this.ctx.self.id, index, (bits) => this.ctx.random.bits(bits));
    this.lookups.findNode(target, () => {});
  }
}
