/**
 * INVITE client transaction (RFC 3261 17.1.1, figure 5), plain RFC 3261:
 * a 2xx ends the transaction at once and later 2xx (retransmissions, other
 * forks) reach the TU through the layer's onStray, the TU owning the 2xx ACK.
 * Calling --1xx--> Proceeding; 300-699 --> Completed (we ACK, 17.1.1.3)
 * --Timer D--> Terminated. Timer A retransmits over UDP (T1 doubling),
 * Timer B (64*T1) times out in Calling, Timer C (16.6) in Proceeding.
 */
import type { SipRequest, SipResponse } from '../message/index.js';
import { ClientBase } from './client-base.js';
import { ackForFailure } from './request-forms.js';
import type { ClientState } from './types.js';

export class InviteClientTransaction extends ClientBase {
  state: ClientState = 'calling';
  #interval = 0;
  #ack: SipRequest | undefined;

  start(): void {
    const { T1 } = this.ctx.timers;
    this.transmit();
    if (!this.reliable) {
      this.#interval = T1;
      this.timers.start('A', T1, () => this.#timerA());
    }
    this.timers.start('B', 64 * T1, () => {
      if (this.state === 'calling') this.timeout();
    });
  }

  #timerA(): void {
    if (this.state !== 'calling') return;
    this.retransmit();
    this.#interval *= 2;
    this.timers.start('A', this.#interval, () => this.#timerA());
  }

  /** 16.8: without onTimerC the transaction ends (onTimeout); with it the TU CANCELs and we wait 64*T1 more. */
  #timerC(): void {
    if (this.state !== 'proceeding') return;
    const onTimerC = this.handlers.onTimerC;
    if (onTimerC === undefined) return this.timeout();
    this.ctx.countTimeout();
    this.timers.start('C', 64 * this.ctx.timers.T1, () => {
      if (this.state === 'proceeding') this.timeout();
    });
    this.ctx.guard('onTimerC', () => onTimerC.call(this.handlers));
  }

  receive(response: SipResponse): void {
    const s = response.status;
    if (this.state === 'completed') {
      // 17.1.1.2: a retransmitted final is answered with the same ACK, not passed up.
      if (s >= 300 && this.#ack !== undefined) this.retransmit(this.#ack);
      return;
    }
    if (this.state !== 'calling' && this.state !== 'proceeding') return;
    if (s < 200) {
      const entering = this.state === 'calling';
      this.state = 'proceeding';
      this.timers.cancel('A');
      this.timers.cancel('B');
      // 16.7 step 2: Timer C restarts on provisionals other than 100.
      if (entering || s > 100) this.timers.start('C', this.ctx.timers.C, () => this.#timerC());
      this.deliver(response);
    } else if (s < 300) {
      this.terminate();
      this.deliver(response);
    } else {
      this.state = 'completed';
      this.timers.cancelAll();
      this.#ack = ackForFailure(this.request, response);
      this.transmit(this.#ack);
      if (this.reliable) this.terminate();
      else this.timers.start('D', this.ctx.timers.D, () => this.terminate());
      this.deliver(response);
    }
  }
}
