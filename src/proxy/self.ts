/**
 * Recognising this proxy's own addresses in URIs (Request-URI, Route, 16.4) and Via sent-by
 * (loop detection, 16.3 step 4; the 18.1.2 check on responses), and writing the Record-Route
 * value we insert (16.6 step 4).
 */
import { getUriParam, type Uri, type Via } from '../sip/message/index.js';
import { hostForWire, normalizeHost, type Protocol } from '../sip/transport/index.js';
import type { SelfAddress } from './types.js';

export class SelfAddresses {
  readonly #keys: ReadonlySet<string>;
  readonly #list: readonly SelfAddress[];

  constructor(list: readonly SelfAddress[]) {
    if (list.length === 0) throw new TypeError('a proxy needs at least one own address');
    this.#list = list;
    this.#keys = new Set(list.map((a) => `${normalizeHost(a.host)}|${a.port}`));
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

  /** 16.6 step 4: `<sip:HOST:PORT;lr>` for the address we send this branch from. */
  recordRouteFor(protocol: Protocol): string {
    const a = this.#list.find((x) => x.protocol === protocol) ?? this.#list[0];
    // The constructor guarantees at least one entry.
    const addr = a as SelfAddress;
    return `<sip:${hostForWire(addr.host)}:${addr.port};lr>`;
  }
}
