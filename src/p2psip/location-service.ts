/**
 * Where a request from a phone goes (PROTOCOL.md section 4, RFC 3261 16.5): the proxy core asks,
 * this answers.
 * - A Request-URI in an overlay domain (or at one of this node's own IP addresses, which kadsip
 *   treats as an overlay domain too, see docs/ARCHITECTURE.md) is looked up in the local
 *   registrar first (the callee's phone is registered here), then in the overlay by FIND_VALUE,
 *   with a short positive and negative cache. A hit in the overlay names the callee's own peer,
 *   and the request goes there with its Request-URI unchanged; that peer finds the phone.
 * - Any other domain goes through RFC 3263 (NAPTR, SRV, A/AAAA): one target, its addresses tried
 *   in turn (resolveByDns).
 * Nothing found: 404. The overlay, or every address of a domain's servers, not answering: 480 with
 * Retry-After, within seconds, never a hang.
 */
import type { Clock } from '../common/clock.js';
import { resourceId } from '../overlay/peer-id.js';
import type { ResolveFailure, ProxyTarget, TargetResolver } from '../proxy/index.js';
import { bindingDestination, needsFlowRouting, type RegistrarBinding, type FlowOpen, type Registrar } from '../registrar/index.js';
import { DnsError, Rfc3263Error, type Rfc3263Resolver } from '../resolve/index.js';
import { canonicalAor, serializeUri, type SipRequest, type SipUri, type Uri } from '../sip/message/index.js';
import { normalizeHost, type Endpoint, type Protocol } from '../sip/transport/index.js';
import { parseAorRecord } from './aor-record.js';
import type { FoundValues, OverlayPort } from './overlay-port.js';

export interface LocationServiceOptions {
  registrar: Registrar;
  /** What it asks of the overlay (a node adapts its core, and can swap the core on a rejoin). */
  overlay: Pick<OverlayPort, 'findValue' | 'hasPeers'>;
  /** Is this host an overlay domain (or one of our own addresses)? Lower-case host. */
  isOverlayHost: (host: string) => boolean;
  /** This node's own address, so a stale overlay record pointing back here is not followed. */
  self: { host: string; port: number };
  dns: Rfc3263Resolver;
  clock: Clock;
  /** Transport used towards other peers. */
  peerProtocol: Protocol;
  /** Whether a phone's registration flow (a TCP connection) is still open: the contact-routing rule reads it. */
  flowOpen?: FlowOpen;
  positiveCacheMs?: number;
  negativeCacheMs?: number;
  /**
   * A client behind a symmetric NAT (PROTOCOL.md section 10) looks nothing up in the overlay: a
   * request for an overlay AoR none of its phones registered goes to the peer it attached to,
   * Request-URI unchanged, over the one flow its NAT keeps open. Undefined: look it up.
   */
  attachPeer?: () => Endpoint | undefined;
}

const UNAVAILABLE: ResolveFailure = { status: 480, reason: 'Temporarily Unavailable', retryAfterS: 5 };
const CACHE_MAX = 10_000;

export class LocationService implements TargetResolver {
  private readonly cache = new Map<string, { expiresAt: number; targets: Endpoint[] }>();
  /** Once this node has known peers, an empty answer means the overlay is out of reach, not empty. */
  private sawPeers = false;

  constructor(private readonly options: LocationServiceOptions) {}

  /** `sip:user@IP:PORT` at an overlay host is an AoR of the overlay, whatever the port. */
  isResponsibleFor(uri: Uri): boolean {
    return uri.kind === 'sip' && uri.user !== null && this.options.isOverlayHost(uri.host.toLowerCase());
  }

  async resolve(request: SipRequest): Promise<ProxyTarget[] | ResolveFailure> {
    const uri = request.uri;
    if (uri.kind !== 'sip') return { status: 416, reason: 'Unsupported URI Scheme' };
    if (!this.options.isOverlayHost(uri.host.toLowerCase())) return this.resolveByDns(uri);
    const aor = canonicalAor(uri);
    const local = this.options.registrar.lookup(aor, this.options.clock.now());
    if (local.length > 0) return local.map((b) => targetOfBinding(b, this.options.flowOpen));
    const attach = this.options.attachPeer?.();
    if (attach) return [{ uri: serializeUri(uri), destination: attach }];
    const peers = await this.findInOverlay(aor);
    if (peers === 'unreachable') return UNAVAILABLE;
    const text = serializeUri(uri);
    return peers.map((destination) => ({ uri: text, destination }));
  }

  /** The peers holding registrations for `aor`, from cache or FIND_VALUE; [] when nobody has it. */
  private async findInOverlay(aor: string): Promise<Endpoint[] | 'unreachable'> {
    const now = this.options.clock.now();
    const cached = this.cache.get(aor);
    if (cached && cached.expiresAt > now) return cached.targets;
    if (this.options.overlay.hasPeers()) this.sawPeers = true;
    const result = await new Promise<FoundValues>((resolve) => this.options.overlay.findValue(resourceId(aor), resolve));
    // Nobody answered at all: the overlay is out of reach, not the user unknown (also after the
    // dead peers have been dropped from the table). A node that never had a peer is an overlay
    // of one, and there an unknown user is simply unknown.
    if (result.values.length === 0 && !result.peersAnswered && this.sawPeers) return 'unreachable';
    const targets: Endpoint[] = [];
    for (const value of result.values) {
      const peer = parseAorRecord(value);
      if (!peer || (peer.host === this.options.self.host && peer.port === this.options.self.port)) continue;
      targets.push({ protocol: this.options.peerProtocol, host: peer.host, port: peer.port });
    }
    const ttl = targets.length > 0 ? (this.options.positiveCacheMs ?? 5000) : (this.options.negativeCacheMs ?? 2000);
    if (this.cache.size >= CACHE_MAX) this.cache.clear();
    this.cache.set(aor, { expiresAt: now + ttl, targets });
    return targets;
  }

