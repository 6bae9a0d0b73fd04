/**
 * INVITE server transaction (RFC 3261 17.2.1, figure 7, with the RFC 6026
 * Accepted state). Proceeding: a 100 Trying goes out by itself if the TU has
 * not answered within 200 ms; retransmitted INVITEs get the last provisional.
 * 300-699 --> Completed: Timer G retransmits the final over UDP (T1 doubling
 * up to T2) until the ACK --> Confirmed (Timer I: T4 UDP, 0 TCP); Timer H
 * (64*T1) gives up. 2xx --> Accepted (RFC 6026 section 7.1): for Timer L
 * (64*T1) retransmitted INVITEs are absorbed instead of reaching the TU as new
 * requests, further 2xx from the TU (its retransmissions, other forks) are
 * sent, and ACKs go to the TU via onStray. Retransmitting the 2xx itself is
 * the TU's job (13.3.1.4); a proxy forwards each 2xx it gets.
 */
import { createResponse, type SipRequest, type SipResponse } from '../message/index.js';
import type { Endpoint } from '../transport/types.js';
import { ServerBase } from './server-base.js';
import type { ServerState } from './types.js';

/** 17.2.1: the TU has this long to send a provisional before we send 100 Trying ourselves. */
export const TRYING_DELAY_MS = 200;

export class InviteServerTransaction extends ServerBase {
  state: ServerState = 'proceeding';
  #provisional: SipResponse | undefined;
  #final: SipResponse | undefined;
  #gInterval = 0;

  start(): void {
    const { C, T1 } = this.ctx.timers;
    this.timers.start('trying', TRYING_DELAY_MS, () => this.#sendTrying());
    this.timers.start('abandon', C + 64 * T1, () => this.abandon());
  }

  #sendTrying(): void {
    if (this.state !== 'proceeding' || this.#provisional !== undefined) return;
    this.#provisional = createResponse(this.request, 100);
    this.sendResponse(this.#provisional);
  }

  receiveRetransmission(_request: SipRequest): void {
    if (this.state === 'proceeding') {
      // Nothing sent yet: answer with 100 Trying now rather than stay silent.
      if (this.#provisional === undefined) {
        this.timers.cancel('trying');
        this.#sendTrying();
      } else {
        this.resend(this.#provisional);
      }
    } else if (this.state === 'completed' && this.#final !== undefined) {
      this.resend(this.#final);
    }
    // Confirmed and Accepted absorb.
  }

  override receiveAck(ack: SipRequest, source: Endpoint): void {
    if (this.state === 'completed') {
      this.state = 'confirmed';
      this.timers.cancel('G');
      this.timers.cancel('H');
      if (this.reliable) this.terminate();
      else this.timers.start('I', this.ctx.timers.T4, () => this.terminate());
    } else if (this.state === 'accepted') {
      // The ACK for a 2xx belongs to the TU (RFC 6026 section 8.7: passed up, not consumed).
      this.ctx.stray(ack, source);
    }
  }

  respond(response: SipResponse): void {
    const s = response.status;
    if (this.state === 'accepted') {
      if (s >= 200 && s < 300) this.sendResponse(response);
      return;
    }
    if (this.state !== 'proceeding') {
      this.ctx.log.debug({ status: s, state: this.state }, 'response after final dropped');
      return;
    }
    this.timers.cancel('trying');
    if (s < 200) {
      this.#provisional = response;
      this.sendResponse(response);
      return;
    }
    this.timers.cancel('abandon');
    const { T1 } = this.ctx.timers;
    if (s < 300) {
      this.state = 'accepted';
      this.sendResponse(response);
      if (this.state === 'accepted') this.timers.start('L', 64 * T1, () => this.terminate());
      return;
    }
    this.state = 'completed';
    this.#final = response;
    this.sendResponse(response);
    if (this.state !== 'completed') return;
    if (!this.reliable) {
      this.#gInterval = T1;
      this.timers.start('G', T1, () => this.#timerG());
    }
    this.timers.start('H', 64 * T1, () => {
      if (this.state === 'completed') this.timeout();
    });
  }

  #timerG(): void {
    if (this.state !== 'completed' || this.#final === undefined) return;
    this.resend(this.#final);
    this.#gInterval = Math.min(2 * this.#gInterval, this.ctx.timers.T2);
    this.timers.start('G', this.#gInterval, () => this.#timerG());
  }
}
