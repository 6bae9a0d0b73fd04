/**
 * Which of a node's two addresses a SIP element reaches it at (RFC 5658), for the proxy's
 * Record-Route. A node behind NAT listens on a private address and is known to the overlay by its
 * reflexive (public) one. Elements on the private side (a phone behind the same NAT) must use the
 * private address: the NAT does not send packets for its own public address back inside (Linux
 * MASQUERADE does not hairpin). Everyone else must use the reflexive one.
 *
 * The private side is every network the host is directly attached to (its interfaces' subnets),
 * and, when the reflexive address is a public one, every private-use range (RFC 1918, RFC 6598,
 * loopback, link-local, ULA): such an address is not routed on the public side, so a peer that
 * sends from it, or a Contact that names it, is behind the same NAT.
 */
import { BlockList, isIP } from 'node:net';
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { normalizeHost } from '../sip/transport/index.js';

export interface HostPort {
  readonly host: string;
  readonly port: number;
}

const PRIVATE_V4: ReadonlyArray<readonly [string, number]> = [
  ['10.0.0.0', 8],
  ['172.16.0.0', 12],
  ['192.168.0.0', 16],
  ['100.64.0.0', 10],
  ['127.0.0.0', 8],
  ['169.254.0.0', 16],
];
const PRIVATE_V6: ReadonlyArray<readonly [string, number]> = [
  ['fc00::', 7],
  ['fe80::', 10],
  ['::1', 128],
];

/** The IP a host names: no brackets, an IPv4-mapped IPv6 address as IPv4, no zone index. */
function bare(host: string): string {
  return normalizeHost(host).replace(/%.*$/, '');
}

/** The block list's answer for an IP literal; false for anything else. */
function within(list: BlockList, host: string): boolean {
  const h = bare(host);
  const v = isIP(h);
  return v !== 0 && list.check(h, v === 4 ? 'ipv4' : 'ipv6');
}

function privateRanges(): BlockList {
  const list = new BlockList();
  for (const [net, prefix] of PRIVATE_V4) list.addSubnet(net, prefix, 'ipv4');
  for (const [net, prefix] of PRIVATE_V6) list.addSubnet(net, prefix, 'ipv6');
  return list;
}

/**
 * The proxy's `addressFacing` for a node that listens on `local` and is reached from outside at
 * `advertised`. When the two are the same address, every element gets it.
 */
export function addressFacing(
  local: HostPort,
  advertised: HostPort,
  interfaces: NodeJS.Dict<NetworkInterfaceInfo[]> = networkInterfaces(),
): (remote: { readonly host: string }) => HostPort {
  if (bare(local.host) === bare(advertised.host) && local.port === advertised.port) return () => advertised;
  const inside = new BlockList();
  for (const list of Object.values(interfaces)) {
    for (const info of list ?? []) {
      const [net, prefix] = (info.cidr ?? `${info.address}/${info.family === 'IPv4' ? 32 : 128}`).split('/');
      if (net === undefined || prefix === undefined) continue;
      const family = isIP(bare(net));
      if (family === 0) continue;
      inside.addSubnet(bare(net), Number(prefix), family === 4 ? 'ipv4' : 'ipv6');
    }
  }
  const l = bare(local.host);
  if (isIP(l) !== 0) inside.addAddress(l, isIP(l) === 4 ? 'ipv4' : 'ipv6');
  const ranges = privateRanges();
  const publicReflexive = !within(ranges, advertised.host);
  return (remote) => (within(inside, remote.host) || (publicReflexive && within(ranges, remote.host)) ? local : advertised);
}
