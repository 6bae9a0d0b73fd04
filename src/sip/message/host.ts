/**
 * Host syntax shared by SIP URIs and Via sent-by. IPv6 references keep their
 * brackets: that is how they appear on the wire and in canonical AoRs, and it
 * keeps "[2001:db8::10]:5070" apart from the ambiguous "[2001:db8::10:5070]"
 * (RFC 5118 section 4.3/4.4).
 */
export type HostKind = 'ipv4' | 'ipv6' | 'domain';

const IPV4_RE = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;
// Liberal on purpose: RFC 5118 section 4.10 asks receivers to tolerate the
// "2001:db8:::192.0.2.1" form produced by an RFC 3261 ABNF bug.
const IPV6_REF_RE = /^\[[0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*\]$/;
// Domain names: letters, digits, '-', '.', and '_' (seen in the wild in SRV-ish names).
const DOMAIN_RE = /^[A-Za-z0-9_](?:[A-Za-z0-9\-_.]*)$/;

export function classifyHost(host: string): HostKind | null {
  if (host.startsWith('[')) return IPV6_REF_RE.test(host) ? 'ipv6' : null;
  const m = IPV4_RE.exec(host);
  if (m) return m.slice(1).every((o) => Number(o) <= 255) ? 'ipv4' : null;
  // An all-numeric dotted name that is not an IPv4 address is neither a valid
  // IPv4 nor a valid hostname (the top label must start with a letter).
  if (/^[0-9.]+$/.test(host)) return null;
  return DOMAIN_RE.test(host) ? 'domain' : null;
}

/**
 * RFC 5952 text of an IPv6 address given with or without brackets (lower case, leading zeros
 * dropped, the longest run of two or more zero groups written `::`), without brackets; null when
 * it is not an IPv6 address. A zone (`%eth0`) is not an address and gives null. The WHATWG URL
 * serialiser writes exactly this form, so it does the work. It writes an IPv4-mapped address in
 * hex (`::ffff:c000:201`): RFC 5952 section 5 only recommends the dotted form, and one fixed
 * spelling is what matters when the text is hashed or compared.
 */
export function canonicalIpv6(host: string): string | null {
  const bare = host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
  if (!bare.includes(':') || classifyHost(`[${bare}]`) !== 'ipv6') return null;
  try {
    return new URL(`http://[${bare}]/`).hostname.slice(1, -1);
  } catch {
    return null;
  }
}

/** Host without IPv6 brackets, as socket APIs want it. */
export function hostForSocket(host: string): string {
  return host.startsWith('[') && host.endsWith(']') ? host.slice(1, -1) : host;
}

/** Port number 0..65535 from its decimal text, or null. */
export function parsePort(s: string): number | null {
  if (!/^[0-9]{1,5}$/.test(s)) return null;
  const n = Number(s);
  return n <= 65535 ? n : null;
}
