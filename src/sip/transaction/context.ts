/** What every transaction state machine gets from the layer that owns it. */
import type { Clock } from '../../common/clock.js';
import type { SipMessage } from '../message/index.js';
import type { Endpoint, Logger } from '../transport/types.js';
import type { ResolvedTimers } from './types.js';

export interface TxnContext {
  readonly clock: Clock;
  readonly timers: ResolvedTimers;
  readonly log: Logger;
  send(message: SipMessage, to: Endpoint, onError?: (e: Error) => void): void;
  /** Removes a terminated transaction from the table. */
  ended(key: string, side: 'client' | 'server'): void;
  /** Hands a message no transaction consumes to the TU (ACK for 2xx). */
  stray(message: SipMessage, source: Endpoint): void;
  /** Runs a TU callback; a throw is logged, never propagated into the layer. */
  guard(what: string, fn: () => void): void;
  countRetransmission(): void;
  countTimeout(): void;
}
