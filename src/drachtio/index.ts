/**
 * `kadsip/drachtio`: the kadsip overlay as middleware of a drachtio-srf 5 application.
 *
 * ```js
 * const Srf = require('drachtio-srf');
 * const { kadsipOverlay } = await import('kadsip/drachtio');
 * const srf = new Srf();
 * srf.connect({ host: '127.0.0.1', port: 9022, secret: 'cymru' });
 * const kad = await kadsipOverlay({ listen: '127.0.0.1:5070', sipAddress: '127.0.0.1:5090', domains: ['example.com'], bootstrap: ['127.0.0.1:5060'] });
 * srf.use('register', kad.register);
 * srf.invite(kad.invite);
 * srf.message(kad.request);
 * ```
 *
 * The application's process is an overlay peer of its own: a kadsip node whose dSIP traffic goes
 * over its own socket (`listen`), so plugin applications and native kadsip nodes form one overlay.
 * Phones register with drachtio-server; the plugin keeps their bindings (kadsip's registrar, with
 * digest authentication when a users file is given) and publishes `AoR -> sip:user@SIP_ADDRESS`
 * in the overlay (docs/PROTOCOL.md section 4), naming drachtio-server's SIP address, so requests
 * for them from any node come back through drachtio-server to this application. Requests from the
 * phones are located as a native node locates them (registrar, overlay, RFC 3263 for other domains)
 * and proxied by drachtio-server with Record-Route.
 *
 * @packageDocumentation
 */
import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { silentPinoLogger } from '../node/logger.js';
import { realClock } from '../common/real-clock.js';
import { canonicalIp, splitAddress } from '../dsip/index.js';
import { resolveConfig, type ConfigInput } from '../node/config.js';
import { KadsipNode } from '../node/kadsip-node.js';
import { concreteListen } from '../node/listen-address.js';
import { idToHex } from '../overlay/id.js';
import { overlayPortOf } from '../node/overlay-port.js';
import { LocationService } from '../p2psip/location-service.js';
import { Registrations } from '../p2psip/registrations.js';
import { DigestAuthenticator, loadUsersFile, Registrar } from '../registrar/index.js';
import { NodeDnsClient, Rfc3263Resolver } from '../resolve/index.js';
import { createOverlayMiddleware } from './middleware.js';
import type { SrfMiddleware } from './srf-types.js';

export type { SrfMiddleware, SrfNext, SrfProxyOptions, SrfProxyResult, SrfRequest, SrfResponse } from './srf-types.js';

/** Options of {@link kadsipOverlay}. */
export interface KadsipOverlayOptions {
  /** `IP:PORT` of the application's own overlay socket (dSIP over UDP): other peers reach it there. */
  listen: string;
  /**
   * `IP:PORT` of drachtio-server's SIP contact (its `<contact>` in drachtio.conf.xml): the address
   * written into the overlay records of the phones registered through this application, where
   * other nodes send requests for them.
   */
  sipAddress: string;
  /** Peers to join through, `IP:PORT` (or `dns:DOMAIN`, as for `kadsip start`); none: a new overlay. */
  bootstrap?: string[];
  /** The overlay domains: AoRs `user@DOMAIN` live in the overlay; other domains go through RFC 3263. */
  domains?: string[];
  /** The overlay's name (`overlay=` of DHT-PeerID); default `kadsip`. */
  overlay?: string;
  /** A users file (README "Authentication"): REGISTERs are then challenged (digest, RFC 7616/8760). */
  usersFile?: string;
  /** Digest realm; default the first domain, else the SIP address's IP. */
  realm?: string;
  /** Digest algorithms in challenge order; default `SHA-256,MD5`. */
  digestAlgorithms?: string[];
  /** DNS servers (`IP` or `IP:PORT`) for RFC 3263; default the system's. */
  dns?: string[];
  /** Kademlia k (the same on every peer of an overlay); default 20. */
  k?: number;
  /** A pino logger; default silent. */
  logger?: Logger;
}