  /**
   * The next hop a Route header (or a strict router's Request-URI) names by DNS name: RFC 3263's
   * first address for it (RFC 3261 16.6 step 7). One address only: a Route decides the hop itself,
   * so the proxy does not fail over to the domain's other servers. Undefined (the proxy answers
   * 503) when DNS has no SIP server for it or fails, or for an overlay host, which names no server.
   */
  async resolveNextHop(uri: SipUri): Promise<Endpoint | undefined> {
    if (this.options.isOverlayHost(uri.host.toLowerCase())) return undefined;
    try {
      const first = (await this.options.dns.resolve(uri))[0];
      return first === undefined ? undefined : { protocol: first.protocol, host: first.host, port: first.port };
    } catch (e) {
      if (e instanceof Rfc3263Error || e instanceof DnsError) return undefined;
      throw e;
    }
  }

  /** Forgets what the cache says about an AoR (its registration here changed). */
  invalidate(aor: string): void {
    this.cache.delete(aor);
    this.indexFlows(aor);
  }

  /**
   * The registration flow of a phone registered here whose Contact is `uri` and which is reached
   * over its flow (src/registrar/flow.ts: behind NAT, or `;ob`), for requests whose Request-URI is
   * that Contact: in-dialog requests, whose remote target is the phone's Contact (RFC 3261
   * 12.2.1.1), a private address the node cannot reach. RFC 5626 section 5.3 gets there with a flow
   * token in the edge proxy's Record-Route; keying the flow by the registered Contact gives the
   * same without one (Kamailio's nathelper reaches it by rewriting the Contact instead).
   */
  flowOf(uri: Uri): Endpoint | undefined {
    const key = contactKey(uri);
    const flow = key === undefined ? undefined : this.flows.get(key);
    if (flow === undefined) return undefined;
    // A TCP flow only while its connection is open (then the transport reuses it).
    if (flow.protocol !== 'udp' && !(this.options.flowOpen?.(flow) ?? false)) return undefined;
    return flow;
  }

  /** Contact -> flow for flowOf, rebuilt for an AoR whenever its bindings change (invalidate). */
  private readonly flows = new Map<string, Endpoint>();
  private readonly flowKeys = new Map<string, string[]>();

  private indexFlows(aor: string): void {
    for (const key of this.flowKeys.get(aor) ?? []) this.flows.delete(key);
    this.flowKeys.delete(aor);
    const keys: string[] = [];
    for (const b of this.options.registrar.lookup(aor, this.options.clock.now())) {
      const key = contactKey(b.contactUri);
      if (key === undefined || !needsFlowRouting(b, this.options.flowOpen)) continue;
      this.flows.set(key, b.source);
      keys.push(key);
    }
    if (keys.length > 0) this.flowKeys.set(aor, keys);
  }

  /**
   * RFC 3263: the addresses of the domain's SIP servers, as ONE target (the Request-URI, unchanged)
   * whose addresses the proxy tries one after the other (4.3: the next on a timeout, a transport
   * error or a 503), not as parallel forks: they are replicas of one server, not several callees.
   * Every address failing gives 480 with Retry-After (src/proxy/context.ts).
   *
   * DNS says the domain has no SIP server at all (NXDOMAIN, or NODATA all the way down): [] and so
   * 404 Not Found. RFC 3263 section 4 leaves the answer to the element; a negative DNS answer is
   * authoritative, not a transient fault, so 503 (which tells the caller "this proxy cannot serve
   * you now, try elsewhere or later": RFC 3261 21.5.4) or 480 would invite pointless retries, and
   * 604 would claim knowledge of every domain. RFC 3261 21.4.4: 404 also covers a Request-URI domain
   * the recipient does not handle. A DNS failure (SERVFAIL, timeout, refused) is transient: 503
   * with Retry-After.
   */
  private async resolveByDns(uri: SipUri): Promise<ProxyTarget[] | ResolveFailure> {
    try {
      const [first, ...rest] = (await this.options.dns.resolve(uri)).map(
        (t): Endpoint => ({ protocol: t.protocol, host: t.host, port: t.port }),
      );
      if (first === undefined) return [];
      return [{ uri: serializeUri(uri), destination: first, failover: rest }];
    } catch (e) {
      if (e instanceof Rfc3263Error) {
        return e.code === 'unsupported-scheme' ? { status: 416, reason: 'Unsupported URI Scheme' } : { status: 503, reason: 'Service Unavailable', retryAfterS: 30 };
      }
      if (e instanceof DnsError) return { status: 503, reason: 'Service Unavailable', retryAfterS: 5 };
      throw e;
    }
  }
}

/** A registered phone: its Contact, or the flow it registered on (src/registrar/flow.ts says which). */
function targetOfBinding(binding: RegistrarBinding, flowOpen: FlowOpen | undefined): ProxyTarget {
  return { uri: binding.contact, destination: bindingDestination(binding, flowOpen), q: binding.q };
}

/** A SIP URI's user, host and port, for matching a Request-URI with a registered Contact. */
function contactKey(uri: Uri): string | undefined {
  if (uri.kind !== 'sip') return undefined;
  return `${uri.user ?? ''}@${normalizeHost(uri.host)}:${uri.port ?? 5060}`;
}
