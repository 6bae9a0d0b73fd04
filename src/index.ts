/**
 * kadsip as a library: `import { startNode } from 'kadsip'`.
 *
 * The public surface, and all of it: what is not exported here is internal and may change in any
 * release (package.json's `exports` map lets nothing else be imported). A node started here is the
 * same node `kadsip start` runs, configured with the same keys (the CLI's config file, KADSIP_*
 * variables and flags all feed {@link ConfigInput}); on top of it the P2PSIP operations: locate a
 * SIP URI (overlay or RFC 3263), publish and unpublish an AoR, read the node's status.
 *
 * @packageDocumentation
 */
import type { Logger } from 'pino';
import { silentPinoLogger } from './node/logger.js';
import { resourceId } from './overlay/peer-id.js';
import { ConfigError, resolveConfig, type ConfigInput, type HostPort, type NodeConfig, type Protocol } from './node/config.js';
import { KadsipNode, StartupError } from './node/kadsip-node.js';
import { concreteListen } from './node/listen-address.js';
import { overlayPortOf } from './node/overlay-port.js';
import { canonicalAor, createRequest, parseUri } from './sip/message/index.js';

export { ConfigError, StartupError, resolveConfig };
export type { ConfigInput, HostPort, Logger, NodeConfig, Protocol };

/** Options of {@link startNode} that are not node configuration. */
export interface StartNodeOptions {
  /**
   * Where the node logs (a pino logger; it gets a child per component). Without one the node logs
   * nothing: a library stays quiet unless asked (`logLevel` of the configuration sets the level of
   * the CLI's own logger, not of one given here).
   */
  logger?: Logger;
}

