/**
 * A program of a kadsip user, compiled and run by test/package/packed-consumer.test.ts in a fresh
 * project that installed the packed tarball (hence .mts: the repo's own type-check, which reads
 * test/**\/*.ts, leaves it alone; here 'kadsip' is the installed package, not this repo).
 *
 * Two nodes on loopback: A starts an overlay, B joins it through A; A publishes an AoR, B locates
 * it. Prints one JSON line of what it saw for the test to check, and exits by itself once both
 * nodes stopped (a node that left a socket or timer open would keep it running).
 */
import { ConfigError, resolveConfig, startNode, type KadsipNodeHandle, type LocateResult, type NodeStatus } from 'kadsip';
import { kadsipOverlay, type KadsipOverlayOptions } from 'kadsip/drachtio';
// @ts-expect-error: internals are not part of the package's exports map (tsc fails if they become importable)
import type {} from 'kadsip/dist/node/kadsip-node.js';

const overlay = { listen: '127.0.0.1:0', transports: 'udp', domain: 'overlay.test', overlay: 'packed', shutdownGraceS: 2 };

const a: KadsipNodeHandle = await startNode(overlay);
let b: KadsipNodeHandle | undefined;
try {
  // B from a checked configuration (resolveConfig), A from the raw keys.
  b = await startNode(resolveConfig({ ...overlay, bootstrap: a.address }));
  const published = await a.publish('sip:Alice@Overlay.Test');
  const located: LocateResult = await b.locate('sip:Alice@overlay.test');
  const unknown: LocateResult = await b.locate('sip:nobody@overlay.test');
  const statusA: NodeStatus = a.status();
  const statusB: NodeStatus = b.status();
  await a.unpublish('sip:Alice@overlay.test');
  const afterUnpublish = a.status().recordsPublished;
  let badAor = '';
  await a.publish('not a uri').catch((e: unknown) => (badAor = e instanceof TypeError ? 'TypeError' : String(e)));
  let badConfig = '';
  await startNode({ listen: 'nowhere:port' }).catch((e: unknown) => (badConfig = e instanceof ConfigError ? 'ConfigError' : String(e)));
  // The drachtio-srf plugin is the package's second entry point (it needs no drachtio-srf to load).
  const pluginOptions: KadsipOverlayOptions = { listen: '127.0.0.1:0', sipAddress: '127.0.0.1:5090' };
  const plugin = `${typeof kadsipOverlay}:${pluginOptions.sipAddress}`;
  // The exports map hides internals at run time too.
  let internal = '';
  const hidden = 'kadsip/dist/node/kadsip-node.js';
  await import(hidden).catch((e: { code?: string }) => (internal = e.code ?? String(e)));
  process.stdout.write(
    JSON.stringify({ a: { address: a.address, listen: a.listen, peerId: a.peerId }, published, located, unknown, statusA, statusB, afterUnpublish, badAor, badConfig, internal, plugin }) + '\n',
  );
} finally {
  await b?.leave();
  await a.stop();
}
