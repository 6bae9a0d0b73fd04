/**
 * Recognising this proxy's own addresses in URIs (Request-URI, Route, 16.4) and Via sent-by
 * (loop detection, 16.3 step 4; the 18.1.2 check on responses), and writing the Record-Route
 * values we insert (16.6 step 4; two of them when the hops on either side reach us at different
 * addresses, RFC 5658 section 5).
 */
import { getUriParam, type Uri, type Via } from '../sip/message/index.js';
import { hostForWire, normalizeHost, type Endpoint, type Protocol } from '../sip/transport/index.js';
import type { AddressFacing, SelfAddress } from './types.js';

export class SelfAddresses {
  #keys: ReadonlySet<string>;
  #list: readonly SelfAddress[];
  #facing: AddressFacing;

  constructor(list: readonly SelfAddress[], facing?: AddressFacing) {
    if (list.length === 0) throw new TypeError('a proxy needs at least one own address');
    this.#list = list;
    this.#keys = new Set(list.map((a) => `${normalizeHost(a.host)}|${a.port}`));
    this.#facing = facing ?? ((remote) => this.#first(remote.protocol));
  }

  /**
   * The proxy's addresses changed (a node behind NAT whose public mapping changed: PROTOCOL.md
   * section 10): from now on only the new ones are ours, in Route recognition and Record-Route.
   */
  replace(list: readonly SelfAddress[], facing?: AddressFacing): void {
    if (list.length === 0) throw new TypeError('a proxy needs at least one own address');
    this.#list = list;
    this.#keys = new Set(list.map((a) => `${normalizeHost(a.host)}|${a.port}`));
    this.#facing = facing ?? ((remote) => this.#first(remote.protocol));
  }

  /** host (wire or socket form) and port (null: the default of the scheme) name this proxy. */
  has(host: string, port: number | null, defaultPort = 5060): boolean {
    return this.#keys.has(`${normalizeHost(host)}|${port ?? defaultPort}`);
  }

  /** A SIP(S) URI naming this proxy's host and port (maddr would be an address of ours too; not used). */
  isSelfUri(uri: Uri): boolean {
    if (uri.kind !== 'sip') return false;
    return this.has(uri.host, uri.port, uri.scheme.toLowerCase() === 'sips' ? 5061 : 5060);
  }

  /** The Request-URI addresses the proxy as a UAS: our host:port and no user part (OPTIONS ping, REGISTER). */
  isLocalRequestUri(uri: Uri): boolean {
    return uri.kind === 'sip' && uri.user === null && this.isSelfUri(uri);
  }

  /** A Request-URI that can only be a Record-Route value of ours put there by a strict router (16.4). */
  isOwnRecordRoute(uri: Uri): boolean {
    return uri.kind === 'sip' && uri.user === null && this.isSelfUri(uri) && getUriParam(uri, 'lr') !== undefined;
  }

  isSelfVia(via: Via): boolean {
    return this.has(via.host, via.port);
  }

  /**
   * 16.6 step 4 with RFC 5658 section 5: the Record-Route values, top first, for a request that came
   * from `from` and leaves for `to`. One value when both reach us at the same address. Otherwise
   * two: the upper one the address `to` reaches us at, the lower one the address `from` reaches us
   * at. The UAS takes the list in order as its route set (12.1.1) and the UAC in reverse (12.1.2),
   * so each end meets first the address facing it.
   */
  recordRoutes(from: Endpoint, to: Endpoint): string[] {
    const inbound = recordRouteValue(this.#facing(from));
    const outbound = recordRouteValue(this.#facing(to));
    return inbound === outbound ? [inbound] : [outbound, inbound];
  }

  #first(protocol: Protocol): SelfAddress {
    // The constructor guarantees at least one entry.
    return this.#list.find((x) => x.protocol === protocol) ?? (this.#list[0] as SelfAddress);
  }
}

function recordRouteValue(a: { readonly host: string; readonly port: number }): string {
  return `<sip:${hostForWire(a.host)}:${a.port};lr>`;
}
