/**
 * Child process of bench/wire.ts: one KadsipNode on 127.0.0.1 (free port, UDP and TCP), alone on
 * its event loop. Talks to the parent over the IPC channel only (stdout stays clean):
 *
 *   child -> parent  { type: 'ready', host, port }   once listening
 *   parent -> child  { type: 'stats', id }           -> { type: 'stats', id, stats }
 *   parent -> child  { type: 'stop' }                -> { type: 'stopped', stats }, then exit 0
 *
 * It exits by itself when the parent goes away (IPC disconnect) and after KADSIP_BENCH_LIFETIME_S
 * at the latest, so no run can leave it behind. Exiting through process.exit lets --cpu-prof write
 * its profile.
 */
import { createLogger } from '../src/node/logger.js';
import { DEFAULT_CONFIG, type NodeConfig } from '../src/node/config.js';
import { KadsipNode } from '../src/node/kadsip-node.js';
import { join } from 'node:path';

if (process.send === undefined) {
  process.stderr.write('bench/wire-node.ts runs as a child of bench/wire.ts (it needs an IPC channel)\n');
  process.exit(2);
}
const send = (message: object): Promise<void> =>
  new Promise((resolve) => {
    if (!process.connected) return resolve();
    process.send!(message, undefined, {}, () => resolve());
  });

const lifetimeS = Number(process.env.KADSIP_BENCH_LIFETIME_S ?? '300');
const logLevel = (process.env.KADSIP_BENCH_LOG_LEVEL ?? 'warn') as NodeConfig['logLevel'];
const config: NodeConfig = {
  ...DEFAULT_CONFIG,
  listen: { host: '127.0.0.1', port: 0 },
  transports: ['udp', 'tcp'],
  http: null,
  logLevel,
  shutdownGraceS: 0,
};
// A closed overlay (bench/wire.ts --trust): the CA and this node's files from the parent's folder.
const trustDir = process.env.KADSIP_BENCH_TRUST_DIR;
if (trustDir) config.trust = { caCert: join(trustDir, 'ca', 'ca-cert.pem'), cert: join(trustDir, 'node', 'node-cert.pem'), key: join(trustDir, 'node', 'node-key.pem') };
// Logs go to stderr: the parent's stdout carries only the one JSON line.
const node = await KadsipNode.start({ config, logger: createLogger(logLevel, process.stderr) });

function stats(): object {
  const t = node.transactions.stats;
  return {
    cpu: process.cpuUsage(),
    wall_ms: performance.now(),
    heap_used: process.memoryUsage().heapUsed,
    rss: process.memoryUsage().rss,
    transport: { ...node.transport.stats },
    transactions: { ...t },
    overlay: { ...node.overlay.stats, contacts: node.overlay.view().contacts, records: node.overlay.view().recordsHeld },
  };
}

let stopping = false;
async function stop(code: number): Promise<never> {
  if (!stopping) {
    stopping = true;
    const final = stats();
    await node.close();
    await send({ type: 'stopped', stats: final });
  }
  process.exit(code);
}

process.on('message', (message: { type?: string; id?: number }) => {
  if (message.type === 'stats') void send({ type: 'stats', id: message.id, stats: stats() });
  else if (message.type === 'stop') void stop(0);
});
process.on('disconnect', () => void stop(0));
process.on('SIGTERM', () => void stop(0));
process.on('SIGINT', () => void stop(0));
setTimeout(() => {
  process.stderr.write(`bench:wire node: lifetime of ${lifetimeS} s reached, exiting\n`);
  void stop(3);
}, lifetimeS * 1000).unref();

const local = node.transport.local('udp');
await send({ type: 'ready', host: local.host, port: local.port });
