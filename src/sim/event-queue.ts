/**
 * Timed callbacks in a min-heap (src/common/min-heap.ts): the simulator's only source of progress.
 * Ties are broken by insertion order, so a run is deterministic.
 */
import { MinHeap } from '../common/min-heap.js';

interface Scheduled {
  readonly time: number;
  readonly fn: () => void;
  cancelled: boolean;
}

export class EventQueue {
  private readonly heap = new MinHeap<Scheduled>();
  private nowValue = 0;
  processed = 0;

  get now(): number {
    return this.nowValue;
  }

  get size(): number {
    return this.heap.size;
  }

  /** Schedules fn at now + delay; returns a handle whose cancel() makes it a no-op. */
  schedule(delay: number, fn: () => void): { cancel(): void } {
    const event: Scheduled = { time: this.nowValue + Math.max(0, delay), fn, cancelled: false };
    this.heap.push(event.time, event);
    return { cancel: () => { event.cancelled = true; } };
  }

  /** Runs events in time order until the queue is empty, `until` is passed, or maxEvents ran. */
  run(until = Infinity, maxEvents = Infinity): void {
    let budget = maxEvents;
    while (this.heap.size > 0 && budget > 0) {
      const top = this.heap.peek()!;
      if (top.time > until) break;
      this.heap.pop();
      if (top.cancelled) continue;
      this.nowValue = top.time;
      this.processed++;
      budget--;
      top.fn();
    }
    if (until !== Infinity && this.nowValue < until && (this.heap.size === 0 || this.heap.peekKey()! > until)) {
      this.nowValue = until;
    }
  }

  /**
   * Like run(), but hands the event loop back every `slice` events, so that a long simulation in a
   * test worker or a benchmark does not starve the process's own timers and messages.
   */
  async runSliced(until = Infinity, slice = 50_000): Promise<void> {
    for (;;) {
      const before = this.processed;
      this.run(until, slice);
      if (this.processed - before < slice) return;
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
  }

  /** Runs until `predicate` holds (checked after each event), bounded by time and event count. */
  runUntil(predicate: () => boolean, until = Infinity, maxEvents = 50_000_000): boolean {
    let budget = maxEvents;
    while (!predicate()) {
      if (this.heap.size === 0 || budget-- <= 0) return false;
      const top = this.heap.peek()!;
      if (top.time > until) return false;
      this.heap.pop();
      if (top.cancelled) continue;
      this.nowValue = top.time;
      this.processed++;
      top.fn();
    }
    return true;
  }
}
