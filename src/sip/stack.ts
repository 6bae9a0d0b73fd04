/**
 * Opens the SIP stack every kadsip endpoint runs on: a transport listening on one address (UDP, and
 * TCP when asked, on one port) with a transaction layer on top (RFC 3261 sections 17-18). The node,
 * the one-shot lookup client and the benchmarks all start here; what each puts on top (registrar,
 * proxy, the overlay carried in SIP) is theirs.
 */
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { realClock } from '../common/real-clock.js';
import { TransactionLayer, type TimerValues } from './transaction/index.js';
import { SipTransport, type InboundMessage, type ListenOptions, type Protocol, type TransportLimits } from './transport/index.js';

export interface SipStackOptions {
  readonly host: string;
  /** 0 for a port the system picks. */
  readonly port: number;
  /** Default UDP only. */
  readonly protocols?: readonly Protocol[];
  /** With 'tls' among the protocols: its port and certificate. */
  readonly tls?: ListenOptions['tls'];
  readonly limits?: TransportLimits;
  readonly timers?: TimerValues;
  readonly clock?: Clock;
  /** The transport's logger; the transaction layer's is `transactionLogger ?? logger`. */
  readonly logger?: Logger;
  readonly transactionLogger?: Logger;
  /**
   * Wraps the transport's send, e.g. to count the bytes that leave. Every message the transaction
   * layer sends goes through it.
   */
  readonly wrapSend?: (send: SipTransport['send']) => SipTransport['send'];
  /** Sees every inbound message just before the transaction layer does, e.g. to count the bytes that arrive. */
  readonly onInbound?: (inbound: InboundMessage) => void;
}

export interface SipStack {
  readonly transport: SipTransport;
  readonly transactions: TransactionLayer;
  /** The address bound for `protocol` (the socket's, so a wildcard listen gives the wildcard). */
  local(protocol?: Protocol): { host: string; port: number };
  /** Ends the transactions, then closes the sockets. */
  close(): Promise<void>;
}

/** Listens (rejecting with the socket's error when it cannot) and wires the transaction layer to the transport. */
export async function openSipStack(options: SipStackOptions): Promise<SipStack> {
  const transport = await SipTransport.listen({
    host: options.host,
    port: options.port,
    protocols: options.protocols ?? ['udp'],
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.limits ? { limits: options.limits } : {}),
    ...(options.logger ? { logger: options.logger } : {}),
  });
  const send = options.wrapSend ? options.wrapSend(transport.send) : transport.send;
  const transactionLogger = options.transactionLogger ?? options.logger;
  const transactions = new TransactionLayer({
    send,
    local: transport.local,
    clock: options.clock ?? realClock,
    ...(options.timers ? { timers: options.timers } : {}),
    ...(transactionLogger ? { logger: transactionLogger } : {}),
  });
  if (options.onInbound) transport.onMessage(options.onInbound);
  transport.onMessage(transactions.receive);
  return {
    transport,
    transactions,
    local(protocol: Protocol = 'udp') {
      const { host, port } = transport.local(protocol);
      return { host, port };
    },
    async close() {
      transactions.close();
      await transport.close();
    },
  };
}
