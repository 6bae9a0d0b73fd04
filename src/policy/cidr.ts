/**
 * Networks in CIDR notation (RFC 4632 for IPv4, RFC 4291 section 2.3 for IPv6), for the `trust`
 * setting: which source addresses a node treats as its own trusted phones and PBXs. Parsing
 * never throws (a bad entry is reported with its text, the configuration names the setting);
 * matching is exact bit arithmetic on bigint, one family per network.
 *
 * Host bits after the prefix are cleared, as iptables and Kamailio's permissions module do with
 * `10.1.2.3/8`: the operator meant the network, and refusing it would only turn a typo into a
 * failed start. An IPv4-mapped IPv6 source (`::ffff:192.0.2.1`, what a dual-stack socket reports
 * for an IPv4 peer) is matched as the IPv4 address it maps, so an IPv4 list covers it.
 */
import { isIP } from 'node:net';
import { canonicalIpv6 } from '../sip/message/index.js';

export interface Cidr {
  readonly family: 4 | 6;
  /** The network address, host bits cleared. */
  readonly network: bigint;
  readonly prefix: number;
  /** Canonical text: `10.0.0.0/8`, `2001:db8::/32`. */
  readonly text: string;
}

export type ParseCidrResult = { readonly ok: true; readonly value: Cidr } | { readonly ok: false; readonly error: string };

const BITS = { 4: 32, 6: 128 } as const;

/** `A.B.C.D/N`, `IPv6/N`, or a bare address (a /32 or /128). */
export function parseCidr(input: string): ParseCidrResult {
  const text = input.trim();
  const slash = text.indexOf('/');
  const addr = slash < 0 ? text : text.slice(0, slash);
  const prefixText = slash < 0 ? undefined : text.slice(slash + 1);
  const parsed = ipToBigInt(addr);
  if (parsed === undefined) return { ok: false, error: `"${input}" is not an IPv4 or IPv6 network (A.B.C.D/N or IPv6/N)` };
  const bits = BITS[parsed.family];
  let prefix: number = bits;
  if (prefixText !== undefined) {
    if (!/^[0-9]{1,3}$/.test(prefixText) || Number(prefixText) > bits) {
      return { ok: false, error: `"${input}": the prefix length must be 0-${bits}` };
    }
    prefix = Number(prefixText);
  }
  const network = parsed.value & mask(parsed.family, prefix);
  return { ok: true, value: { family: parsed.family, network, prefix, text: `${bigIntToIp(parsed.family, network)}/${prefix}` } };
}

/** Whether `ip` (IPv6 with or without brackets or zone) lies in one of the networks. */
export function inNetworks(ip: string, networks: readonly Cidr[]): boolean {
  const parsed = ipToBigInt(ip);
  if (parsed === undefined) return false;
  const addr = unmapIpv4(parsed);
  return networks.some((n) => n.family === addr.family && (addr.value & mask(n.family, n.prefix)) === n.network);
}

function mask(family: 4 | 6, prefix: number): bigint {
  const bits = BigInt(BITS[family]);
  const p = BigInt(prefix);
  return ((1n << p) - 1n) << (bits - p);
}

/** `::ffff:a.b.c.d` (and its hex spelling) as the IPv4 address it maps. */
function unmapIpv4(a: { family: 4 | 6; value: bigint }): { family: 4 | 6; value: bigint } {
  if (a.family === 6 && a.value >> 32n === 0xffffn) return { family: 4, value: a.value & 0xffffffffn };
  return a;
}

/** The address as a number, or undefined when it is not an IP address. */
export function ipToBigInt(input: string): { family: 4 | 6; value: bigint } | undefined {
  let s = input.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  const zone = s.indexOf('%');
  if (zone >= 0) s = s.slice(0, zone);
  const family = isIP(s);
  if (family === 4) return { family: 4, value: s.split('.').reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n) };
  if (family !== 6) return undefined;
  // An embedded IPv4 tail (`::ffff:192.0.2.1`) becomes two hex groups first.
  const tail = /(\d+)\.(\d+)\.(\d+)\.(\d+)$/.exec(s);
  if (tail) {
    const [a, b, c, d] = tail.slice(1).map(Number) as [number, number, number, number];
    s = `${s.slice(0, tail.index)}${((a << 8) | b).toString(16)}:${((c << 8) | d).toString(16)}`;
  }
  const [head = '', rest] = s.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = rest === undefined || rest === '' ? [] : rest.split(':');
  const groups = rest === undefined ? left : [...left, ...Array<string>(8 - left.length - right.length).fill('0'), ...right];
  if (groups.length !== 8) return undefined;
  return { family: 6, value: groups.reduce((acc, g) => (acc << 16n) | BigInt(parseInt(g, 16)), 0n) };
}

function bigIntToIp(family: 4 | 6, value: bigint): string {
  if (family === 4) return [24n, 16n, 8n, 0n].map((s) => String((value >> s) & 0xffn)).join('.');
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(((value >> BigInt(16 * i)) & 0xffffn).toString(16));
  // RFC 5952 text, written by the one function the SIP stack already uses for it.
  return canonicalIpv6(groups.join(':'))!;
}
