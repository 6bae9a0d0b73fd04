/**
 * The overlay record of a registered AoR (PROTOCOL.md section 4): the node a phone registered at
 * stores `AoR -> sip:user@IP:PORT` under the AoR's resource ID, naming itself; a node locating the
 * AoR reads the peer's address off it and sends the request there, Request-URI unchanged. The one
 * place that writes and reads that value.
 */
import { hostPort } from '../common/host-port.js';
import { splitAddress } from '../dsip/index.js';
import { parseUri, percentDecode } from '../sip/message/index.js';

/** What a record says: the AoR's user, and the peer that serves it. */
export interface AorRecord {
  /** The AoR's user part, unescaped; '' for an AoR without one. */
  readonly user: string;
  /** The peer's IP (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
}

/** RFC 3261 section 19.1.1: the default port of a sip: URI, for a record written without one. */
const SIP_DEFAULT_PORT = 5060;

/** `sip:user@IP:PORT` (`[v6]` for an IPv6 address), the user escaped as RFC 3261's `user` rule requires. */
export function formatAorRecord(record: AorRecord): string {
  const at = hostPort(record.host, record.port);
  return record.user === '' ? `sip:${at}` : `sip:${escapeUser(record.user)}@${at}`;
}

/** The record a node at `address` (IP:PORT) writes for `aor` (a canonical AoR, `sip:user@domain`). */
export function aorRecordValue(aor: string, address: { host: string; port: number }): string {
  return formatAorRecord({ user: userOf(aor), host: address.host, port: address.port });
}

/**
 * Reads a record back; null for anything that is not a sip: URI naming a peer by IP address and
 * port (a record written by some other software, or garbage): a bad record is skipped, never fatal.
 */
export function parseAorRecord(value: string): AorRecord | null {
  try {
    const uri = parseUri(value);
    if (!uri.ok || uri.value.kind !== 'sip') return null;
    const peer = splitAddress(hostPort(uri.value.host, uri.value.port ?? SIP_DEFAULT_PORT));
    if (!peer) return null;
    return { user: uri.value.user === null ? '' : percentDecode(uri.value.user), host: peer.host, port: peer.port };
  } catch {
    return null;
  }
}

/** The user part of a canonical AoR, `sip:user@domain`, as the AoR writes it. */
function userOf(aor: string): string {
  const colon = aor.indexOf(':');
  const at = aor.lastIndexOf('@');
  return at > colon ? aor.slice(colon + 1, at) : '';
}

/** Percent-encodes what RFC 3261's `user` rule does not allow (UTF-8 bytes of each code point), so the record is a valid URI. */
function escapeUser(user: string): string {
  return user.replace(/[^A-Za-z0-9\-_.!~*'()&=+$,;?/]/gu, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''),
  );
}
