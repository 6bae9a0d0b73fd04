/**
 * A SIP transport plus transaction layer on 127.0.0.1 (UDP and TCP, ephemeral port) with the real
 * clock, for end-to-end tests; `cleanup` collects what afterEach must close.
 */
import { realClock } from '../../src/common/real-clock.js';
import { TransactionLayer } from '../../src/sip/transaction/index.js';
import { SipTransport } from '../../src/sip/transport/index.js';

export async function loopbackSipEndpoint(cleanup: Array<() => Promise<void> | void>): Promise<{ transport: SipTransport; layer: TransactionLayer }> {
  const transport = await SipTransport.listen({ host: '127.0.0.1', port: 0, protocols: ['udp', 'tcp'] });
  const layer = new TransactionLayer({ send: transport.send, local: transport.local, clock: realClock });
  transport.onMessage(layer.receive);
  cleanup.push(() => transport.close(), () => layer.close());
  return { transport, layer };
}
