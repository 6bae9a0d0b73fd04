/**
 * Start-up NAT detection (draft-jiang section 4.1; PROTOCOL.md sections 1 and 5). Before a node
 * builds its overlay core it must know the address others reach it at, since its Peer-ID hashes
 * that address:
 *  1. PING each bootstrap as a client (OPTIONS, role=client, DHT-Candidates-Wanted) on the SIP
 *     socket, and read the STUN servers it names: `stun=` in its DHT-PeerID and its DHT-Candidate
 *     set. A NATed node's Peer-ID cannot match yet, so the bootstrap may answer 493; that answer
 *     still carries the bootstrap's DHT-PeerID, and so its `stun=`.
 *  2. STUN Binding from the SIP socket itself (so the mapped port is the SIP port's mapping) to the
 *     candidates in turn, until one answers.
 *  3. `detectNat(mapped, local)`.
 *  4. Whether the NAT maps endpoint-independently (RFC 4787 section 4.1): the mappings seen by two
 *     different destinations are compared: a second STUN server when one answers, and the SIP
 *     answer of each bootstrap (`received`/`rport` of our Via, RFC 3581), which saw the PING come
 *     from the SIP socket too. Two destinations naming different mappings: address(-and-port)-
 *     dependent mapping, a "symmetric" NAT, through which no peer can reach this node at the
 *     address a third one saw (the node then runs as a client, PROTOCOL.md section 10). One
 *     destination only: unknown (the caller assumes endpoint-independent and says so).
 * Every step is bounded; the caller carries on with its local address when nothing answers.
 */
import type { Socket } from 'node:dgram';
import type { NetworkInterfaceInfo } from 'node:os';
import { splitAddress } from '../dsip/index.js';
import { DEFAULT_CANDIDATES_WANTED } from '../overlay/candidates.js';
import { detectNat, stunBinding, type NatDetection, type StunEndpoint } from '../nat/stun/index.js';
import type { TransactionLayer } from '../sip/transaction/index.js';
import { firstContactPing, type FirstContactOptions } from '../p2psip/first-contact.js';

export interface NatProbeOptions {
  transactions: TransactionLayer;
  /** The SIP UDP socket (SipTransport.udpSocket()). */
  socket: Socket;
  /** The address the socket is bound to. */
  local: StunEndpoint;
  overlay: string;
  /** Bootstraps, IP:PORT. */
  bootstraps: readonly string[];
  /** Bound on the PING round (all bootstraps at once). Default 2000 ms. */
  pingTimeoutMs?: number;
  /** Bound on each STUN Binding. Default 1500 ms. */
  stunTimeoutMs?: number;
  /** STUN servers tried at most. Default 3. */
  maxStunTries?: number;
  /** For tests: the interface list detectNat compares with. */
  interfaces?: NodeJS.Dict<NetworkInterfaceInfo[]>;
  /** The overlay's trust on the PING (PROTOCOL.md 11.2, 11.3): a closed overlay's proof, a secret's Peer-ID scheme. */
  firstContact?: Pick<FirstContactOptions, 'peerIds' | 'decorate'>;
}

/** One destination's view of the SIP socket: what it saw as our address. */
export interface NatObservation {
  /** The STUN server or the bootstrap (SIP) that answered, IP:PORT. */
  server: string;
  via: 'stun' | 'sip';
  mapped: { host: string; port: number };
}

export type MappingBehaviour = 'independent' | 'dependent' | 'unknown';

export type NatProbeOutcome =
  | {
      kind: 'detected';
      detection: NatDetection;
      server: string;
      candidates: string[];
      /** Step 4's verdict, from `observations` (at least two different servers for a verdict). */
      mapping: MappingBehaviour;
      observations: NatObservation[];
    }
  /** No bootstrap named a STUN server. */
  | { kind: 'no-candidate'; answered: number }
  /** Candidates were named but none answered STUN. */
  | { kind: 'no-answer'; candidates: string[]; failed: string[] };

/** Runs steps 1-3 above. Never throws. */
export async function probeNat(options: NatProbeOptions): Promise<NatProbeOutcome> {
  const asked = await Promise.all(options.bootstraps.map((b) => pingForCandidates(options, b)));
  const candidates = [...new Set(asked.flatMap((a) => a.stun))];
  const answered = asked.filter((a) => a.answered).length;
  if (candidates.length === 0) return { kind: 'no-candidate', answered };
  const failed: string[] = [];
  const observations: NatObservation[] = [];
  let first: { detection: NatDetection; server: string } | undefined;
  // Two STUN answers at most: the first decides the reflexive address, the second is step 4's.
  for (const server of candidates.slice(0, options.maxStunTries ?? 3)) {
    if (observations.length >= 2) break;
    const endpoint = splitAddress(server);
    if (!endpoint) continue;
    try {
      // A one-off check, not a client that stays: sent as a load query, so the server does not count
      // it in the load figure it advertises (the node's re-checks later are uses, and counted).
      const result = await stunBinding(endpoint, { socket: options.socket, timeoutMs: options.stunTimeoutMs ?? 1500, rto: 250, queryLoad: true });
      const mapped = { host: result.mapped.host, port: result.mapped.port };
      observations.push({ server, via: 'stun', mapped });
      first ??= { detection: detectNat(mapped, options.local, options.interfaces), server };
    } catch {
      failed.push(server);
    }
  }
  if (!first) return { kind: 'no-answer', candidates, failed };
  for (const a of asked) if (a.reflexive) observations.push({ server: a.bootstrap, via: 'sip', mapped: a.reflexive });
  return { kind: 'detected', ...first, candidates, mapping: mappingBehaviour(observations), observations };
}

/** Step 4: different mappings for different destinations, the same for all, or too few to tell. */
export function mappingBehaviour(observations: readonly NatObservation[]): MappingBehaviour {
  const servers = new Set(observations.map((o) => o.server));
  if (servers.size < 2) return 'unknown';
  const mappings = new Set(observations.map((o) => `${o.mapped.host}|${o.mapped.port}`));
  return mappings.size > 1 ? 'dependent' : 'independent';
}

/**
 * One client PING (src/p2psip/first-contact.ts); resolves with the STUN servers the answer names (its
 * own `stun=` first: the bootstrap is a server just reached, then its candidate set), whatever the
 * status.
 */
async function pingForCandidates(options: NatProbeOptions, bootstrap: string): Promise<{ bootstrap: string; answered: boolean; stun: string[]; reflexive?: { host: string; port: number } }> {
  const answer = await firstContactPing({
    transactions: options.transactions,
    local: options.local,
    to: bootstrap,
    candidatesWanted: DEFAULT_CANDIDATES_WANTED,
    timeoutMs: options.pingTimeoutMs ?? 2000,
    ...options.firstContact,
  });
  if (!answer) return { bootstrap, answered: false, stun: [] };
  const stun = answer.peer?.stun !== undefined ? [answer.peer.stun] : [];
  for (const c of answer.candidates) stun.push(c.stun);
  return { bootstrap, answered: true, stun, ...(answer.reflexive ? { reflexive: answer.reflexive } : {}) };
}
