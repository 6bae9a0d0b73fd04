/**
 * Peer authentication in a closed overlay (PROTOCOL.md 11.2): who may talk to this node's overlay
 * core, and proof of who answered. One PeerAuth per overlay link (its Peer-ID), over the node's
 * CertificateCache.
 *
 * - A request carries `DHT-Cert` (the sender's certificate) and `DHT-Proof` (a signature by its key
 *   over the sender's Peer-ID, the overlay, the request's Call-ID and CSeq and the time) until the
 *   receiver has accepted one, and again REPROVE_AFTER_MS later. Later requests carry neither: the
 *   receiver knows the Peer-ID, and the Peer-ID is checked against the source address (section 1).
 * - A request from an unknown peer without a proof: 428; a certificate that does not verify: 437;
 *   a proof that does not: 438; a valid certificate for another overlay or that names other
 *   addresses: 403. A refused request never reaches the core.
 * - The answer to a request that carried a proof carries the responder's certificate and proof
 *   (over the request's fields); an answer from a responder this node cannot verify is a failed RPC.
 */
import type { KeyObject } from 'node:crypto';
import type { Logger } from '../common/logger.js';
import type { Accepted, Rejection } from '../dsip/request-codec.js';
import { formatWarning } from '../dsip/headers.js';
import {
  DHT_CERT_HEADER,
  DHT_PROOF_HEADER,
  formatCert,
  formatProof,
  proofBytes,
  readCerts,
  readProof,
  type Proof,
} from '../dsip/trust-headers.js';
import type { Contact, PeerAddress } from '../overlay/contact.js';
import { idToHex, type NodeId } from '../overlay/id.js';
import type { RpcResult } from '../overlay/messages.js';
import { getCallId, getCSeq, type SipMessage, type SipRequest, type SipResponse } from '../sip/message/index.js';
import { REPROVE_AFTER_MS, type CertificateCache } from './certificate-cache.js';
import type { NodeIdentity } from './certificate.js';
import { signBytes, verifyBytes } from './keys.js';
import { setBounded } from '../common/bounded-map.js';

/** How far a proof's time may be from ours, either way (clock skew plus transit), in seconds. */
export const PROOF_WINDOW_S = 300;
/** Peers whose refusal was logged, at most (then the memory starts afresh). */
const LOGGED_MAX = 4096;
/** Peers whose acceptance of this node's proof is remembered, at most (the oldest is forgotten: it proves again). */
const PROVED_TO_MAX = 10_000;

/** What the peer authentication of one node did since start (/status, metrics); shared by its links. */
export interface PeerAuthStats {
  /** Requests refused, by status (400, 403, 428, 437, 438). */
  refused: Record<string, number>;
  /** Answers not believed (unverified responder, bad certificate or proof). */
  answersRefused: number;
  /** Proofs this node made (requests and answers). */
  proofsSent: number;
  /** Proofs of peers this node verified and accepted. */
  proofsAccepted: number;
}

export function newPeerAuthStats(): PeerAuthStats {
  return { refused: {}, answersRefused: 0, proofsSent: 0, proofsAccepted: 0 };
}

export interface PeerAuthOptions {
  cache: CertificateCache;
  /** This node's verified identity and its key. */
  own: NodeIdentity;
  key: KeyObject;
  overlay: string;
  /** This node as its DHT-PeerID names it (its Peer-ID is what it signs). */
  self: Contact;
  log: Logger;
  /** Wall clock, ms (certificates and proofs carry real times). */
  now?: () => number;
  windowS?: number;
  /** Counters to add to (a node's links share one); default: this instance's own. */
  stats?: PeerAuthStats;
}

type Failure = Extract<RpcResult, { ok: false }>;

export class PeerAuth {
  private readonly cache: CertificateCache;
  private readonly options: PeerAuthOptions;
  private readonly now: () => number;
  private readonly ownCert: string;
  /** Peers (by address) that accepted this node's proof, and when. */
  private readonly provedTo = new Map<string, number>();
  private readonly logged = new Set<string>();
  readonly stats: PeerAuthStats;

  constructor(options: PeerAuthOptions) {
    this.options = options;
    this.stats = options.stats ?? newPeerAuthStats();
    this.cache = options.cache;
    this.now = options.now ?? Date.now;
    this.ownCert = formatCert(options.own.der);
  }

  // ---------------------------------------------------------------- sending

