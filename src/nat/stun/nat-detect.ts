/**
 * Is this node behind a NAT? (RFC 8489 §2: compare the server-reflexive address with the local
 * one.) Behind NAT when the mapped address is not one of the host's own interface addresses, or
 * when the mapped port differs from the local port (a NAT, or a firewall rewriting ports).
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { formatIp, parseIp, unmapIPv4 } from './address.js';
import type { StunEndpoint } from './client.js';

export interface NatDetection {
  readonly behindNat: boolean;
  /** The server-reflexive address to advertise (normalized). */
  readonly reflexive: StunEndpoint;
  /** Why `behindNat` is true: the address is foreign, or only the port differs. */
  readonly reason?: 'address' | 'port';
}

/** Canonical text of an IP literal (IPv4-mapped IPv6 unmapped, zone dropped), or the input. */
function canonical(host: string): string {
  const bytes = parseIp(unmapIPv4(host));
  return bytes === undefined ? host : formatIp(bytes);
}

const WILDCARDS = new Set(['0.0.0.0', '::']);

export function detectNat(
  mapped: StunEndpoint,
  local: StunEndpoint,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): NatDetection {
  const reflexive: StunEndpoint = { host: canonical(mapped.host), port: mapped.port };
  const own = new Set<string>();
  for (const list of Object.values(interfaces)) for (const info of list ?? []) own.add(canonical(info.address));
  // The bound address is the host's own even if the interface list misses it.
  const localHost = canonical(local.host);
  if (!WILDCARDS.has(localHost)) own.add(localHost);
  if (!own.has(reflexive.host)) return { behindNat: true, reflexive, reason: 'address' };
  if (reflexive.port !== local.port) return { behindNat: true, reflexive, reason: 'port' };
  return { behindNat: false, reflexive };
}
