import type { Clock, TimerHandle } from './clock.js';

/** The wall clock, for the composition root. Timers are unref'd so they never keep a process alive alone. */
export const realClock: Clock = {
  now: () => performance.now(),
  setTimer(ms: number, fn: () => void): TimerHandle {
    const timer = setTimeout(fn, ms);
    timer.unref();
    return { cancel: () => clearTimeout(timer) };
  },
};
