/**
 * What the P2PSIP layer asks of the overlay (PROTOCOL.md sections 3-4): find the values stored
 * under a key, publish and withdraw this node's own values, and whether the node is in the overlay.
 * Nothing more: the layer never sees routing tables or record stores, so it runs over any overlay
 * that can do these (the node adapts its Kademlia core in src/node/overlay-port.ts; tests use a fake).
 */
import type { NodeId } from '../overlay/id.js';

/** A value this node stores under a key, for a lifetime (the overlay renews it until withdrawn). */
export interface OverlayRecord {
  readonly value: string;
  readonly ttlMs: number;
  /** Its proof in a closed or secret overlay (PROTOCOL.md 11.4), signed once and republished as is. */
  readonly proof?: string;
}

/** What a FIND_VALUE found. */
export interface FoundValues {
  /** The values stored under the key; empty when no peer holds any. */
  readonly values: readonly string[];
  /**
   * Whether any peer answered the lookup. False with no values: the overlay is out of reach (or
   * this node is alone in it), which is not the same as "nobody registered this".
   */
  readonly peersAnswered: boolean;
}

export interface OverlayPort {
  /** Iterative FIND_VALUE for `key`; `done` is called once. */
  findValue(key: NodeId, done: (found: FoundValues) => void): void;
  /** Stores `records` under `key` at the peers responsible for it and keeps them there; `done` with how many peers confirmed. */
  publish(key: NodeId, records: readonly OverlayRecord[], done: (storedAt: number) => void): void;
  /**
   * Withdraws `values` from `key` (REMOVE at the peers responsible) and stops renewing them;
   * `removalProofs` (value -> proof) where the overlay wants them (PROTOCOL.md 11.4).
   */
  unpublish(key: NodeId, values: readonly string[], done: (removedAt: number) => void, removalProofs?: ReadonlyMap<string, string>): void;
  /** Whether the node has joined the overlay (and not left it). */
  isJoined(): boolean;
  /** Whether the node knows any other peer right now. */
  hasPeers(): boolean;
}
