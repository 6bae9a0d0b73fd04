/** A SIP socket with a transaction layer on 127.0.0.1 (UDP), as KadsipNode.start has before the overlay core exists. */
import { openSipStack } from '../../src/sip/stack.js';
import type { TransactionLayer } from '../../src/sip/transaction/index.js';
import type { SipTransport } from '../../src/sip/transport/index.js';

/** Opens one; `cleanup` gets its close. */
export async function sipEndpoint(cleanup: Array<() => Promise<void> | void>): Promise<{ transport: SipTransport; transactions: TransactionLayer; port: number }> {
  const stack = await openSipStack({ host: '127.0.0.1', port: 0, protocols: ['udp'] });
  cleanup.push(() => stack.close());
  return { transport: stack.transport, transactions: stack.transactions, port: stack.local('udp').port };
}
