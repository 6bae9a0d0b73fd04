/**
 * Peer URIs (PROTOCOL.md section 1): `<sip:peer@IP:PORT;peer-ID=HEX>`, the way dSIP names a peer
 * in To, From, Contact and DHT-PeerID. Reading also accepts the drafts' short forms (`P@` user,
 * `pID=` parameter, and `peerId=` from draft-bryan-p2psip-dsip); writing uses only the long form.
 *
 * The overlay core knows a peer as a Contact `{ id, address }` whose address is the text
 * `IP:PORT` (IPv6 as `[addr]:port`). Addresses are kept in one canonical text form because the
 * Peer-ID is a hash of that text: `010.0.0.1` and `10.0.0.1`, or `::0:1` and `::1`, must not give
 * two IDs for one peer.
 */
import { hostForWire } from '../common/host-port.js';
import type { Contact } from '../overlay/contact.js';
import { idFromHex, idToHex, type NodeId } from '../overlay/id.js';
import { peerIdFromAddress } from '../overlay/peer-id.js';
import type { PeerIdScheme } from './trust-headers.js';
import { canonicalIpv6, classifyHost } from '../sip/message/host.js';
import { parseNameAddr } from '../sip/message/headers.js';
import { fail, ok, type Result } from '../sip/message/result.js';
import { getUriParam, parseUri, percentDecode, type Uri } from '../sip/message/uri.js';

/** RFC 3261 section 19.1.2: a SIP URI without a port means 5060. */
export const DEFAULT_SIP_PORT = 5060;

/** Host of a URI that names no particular peer: "whoever holds this ID" (PROTOCOL.md section 1). */
export const ANY_HOLDER_HOST = '0.0.0.0';

/** Parameter names that carry a Peer-ID: the profile's, the short form, and draft-bryan's spelling. */
const PEER_ID_PARAMS = ['peer-id', 'pid', 'peerid'] as const;

/** A peer URI as read: host is canonical and without brackets. */
export interface PeerUri {
  readonly host: string;
  readonly port: number;
  readonly id: NodeId;
  /** Host 0.0.0.0: the URI names an ID, not a reachable peer (FIND_NODE targets). */
  readonly anyHolder: boolean;
}

/**
 * Canonical text of an IP address, without brackets: IPv4 dotted decimal without leading zeros,
 * IPv6 in the RFC 5952 form (lower case, longest zero run compressed) that the WHATWG URL
 * serialiser produces, IPv4-mapped IPv6 as the IPv4 address. Domain names and anything else give
 * null: a peer is addressed by IP.
 */
export function canonicalIp(host: string): string | null {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (bare.includes(':')) {
    const v6 = canonicalIpv6(bare);
    if (v6 === null) return null;
    // An IPv4-mapped address (what a dual-stack socket reports for an IPv4 peer) is that IPv4
    // address: the peer hashed its IPv4 address, and must get the same ID whichever socket sees it.
    const mapped = /^::ffff:([0-9a-f]{1,4}):([0-9a-f]{1,4})$/.exec(v6);
    if (mapped) {
      const hi = parseInt(mapped[1] ?? '0', 16);
      const lo = parseInt(mapped[2] ?? '0', 16);
      return [hi >> 8, hi & 0xff, lo >> 8, lo & 0xff].join('.');
    }
    return v6;
  }
  if (classifyHost(bare) !== 'ipv4') return null;
  return bare
    .split('.')
    .map((o) => String(Number(o)))
    .join('.');
}

/** The host as it appears in a URI or an address: IPv6 in brackets. */
export function hostRef(ip: string): string {
  return hostForWire(ip);
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port >= 0 && port <= 0xffff;
}

/** The overlay's address text `IP:PORT` (`[v6]:PORT`), canonical. Throws RangeError on a non-IP host or bad port. */
export function addressOf(host: string, port: number): string {
  const ip = canonicalIp(host);
  if (ip === null) throw new RangeError(`not an IP address: ${JSON.stringify(host)}`);
  if (!validPort(port)) throw new RangeError(`port out of range: ${port}`);
  return `${hostRef(ip)}:${port}`;
}

