/**
 * Time as the core sees it: the composition root injects the real clock, the simulator a virtual one.
 */
export interface TimerHandle {
  cancel(): void;
}

export interface Clock {
  /** Milliseconds since an arbitrary epoch. */
  now(): number;
  /** Calls fn once after `ms` milliseconds unless cancelled. */
  setTimer(ms: number, fn: () => void): TimerHandle;
}
