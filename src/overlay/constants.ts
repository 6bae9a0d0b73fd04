/**
 * Kademlia parameters and time units, defined once. Values follow docs/PROTOCOL.md section 3
 * (k = 20, alpha = 3, 160 buckets, hourly refresh) and the Kademlia paper (Maymounkov & Mazieres 2002).
 * All durations are milliseconds of the injected clock.
 */
export const second = 1000;
export const minute = 60 * second;
export const hour = 60 * minute;

/** Bits in an identifier (SHA-1). */
export const ID_BITS = 160;
/** Bucket size and replication factor. */
export const K = 20;
/** Parallel RPCs of one lookup. */
export const ALPHA = 3;

export interface OverlayConfig {
  /** Contacts per bucket, and how many of the closest peers store each record. */
  k: number;
  /** RPCs in flight per lookup. */
  alpha: number;
  /** How long one RPC may take before the core counts it failed (retransmissions are the transport's). */
  rpcTimeoutMs: number;
  /**
   * Lower bound of a lookup's soft timeout (ms). The soft timeout is SRTT + 4 * RTTVAR of the node's
   * answered RPCs (src/overlay/rtt.ts), within [this, rpcTimeoutMs]; a lookup query unanswered by
   * then is counted stalled and one more peer is asked beside it, while its answer may still come.
   * 0 turns soft timeouts off (a lookup waits for the hard timeout, as before).
   */
  stallFloorMs: number;
  /** A bucket with no lookup into its range for this long is refreshed with a random lookup. */
  bucketRefreshMs: number;
  /** How often the node checks for idle buckets. */
  maintenanceIntervalMs: number;
  /** A publisher re-STOREs its records this often (must be below the record TTL). */
  republishIntervalMs: number;
  /** Contacts kept per bucket to replace dead ones (bounded). */
  replacementCacheSize: number;
  /** Consecutive RPC failures after which a contact is dropped from the routing table. */
  maxFailures: number;
  /** Storage bounds (PROTOCOL.md section 6): keys held, bindings per key, bytes per value. */
  maxRecords: number;
  maxBindingsPerRecord: number;
  maxValueBytes: number;
  /** Longest TTL a peer accepts for a stored binding; longer ones are clipped. */
  maxRecordTtlMs: number;
  /** Largest number of hops a recursive (proxied) request may take. */
  maxRecursiveHops: number;
  /** Shortlist entries kept by one lookup (closest first); bounds memory against lying peers. */
  maxShortlist: number;
  /** Refresh every bucket farther than the closest neighbour after joining (Kademlia paper 2.3). */
  refreshOnJoin: boolean;
  /** `client`: uses the overlay without routing or storing for others (DHT-PeerID role=client). */
  role: 'peer' | 'client';
  /**
   * STUN/TURN candidates to ask for on JOIN, maintenance, STORE and FIND_VALUE traffic
   * (DHT-Candidates-Wanted, draft-jiang); 0: ask for none. A NATed node asks for 10.
   */
  candidatesWanted: number;
  /**
   * Disjoint paths of every lookup (S/Kademlia; PROTOCOL.md 11.5): the contacts a lookup starts from
   * are dealt among this many paths, and no peer is asked by two, so a hostile peer misleads one
   * path at most. 1: the plain Kademlia lookup.
   */
  disjointPaths: number;
}

export const DEFAULT_CONFIG: OverlayConfig = {
  k: K,
  alpha: ALPHA,
  rpcTimeoutMs: 2 * second,
  stallFloorMs: 200,
  bucketRefreshMs: hour,
  maintenanceIntervalMs: minute,
  republishIntervalMs: 20 * minute,
  replacementCacheSize: 8,
  maxFailures: 2,
  maxRecords: 100_000,
  maxBindingsPerRecord: 32,
  maxValueBytes: 1024,
  maxRecordTtlMs: 24 * hour,
  maxRecursiveHops: 20,
  maxShortlist: 3 * K,
  refreshOnJoin: true,
  role: 'peer',
  candidatesWanted: 0,
  disjointPaths: 3,
};
