/**
 * Time as the protocol cores (overlay, SIP transactions) see it: the composition root injects the
 * real clock (real-clock.ts), the simulator and the tests a virtual one.
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
