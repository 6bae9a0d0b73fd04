/**
 * Vocabulary of the transaction layer (RFC 3261 section 17): what it needs
 * from below (a transport: send + local address), the clock it runs on, its
 * timer values, and what it reports to the transaction user (TU) above.
 */
import type { Clock } from '../../common/clock.js';
import type { SipRequest, SipResponse } from '../message/index.js';
import type { Endpoint, Logger, Protocol } from '../transport/types.js';

export type { Endpoint, Protocol, Logger };

/** Timer base values of RFC 3261 section 17.1.1.1 and table 4, in milliseconds. */
export interface TimerValues {
  /** RTT estimate. Default 500. */
  readonly T1?: number;
  /** Cap on non-INVITE request and INVITE response retransmit intervals. Default 4000. */
  readonly T2?: number;
  /** Time a message may linger in the network. Default 5000. */
  readonly T4?: number;
  /** Timer D over UDP: at least 32 s (17.1.1.2). Default 32000. */
  readonly D?: number;
  /**
   * Timer C (16.6 step 11): an INVITE client transaction that has had a
   * provisional response but no final for this long is ended with onTimeout
   * (16.8 allows terminating it); the proxy then CANCELs. Default 180000.
   * An INVITE server transaction whose TU has sent no final response after
   * C + 64*T1 is abandoned, so a forgetful TU cannot leak it.
   */
  readonly C?: number;
}

export type ResolvedTimers = Required<TimerValues>;

export const DEFAULT_TIMERS: ResolvedTimers = { T1: 500, T2: 4000, T4: 5000, D: 32_000, C: 180_000 };

/** The one thing the layer needs from the transport: SipTransport satisfies it as is. */
export interface TransactionTransport {
  /** Sends; failures are reported to onError (asynchronously), never thrown. */
  send(message: SipRequest | SipResponse, to: Endpoint, onError?: (e: Error) => void): void;
  /** The bound address for a protocol, used for our Via sent-by. */
  local(protocol: Protocol): Endpoint;
}

export interface TransactionLayerOptions extends TransactionTransport {
  readonly clock: Clock;
  /** Branch randomness after the z9hG4bK magic cookie. Default: 64 random bits as hex. */
  readonly random?: () => string;
  readonly timers?: TimerValues;
  /** Client and server transactions together; beyond it requests get a stateless 503. Default 100 000. */
  readonly maxTransactions?: number;
  readonly logger?: Logger;
}

export interface ClientHandlers {
  /** Each provisional response and the final one (retransmissions are absorbed). */
  onResponse(response: SipResponse): void;
  /** Timer B or F (or C) fired without a final response: act as on a 408 (8.1.3.1). */
  onTimeout(): void;
  /** The transport could not send (17.1.4): act as on a 503. When absent, onTimeout is called instead. */
  onTransportError?(error: Error): void;
  /**
   * INVITE only. When set, Timer C (16.6 step 11) does not end the transaction: the layer calls this
   * instead (16.8: the TU, a proxy, CANCELs the branch), keeps the transaction in Proceeding so the
   * 487 that follows is absorbed and ACKed as usual (17.1.1.3), and ends it with onTimeout only if
   * no final response arrives within 64*T1 more (the 9.1 limit for a cancelled request).
   */
  onTimerC?(): void;
}

export type ClientState = 'calling' | 'trying' | 'proceeding' | 'completed' | 'terminated';
export type ServerState = 'trying' | 'proceeding' | 'completed' | 'confirmed' | 'accepted' | 'terminated';

export interface ClientTransaction {
  /** Our top Via branch (z9hG4bK...). */
  readonly branch: string;
  /** The request as sent: the caller's request with our Via on top. */
  readonly request: SipRequest;
  readonly destination: Endpoint;
  readonly state: ClientState;
}

export interface ServerTransaction {
  /** The request that created the transaction, top Via already stamped with received/rport by the transport. */
  readonly request: SipRequest;
  /** Where it came from; for TCP the connection responses go back over. */
  readonly source: Endpoint;
  readonly state: ServerState;
  /** Top Via branch of the request (undefined for an RFC 2543 request without one). */
  readonly branch: string | undefined;
  /**
   * Sends a response within the transaction (17.2.1, 17.2.2). Responses the
   * state machine no longer allows (e.g. a second final) are dropped.
   */
  respond(response: SipResponse): void;
  /** Set by the TU to learn that an INVITE final response was never ACKed (Timer H, 17.2.1). */
  onTimeout?: () => void;
  /** Set by the TU to learn that a response could not be sent (17.2.4). */
  onTransportError?: (error: Error) => void;
}

export interface TransactionStats {
  /** Live client transactions. */
  readonly clientTransactions: number;
  /** Live server transactions. */
  readonly serverTransactions: number;
  /** Requests, responses and ACKs sent again by a timer or to answer a retransmission (since construction). */
  readonly retransmissionsSent: number;
  /** Timers B, F, C and H that fired (since construction). */
  readonly timeouts: number;
  /** Requests answered 503 because the transaction table was full (since construction). */
  readonly rejectedFull: number;
  /** New requests admission control refused with a stateless 503 (since construction). */
  readonly refusedByAdmission: number;
  /** New requests admission control dropped unanswered (since construction). */
  readonly droppedByAdmission: number;
}