  /**
   * Adds this node's certificate and proof to an outgoing request when the receiver may not know
   * it yet, or when this node does not know the receiver (its answer then carries its own proof).
   * `force`: the receiver asked for it (428). Returns whether the proof went in.
   */
  decorateRequest(request: SipRequest, to: PeerAddress, force: boolean): boolean {
    const now = this.now();
    const provedAt = this.provedTo.get(to.address);
    const needed =
      force ||
      provedAt === undefined ||
      now - provedAt > REPROVE_AFTER_MS ||
      to.id === undefined ||
      this.cache.peer(to.id, now) === undefined;
    if (!needed) return false;
    this.prove(request, request, 'request', now);
    return true;
  }

  /** Adds this node's certificate and proof to a request whatever it knows (a first-contact PING). */
  proveRequest(request: SipRequest): void {
    this.prove(request, request, 'request', this.now());
  }

  /** The answer to a request that carried a proof carries this node's (over the request's fields). */
  decorateResponse(request: SipRequest, response: SipResponse): void {
    if (!request.headers.has(DHT_PROOF_HEADER)) return;
    this.prove(response, request, 'response', this.now());
  }

  private prove(into: SipMessage, request: SipRequest, direction: 'request' | 'response', now: number): void {
    const fields = requestFields(request);
    if (fields === null) return;
    const timestampS = Math.floor(now / 1000);
    const bytes = proofBytes({ direction, peerId: this.options.self.id, overlay: this.options.overlay, ...fields, timestampS });
    const signature = signBytes(this.options.key, bytes);
    into.headers.append(DHT_CERT_HEADER, this.ownCert);
    into.headers.append(DHT_PROOF_HEADER, formatProof({ fingerprint: this.options.own.fingerprint, timestampS, signature }));
    this.stats.proofsSent++;
  }

  // ---------------------------------------------------------------- receiving a request

  /**
   * Whether the sender of a request the codec accepted may reach the core: null to admit it, else
   * the refusal (428, 437, 438, 403, or 400 for an unreadable DHT-Cert), logged once per peer.
   * Every certificate the request carries is verified and kept (the bindings' signers).
   */
  admitRequest(request: SipRequest, accepted: Accepted): Rejection | null {
    const now = this.now();
    const { from } = accepted.envelope;
    const refuse = (status: number, reason: string, text: string): Rejection => {
      this.stats.refused[status] = (this.stats.refused[status] ?? 0) + 1;
      this.logOnce(from.address, status, text, getCallIdSafe(request));
      return { ok: false, status, reason, headers: [['Warning', formatWarning(this.options.self.address, `peer-auth: ${text}`)]] };
    };
    const certs = readCerts(request);
    if (!certs.ok) return refuse(400, 'Invalid DHT-Cert', certs.error.message);
    const proof = readProof(request);
    if (proof !== undefined && !proof.ok) return refuse(438, 'Invalid Identity Header', proof.error.message);
    const carried: NodeIdentity[] = [];
    for (const der of certs.value) {
      const verdict = this.cache.admit(der, now);
      if (!verdict.ok) return refuse(437, 'Unsupported Certificate', `${verdict.reason}: ${verdict.detail}`);
      carried.push(verdict.identity);
    }
    if (proof === undefined) {
      const known = this.cache.peer(from.id, now);
      if (known === undefined || known.address !== from.address) {
        return refuse(428, 'Use Identity Header', `no certificate known for peer ${idToHex(from.id)} at ${from.address}: send DHT-Cert and DHT-Proof`);
      }
      return null;
    }
    const fields = requestFields(request);
    if (fields === null) return refuse(400, 'Bad Request', 'no Call-ID or CSeq to prove');
    const checked = this.checkProof(proof.value, carried, { direction: 'request', peerId: from.id, address: from.address, ...fields }, now);
    if (!checked.ok) return refuse(checked.status, checked.reason, checked.text);
    this.cache.bindPeer(from.id, from.address, checked.identity, now);
    this.stats.proofsAccepted++;
    return null;
  }

  // ---------------------------------------------------------------- receiving an answer

