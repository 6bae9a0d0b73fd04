/**
 * The lookup client of `npm run bench:testbed` (bench/testbed.ts), run inside one testbed host:
 *   node --import tsx bench/testbed-client.ts --bind IP --via IP:PORT[,IP:PORT...] --k K
 *     [--publish AOR,...] [--lookups N --keys AOR,... --seed S --mode fresh|warm] [--pings P]
 * One P2PSIP client (role=client, as `kadsip lookup` is: src/node/lookup-client.ts) on one UDP
 * socket bound to IP, attached through the first --via node. It then
 *  - PINGs every --via node P times (the RPC round trip between this host and each node),
 *  - publishes each --publish AoR (value sip:user@IP, 10 min), or
 *  - runs N FIND_VALUE lookups of AoRs drawn from --keys, one after the other (a bounded loop):
 *    `fresh` (default) each from a new client table that knows one --via node drawn at random, as
 *    a `kadsip lookup --via NODE` starts; `warm` all from the one client, whose table the pings
 *    filled (on 12 nodes it knows every node, and every lookup takes one round).
 * One JSON line per measurement on stdout: {"rtt":ADDR,"ms":X} | {"published":AOR,"storedAt":N}
 * | {"lookup":AOR,"found":B,"rounds":R,"rpcs":N,"stalls":S,"failures":F,"ms":X}.
 */
import { hostPort } from '../src/common/host-port.js';
import { openSipStack } from '../src/sip/stack.js';
import { randomInt } from 'node:crypto';
import { parseArgs } from 'node:util';
import { SILENT_LOGGER } from '../src/common/logger.js';
import { realClock } from '../src/common/real-clock.js';
import { OverlayOverSip } from '../src/p2psip/overlay-over-sip.js';
import { firstContactPing } from '../src/p2psip/first-contact.js';
import { OverlayNode } from '../src/overlay/node.js';
import { peerIdFromAddress, resourceId } from '../src/overlay/peer-id.js';
import { SeededRandom } from '../src/overlay/random.js';

const { values } = parseArgs({
  options: {
    bind: { type: 'string' },
    via: { type: 'string' },
    k: { type: 'string', default: '20' },
    publish: { type: 'string', default: '' },
    lookups: { type: 'string', default: '0' },
    keys: { type: 'string', default: '' },
    seed: { type: 'string', default: '1' },
    pings: { type: 'string', default: '0' },
    mode: { type: 'string', default: 'fresh' },
  },
});

const out = (o: object): void => void process.stdout.write(JSON.stringify(o) + '\n');
const nodes = (values.via ?? '').split(',').filter(Boolean);
if (!values.bind || nodes.length === 0) {
  process.stderr.write('testbed-client: --bind and --via are required\n');
  process.exit(2);
}

const stack = await openSipStack({ host: values.bind, port: 0 });
const { transport, transactions } = stack;
const local = stack.local('udp');
const answer = await firstContactPing({ transactions, local: { host: local.host, port: local.port }, to: nodes[0]!, candidatesWanted: 0, timeoutMs: 4000 });
if (!answer?.peer || answer.status !== 200) {
  process.stderr.write(`testbed-client: ${nodes[0]} did not answer the first contact\n`);
  process.exit(1);
}
const self = { id: peerIdFromAddress(local.host, local.port), address: hostPort(local.host, local.port) };
const overlay = answer.peer.overlay;
const newCore = (): OverlayNode =>
  new OverlayNode({
    self,
    transport: new OverlayOverSip({ transactions, overlay, self, protocol: 'udp', log: SILENT_LOGGER }),
    clock: realClock,
    random: new SeededRandom(randomInt(2 ** 32)),
    config: { role: 'client', k: Number(values.k) },
  });
const core = newCore();
await new Promise<void>((resolve, reject) => core.join([{ address: nodes[0]!, id: answer.peer!.peer.id }], (e) => (e ? reject(e) : resolve())));

// The round trip to every node, as the overlay's own PING RPC sees it (these also fill the table).
for (let i = 0; i < Number(values.pings); i++) {
  for (const address of nodes) {
    const started = performance.now();
    const answerer = await new Promise((resolve) => core.ping({ address }, resolve));
    if (answerer) out({ rtt: address, ms: performance.now() - started });
  }
}

for (const aor of values.publish.split(',').filter(Boolean)) {
  const r = await new Promise<{ storedAt: number }>((resolve) => core.publish(resourceId(aor), [{ value: aor.replace('@', '-at-') + `@${local.host}`, ttlMs: 600_000 }], resolve));
  out({ published: aor, storedAt: r.storedAt });
}

const keys = values.keys.split(',').filter(Boolean);
const random = new SeededRandom(Number(values.seed));
for (let i = 0; i < Number(values.lookups) && keys.length > 0; i++) {
  const aor = keys[Math.floor(random.next() * keys.length)]!;
  // fresh: as `kadsip lookup --via NODE` does, a new client that knows one node (drawn at random)
  // and nothing else; warm: the one client whose table the pings and earlier lookups filled.
  let asker = core;
  if (values.mode === 'fresh') {
    asker = newCore();
    const entry = nodes[Math.floor(random.next() * nodes.length)]!;
    await new Promise((resolve) => asker.ping({ address: entry }, resolve));
  }
  const started = performance.now();
  const result = await new Promise<{ bindings: unknown[]; rounds: number; rpcs: number; stalls: number; failures: number }>((resolve) => asker.findValue(resourceId(aor), resolve));
  out({ lookup: aor, found: result.bindings.length > 0, rounds: result.rounds, rpcs: result.rpcs, stalls: result.stalls, failures: result.failures, ms: performance.now() - started });
  if (asker !== core) asker.stop();
}

core.stop();
transactions.close();
await transport.close();
