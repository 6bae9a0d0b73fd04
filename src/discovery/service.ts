/**
 * What kadsip's DNS-SD records say, shared by unicast DNS (`--bootstrap dns:DOMAIN`) and multicast
 * DNS (`--discover lan`): the service name, and the TXT keys of an instance (docs/PROTOCOL.md
 * section 8).
 *
 * Service name `_kadsip._udp` / `_kadsip._tcp` (RFC 6763 section 7: `_udp` stands for every
 * protocol other than TCP). Not `_p2psip`: a RELOAD peer (RFC 6940) would answer to that and does
 * not speak dSIP, so a name of our own keeps foreign instances out of the list.
 */
import type { Protocol } from '../node/config.js';

/** The label pair of the service type for a peer protocol: `_kadsip._udp` or `_kadsip._tcp`. */
export function serviceType(protocol: Protocol): string {
  return `_kadsip._${protocol}`;
}

/** TXT record version this code writes and understands (RFC 6763 section 6.7). */
export const TXT_VERSION = '1';

/** The keys of one instance's TXT record, as parsed. */
export interface InstanceTxt {
  /** `overlay=`: the overlay the instance belongs to; undefined when absent. */
  readonly overlay?: string;
  /** `transports=`: the transports it listens on (udp, tcp); undefined when absent. */
  readonly transports?: readonly string[];
  /** `txtvers=`; undefined when absent. */
  readonly txtvers?: string;
}

/**
 * RFC 6763 section 6.3-6.4: each string is `key=value` (or a bare `key`); keys compare
 * case-insensitively; a key's first occurrence wins; a string starting with '=' is ignored.
 */
export function parseTxt(strings: readonly (string | Uint8Array)[]): InstanceTxt {
  const keys = new Map<string, string>();
  for (const raw of strings) {
    const s = typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8');
    const eq = s.indexOf('=');
    if (eq === 0 || s.length === 0) continue;
    const key = (eq < 0 ? s : s.slice(0, eq)).toLowerCase();
    if (keys.has(key)) continue;
    keys.set(key, eq < 0 ? '' : s.slice(eq + 1));
  }
  const overlay = keys.get('overlay');
  const transports = keys.get('transports');
  const txtvers = keys.get('txtvers');
  return {
    ...(overlay !== undefined ? { overlay } : {}),
    ...(transports !== undefined ? { transports: transports.split(',').map((t) => t.trim().toLowerCase()).filter((t) => t !== '') } : {}),
    ...(txtvers !== undefined ? { txtvers } : {}),
  };
}

/** The TXT strings an instance publishes. */
export function formatTxt(overlay: string, transports: readonly Protocol[]): string[] {
  return [`txtvers=${TXT_VERSION}`, `overlay=${overlay}`, `transports=${transports.join(',')}`];
}

/**
 * Why an instance is not used, or null when it is: its `overlay=` names another overlay, or its
 * `transports=` lacks the joiner's peer protocol, or its `txtvers=` is newer than this code.
 * A missing key does not exclude it (the domain or the link already scopes the service).
 */
export function txtMismatch(txt: InstanceTxt, overlay: string, protocol: Protocol): string | null {
  if (txt.txtvers !== undefined && txt.txtvers !== TXT_VERSION) return `txtvers=${txt.txtvers} is not ${TXT_VERSION}`;
  if (txt.overlay !== undefined && txt.overlay !== overlay) return `overlay=${txt.overlay} is not ${overlay}`;
  if (txt.transports !== undefined && !txt.transports.includes(protocol)) return `transports=${txt.transports.join(',')} lacks ${protocol}`;
  return null;
}
