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
  return addressPrefix(ip) | BigInt(port);
}

/**
 * Every PeerURI a node reads is checked against its address, so the same few thousand IPs are
 * hashed over and over: their top 144 bits are memoised. Bounded: the memo starts afresh when full,
 * so hostile traffic with ever new addresses costs a hash each, as without it, and no more memory.
 */
const PREFIX_MEMO_MAX = 4096;
const prefixMemo = new Map<string, NodeId>();

function addressPrefix(ip: string): NodeId {
  let prefix = prefixMemo.get(ip);
  if (prefix === undefined) {
    if (prefixMemo.size >= PREFIX_MEMO_MAX) prefixMemo.clear();
    prefix = sha1Id(ip) & ~LOW_16;
    prefixMemo.set(ip, prefix);
  }
  return prefix;
}

/**
 * Resource-ID: SHA-1 of the canonical AoR (`sip:user@host`, made canonical by the SIP layer);
 * replica r hashes `sip:user@host;replica=r`.
 */
export function resourceId(canonicalAor: string, replica?: number): NodeId {
  return sha1Id(replica === undefined ? canonicalAor : `${canonicalAor};replica=${replica}`);
}
