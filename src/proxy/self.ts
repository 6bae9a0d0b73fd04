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
  recordRoutes(from: Endpoint, to: Endpoint, sips = false): string[] {
    const inbound = recordRouteValue(this.#onProtocol(this.#facing(from), from.protocol), from.protocol, sips);
    const outbound = recordRouteValue(this.#onProtocol(this.#facing(to), to.protocol), to.protocol, sips);
    return inbound === outbound ? [inbound] : [outbound, inbound];
  }

  /**
   * The facing address at the port of the hop's protocol: TLS listens on a port of its own (5061)
   * and the facing address may be the TLS one (a node whose peers speak TLS), so a hop is given the
   * port its own protocol listens on at that host.
   */
  #onProtocol(a: { readonly host: string; readonly port: number }, protocol: Protocol): { readonly host: string; readonly port: number } {
    const host = normalizeHost(a.host);
    const same = this.#list.filter((x) => x.protocol === protocol && normalizeHost(x.host) === host);
    return same.find((x) => x.port === a.port) ?? same[0] ?? a;
  }

  #first(protocol: Protocol): SelfAddress {
    // The constructor guarantees at least one entry.
    return this.#list.find((x) => x.protocol === protocol) ?? (this.#list[0] as SelfAddress);
  }
}

/**
 * One Record-Route value. A hop over TLS gets the TLS port and `transport=tls`, so in-dialog
 * requests come back over TLS (RFC 3261 26.2: TLS is hop by hop; `transport=tls` is deprecated by
 * RFC 5630 section 3.1.3 but it is what deployed UAs, Kamailio and SIPp read for a sip: route).
 * A request for a sips: URI gets a sips: value (16.6 step 4: "the URI placed into the
 * Record-Route header field MUST be a SIPS URI"), which means TLS by itself.
 */
function recordRouteValue(a: { readonly host: string; readonly port: number }, protocol: Protocol, sips: boolean): string {
  if (sips) return `<sips:${hostForWire(a.host)}:${a.port};lr>`;
  return `<sip:${hostForWire(a.host)}:${a.port}${protocol === 'tls' ? ';transport=tls' : ''};lr>`;
}