/** What {@link kadsipOverlay} returns: middleware for drachtio-srf, and the overlay peer's handle. */
export interface KadsipOverlay {
  /** `srf.use('register', kad.register)` / `srf.register(kad.register)`: stores the binding, publishes the AoR. */
  readonly register: SrfMiddleware;
  /** `srf.invite(kad.invite)`: locates the callee (overlay or RFC 3263) and proxies with Record-Route. */
  readonly invite: SrfMiddleware;
  /** Any other out-of-dialog method (`srf.message`, `srf.options`, `srf.subscribe`...), as invite. */
  readonly request: SrfMiddleware;
  /** The overlay peer's address (`IP:PORT`): a bootstrap for other nodes. */
  readonly address: string;
  /** The overlay peer's Peer-ID, 40 hex digits. */
  readonly peerId: string;
  /** AoRs with a phone registered through this application. */
  registeredAors(): string[];
  /** Leaves the overlay gracefully (its records are handed to other peers), then closes. */
  leave(): Promise<void>;
  /** Closes at once. The records published for the phones stay in the overlay until they expire. */
  close(): Promise<void>;
}

/** How often lapsed bindings are swept (and leave the overlay), as on a native node. */
const SWEEP_MS = 1000;

/**
 * Starts the application's overlay peer (joins through `bootstrap`) and returns the middleware.
 * @throws ConfigError for a bad option, StartupError when the socket cannot be opened or no
 *   bootstrap answers (as `kadsip start`).
 */
export async function kadsipOverlay(options: KadsipOverlayOptions): Promise<KadsipOverlay> {
  const sip = splitAddress(options.sipAddress);
  if (!sip) throw new TypeError(`sipAddress must be IP:PORT: ${JSON.stringify(options.sipAddress)}`);
  const input: ConfigInput = {
    listen: options.listen,
    transports: 'udp',
    ...(options.bootstrap ? { bootstrap: options.bootstrap } : {}),
    ...(options.domains ? { domain: options.domains } : {}),
    ...(options.overlay ? { overlay: options.overlay } : {}),
    ...(options.dns ? { dns: options.dns } : {}),
    ...(options.k !== undefined ? { k: options.k } : {}),
    ...(options.digestAlgorithms ? { digestAlgorithms: options.digestAlgorithms } : {}),
  };
  const config = concreteListen(resolveConfig(input)).config;
  const logger = options.logger ?? silentPinoLogger();
  const log = logger.child({ component: 'drachtio' });
  // The phones' side: their own registrar, since their requests reach this process through
  // drachtio-server, not through the node's SIP socket.
  let auth: DigestAuthenticator | undefined;
  if (options.usersFile) {
    const users = await loadUsersFile(options.usersFile);
    const realm = options.realm ?? config.domains[0] ?? sip.host;
    auth = new DigestAuthenticator({ realm, users, secret: randomBytes(32), algorithms: config.digestAlgorithms });
  }
  const node = await KadsipNode.start({ config, logger });
  const hostKey = (host: string): string => canonicalIp(host) ?? host.replace(/^\[|\]$/g, '').toLowerCase();
  // As on a native node, drachtio-server's own IP counts as an overlay domain (alice@IP).
  const overlayHosts = new Set([...config.domains, hostKey(sip.host)]);
  const isOverlayHost = (host: string): boolean => overlayHosts.has(hostKey(host));
  const registrar = new Registrar({ domains: isOverlayHost, ...(auth ? { auth } : {}) });
  const port = overlayPortOf(() => node.overlay);
  const location = new LocationService({
    registrar,
    overlay: port,
    isOverlayHost,
    // A record naming drachtio-server itself (left by this application before a restart) is not followed.
    self: { host: sip.host, port: sip.port },
    dns: new Rfc3263Resolver({ dns: new NodeDnsClient(config.dns.length > 0 ? { servers: config.dns } : {}), supportedTransports: ['udp', 'tcp'] }),
    clock: realClock,
    peerProtocol: 'udp',
  });
  const registrations = new Registrations(registrar, port, options.sipAddress, realClock, log, (aor) => location.invalidate(aor));
  const sweep = setInterval(() => registrations.tick(), SWEEP_MS);
  sweep.unref();
  const middleware = createOverlayMiddleware({ registrations, location, clock: realClock, log, provisionalTimeoutMs: 4 * config.sipT1Ms });
  const aors = (): string[] => [...registrar.aors()].filter((aor) => registrar.lookup(aor, realClock.now()).length > 0);
  return {
    ...middleware,
    address: node.self.address,
    get peerId() {
      return idToHex(node.self.id);
    },
    registeredAors: aors,
    leave: async () => {
      clearInterval(sweep);
      await node.leave();
    },
    close: async () => {
      clearInterval(sweep);
      await node.close();
    },
  };
}
