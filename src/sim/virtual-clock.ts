import type { Clock, TimerHandle } from '../common/clock.js';
import type { EventQueue } from './event-queue.js';

/** The core's Clock over the simulator's event queue: time moves only when events run. */
export class VirtualClock implements Clock {
  constructor(private readonly queue: EventQueue) {}

  now(): number {
    return this.queue.now;
  }

  setTimer(ms: number, fn: () => void): TimerHandle {
    return this.queue.schedule(ms, fn);
  }
}
