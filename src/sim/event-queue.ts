/**
 * A binary min-heap of timed callbacks: the simulator's only source of progress. Ties are broken by
 * insertion order, so a run is deterministic.
 */
interface Scheduled {
  time: number;
  seq: number;
  fn: () => void;
  cancelled: boolean;
}

export class EventQueue {
  private heap: Scheduled[] = [];
  private seq = 0;
  private nowValue = 0;
  processed = 0;

  get now(): number {
    return this.nowValue;
  }

  get size(): number {
    return this.heap.length;
  }

  /** Schedules fn at now + delay; returns a handle whose cancel() makes it a no-op. */
  schedule(delay: number, fn: () => void): { cancel(): void } {
    const event: Scheduled = { time: this.nowValue + Math.max(0, delay), seq: this.seq++, fn, cancelled: false };
    this.push(event);
    return { cancel: () => { event.cancelled = true; } };
  }

  /** Runs events in time order until the queue is empty, `until` is passed, or maxEvents ran. */
  run(until = Infinity, maxEvents = Infinity): void {
    let budget = maxEvents;
    while (this.heap.length > 0 && budget > 0) {
      const top = this.heap[0]!;
      if (top.time > until) break;
      this.pop();
      if (top.cancelled) continue;
      this.nowValue = top.time;
      this.processed++;
      budget--;
      top.fn();
    }
    if (until !== Infinity && this.nowValue < until && (this.heap.length === 0 || this.heap[0]!.time > until)) {
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
      if (this.heap.length === 0 || budget-- <= 0) return false;
      const top = this.heap[0]!;
      if (top.time > until) return false;
      this.pop();
      if (top.cancelled) continue;
      this.nowValue = top.time;
      this.processed++;
      top.fn();
    }
    return true;
  }

  private less(a: Scheduled, b: Scheduled): boolean {
    return a.time < b.time || (a.time === b.time && a.seq < b.seq);
  }

  private push(event: Scheduled): void {
    const heap = this.heap;
    heap.push(event);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      const above = heap[parent]!;
      if (!this.less(event, above)) break;
      heap[i] = above;
      i = parent;
    }
    heap[i] = event;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop()!;
    if (heap.length === 0) return;
    heap[0] = last;
    let i = 0;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heap.length && this.less(heap[l]!, heap[m]!)) m = l;
      if (r < heap.length && this.less(heap[r]!, heap[m]!)) m = r;
      if (m === i) break;
      heap[i] = heap[m]!;
      heap[m] = last;
      i = m;
    }
  }
}
