/**
 * A one-shot P2PSIP client (role=client: peers serve it but never keep it in their routing
 * tables) that asks the overlay through one node. A user may know only the node's address:
 *  1. It binds the address this host would send from towards the node (never a wildcard: the
 *     DHT-PeerID it writes names its own address, which the node checks; 400 otherwise).
 *  2. First contact (src/p2psip/first-contact.ts): a PING with `overlay=*`, as PROTOCOL.md section 2
 *     allows on first contact; the answer names the node's overlay (and its candidates).
 *  3. An iterative FIND_VALUE or FIND_NODE from there, in that overlay.
 * `kadsip lookup`, `kadsip candidates --via` and the live tests use it. In a closed overlay the
 * client proves itself with a certificate of the CA like any peer (PROTOCOL.md 11.2), and believes
 * only answers from peers that proved themselves; in a secret overlay its Peer-ID is made under
 * the secret (11.3).
 */
import { openSipStack, type SipStack } from '../sip/stack.js';
import { hostPort } from '../common/host-port.js';
import { randomInt } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { SILENT_LOGGER } from '../common/logger.js';
import { realClock } from '../common/real-clock.js';
import type { Contact } from '../overlay/contact.js';
import { peerIdFromAddress } from '../overlay/peer-id.js';
import type { NodeId } from '../overlay/id.js';
import type { LookupResult } from '../overlay/lookup.js';
import type { Candidate } from '../overlay/messages.js';
import { OverlayNode } from '../overlay/node.js';
import { SeededRandom } from '../overlay/random.js';
import type { HostPort } from './config.js';
import { firstContactPing, type FirstContactAnswer } from '../p2psip/first-contact.js';
import { OverlayOverSip } from '../p2psip/overlay-over-sip.js';
import { clientMode, firstContactTrust, linkTrust, type ClientTrust, type TrustMode } from './trust-mode.js';

export type { ClientTrust } from './trust-mode.js';

/** The overlay a first-contact proof names: the client knows it before the answer only from the user or the CA. */
function expectedOverlay(mode: TrustMode, given: string | undefined): string {
  return given ?? (mode.mode === 'closed' ? mode.material.anchor.overlay : undefined) ?? 'kadsip';
}

export type LookupOutcome =
  | { kind: 'answered'; via: Contact; overlay: string; result: LookupResult }
  | { kind: 'via-silent' }
  /** The node answered the first contact with an error (its status and reason). */
  | { kind: 'via-refused'; status: number; reason: string }
  /** The node belongs to another overlay than the one the user named. */
  | { kind: 'wrong-overlay'; overlay: string }
  | { kind: 'timeout' };

export type CandidatesOutcome =
  | { kind: 'answered'; overlay: string; candidates: Candidate[] }
  | { kind: 'via-silent' }
  | { kind: 'via-refused'; status: number; reason: string };

/** `via` as the address text peers use: IP:PORT, [IPv6]:PORT. */
function addressOf(via: HostPort): string {
  return hostPort(via.host, via.port);
}

/**
 * The local address this host sends from towards `to` (the routing table's choice, read off a
 * connected UDP socket; no packet is sent).
 */
export function sourceAddressTowards(to: HostPort): Promise<string> {
  const socket = createSocket(to.host.includes(':') ? 'udp6' : 'udp4');
  return new Promise<string>((resolve, reject) => {
    socket.once('error', reject);
    socket.connect(to.port, to.host, () => resolve(socket.address().address));
  }).finally(() => socket.close());
}

/** A client transport bound to the address facing `via`, with its transaction layer. */
async function clientTransport(via: HostPort): Promise<Omit<SipStack, 'local'> & { local: { host: string; port: number } }> {
  const stack = await openSipStack({ host: await sourceAddressTowards(via), port: 0 });
  return { ...stack, local: stack.local('udp') };
}

