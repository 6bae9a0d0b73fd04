/** What both server transaction machines share: identity, response routing, termination. */
import { getTopVia, viaBranch, type SipRequest, type SipResponse } from '../message/index.js';
import type { Endpoint } from '../transport/types.js';
import type { TxnContext } from './context.js';
import { responseTargets, type ResponseTargets } from './response-target.js';
import { TimerSet } from './timer-set.js';
import type { ServerState, ServerTransaction } from './types.js';

export abstract class ServerBase implements ServerTransaction {
  protected readonly timers: TimerSet;
  /** Response retransmission and the linger timers are for UDP only (17.2.1, 17.2.2). */
  protected readonly reliable: boolean;
  readonly branch: string | undefined;
  readonly #targets: ResponseTargets;
  abstract state: ServerState;
  onTimeout?: () => void;
  onTransportError?: (error: Error) => void;

  constructor(
    protected readonly ctx: TxnContext,
    readonly key: string,
    readonly request: SipRequest,
    readonly source: Endpoint,
  ) {
    this.timers = new TimerSet(ctx.clock);
    this.reliable = source.protocol !== 'udp';
    this.#targets = responseTargets(request, source);
    let branch: string | undefined;
    try {
      branch = viaBranch(getTopVia(request));
    } catch {
      branch = undefined;
    }
    this.branch = branch;
  }

  abstract start(): void;
  abstract respond(response: SipResponse): void;
  /** A retransmission of the request that created the transaction. */
  abstract receiveRetransmission(request: SipRequest): void;
  /** An ACK matching this transaction (only INVITE transactions get these). */
  receiveAck(_ack: SipRequest, _source: Endpoint): void {}

  /** 18.2.2 with the 17.2.4 retry: over TCP, a dead connection is followed by a new one to received:sent-by port. */
  protected sendResponse(response: SipResponse): void {
    const { primary, fallback } = this.#targets;
    // The transaction may already be over when a failure is reported (Timer J/I are 0 over TCP); the
    // fallback is still tried and the TU still told, since the response did not get out.
    this.ctx.send(response, primary, (e) => {
      if (fallback === undefined) return this.transportError(e);
      this.ctx.send(response, fallback, (e2) => this.transportError(e2));
    });
  }

  protected resend(response: SipResponse): void {
    this.ctx.countRetransmission();
    this.sendResponse(response);
  }

  transportError(error: Error): void {
    this.ctx.log.debug({ err: error.message, branch: this.branch }, 'server transaction transport error');
    this.terminate();
    const h = this.onTransportError;
    if (h) this.ctx.guard('onTransportError', () => h(error));
  }

  protected timeout(): void {
    this.ctx.countTimeout();
    this.terminate();
    const h = this.onTimeout;
    if (h) this.ctx.guard('onTimeout', () => h());
  }

  /** The TU never answered: give up quietly so the table cannot fill with forgotten transactions. */
  protected abandon(): void {
    this.ctx.log.warn({ branch: this.branch, method: this.request.method }, 'server transaction abandoned: TU sent no final response');
    this.terminate();
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.timers.cancelAll();
    this.ctx.ended(this.key, 'server');
  }
}