/** Splits `IP:PORT` / `[v6]:PORT` into a canonical bracket-less host and a port; null if malformed. */
export function splitAddress(address: string): { host: string; port: number } | null {
  const m = /^(\[[^\]]*\]|[^:[\]]+):([0-9]{1,5})$/.exec(address);
  if (!m) return null;
  const host = canonicalIp(m[1] ?? '');
  const port = Number(m[2]);
  if (host === null || !validPort(port)) return null;
  return { host, port };
}

/** Whether `id` is the Peer-ID (scheme `address`) of host:port (PROTOCOL.md section 1). */
export function idMatchesAddress(id: NodeId, host: string, port: number, scheme?: PeerIdScheme): boolean {
  const ip = canonicalIp(host);
  return ip !== null && validPort(port) && (scheme ? scheme.idOf(ip, port) : peerIdFromAddress(ip, port)) === id;
}

/** `<sip:peer@IP:PORT;peer-ID=HEX>` for a contact. Throws RangeError if its address is not `IP:PORT`. */
export function formatPeerUri(contact: Contact): string {
  const a = splitAddress(contact.address);
  if (a === null) throw new RangeError(`contact address is not IP:PORT: ${JSON.stringify(contact.address)}`);
  return `<sip:peer@${hostRef(a.host)}:${a.port};peer-ID=${idToHex(contact.id)}>`;
}

/** `<sip:peer@0.0.0.0;peer-ID=HEX>`: the holder of an ID, wherever it is (the To of FIND_NODE). */
export function formatAnyHolderUri(id: NodeId): string {
  return `<sip:peer@${ANY_HOLDER_HOST};peer-ID=${idToHex(id)}>`;
}

/** The Peer-ID parameter of a URI under any accepted spelling: undefined if none, null if malformed. */
export function peerIdParam(uri: Uri): NodeId | null | undefined {
  for (const name of PEER_ID_PARAMS) {
    const v = getUriParam(uri, name);
    if (v === undefined) continue;
    return v === null ? null : idFromHex(percentDecode(v));
  }
  return undefined;
}

/**
 * Reads a peer URI: a parsed URI, a bare `sip:` URI, or a name-addr `<...>` (header parameters after
 * `>` are ignored). The user part, when present, must be `peer` or `P`; the host an IP address
 * (0.0.0.0 allowed: anyHolder); the port defaults to 5060. Never throws.
 */
export function parsePeerUri(input: string | Uri): Result<PeerUri> {
  let uri: Uri;
  if (typeof input === 'string') {
    const r = input.includes('<') ? parseNameAddr(input) : parseUri(input.trim());
    if (!r.ok) return r;
    uri = 'uri' in r.value ? r.value.uri : r.value;
  } else {
    uri = input;
  }
  if (uri.kind !== 'sip') return fail('a peer URI is a sip: URI');
  if (uri.scheme.toLowerCase() !== 'sip' && uri.scheme.toLowerCase() !== 'sips') return fail('a peer URI is a sip: URI');
  if (uri.user !== null && !/^(peer|p)$/i.test(percentDecode(uri.user))) {
    return fail(`peer URI user must be "peer" or "P", not ${JSON.stringify(uri.user)}`);
  }
  const host = canonicalIp(uri.host);
  if (host === null) return fail(`peer URI host must be an IP address, not ${JSON.stringify(uri.host)}`);
  const id = peerIdParam(uri);
  if (id === undefined) return fail('peer URI has no peer-ID parameter');
  if (id === null) return fail('peer-ID is not 40 hex digits');
  return ok({ host, port: uri.port ?? DEFAULT_SIP_PORT, id, anyHolder: host === ANY_HOLDER_HOST });
}

/** The overlay Contact a peer URI names (not meaningful for anyHolder URIs). */
export function contactOf(peer: PeerUri): Contact {
  return { id: peer.id, address: `${hostRef(peer.host)}:${peer.port}` };
}