/** One SIP transport address: where a request is sent. */
export interface SipAddress {
  /** The transport protocol towards this address. */
  readonly transport: Protocol;
  /** An IP address (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
}

/** One place a request for a located URI goes (RFC 3261 16.5: a target of the proxy). */
export interface LocatedTarget {
  /**
   * The Request-URI to send there: a registered phone's Contact, or the URI itself when the
   * target is the peer that serves the AoR or a domain's SIP server.
   */
  readonly uri: string;
  /**
   * The addresses to try, in order (RFC 3263 section 4.3: the next one on a timeout, a transport
   * error or a 503); one address except for RFC 3263 server sets.
   */
  readonly addresses: readonly SipAddress[];
}

/**
 * What {@link KadsipNodeHandle.locate} found: targets, or the SIP status the node's proxy would
 * answer with (404 nobody has it, 480 with Retry-After when the overlay or the domain's servers do
 * not answer, 416 for a non-SIP URI, 503 when DNS fails).
 */
export type LocateResult =
  | { readonly found: true; readonly targets: readonly LocatedTarget[] }
  | { readonly found: false; readonly status: number; readonly reason: string; readonly retryAfterS?: number };

/** A node's state in the overlay. */
export type OverlayState = 'idle' | 'joining' | 'joined' | 'leaving' | 'stopped';

/** A snapshot of a node (also served as JSON on the HTTP status server's /status). */
export interface NodeStatus {
  /** The node's Peer-ID, 40 hex digits (SHA-1 of its address, docs/PROTOCOL.md section 1). */
  readonly peerId: string;
  /** The address other peers reach it at, `IP:PORT` (`[IPv6]:PORT`). */
  readonly address: string;
  /** The overlay's name (`overlay=` of DHT-PeerID). */
  readonly overlay: string;
  readonly state: OverlayState;
  /** `client` also when start-up found a symmetric NAT, whatever was configured. */
  readonly role: 'peer' | 'client';
  /** Whether start-up found the node behind NAT. */
  readonly behindNat: boolean;
  /** Peers in its routing table. */
  readonly contacts: number;
  /** Overlay records it holds for others. */
  readonly recordsHeld: number;
  /** Keys it publishes itself and keeps alive. */
  readonly recordsPublished: number;
  /** AoRs with at least one phone registered here. */
  readonly registeredAors: number;
}

/** What {@link KadsipNodeHandle.publish} achieved. */
export interface PublishOutcome {
  /** The canonical AoR the record was stored under (`sip:user@host`). */
  readonly aor: string;
  /** The record's value: `sip:user@THIS_NODE`, naming the node that serves the AoR (PROTOCOL.md section 4). */
  readonly record: string;
  /** Peers (this one included) that confirmed the STORE; 0 means nobody holds it. */
  readonly storedAt: number;
}

/** Options of {@link KadsipNodeHandle.publish}. */
export interface PublishOptions {
  /** Lifetime of the record in seconds; it is republished until then or until unpublished. Default 3600. */
  ttlS?: number;
}

/** A running node, as {@link startNode} returns it. */
export interface KadsipNodeHandle {
  /** The node's Peer-ID, 40 hex digits. Changes only when a NATed node's public mapping changes. */
  readonly peerId: string;
  /** The address other peers reach it at, `IP:PORT` (`[IPv6]:PORT`); a bootstrap for other nodes. */
  readonly address: string;
  /** The address its SIP transports listen on (with the port the system chose for port 0). */
  readonly listen: HostPort;
  /** The HTTP status server's address, when `http` was configured. */
  readonly http: HostPort | undefined;
  /** A snapshot of the node. */
  status(): NodeStatus;
  /**
   * Where a request to `uri` would go, as the node's proxy decides it: an AoR of an overlay domain
   * (or at the node's own IP) is looked up among the phones registered here, then in the overlay;
   * any other domain through RFC 3263 (NAPTR, SRV, A/AAAA). Throws a TypeError for text that is
   * not a URI.
   */
  locate(uri: string): Promise<LocateResult>;
  /**
   * Stores `AoR -> this node` in the overlay, so that requests for the AoR from any node come
   * here (as a phone's REGISTER at this node does). Throws a TypeError unless `aor` is a SIP URI
   * with a user part. It is the very record a phone's registration here makes: a phone's last
   * binding of the AoR going away withdraws it too, and unpublish withdraws the phone's.
   */
  publish(aor: string, options?: PublishOptions): Promise<PublishOutcome>;
  /** Withdraws what {@link KadsipNodeHandle.publish} stored; resolves once the holders were asked. */
  unpublish(aor: string): Promise<void>;
  /** Leaves gracefully: hands its records to other peers (bounded by `shutdownGraceS`), then closes. */
  leave(): Promise<void>;
  /** Closes at once: sockets, timers, the HTTP server. Idempotent. */
  stop(): Promise<void>;
}

/** Default lifetime of a record published through the API, as for a phone's registration. */
const DEFAULT_TTL_S = 3600;

/**
 * Starts a node: binds its SIP transports, joins the overlay through `bootstrap` (none: a new
 * overlay of one), and resolves once it has joined. The configuration is what `kadsip start` takes
 * (README "Configuration"): the raw keys of a config file ({@link ConfigInput}, checked here), or a
 * configuration {@link resolveConfig} already checked. A wildcard `listen` is resolved to the
 * host's one address, as the CLI does.
 *
 * @throws {@link ConfigError} for a bad configuration value (nothing was opened).
 * @throws {@link StartupError} when a start-up step fails (a port in use, a bootstrap that does not
 *   answer); everything opened before is closed again.
 */
export async function startNode(config: ConfigInput | NodeConfig = {}, options: StartNodeOptions = {}): Promise<KadsipNodeHandle> {
  const resolved = concreteListen(isNodeConfig(config) ? config : resolveConfig(config)).config;
  const logger = options.logger ?? silentPinoLogger();
  const node = await KadsipNode.start({ config: resolved, logger });
  return handleOf(node);
}

function isNodeConfig(config: ConfigInput | NodeConfig): config is NodeConfig {
  return typeof config.listen === 'object' && config.listen !== null && Array.isArray((config as NodeConfig).bootstrapDns);
}

/** `sip:user@host` of a SIP URI with a user part, or a TypeError. */
function aorOf(text: string): string {
  const uri = parseUri(text);
  if (!uri.ok) throw new TypeError(`not a SIP URI: ${JSON.stringify(text)} (${uri.error.message})`);
  if (uri.value.kind !== 'sip' || uri.value.user === null) throw new TypeError(`an AoR is a sip: or sips: URI with a user part: ${JSON.stringify(text)}`);
  return canonicalAor(uri.value);
}

/**
 * KadsipNode.status() (the HTTP /status document) is the one place that reads the node's parts;
 * the public status is its stable subset.
 */
function statusOf(node: KadsipNode): NodeStatus {
  return node.status() as NodeStatus;
}

function handleOf(node: KadsipNode): KadsipNodeHandle {
  // The P2PSIP layer's view of the overlay, read through the node: its core changes on a rejoin.
  const overlay = overlayPortOf(() => node.overlay);
  const listen = node.transport.local(node.config.peerTransport);
  return {
    get peerId() {
      return statusOf(node).peerId;
    },
    get address() {
      return node.self.address;
    },
    listen: { host: listen.host, port: listen.port },
    http: node.httpAddress ? { ...node.httpAddress } : undefined,
    status: () => {
      const s = statusOf(node);
      return {
        peerId: s.peerId,
        address: s.address,
        overlay: s.overlay,
        state: s.state,
        role: s.role,
        behindNat: s.behindNat,
        contacts: s.contacts,
        recordsHeld: s.recordsHeld,
        recordsPublished: s.recordsPublished,
        registeredAors: s.registeredAors,
      };
    },
    async locate(uri) {
      // The proxy's resolver reads only the Request-URI; an OPTIONS is the least a request can be.
      const request = createRequest({ method: 'OPTIONS', uri, from: '<sip:locate@invalid>', to: `<${uri}>` });
      const answer = await node.location.resolve(request);
      if (!Array.isArray(answer)) return { found: false, status: answer.status, reason: answer.reason, ...(answer.retryAfterS !== undefined ? { retryAfterS: answer.retryAfterS } : {}) };
      if (answer.length === 0) return { found: false, status: 404, reason: 'Not Found' };
      return {
        found: true,
        targets: answer.map((t) => ({
          uri: t.uri,
          addresses: [t.destination, ...(t.failover ?? [])].map((d) => ({ transport: d.protocol, host: d.host, port: d.port })),
        })),
      };
    },
    async publish(aor, options = {}) {
      const canonical = aorOf(aor);
      const ttlS = options.ttlS ?? DEFAULT_TTL_S;
      if (!(ttlS > 0)) throw new TypeError(`ttlS must be positive: ${ttlS}`);
      // Signed (closed overlay) or MACed (secret overlay) as a phone's registration is (PROTOCOL.md 11.4).
      const record = node.registrations.record(canonical, ttlS * 1000);
      const storedAt = await new Promise<number>((resolve) => overlay.publish(resourceId(canonical), [record], resolve));
      return { aor: canonical, record: record.value, storedAt };
    },
    async unpublish(aor) {
      const canonical = aorOf(aor);
      const record = node.registrations.recordValue(canonical);
      await new Promise<void>((resolve) => overlay.unpublish(resourceId(canonical), [record], () => resolve(), node.registrations.removalProofs(canonical)));
    },
    leave: () => node.leave(),
    stop: () => node.close(),
  };
}
