/**
 * The node's Kademlia core as the P2PSIP layer's overlay port (src/p2psip/overlay-port.ts). Read
 * through `current` on every call: the node swaps its core when it rejoins under a new address
 * (PROTOCOL.md section 10), and what the layer holds keeps working.
 */
import type { OverlayNode } from '../overlay/node.js';
import type { OverlayPort } from '../p2psip/overlay-port.js';

export function overlayPortOf(current: () => OverlayNode): OverlayPort {
  return {
    findValue: (key, done) =>
      current().findValue(key, (result) => done({ values: result.bindings.map((b) => b.value), peersAnswered: result.closest.length > 0 })),
    publish: (key, records, done) => current().publish(key, records, (result) => done(result.storedAt)),
    unpublish: (key, values, done, removalProofs) => current().unpublish(key, values, done, removalProofs),
    isJoined: () => current().state === 'joined',
    hasPeers: () => current().view().contacts > 0,
  };
}
