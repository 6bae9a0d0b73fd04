import type { NodeId } from './id.js';

/**
 * A peer as the overlay knows it: its ID and an opaque transport address ("IP:PORT" for the SIP
 * transport). Contacts are immutable, so one object can be shared by every table that holds it.
 */
export interface Contact {
  readonly id: NodeId;
  readonly address: string;
  /** Where this peer serves STUN, when it is willing to (DHT-PeerID `stun=`, draft-jiang). */
  readonly stun?: string;
  /** Where this peer (or a TURN server beside it) relays, when willing (DHT-PeerID `turn=`). */
  readonly turn?: string;
  /**
   * The STUN/TURN load figure it advertised last (DHT-PeerID `load=`; src/common/load.ts): distinct
   * clients its service answered in the last 5 minutes. Only as fresh as the last message heard.
   */
  readonly load?: number;
}

/** Where to send a request when the peer's ID is not known yet (a bootstrap address). */
export interface PeerAddress {
  readonly id?: NodeId;
  readonly address: string;
}
