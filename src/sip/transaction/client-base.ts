/** What both client transaction machines share: identity, timers, sending, termination. */
import type { SipRequest, SipResponse } from '../message/index.js';
import type { Endpoint } from '../transport/types.js';
import type { TxnContext } from './context.js';
import { TimerSet } from './timer-set.js';
import type { ClientHandlers, ClientState, ClientTransaction } from './types.js';

export abstract class ClientBase implements ClientTransaction {
  protected readonly timers: TimerSet;
  /** Retransmissions are a UDP matter: reliable transports get none (17.1.1.2, 17.1.2.2). */
  protected readonly reliable: boolean;
  abstract state: ClientState;

  constructor(
    protected readonly ctx: TxnContext,
    readonly key: string,
    readonly branch: string,
    readonly request: SipRequest,
    readonly destination: Endpoint,
    protected readonly handlers: ClientHandlers,
  ) {
    this.timers = new TimerSet(ctx.clock);
    this.reliable = destination.protocol !== 'udp';
  }

  abstract start(): void;
  abstract receive(response: SipResponse): void;

  protected transmit(message: SipRequest = this.request): void {
    this.ctx.send(message, this.destination, (e) => this.transportError(e));
  }

  protected retransmit(message: SipRequest = this.request): void {
    this.ctx.countRetransmission();
    this.transmit(message);
  }

  /** 17.1.4: a transport failure ends the transaction and the TU acts as on a 503. */
  transportError(error: Error): void {
    if (this.state === 'terminated' || this.state === 'completed') return;
    this.terminate();
    this.ctx.guard('onTransportError', () => {
      if (this.handlers.onTransportError) this.handlers.onTransportError(error);
      else this.handlers.onTimeout();
    });
  }

  protected timeout(): void {
    this.ctx.countTimeout();
    this.terminate();
    this.ctx.guard('onTimeout', () => this.handlers.onTimeout());
  }

  protected deliver(response: SipResponse): void {
    this.ctx.guard('onResponse', () => this.handlers.onResponse(response));
  }

  terminate(): void {
    if (this.state === 'terminated') return;
    this.state = 'terminated';
    this.timers.cancelAll();
    this.ctx.ended(this.key, 'client');
  }
}