  /**
   * The result the core sees for an answer: unchanged when the responder is verified (by the proof
   * the answer carries, or because it proved itself before), else a failed RPC, so an unverified
   * responder never enters the routing table. `proved`: the request carried this node's proof (an
   * answer that is not a refusal means the responder accepted it).
   */
  checkResponse(request: SipRequest, response: SipResponse, to: PeerAddress, result: RpcResult, proved: boolean): RpcResult {
    if (!result.ok) return result;
    const now = this.now();
    const { from } = result;
    const fail = (text: string): Failure => {
      this.stats.answersRefused++;
      this.logOnce(from.address, response.status, `answer refused: ${text}`, getCallIdSafe(request));
      return { ok: false, reason: 'rejected', detail: `peer-auth: ${text}` };
    };
    const certs = readCerts(response);
    if (!certs.ok) return fail(certs.error.message);
    const proof = readProof(response);
    if (proof !== undefined && !proof.ok) return fail(proof.error.message);
    // The signers' certificates a FIND_VALUE answer carries are kept when valid; an invalid one is
    // skipped here (the record policy then drops the bindings it signed), unless it is the proof's.
    const carried: NodeIdentity[] = [];
    for (const der of certs.value) {
      const verdict = this.cache.admit(der, now);
      if (verdict.ok) carried.push(verdict.identity);
    }
    if (proof === undefined) {
      const known = this.cache.peer(from.id, now);
      if (known === undefined || known.address !== from.address) return fail(`responder ${from.address} is not authenticated`);
    } else {
      const fields = requestFields(request);
      if (fields === null) return fail('no Call-ID or CSeq');
      const checked = this.checkProof(proof.value, carried, { direction: 'response', peerId: from.id, address: from.address, ...fields }, now);
      if (!checked.ok) return fail(`${checked.status} ${checked.text}`);
      this.cache.bindPeer(from.id, from.address, checked.identity, now);
      this.stats.proofsAccepted++;
    }
    if (proved) {
      setBounded(this.provedTo, to.address, now, PROVED_TO_MAX);
    }
    return result;
  }

  /** The peer at this address refused this node's proof or certificate: it proves again next time. */
  forgetProof(address: string): void {
    this.provedTo.delete(address);
  }

  // ---------------------------------------------------------------- the checks

  private checkProof(
    proof: Proof,
    carried: readonly NodeIdentity[],
    subject: { direction: 'request' | 'response'; peerId: NodeId; address: string; callId: string; cseq: number; method: string },
    now: number,
  ): { ok: true; identity: NodeIdentity } | { ok: false; status: number; reason: string; text: string } {
    const identity = carried.find((c) => c.fingerprint === proof.fingerprint) ?? this.cache.byFingerprint(proof.fingerprint, now);
    if (identity === undefined) return { ok: false, status: 428, reason: 'Use Identity Header', text: `certificate ${proof.fingerprint.slice(0, 16)} of the proof is unknown: send it in DHT-Cert` };
    const overlay = this.options.overlay.toLowerCase();
    if (identity.overlay !== undefined && identity.overlay.toLowerCase() !== overlay) {
      return { ok: false, status: 403, reason: 'Forbidden', text: `certificate of ${identity.name} is for overlay ${identity.overlay}` };
    }
    if (identity.addresses.length > 0 && !identity.addresses.includes(subject.address)) {
      return { ok: false, status: 403, reason: 'Forbidden', text: `certificate of ${identity.name} does not allow address ${subject.address} (it names ${identity.addresses.join(', ')})` };
    }
    const skew = Math.abs(proof.timestampS - Math.floor(now / 1000));
    if (skew > (this.options.windowS ?? PROOF_WINDOW_S)) {
      return { ok: false, status: 438, reason: 'Invalid Identity Header', text: `proof time ${proof.timestampS} is ${skew} s off` };
    }
    const bytes = proofBytes({ ...subject, overlay: this.options.overlay, timestampS: proof.timestampS });
    if (!verifyBytes(identity.publicKey, bytes, proof.signature)) {
      return { ok: false, status: 438, reason: 'Invalid Identity Header', text: `signature of ${identity.name} does not verify over this request` };
    }
    return { ok: true, identity };
  }

  private logOnce(address: string, status: number, text: string, callId: string | undefined): void {
    const key = `${address} ${status}`;
    if (this.logged.has(key)) return;
    if (this.logged.size >= LOGGED_MAX) this.logged.clear();
    this.logged.add(key);
    // A 428 is the protocol at work (a peer we have not met, or whose proof lapsed): info. The
    // others are a peer that cannot prove what it claims: warn.
    const line = { peer: address, status, callId, reason: text };
    if (status === 428) this.options.log.info(line, 'peer asked to authenticate');
    else this.options.log.warn(line, 'peer authentication failed');
  }
}

/** Call-ID, CSeq number and method of a request; null when it lacks them (the transaction layer never passes such). */
function requestFields(request: SipRequest): { callId: string; cseq: number; method: string } | null {
  try {
    const cseq = getCSeq(request);
    return { callId: getCallId(request), cseq: cseq.seq, method: cseq.method };
  } catch {
    return null;
  }
}

function getCallIdSafe(msg: SipMessage): string | undefined {
  try {
    return getCallId(msg);
  } catch {
    return undefined;
  }
}
