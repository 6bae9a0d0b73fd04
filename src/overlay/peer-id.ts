/**
 * Identifier derivation of PROTOCOL.md section 1. Addresses are plain text here: the overlay knows
 * nothing of SIP, only that a peer is seen at an IP address and port.
 */
import { sha1Id, type NodeId } from './id.js';

const LOW_16 = 0xffffn;

/**
 * Peer-ID, scheme `address`: SHA-1 of the public IP address written as text, with the low 16 bits
 * replaced by the port. Peers that share one IP address therefore share the top 144 bits.
 */
export function peerIdFromAddress(ip: string, port: number): NodeId {
  if (!Number.isInteger(port) || port < 0 || port > 0xffff) throw new RangeError(`port out of range: ${port}`);
  return (sha1Id(ip) & ~LOW_16) | BigInt(port);
}

/**
 * Resource-ID: SHA-1 of the canonical AoR (`sip:user@host`, made canonical by the SIP layer);
 * replica r hashes `sip:user@host;replica=r`.
 */
export function resourceId(canonicalAor: string, replica?: number): NodeId {
  return sha1Id(replica === undefined ? canonicalAor : `${canonicalAor};replica=${replica}`);
}
