/**
 * A one-shot P2PSIP client (role=client: peers serve it but never keep it in their routing
 * tables) that asks the overlay through one node: it pings the node to learn its ID, then runs an
 * iterative FIND_VALUE or FIND_NODE from there. `kadsip lookup` and the live tests use it.
 */
import { randomInt } from 'node:crypto';
import { pino } from 'pino';
import { realClock } from '../common/real-clock.js';
import type { Contact } from '../overlay/contact.js';
import { peerIdFromAddress } from '../overlay/peer-id.js';
import type { NodeId } from '../overlay/id.js';
import type { LookupResult } from '../overlay/lookup.js';
import { OverlayNode } from '../overlay/node.js';
import { SeededRandom } from '../overlay/random.js';
import { TransactionLayer } from '../sip/transaction/index.js';
import { SipTransport } from '../sip/transport/index.js';
import type { HostPort } from './config.js';
import { OverlayOverSip } from './overlay-over-sip.js';

export type LookupOutcome =
  | { kind: 'answered'; via: Contact; result: LookupResult }
  | { kind: 'via-silent' }
  | { kind: 'timeout' };

export async function lookupThrough(
  via: HostPort,
  target: { kind: 'value' | 'node'; key: NodeId },
  options: { overlay: string; timeoutMs: number },
): Promise<LookupOutcome> {
  const v6 = via.host.includes(':');
  const bindHost = via.host.startsWith('127.') ? '127.0.0.1' : v6 ? '::' : '0.0.0.0';
  const transport = await SipTransport.listen({ host: bindHost, port: 0, protocols: ['udp'] });
  const transactions = new TransactionLayer({ send: transport.send, local: transport.local, clock: realClock });
  transport.onMessage(transactions.receive);
  const local = transport.local('udp');
  const self = { id: peerIdFromAddress(local.host, local.port), address: `${local.host}:${local.port}` };
  const node = new OverlayNode({
    self,
    transport: new OverlayOverSip({ transactions, overlay: options.overlay, self, protocol: 'udp', log: pino({ level: 'silent' }) }),
    clock: realClock,
    random: new SeededRandom(randomInt(2 ** 32)),
    config: { role: 'client' },
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<LookupOutcome>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'timeout' }), options.timeoutMs);
    });
    const run = (async (): Promise<LookupOutcome> => {
      const address = v6 ? `[${via.host}]:${via.port}` : `${via.host}:${via.port}`;
      const answerer = await new Promise<Contact | null>((resolve) => node.ping({ address }, resolve));
      if (!answerer) return { kind: 'via-silent' };
      const result = await new Promise<LookupResult>((resolve) =>
        target.kind === 'value' ? node.findValue(target.key, resolve) : node.findNode(target.key, resolve),
      );
      return { kind: 'answered', via: answerer, result };
    })();
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
    node.stop();
    transactions.close();
    await transport.close();
  }
}
