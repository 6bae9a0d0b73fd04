/** Named one-shot timers on the injected Clock, so a state machine can replace or cancel them by name. */
import type { Clock, TimerHandle } from '../../common/clock.js';

export class TimerSet {
  readonly #handles = new Map<string, TimerHandle>();

  constructor(private readonly clock: Clock) {}

  /** (Re)starts timer `name`; a previous one of that name is cancelled. */
  start(name: string, ms: number, fn: () => void): void {
    this.cancel(name);
    const h = this.clock.setTimer(ms, () => {
      this.#handles.delete(name);
      fn();
    });
    this.#handles.set(name, h);
  }

  cancel(name: string): void {
    this.#handles.get(name)?.cancel();
    this.#handles.delete(name);
  }

  cancelAll(): void {
    for (const h of this.#handles.values()) h.cancel();
    this.#handles.clear();
  }
}