/** An answered first contact as the candidates it offers: the node's own service first, then its set. */
function offered(answer: FirstContactAnswer): Candidate[] {
  const own: Candidate[] = answer.peer?.stun
    ? [{ stun: answer.peer.stun, ...(answer.peer.turn ? { turn: answer.peer.turn } : {}), role: 'peer', priority: 1, ...(answer.peer.load !== undefined ? { load: answer.peer.load } : {}) }]
    : [];
  return [...own, ...answer.candidates.filter((c) => !own.some((o) => o.stun === c.stun))];
}

/** The STUN/TURN candidates a node offers an asker (draft-jiang: DHT-Candidates-Wanted on a PING). */
export async function candidatesThrough(via: HostPort, options: { wanted: number; timeoutMs: number; trust?: ClientTrust }): Promise<CandidatesOutcome> {
  const client = await clientTransport(via);
  try {
    const mode = clientMode(options.trust);
    const answer = await firstContactPing({ transactions: client.transactions, local: client.local, to: addressOf(via), candidatesWanted: options.wanted, timeoutMs: options.timeoutMs, ...firstContactTrust(mode, client.local, expectedOverlay(mode, undefined)) });
    if (!answer || !answer.peer) return { kind: 'via-silent' };
    if (answer.status !== 200) return { kind: 'via-refused', status: answer.status, reason: answer.reason };
    return { kind: 'answered', overlay: answer.peer.overlay, candidates: offered(answer) };
  } finally {
    await client.close();
  }
}

export async function lookupThrough(
  via: HostPort,
  target: { kind: 'value' | 'node'; key: NodeId },
  options: { overlay?: string; timeoutMs: number; trust?: ClientTrust },
): Promise<LookupOutcome> {
  const client = await clientTransport(via);
  let node: OverlayNode | undefined;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<LookupOutcome>((resolve) => {
      timer = setTimeout(() => resolve({ kind: 'timeout' }), options.timeoutMs);
    });
    const run = (async (): Promise<LookupOutcome> => {
      const address = addressOf(via);
      const mode = clientMode(options.trust);
      const answer = await firstContactPing({ transactions: client.transactions, local: client.local, to: address, candidatesWanted: 0, timeoutMs: Math.min(options.timeoutMs, 4000), ...firstContactTrust(mode, client.local, expectedOverlay(mode, options.overlay)) });
      if (!answer || !answer.peer) return { kind: 'via-silent' };
      if (answer.status !== 200) return { kind: 'via-refused', status: answer.status, reason: answer.reason };
      const overlay = answer.peer.overlay;
      if (options.overlay !== undefined && options.overlay !== overlay) return { kind: 'wrong-overlay', overlay };
      const idOf = mode.mode === 'secret' ? mode.peerIds.idOf : peerIdFromAddress;
      const self = { id: idOf(client.local.host, client.local.port), address: addressOf(client.local) };
      const core = new OverlayNode({
        self,
        transport: new OverlayOverSip({ transactions: client.transactions, overlay, self, protocol: 'udp', log: SILENT_LOGGER, ...linkTrust(mode, self, overlay, SILENT_LOGGER) }),
        clock: realClock,
        random: new SeededRandom(randomInt(2 ** 32)),
        config: { role: 'client' },
      });
      node = core;
      // Into the client's table under the node's own ID (a named PING), so the lookup starts there.
      const answerer = await new Promise<Contact | null>((resolve) => core.ping({ address, id: answer.peer!.peer.id }, resolve));
      if (!answerer) return { kind: 'via-silent' };
      const result = await new Promise<LookupResult>((resolve) =>
        target.kind === 'value' ? core.findValue(target.key, resolve) : core.findNode(target.key, resolve),
      );
      return { kind: 'answered', via: answerer, overlay, result };
    })();
    return await Promise.race([run, timeout]);
  } finally {
    clearTimeout(timer);
    node?.stop();
    await client.close();
  }
}
