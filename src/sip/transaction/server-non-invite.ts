/**
 * Non-INVITE server transaction (RFC 3261 17.2.2, figure 8).
 * Trying --1xx--> Proceeding --final--> Completed --Timer J--> Terminated.
 * A retransmitted request is absorbed in Trying and answered with the last
 * response afterwards. Timer J: 64*T1 over UDP, 0 over TCP.
 */
import type { SipRequest, SipResponse } from '../message/index.js';
import { ServerBase } from './server-base.js';
import type { ServerState } from './types.js';

/** No final response after this many T1 (twice a client's Timer F): the TU forgot the request. */
const ABANDON_T1 = 128;

export class NonInviteServerTransaction extends ServerBase {
  state: ServerState = 'trying';
  #last: SipResponse | undefined;

  start(): void {
    this.timers.start('abandon', ABANDON_T1 * this.ctx.timers.T1, () => this.abandon());
  }

  receiveRetransmission(_request: SipRequest): void {
    if ((this.state === 'proceeding' || this.state === 'completed') && this.#last !== undefined) this.resend(this.#last);
  }

  respond(response: SipResponse): void {
    if (this.state !== 'trying' && this.state !== 'proceeding') {
      this.ctx.log.debug({ status: response.status, state: this.state }, 'response after final dropped');
      return;
    }
    this.#last = response;
    if (response.status < 200) {
      this.state = 'proceeding';
      this.sendResponse(response);
      return;
    }
    this.state = 'completed';
    this.timers.cancel('abandon');
    this.sendResponse(response);
    if (this.state !== 'completed') return; // a synchronous transport error already ended it
    if (this.reliable) this.terminate();
    else this.timers.start('J', 64 * this.ctx.timers.T1, () => this.terminate());
  }
}
