/**
 * First contact with a peer whose overlay we may not know yet (PROTOCOL.md section 2: `overlay=*`
 * only on first contact with a bootstrap peer): one client PING (OPTIONS, role=client,
 * DHT-Candidates-Wanted) and what the answer says, whatever its status: the answerer's
 * DHT-PeerID (its overlay name, Peer-ID, `stun=`/`turn=`) and the DHT-Candidate set it offered.
 * A NATed node's Peer-ID cannot match yet, so the answer may be a 493; it still carries the
 * answerer's DHT-PeerID. Start-up NAT detection and the one-shot CLI client both start here.
 */
import { hostPort } from '../common/host-port.js';
import { readCandidates } from '../dsip/candidate-header.js';
import { encodeRequest, readDhtPeerId, splitAddress, type DhtPeerId } from '../dsip/index.js';
import { MAX_CANDIDATES } from '../overlay/candidates.js';
import type { Contact } from '../overlay/contact.js';
import type { Candidate } from '../overlay/messages.js';
import { peerIdFromAddress } from '../overlay/peer-id.js';
import { getTopVia, viaReceived, viaRport, type SipRequest, type SipResponse } from '../sip/message/index.js';
import type { PeerIdScheme } from '../dsip/trust-headers.js';
import type { TransactionLayer } from '../sip/transaction/index.js';

export interface FirstContactOptions {
  transactions: TransactionLayer;
  /** The address our UDP socket is bound to (our Peer-ID as far as we know it). */
  local: { host: string; port: number };
  /** The peer, IP:PORT or [IPv6]:PORT. */
  to: string;
  /** Candidates to ask for (DHT-Candidates-Wanted); 0: none. */
  candidatesWanted: number;
  /** Bound on the whole exchange (the transaction's own Timer F is longer). */
  timeoutMs: number;
  /** How the overlay makes Peer-IDs (PROTOCOL.md 11.3: `hmac-sha1` under the overlay secret); default SHA-1. */
  peerIds?: PeerIdScheme;
  /** Adds to the PING what a closed overlay asks of a newcomer (PROTOCOL.md 11.2: certificate and proof). */
  decorate?: (request: SipRequest) => void;
}

export interface FirstContactAnswer {
  status: number;
  reason: string;
  /** The answerer's DHT-PeerID; undefined when the answer had none or an unreadable one. */
  peer?: DhtPeerId;
  candidates: Candidate[];
  /**
   * Where the answerer saw the PING come from: `received`/`rport` of our Via in its answer
   * (RFC 3581). Behind NAT, the mapping towards this peer's SIP port (src/node/nat.ts compares it
   * with STUN's to tell a symmetric NAT); undefined when the answer carries neither.
   */
  reflexive?: { host: string; port: number };
}

/** The answer, or null when the peer did not answer within the bound (or the address is no IP:PORT). */
export function firstContactPing(options: FirstContactOptions): Promise<FirstContactAnswer | null> {
  const target = splitAddress(options.to);
  if (!target) return Promise.resolve(null);
  const { local } = options;
  const address = hostPort(local.host, local.port);
  const self: Contact = { id: (options.peerIds?.idOf ?? peerIdFromAddress)(local.host, local.port), address };
  let request;
  try {
    request = encodeRequest(
      {
        from: self,
        mode: 'iterative',
        hops: 0,
        role: 'client',
        ...(options.candidatesWanted > 0 ? { candidatesWanted: options.candidatesWanted } : {}),
        request: { op: 'PING' },
      },
      { overlay: '*', self, to: { address: options.to }, firstContact: true, role: 'client', ...(options.peerIds ? { peerIds: options.peerIds } : {}) },
    );
    options.decorate?.(request);
  } catch {
    return Promise.resolve(null);
  }
  return new Promise((resolve) => {
    let settled = false;
    const settle = (value: FirstContactAnswer | null): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(value);
    };
    const timer = setTimeout(() => settle(null), options.timeoutMs);
    options.transactions.sendRequest(request, { protocol: 'udp', host: target.host, port: target.port }, {
      onResponse: (response) => {
        if (response.status < 200) return;
        const dht = readDhtPeerId(response);
        settle({
          status: response.status,
          reason: response.reason,
          ...(dht?.ok ? { peer: dht.value } : {}),
          candidates: readCandidates(response, MAX_CANDIDATES),
          ...reflexiveOf(response, local),
        });
      },
      onTimeout: () => settle(null),
      onTransportError: () => settle(null),
    });
  });
}

/** `received` (else our host) and `rport` of the answer's top Via, when it has an rport value. */
function reflexiveOf(response: SipResponse, local: { host: string; port: number }): { reflexive?: { host: string; port: number } } {
  try {
    const via = getTopVia(response);
    const rport = viaRport(via);
    if (typeof rport !== 'number') return {};
    return { reflexive: { host: viaReceived(via) ?? local.host, port: rport } };
  } catch {
    return {};
  }
}
