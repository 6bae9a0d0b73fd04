/**
 * The overlay's RPCs as plain data, tagged unions the SIP codec (src/dsip) maps to REGISTER/OPTIONS
 * and back (PROTOCOL.md section 3), and the simulator passes by reference.
 */
import type { Contact } from './contact.js';
import type { NodeId } from './id.js';

/** One value stored under a key (for SIP: a contact URI), with its remaining lifetime. */
export interface Binding {
  readonly value: string;
  /** Milliseconds left to live when sent. */
  readonly ttlMs: number;
  /**
   * Who stored it and that they may: opaque to the core, read by the node's RecordPolicy
   * (record-policy.ts). Absent in an open overlay.
   */
  readonly proof?: string;
}

export type RoutingMode = 'iterative' | 'recursive';

export type OverlayRequest =
  | { op: 'PING' }
  | { op: 'JOIN' }
  | { op: 'LEAVE' }
  | { op: 'FIND_NODE'; target: NodeId }
  | { op: 'FIND_VALUE'; key: NodeId }
  | { op: 'STORE'; key: NodeId; bindings: Binding[] }
  /**
   * `removals`: the values to remove, each with its removal proof when the overlay is closed or
   * secret (ttlMs 0: on the wire a REMOVE is a Contact with expires=0).
   */
  | { op: 'REMOVE'; key: NodeId; removals: Binding[] };

export interface RequestEnvelope {
  readonly from: Contact;
  readonly mode: RoutingMode;
  /** Hops a recursive request has taken so far (Max-Forwards in SIP). */
  readonly hops: number;
  /**
   * `client`: a P2PSIP client (or a one-shot tool like `kadsip lookup`) that uses the overlay but
   * routes and stores nothing for others, so it never enters a routing table. Default `peer`.
   */
  readonly role?: 'peer' | 'client';
  /** DHT-Candidates-Wanted: how many STUN/TURN candidates the sender asks for (draft-jiang 4-6). */
  readonly candidatesWanted?: number;
  /** Recursive mode: the candidate set gathered so far along the path. */
  readonly candidates?: Candidate[];
  readonly request: OverlayRequest;
}

/**
 * A STUN/TURN server candidate (draft-jiang section 3.3.1; DHT-Candidate in PROTOCOL.md section 5).
 * Priority: 1 routing state, 2 the answering peer itself, 3 its associated clients.
 */
export interface Candidate {
  /** STUN transport address, IP:PORT. */
  readonly stun: string;
  readonly turn?: string;
  readonly role: 'peer' | 'client';
  readonly priority: number;
  /** Its load figure as the offering peer last heard it (DHT-Candidate `load=`); absent: unknown. */
  readonly load?: number;
}

/** Candidates travel on any answer (iterative) or in the request and back (recursive). */
export type OverlayResponse = OverlayResponseBody & { candidates?: Candidate[] };

type OverlayResponseBody =
  /** PING, JOIN (with the contacts closest to the joiner), LEAVE, REMOVE, FIND_NODE hitting its target. */
  | { kind: 'ok'; contacts?: Contact[] }
  /** STORE: the bindings as stored (TTL possibly clipped). */
  | { kind: 'stored'; bindings: Binding[] }
  /** FIND_NODE / FIND_VALUE not answered here: the closest contacts known (SIP 302). */
  | { kind: 'nodes'; contacts: Contact[] }
  /** FIND_VALUE hit (SIP 200 with Contacts). */
  | { kind: 'value'; bindings: Binding[] }
  /** FIND_VALUE: the answerer is among the closest and holds nothing (SIP 404). */
  | { kind: 'not-found'; contacts?: Contact[] }
  /** Refused: `reason` names why, for the SIP layer to turn into a status code. */
  | { kind: 'error'; reason: OverlayErrorReason; detail?: string };

export type OverlayErrorReason =
  | 'bad-request'
  | 'too-many-bindings'
  | 'value-too-large'
  | 'store-full'
  | 'loop'
  | 'leaving'
  // A binding's proof refused by the storing peer's RecordPolicy (PROTOCOL.md section 11.4).
  /** No proof where the overlay needs one (or a MAC where it needs a signature, and back). */
  | 'proof-required'
  /** The signer's certificate is neither this node's nor one a peer showed it. */
  | 'unknown-signer'
  /** The signer's certificate does not chain to the overlay CA, expired or was revoked. */
  | 'bad-certificate'
  /** The signature (or MAC) does not cover this binding, or is truncated. */
  | 'bad-signature'
  /** The signer may not publish the AoR's domain, or the binding is held by another signer. */
  | 'not-authorized'
  /** A sequence number below what the storing peer holds (or below the binding's removal). */
  | 'replayed'
  /** The proof's absolute expiry has passed. */
  | 'expired'
  /** The proof is signed in the future, or claims a lifetime beyond the longest record lifetime. */
  | 'future-dated';

/** What the transport gives back for one request. */
export type RpcResult =
  | { ok: true; from: Contact; response: OverlayResponse }
  | { ok: false; reason: 'timeout' | 'unreachable' | 'rejected'; detail?: string };
