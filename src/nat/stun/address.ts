/**
 * IP address text <-> bytes, for the address attributes of RFC 8489 §14.1-§14.2. IPv6 text is
 * produced in the RFC 5952 canonical form (lower case, longest run of two or more zero groups
 * compressed), so a decoded address compares equal to what `dgram` reports.
 */
import { isIPv4, isIPv6 } from 'node:net';

export type IpFamily = 'IPv4' | 'IPv6';

/** A transport address as carried in STUN: family, IP text and UDP/TCP port. */
export interface TransportAddress {
  readonly family: IpFamily;
  readonly host: string;
  readonly port: number;
}

/** Drops an IPv6 zone ("fe80::1%eth0" -> "fe80::1"): zones are local and not carried on the wire. */
export function stripZone(host: string): string {
  const i = host.indexOf('%');
  return i < 0 ? host : host.slice(0, i);
}

/** 4 or 16 bytes for an IP literal, or undefined when `host` is not one. */
export function parseIp(host: string): Uint8Array | undefined {
  const h = stripZone(host);
  if (isIPv4(h)) return Uint8Array.from(h.split('.').map(Number));
  if (isIPv6(h)) return parseIPv6(h);
  return undefined;
}

function parseIPv6(h: string): Uint8Array {
  const out = new Uint8Array(16);
  let text = h;
  // A trailing dotted quad ("::ffff:1.2.3.4") stands for the last two groups.
  const lastColon = text.lastIndexOf(':');
  const tail = text.slice(lastColon + 1);
  let v4: number[] | undefined;
  if (tail.includes('.')) {
    v4 = tail.split('.').map(Number);
    text = text.slice(0, lastColon + 1) + '0:0';
  }
  const [head = '', rest] = text.split('::');
  const headGroups = head === '' ? [] : head.split(':');
  const restGroups = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups =
    rest === undefined ? headGroups : [...headGroups, ...Array<string>(8 - headGroups.length - restGroups.length).fill('0'), ...restGroups];
  groups.forEach((g, i) => {
    const v = parseInt(g, 16);
    out[2 * i] = v >> 8;
    out[2 * i + 1] = v & 0xff;
  });
  if (v4 !== undefined) out.set(v4, 12);
  return out;
}

/** Text of a 4- or 16-byte address (RFC 5952 form for IPv6). */
export function formatIp(bytes: Uint8Array): string {
  if (bytes.length === 4) return Array.from(bytes).join('.');
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] ?? 0) << 8) | (bytes[i + 1] ?? 0));
  // RFC 5952 §4.2: compress the longest run (first if tied) of at least two zero groups.
  let bestStart = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (bestStart < 0) return hex.join(':');
  return `${hex.slice(0, bestStart).join(':')}::${hex.slice(bestStart + bestLen).join(':')}`;
}

/** "::ffff:a.b.c.d" (what a dual-stack udp6 socket reports for an IPv4 peer) -> "a.b.c.d"; others unchanged. */
export function unmapIPv4(host: string): string {
  const bytes = parseIp(host);
  if (bytes === undefined || bytes.length !== 16) return stripZone(host);
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return formatIp(bytes);
  if (bytes[10] !== 0xff || bytes[11] !== 0xff) return formatIp(bytes);
  return formatIp(bytes.subarray(12));
}

/** A normalized `TransportAddress` for an IP literal and port, or undefined when `host` is not an IP literal. */
export function toTransportAddress(host: string, port: number): TransportAddress | undefined {
  const h = unmapIPv4(host);
  const bytes = parseIp(h);
  if (bytes === undefined) return undefined;
  return { family: bytes.length === 4 ? 'IPv4' : 'IPv6', host: formatIp(bytes), port };
}
