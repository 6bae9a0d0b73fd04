/**
 * Non-INVITE client transaction (RFC 3261 17.1.2, figure 6).
 * Trying --1xx--> Proceeding --final--> Completed --Timer K--> Terminated.
 * Timer E retransmits over UDP (T1 doubling up to T2; T2 once Proceeding),
 * Timer F (64*T1) times out, Timer K (T4 over UDP, 0 over TCP) absorbs
 * retransmitted finals.
 */
import type { SipResponse } from '../message/index.js';
import { ClientBase } from './client-base.js';
import type { ClientState } from './types.js';

export class NonInviteClientTransaction extends ClientBase {
  state: ClientState = 'trying';
  #interval = 0;

  start(): void {
    const { T1 } = this.ctx.timers;
    this.transmit();
    if (!this.reliable) {
      this.#interval = T1;
      this.timers.start('E', T1, () => this.#timerE());
    }
    this.timers.start('F', 64 * T1, () => this.#timerF());
  }

  #timerE(): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return;
    this.retransmit();
    const { T2 } = this.ctx.timers;
    this.#interval = this.state === 'trying' ? Math.min(2 * this.#interval, T2) : T2;
    this.timers.start('E', this.#interval, () => this.#timerE());
  }

  #timerF(): void {
    if (this.state === 'trying' || this.state === 'proceeding') this.timeout();
  }

  receive(response: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') return; // Completed absorbs retransmissions.
    if (response.status < 200) {
      this.state = 'proceeding';
      this.deliver(response);
      return;
    }
    this.state = 'completed';
    this.timers.cancel('E');
    this.timers.cancel('F');
    if (this.reliable) this.terminate();
    else this.timers.start('K', this.ctx.timers.T4, () => this.terminate());
    this.deliver(response);
  }
}
