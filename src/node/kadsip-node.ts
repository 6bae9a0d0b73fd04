/**
 * The composition root of one node: binds the SIP transports, the transaction layer, the overlay
 * core (over SIP), the real clock, crypto-seeded randomness, logs, metrics and the HTTP status
 * server. Everything else in src/ is wired here and nowhere else.
 */
import { overlayPortOf } from './overlay-port.js';
import { openSipStack } from '../sip/stack.js';
import { hostPort } from '../common/host-port.js';
import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import { Gauge, Registry, collectDefaultMetrics } from 'prom-client';
import { realClock } from '../common/real-clock.js';
import { isPeerRequest } from '../dsip/index.js';
import type { OverlayConfig } from '../overlay/constants.js';
import type { Contact } from '../overlay/contact.js';
import { idToHex } from '../overlay/id.js';
import { OverlayNode, type OverlayEvent } from '../overlay/node.js';
import { peerIdFromAddress } from '../overlay/peer-id.js';
import { SeededRandom } from '../overlay/random.js';
import { randomBytes } from 'node:crypto';
import { DEFAULT_CANDIDATES_WANTED, leastLoaded, probeOrder } from '../overlay/candidates.js';
import type { Candidate } from '../overlay/messages.js';
import { StunServer, stunBinding } from '../nat/stun/index.js';
import { canonicalIp, splitAddress } from '../dsip/index.js';
import { StatefulProxy } from '../proxy/index.js';
import { DigestAuthenticator, loadUsersFile, Registrar } from '../registrar/index.js';
import { NodeDnsClient, Rfc3263Resolver } from '../resolve/index.js';
import type { ServerTransaction, TransactionLayer } from '../sip/transaction/index.js';
import type { SipTransport } from '../sip/transport/index.js';
import type { NodeConfig, Protocol } from './config.js';
import { loadTlsMaterial, TlsSetupError, unverifiedPeerRefusal } from './tls-setup.js';
import type { TlsMaterial } from '../sip/transport/tls.js';
import { PerSourceRateLimit } from '../sip/transport/bad-input-log.js';
import { addressFacing } from './facing.js';
import { startHttpStatus } from './http-status.js';
import { LocationService } from '../p2psip/location-service.js';
import { probeNat } from './nat.js';
import { FlowKeepalive, KEEPALIVE_PING, natFlows } from '../p2psip/flow-keepalive.js';
import { AttachRelay } from '../p2psip/attach-relay.js';
import { MappingWatch } from '../p2psip/mapping-watch.js';
import { announceOnLan, BootstrapDiscoveryError, discoverBootstraps, joinWithRediscovery } from './bootstrap-discovery.js';
import type { LanAnnouncer } from '../discovery/mdns.js';
import { OverlayOverSip } from '../p2psip/overlay-over-sip.js';
import { Registrations } from '../p2psip/registrations.js';
import { firstContactTrust, linkTrust, loadTrustMode, trustStatus, TrustSetupError, type TrustMode } from './trust-mode.js';
import { bindingTrust } from '../trust/binding-trust.js';
import { watchCrl, type CrlWatcher } from '../trust/material.js';
import { startOverloadControl, type OverloadControl } from './overload.js';
import { AdmissionPolicy } from '../policy/admission.js';
import { AuthFailures } from '../policy/auth-failures.js';
import { canonicalAor, createResponse, type SipRequest } from '../sip/message/index.js';

export interface KadsipNodeOptions {
  config: NodeConfig;
  logger: Logger;
  /** Overlay tuning (tests shorten timers); defaults from src/overlay/constants.ts. */
  overlay?: Partial<OverlayConfig>;
  /** How often a node that asks for candidates (a NATed one) re-checks them; default 5 minutes. */
  natRecheckMs?: number;
  /** How often a NATed node checks its public mapping (PROTOCOL.md 10.4); default 20 s. */
  mappingCheckMs?: number;
}

/** How the node found the address others reach it at (start-up NAT detection). */
interface Reachability {
  /** The address its Peer-ID hashes and it writes into the overlay. */
  advertised: { host: string; port: number };
  behindNat: boolean;
  stunServer?: StunServer;
  /** `stun=` to advertise (the STUN server's address as others reach it). */
  stun?: string;
  /**
   * Behind a symmetric NAT: the one peer this node attaches to as a client (PROTOCOL.md section
   * 10); `advertised` is then the mapping that peer saw.
   */
  attach?: { host: string; port: number };
  /** The STUN servers start-up learned of (the mapping watch asks them later). */
  stunServers?: string[];
}

/** How often a NATed node checks its public mapping (PROTOCOL.md 10.4): a change is noticed within 60 s. */
const MAPPING_CHECK_MS = 20_000;
/** A rejoin that found no peer is tried again after this long. */
const REJOIN_RETRY_MS = 5_000;

const NAT_RECHECK_MS = 5 * 60_000;
/** Candidates a NATed node asks for their load before it binds to one. */
const PROBED = 3;

/** How often lapsed phone registrations are swept (and leave the overlay). */
const REGISTRATION_SWEEP_MS = 1000;

export class KadsipNode {
  /**
   * self, overlay and registrations are replaced, together, when a NATed node's public mapping
   * changes and it rejoins under the new Peer-ID (PROTOCOL.md section 10.4): read them here, at
   * the time of use, rather than keeping them.
   */
  self: Contact;
  overlay: OverlayNode;
  readonly registrar: Registrar;
  readonly proxy: StatefulProxy;
  /** Where a request goes (registrar, overlay, RFC 3263): the proxy's resolver, also for src/index.ts's locate. */
  readonly location: LocationService;
  registrations: Registrations;
  private peerLink: OverlayOverSip;
  private mappingWatch?: MappingWatch;
  /** Rebuilds the overlay core under the Peer-ID of a new public address and rejoins (10.4). */
  private readonly rejoinAt: (address: { host: string; port: number }) => void;
  private readonly sweepTimer: NodeJS.Timeout;
  private natTimer?: NodeJS.Timeout;
  private flowKeepalive?: FlowKeepalive;
  /** Behind a symmetric NAT: registers the phones' AoRs at the attach peer (PROTOCOL.md section 10). */
  private attachRelay?: AttachRelay;
  /** `client` also when start-up found a symmetric NAT, whatever the configured role. */
  readonly role: 'peer' | 'client';
  /** `discover: lan`: the node's mDNS announcement, withdrawn on close. */
  private lanAnnouncer?: LanAnnouncer;
  private readonly stunServer?: StunServer;
  /** True when start-up found the node behind NAT (its Peer-ID hashes the reflexive address). */
  readonly behindNat: boolean;
  private httpClose?: () => Promise<void>;
  private closed = false;
  /** One log line per source and minute for peer requests refused by mutual TLS. */
  private readonly tlsRefusals = new PerSourceRateLimit(1024, 60_000);
  /** The overlay's trust mode (PROTOCOL.md section 11): open, secret or closed, with its material. */
  readonly trust: TrustMode;
  /** Closed overlay with a CRL file: reloads it when it changes. */
  private crlWatcher?: CrlWatcher;
  readonly metrics = new Registry();
  /** Rate limits, the overload detector and the overlay budget in front of the transaction layer (src/node/overload.ts). */
  readonly overload: OverloadControl;
  /** Who may do what on the phone side: trusted networks, digest challenges, cooling-off. */
  readonly policy: AdmissionPolicy;
  httpAddress?: { host: string; port: number };

  private constructor(
    readonly config: NodeConfig,
    private readonly log: Logger,
    readonly transport: SipTransport,
    readonly transactions: TransactionLayer,
    overlayConfig: Partial<OverlayConfig> | undefined,
    auth: DigestAuthenticator | undefined,
    reach: Reachability,
    trust: TrustMode,
  ) {
    this.trust = trust;
    // Secret mode: Peer-IDs are HMACs of the address under the secret (PROTOCOL.md 11.3).
    const idOf = trust.mode === 'secret' ? trust.peerIds.idOf : peerIdFromAddress;
    const local = canonicalEndpoint(transport.local(config.peerTransport));
    // The Peer-ID hashes the address as text (PROTOCOL.md sections 1 and 9), and peers hash the
    // canonical text of the address they see: `--public [2001:DB8:0::A]:5060` must hash 2001:db8::a.
    const adv = canonicalEndpoint(reach.advertised);
    this.behindNat = reach.behindNat;
    if (reach.stunServer) this.stunServer = reach.stunServer;
    this.self = {
      id: idOf(adv.host, adv.port),
      address: hostPort(adv.host, adv.port),
      ...(reach.stun ? { stun: reach.stun } : {}),
      ...(config.turn ? { turn: hostPort(config.turn.host, config.turn.port) } : {}),
    };
    // Signed (closed) or MACed (secret) bindings, PROTOCOL.md 11.3/11.4: one policy for every core
    // of this node, so a removal's tombstone outlives a rejoin.
    const bindings = bindingTrust(trust, log.child({ component: 'bindings' }));
    // The overlay core and its SIP link, for a Peer-ID: at start, and again on a rejoin (10.4).
    const makeCore = (self: Contact): { link: OverlayOverSip; overlay: OverlayNode } => {
      const link = new OverlayOverSip({
        transactions,
        overlay: config.overlay,
        self,
        protocol: config.peerTransport,
        log: log.child({ component: 'dsip' }),
        // Closed: the peer-authentication guard for this Peer-ID; secret: the Peer-ID scheme.
        ...linkTrust(trust, self, config.overlay, log.child({ component: 'peer-auth' })),
        ...(bindings.signerCertificates ? { signerCertificates: bindings.signerCertificates } : {}),
      });
      const overlay = new OverlayNode({
        self,
        transport: link,
        clock: realClock,
        random: new SeededRandom(randomInt(2 ** 32)),
        config: {
          k: config.k,
          maxShortlist: 3 * config.k,
          disjointPaths: config.disjointPaths,
          role: reach.attach ? 'client' : config.role,
          candidatesWanted: config.candidatesWanted ?? (reach.behindNat ? DEFAULT_CANDIDATES_WANTED : 0),
          ...overlayConfig,
        },
        onEvent: (event) => this.logOverlayEvent(event),
        ...(bindings.records ? { records: bindings.records } : {}),
        // What its STUN server counted: every DHT-PeerID it writes carries the figure (load=).
        ...(reach.stunServer ? { load: () => reach.stunServer!.load() } : {}),
      });
      return { link, overlay };
    };
    const core = makeCore(this.self);
    this.peerLink = core.link;
    this.overlay = core.overlay;
    // What the P2PSIP layer asks of the overlay, read through this node: the core may change.
    const overlayPort = overlayPortOf(() => this.overlay);
    const locationSelf = { host: adv.host, port: adv.port };
    // The node's own IP addresses count as an overlay domain: a phone that was given only the
    // node's address registers alice@IP and is reached as alice@IP from any node of the overlay.
    // IP hosts compare in canonical form: bob@[2001:DB8:0::A] is a user of the node at 2001:db8::a.
    const hostKey = (host: string): string => canonicalIp(host) ?? host.replace(/^\[|\]$/g, '').toLowerCase();
    const ownHosts = new Set([hostKey(local.host), hostKey(adv.host), ...config.domains]);
    const isOverlayHost = (host: string): boolean => ownHosts.has(hostKey(host));
    this.registrar = new Registrar({ domains: isOverlayHost, ...(auth ? { auth } : {}) });
    const attachPeer = reach.attach ? { protocol: 'udp' as const, host: reach.attach.host, port: reach.attach.port } : undefined;
    const location = new LocationService({
      registrar: this.registrar,
      overlay: overlayPort,
      isOverlayHost,
      self: locationSelf,
      dns: new Rfc3263Resolver({
        dns: new NodeDnsClient(config.dns.length > 0 ? { servers: config.dns } : {}),
        supportedTransports: config.transports,
      }),
      clock: realClock,
      peerProtocol: config.peerTransport,
      flowOpen: transport.hasFlow,
      ...(reach.attach ? { attachPeer: () => attachPeer } : {}),
    });
    this.location = location;
    this.role = reach.attach ? 'client' : config.role;
    // The overlay shadow of the phones' registrations, for the core and address of the moment. A
    // client behind a symmetric NAT publishes nothing itself: its attach peer does (section 10).
    const relay = attachPeer ? new AttachRelay({ transactions, peer: attachPeer, registrar: this.registrar, now: () => realClock.now(), log: log.child({ component: 'attach' }) }) : undefined;
    if (relay) this.attachRelay = relay;
    const makeRegistrations = (): Registrations =>
      new Registrations(this.registrar, overlayPort, this.self.address, realClock, log.child({ component: 'registrar' }), (aor) => {
        location.invalidate(aor);
        relay?.sync(aor);
      }, relay === undefined, bindings.signer);
    this.registrations = makeRegistrations();
    // Each transport at its own port (TLS has one of its own, 5061): an address's port for a
    // protocol keeps that protocol's offset from the overlay address's.
    const proxySelf = (a: { host: string; port: number }): Array<{ host: string; port: number; protocol: Protocol }> =>
      (a.host === local.host && a.port === local.port ? [a] : [a, local]).flatMap((x) =>
        config.transports.map((protocol) => ({ host: x.host, port: x.port + transport.local(protocol).port - local.port, protocol })),
      );
    // Who may do what (README "Who may do what", src/policy): asked by the proxy before it forwards.
    this.policy = new AdmissionPolicy({
      trustedNetworks: config.trustedNetworks,
      dnsRouting: config.dnsRouting,
      ...(auth ? { auth } : {}),
      failures: new AuthFailures({ limit: config.authFailures, windowMs: config.authFailureWindowS * 1000, coolingOffMs: config.authCoolingOffS * 1000 }),
      destinationOf: (pre) => {
        if (pre.headers.has('route')) return 'routed';
        const uri = pre.uri;
        if (uri.kind !== 'sip' || !isOverlayHost(uri.host)) return 'foreign';
        return this.registrar.lookup(canonicalAor(uri), realClock.now()).length > 0 ? 'registered-here' : 'overlay';
      },
      isPeer: (source) => {
        const address = hostPort(canonicalIp(source.host) ?? source.host, source.port);
        return this.overlay.contactList().some((c) => c.address === address);
      },
      now: () => realClock.now(),
      log: log.child({ component: 'policy' }),
    });
    this.proxy = new StatefulProxy({
      transactions,
      // Behind NAT the node has two addresses: the reflexive one for the public side, the local one
      // for phones behind the same NAT (which does not loop its public address back inside). A
      // request between the two sides is record-routed with both (RFC 5658): each end of the
      // dialog sends its in-dialog requests to the address it can reach.
      self: proxySelf(adv),
      addressFacing: addressFacing(local, adv),
      resolver: location,
      supportedExtensions: ['dht'],
      // The proxy's T1 scales its 9.1 wait and how soon it leaves a silent address of a server set.
      timers: { T1: config.sipT1Ms },
      logger: log.child({ component: 'proxy' }),
      admission: this.policy.admit,
    });
    transactions.onRequest((request, txn) => {
      if (this.closed) return;
      if (isPeerRequest(request)) {
        // Mutual TLS (README "TLS"): peer requests only over a TLS connection with a verified certificate.
        const refused = config.tls.mutual ? unverifiedPeerRefusal(request, txn.source, transport.isVerifiedTls, this.self.address) : null;
        if (refused !== null) {
          if (this.tlsRefusals.allow(`${txn.source.protocol}:${txn.source.host}`)) log.warn({ source: txn.source }, 'peer request refused: no verified TLS certificate (mutual TLS)');
          txn.respond(refused);
        } else this.peerLink.serve(request, txn, this.overlay);
      }
      else if (request.method === 'REGISTER') this.register(request, txn);
      else this.proxy.handleRequest(request, txn);
    });
    transactions.onStray((message, source) => {
      if (!this.closed) this.proxy.handleStray(message, source);
    });
    // Admission control before any transaction exists: per-source limits, overload, the overlay budget.
    const proxy = this.proxy;
    this.overload = startOverloadControl(config, transport, transactions, () => proxy.stats.contexts, log.child({ component: 'overload' }));
    this.sweepTimer = setInterval(() => this.registrations.tick(), REGISTRATION_SWEEP_MS);
    this.sweepTimer.unref();
    this.startFlowKeepalive();
    this.registerMetrics();
    this.rejoinAt = (address) => {
      if (this.closed) return;
      const next = canonicalEndpoint(address);
      const old = { overlay: this.overlay, registrations: this.registrations, self: this.self };
      this.self = { ...old.self, id: idOf(next.host, next.port), address: hostPort(next.host, next.port) };
      const fresh = makeCore(this.self);
      old.overlay.stop();
      this.peerLink = fresh.link;
      this.overlay = fresh.overlay;
      ownHosts.add(hostKey(next.host));
      Object.assign(locationSelf, next);
      this.proxy.setSelf(proxySelf(next), addressFacing(local, next));
      this.registrations = makeRegistrations();
      // Through the configured bootstraps and the peers the old core knew, a few of them.
      const seeds = [...new Set([...config.bootstrap.map((b) => hostPort(b.host, b.port)), ...old.overlay.contactList().map((c) => c.address)])].slice(0, 8);
      log.warn({ from: old.self.address, to: this.self.address, peerId: idToHex(this.self.id) }, 'NAT mapping changed: rejoining under the new Peer-ID');
      this.overlay.join(seeds.map((a) => ({ address: a })), (error) => {
        if (this.closed || this.overlay !== fresh.overlay) return;
        if (error) {
          log.warn({ err: error.message, retryInMs: REJOIN_RETRY_MS }, 'rejoin found no peer: trying again');
          setTimeout(() => this.overlay === fresh.overlay && this.rejoinAt(next), REJOIN_RETRY_MS).unref();
          return;
        }
        // The phones' AoRs under the new address, and the records naming the old one withdrawn
        // (any peer may REMOVE a value, PROTOCOL.md section 3).
        const aors = this.registrations.takeOver(old.registrations);
        for (const aor of aors) location.invalidate(aor);
        log.info({ address: this.self.address, aors: aors.length }, 'rejoined the overlay');
      });
    };
  }

  /** A REGISTER: 403 from a source cooling off after failed authentications, else the registrar's answer, counted. */
  private register(request: SipRequest, txn: ServerTransaction): void {
    const refused = this.policy.refuseRegister(txn.source);
    if (refused !== undefined && !refused.admit) {
      txn.respond(createResponse(request, refused.status, { reason: refused.reason, headers: refused.headers ?? [] }));
      return;
    }
    const result = this.registrations.handle(request, txn);
    this.policy.registerOutcome(txn.source, result.response.status, result.authFailure);
  }

  /** PROTOCOL.md section 10.4: a NATed node checks its mapping every MAPPING_CHECK_MS and rejoins when it changed. */
  private startMappingWatch(servers: readonly string[], intervalMs: number): void {
    const socket = this.transport.udpSocket();
    if (!socket) return;
    this.mappingWatch = new MappingWatch({
      socket,
      // The start-up servers first, then whatever the overlay offered since.
      servers: () => [...new Set([...servers, ...this.overlay.discoveredCandidates().map((c) => c.stun)])],
      // self.address is always IP:PORT as this node wrote it, so it always splits.
      current: () => splitAddress(this.self.address)!,
      intervalMs,
      onChange: (mapped, server) => {
        this.log.info({ mapped: hostPort(mapped.host, mapped.port), server }, 'STUN names a new mapping');
        this.rejoinAt(mapped);
      },
      log: this.log.child({ component: 'nat' }),
    });
  }

  /**
   * Binds the sockets and joins the overlay (none to join through: a new overlay of one). All or
   * nothing: a step that fails closes everything the steps before it opened (sockets, STUN and
   * HTTP servers) and throws a StartupError whose message is one line for the operator.
   */
  static async start(options: KadsipNodeOptions): Promise<KadsipNode> {
    const { logger } = options;
    // Bootstraps from DNS (`dns:DOMAIN`) and the link (`discover: lan`), before NAT probing and the join.
    const discovered = await discoverBootstraps({ config: options.config, log: logger.child({ component: 'discovery' }) }).catch((e: unknown) => {
      throw e instanceof BootstrapDiscoveryError ? new StartupError(e.message, e) : e;
    });
    // The trust files first: a bad one stops start-up before any socket opens. A closed overlay
    // takes its name from its CA (PROTOCOL.md 11.1).
    let loaded: { trust: TrustMode; overlay: string };
    try {
      loaded = loadTrustMode(options.config);
    } catch (e) {
      throw e instanceof TrustSetupError ? new StartupError(e.message, e) : e;
    }
    const { trust } = loaded;
    const config = { ...options.config, bootstrap: discovered.bootstrap, overlay: loaded.overlay };
    if (trust.mode === 'open') logger.warn({ overlay: config.overlay }, 'open overlay: any peer may join and store');
    let tls: TlsMaterial | undefined;
    try {
      tls = config.transports.includes('tls') ? loadTlsMaterial(config.tls) : undefined;
    } catch (e) {
      throw e instanceof TlsSetupError ? new StartupError(e.message, e) : e;
    }
    const { transport, transactions } = await openSipStack({
      host: config.listen.host,
      port: config.listen.port,
      protocols: config.transports,
      ...(tls ? { tls: { port: config.tls.port, material: tls } } : {}),
      clock: realClock,
      timers: { T1: config.sipT1Ms },
      logger: logger.child({ component: 'transport' }),
      transactionLogger: logger.child({ component: 'transaction' }),
    }).catch((e: unknown) => {
      throw new StartupError(`cannot listen for SIP on ${hostPort(config.listen.host, config.listen.port)} (${config.transports.join(', ')}): ${systemErrorText(e)}`, e);
    });
    let reach: Reachability | undefined;
    let node: KadsipNode | undefined;
    try {
      let auth: DigestAuthenticator | undefined;
      if (config.usersFile) {
        const users = await loadUsersFile(config.usersFile).catch((e: unknown) => {
          throw new StartupError(`usersFile ${config.usersFile}: ${systemErrorText(e)}`, e);
        });
        const realm = config.realm ?? config.domains[0] ?? config.listen.host;
        auth = new DigestAuthenticator({ realm, users, secret: randomBytes(32), algorithms: config.digestAlgorithms });
      }
      reach = await findReachability(config, transport, transactions, logger, trust);
      const created = new KadsipNode(config, logger, transport, transactions, options.overlay, auth, reach, trust);
      node = created;
      await created.startTrust();
      if (config.http) {
        const at = config.http;
        const http = await startHttpStatus(at, {
          healthy: () => created.overlay.state === 'joined',
          status: () => created.status(),
          metrics: created.metrics,
        }).catch((e: unknown) => {
          throw new StartupError(`cannot serve HTTP on ${hostPort(at.host, at.port)}: ${systemErrorText(e)}`, e);
        });
        created.httpClose = http.close;
        created.httpAddress = http.address;
      }
      logger.info(
        { peerId: idToHex(created.self.id), address: created.self.address, overlay: config.overlay, transports: config.transports, role: created.role, ...(created.self.stun ? { stun: created.self.stun } : {}) },
        'node listening',
      );
      // Discovered bootstraps that all fail are discovered again (bounded): src/node/bootstrap-discovery.ts.
      await joinWithRediscovery({
        // Behind a symmetric NAT only the attach peer knows this node's Peer-ID to be right.
        bootstrap: reach.attach ? [reach.attach] : config.bootstrap,
        ...(discovered.rediscover ? { rediscover: discovered.rediscover } : {}),
        log: logger.child({ component: 'discovery' }),
        join: (list) =>
          new Promise<void>((resolve, reject) => {
            const bootstraps = list.map((b) => ({ address: hostPort(b.host, b.port) }));
            created.overlay.join(bootstraps, (error) => (error ? reject(new StartupError(`could not join the overlay: ${error.message}`, error)) : resolve()));
          }),
      }).catch((e: unknown) => {
        throw e instanceof BootstrapDiscoveryError ? new StartupError(e.message, e) : e;
      });
      const onLink = transport.local(config.peerTransport);
      const lan = await announceOnLan({ config, role: created.role, peerIdHex: idToHex(created.self.id), address: { host: onLink.host, port: onLink.port }, log: logger.child({ component: 'discovery' }) }).catch((e: unknown) => {
        throw e instanceof BootstrapDiscoveryError ? new StartupError(e.message, e) : e;
      });
      if (lan) created.lanAnnouncer = lan;
    } catch (e) {
      if (node) await node.close();
      else {
        transactions.close();
        await transport.close();
        await reach?.stunServer?.close();
      }
      throw e;
    }
    if (node.overlay.config.candidatesWanted > 0) node.startNatRecheck(options.natRecheckMs ?? NAT_RECHECK_MS);
    // Behind an endpoint-independent NAT the node is a peer at its mapping: watch it (10.4).
    if (reach?.behindNat && !reach.attach && reach.stunServers?.length) node.startMappingWatch(reach.stunServers, options.mappingCheckMs ?? MAPPING_CHECK_MS);
    return node;
  }

  /**
   * A closed overlay's upkeep: the certificate cache re-checks its members on a timer and after each
   * CRL reload, and a member whose certificate expired or was revoked leaves the routing table.
   */
  private async startTrust(): Promise<void> {
    const { trust } = this;
    if (trust.mode !== 'closed') return;
    const log = this.log.child({ component: 'peer-auth' });
    const own = trust.material.own;
    const self = this.self.address;
    if (own.addresses.length > 0 && !own.addresses.includes(self)) {
      log.warn({ address: self, certificateAddresses: own.addresses }, 'this node\'s certificate does not name its address: peers will refuse it (403)');
    }
    trust.cache.onDrop((peer, reason) => {
      const evicted = this.overlay.evict(peer.peerId);
      log.warn({ peer: peer.address, name: peer.identity.name, reason, evicted }, 'peer membership ended: certificate no longer valid');
    });
    trust.cache.start();
    const crl = this.config.trust.crl;
    if (crl !== undefined) {
      this.crlWatcher = await watchCrl(trust.material.anchor, crl, { logger: this.log.child({ component: 'crl' }), onReload: () => trust.cache.recheck(Date.now()) });
      this.crlWatcher.start();
    }
    log.info({ name: own.name, certificate: own.fingerprint, ca: trust.material.anchor.caFingerprint, overlay: this.config.overlay }, 'closed overlay: peers must show a certificate of the overlay CA');
  }

  status(): object {
    const view = this.overlay.view();
    const discovered = this.overlay.discoveredCandidates();
    return {
      peerId: idToHex(this.self.id),
      address: this.self.address,
      role: this.role,
      behindNat: this.behindNat,
      ...(this.attachRelay ? { attachPeer: hostPort(this.attachRelay.peer.host, this.attachRelay.peer.port), relayedAors: this.attachRelay.aors().length } : {}),
      ...(this.self.stun ? { stun: this.self.stun, load: this.overlay.self.load ?? 0 } : {}),
      ...(this.self.turn ? { turn: this.self.turn } : {}),
      candidates: discovered.length,
      // What a NATed user configures the phone with: the STUN/TURN servers the overlay offered.
      discoveredCandidates: discovered,
      overlay: this.config.overlay,
      trust: trustStatus(this.trust),
      state: view.state,
      contacts: view.contacts,
      contactsPerBucket: view.contactsPerBucket,
      recordsHeld: view.recordsHeld,
      recordsPublished: view.recordsPublished,
      registeredAors: [...this.registrar.aors()].length,
      policy: this.policyStatus(),
      overload: this.overload.status(),
      proxy: this.proxy.stats,
      rpc: this.overlay.stats,
      transport: this.transport.stats,
      transactions: this.transactions.stats,
    };
  }

  /** Graceful: hands records over and says goodbye (bounded by shutdownGraceS), then closes. */
  async leave(): Promise<void> {
    if (this.closed) return;
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        new Promise<void>((resolve) => this.overlay.leave(resolve)),
        new Promise<void>((resolve) => {
          timer = setTimeout(resolve, this.config.shutdownGraceS * 1000);
        }),
      ]);
    } finally {
      // Whatever happened while leaving, the sockets close and the process can exit.
      clearTimeout(timer);
      await this.close();
    }
  }

  /** Immediate: stops the core, closes sockets and the HTTP server. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.sweepTimer);
    clearInterval(this.natTimer);
    this.overload.stop();
    this.mappingWatch?.stop();
    this.crlWatcher?.stop();
    if (this.trust.mode === 'closed') this.trust.cache.stop();
    this.attachRelay?.close();
    this.flowKeepalive?.stop();
    await this.lanAnnouncer?.close();
    this.proxy.close();
    this.overlay.stop();
    this.transactions.close();
    await this.transport.close();
    await this.stunServer?.close();
    await this.httpClose?.();
  }

  /**
   * draft-jiang section 5: a node that asks for candidates (a NATed one) checks a received one now
   * and then (STUN Binding from the SIP socket, which also keeps a NAT mapping alive); one that does
   * not answer is forgotten. Which one: it asks up to PROBED candidates of the best priority for
   * their current load (KADSIP-LOAD queries, in parallel; the advertised figures may be minutes
   * old) and binds to the least loaded, which counts it as a client from then on.
   */
  private startNatRecheck(intervalMs: number): void {
    const socket = this.transport.udpSocket();
    if (!socket) return;
    const random = new SeededRandom(randomInt(2 ** 32));
    let running = false;
    const timeoutMs = Math.min(3000, intervalMs);
    /** One Binding; a candidate that does not answer is forgotten. */
    const bind = async (candidate: Candidate, queryLoad: boolean): Promise<Candidate | null> => {
      const server = splitAddress(candidate.stun);
      if (!server) return null;
      try {
        const result = await stunBinding(server, { socket, timeoutMs, rto: 250, queryLoad });
        const mapped = hostPort(result.mapped.host, result.mapped.port);
        if (mapped !== this.self.address) this.log.warn({ reflexive: mapped, peerAddress: this.self.address, server: candidate.stun }, 'reflexive address changed');
        return result.load === undefined ? candidate : { ...candidate, load: result.load };
      } catch (e) {
        this.overlay.forgetCandidate(candidate.stun);
        this.log.info({ server: candidate.stun, err: (e as Error).message }, 'STUN candidate does not answer: forgotten');
        return null;
      }
    };
    this.natTimer = setInterval(() => {
      const probed = probeOrder(this.overlay.discoveredCandidates(), random, PROBED);
      if (running || this.closed || probed.length === 0) return;
      running = true;
      void (async () => {
        const answered = (await Promise.all(probed.map((c) => bind(c, true)))).filter((c) => c !== null);
        const chosen = leastLoaded(answered, random);
        if (chosen && !this.closed) await bind(chosen, false);
      })().finally(() => (running = false));
    }, intervalMs);
    this.natTimer.unref();
  }

  /**
   * Behind NAT, phones' UDP flows stay open because this node pings them (CRLF CRLF every
   * natKeepaliveS, src/p2psip/flow-keepalive.ts), and phones that keep their own flow alive with
   * STUN (RFC 5626 section 4.4.1, `;ob`) get their Binding answers on the SIP port.
   */
  private startFlowKeepalive(): void {
    const socket = this.transport.udpSocket();
    if (!socket) return;
    StunServer.attach(socket, { logger: this.log.child({ component: 'stun-keepalive' }) });
    if (this.config.natKeepaliveS <= 0) return;
    const registrar = this.registrar;
    const bindings = function* () {
      const now = realClock.now();
      for (const aor of registrar.aors()) yield* registrar.lookup(aor, now);
    };
    this.flowKeepalive = new FlowKeepalive({
      clock: realClock,
      intervalMs: this.config.natKeepaliveS * 1000,
      flows: () => natFlows(bindings(), this.transport.hasFlow),
      send: (to) => {
        if (this.closed) return;
        // Best effort: an unreachable phone is the registrar's business (its binding expires).
        socket.send(KEEPALIVE_PING, to.port, to.host, () => undefined);
      },
    });
    this.flowKeepalive.start();
  }

  private logOverlayEvent(event: OverlayEvent): void {
    switch (event.type) {
      case 'contact-dropped':
        this.log.debug({ peer: event.contact.address }, 'contact dropped');
        return;
      case 'handed-over':
        this.log.info({ peer: event.to.address, records: event.records }, 'records handed over');
        return;
      case 'store-refused':
        this.log.warn({ peer: event.from.address, reason: event.reason }, `${event.op ?? 'STORE'} refused`);
        return;
      case 'joined':
        this.log.info({ contacts: event.contacts }, 'joined overlay');
        return;
      case 'join-failed':
        this.log.error({ reason: event.reason }, 'join failed');
        return;
      case 'left':
        this.log.info({ records: event.records }, 'leaving overlay');
        return;
    }
  }

  /** /status `policy`: the settings in force and what they did since start. */
  private policyStatus(): object {
    const { stats } = this.policy;
    return {
      trust: this.policy.trustedNetworks.map((n) => n.text),
      dnsRouting: this.config.dnsRouting,
      authentication: this.config.usersFile !== null,
      coolingOffNow: this.policy.coolingOffNow(),
      ...stats,
      accepted: { ...stats.accepted },
    };
  }

  private registerMetrics(): void {
    collectDefaultMetrics({ register: this.metrics, prefix: 'kadsip_process_' });
    const gauge = (name: string, help: string, read: () => number): void => {
      new Gauge({ name, help, registers: [this.metrics], collect() { this.set(read()); } });
    };
    gauge('kadsip_routing_contacts', 'Contacts in the routing table', () => this.overlay.view().contacts);
    gauge('kadsip_records_held', 'Overlay records held for others', () => this.overlay.view().recordsHeld);
    gauge('kadsip_rpcs_sent', 'Overlay RPCs sent since start', () => this.overlay.stats.rpcsSent);
    gauge('kadsip_rpcs_failed', 'Overlay RPCs that failed since start', () => this.overlay.stats.rpcsFailed);
    gauge('kadsip_requests_handled', 'Overlay requests handled since start', () => this.overlay.stats.requestsHandled);
    this.overload.registerMetrics(this.metrics);
    // Who may do what (src/policy): what an operator watches for an attack on the phone side.
    const p = this.policy.stats;
    gauge('kadsip_auth_challenges_407', 'Proxy-Authenticate challenges (407) sent since start', () => p.challenges407);
    gauge('kadsip_auth_challenges_401', 'WWW-Authenticate challenges (401) to REGISTER sent since start', () => p.challenges401);
    gauge('kadsip_auth_failures', 'Wrong digest credentials (REGISTER and proxied requests) since start', () => p.authFailures);
    gauge('kadsip_auth_cooling_off_refusals', 'Requests refused 403 because their source was cooling off after failed authentications', () => p.coolingOffRefusals);
    gauge('kadsip_auth_cooling_off_sources', 'Source addresses cooling off now', () => this.policy.coolingOffNow());
    gauge('kadsip_policy_refusals', 'Requests refused by policy since start: 403 Not Relaying and 404 with DNS routing off', () => p.notRelaying + p.dnsRoutingRefusals);
    const { trust } = this;
    if (trust.mode === 'closed') {
      // PROTOCOL.md 11.2: who proved themselves, and who was refused.
      gauge('kadsip_authenticated_peers', 'Peers that proved their certificate to this node (closed overlay)', () => trust.cache.peerCount);
      gauge('kadsip_peer_requests_refused', 'Peer requests refused by peer authentication since start (428, 437, 438, 403)', () => Object.values(trust.stats.refused).reduce((a, b) => a + b, 0));
      gauge('kadsip_peer_answers_refused', 'Answers not believed: unverified responder, bad certificate or proof', () => trust.stats.answersRefused);
    }
  }
}


/** A start-up step that failed, said in one line an operator can act on (the cause is kept for debug logs). */
export class StartupError extends Error {
  constructor(message: string, cause?: unknown) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'StartupError';
  }
}

/** A system error in words: what EADDRINUSE and its kin mean for a server socket. */
function systemErrorText(e: unknown): string {
  const code = (e as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'EADDRINUSE':
      return 'the address is already in use (another process listens there)';
    case 'EADDRNOTAVAIL':
      return 'no interface of this host has that address';
    case 'EACCES':
      return 'permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)';
    case 'ENOENT':
      return 'no such file';
    default:
      return e instanceof Error ? e.message : String(e);
  }
}

/** The endpoint with its IP in canonical text (RFC 5952 for IPv6, IPv4-mapped as IPv4); a non-IP host as given. */
function canonicalEndpoint(e: { host: string; port: number }): { host: string; port: number } {
  return { host: canonicalIp(e.host) ?? e.host, port: e.port };
}

/**
 * Starts the STUN server (--stun) and finds the address the node is reached at: --public when
 * given; else, with bootstraps and UDP, STUN from the SIP socket to a server the bootstraps name
 * (src/node/nat.ts); else the listen address.
 */
async function findReachability(config: NodeConfig, transport: SipTransport, transactions: TransactionLayer, log: Logger, trust: TrustMode): Promise<Reachability> {
  const local = transport.local(config.peerTransport);
  let advertised = config.public ?? { host: local.host, port: local.port };
  let behindNat = false;
  let attach: { host: string; port: number } | undefined;
  let stunServers: string[] | undefined;
  const socket = transport.udpSocket();
  // NAT probing learns the UDP port's mapping: a node whose peers reach it over TLS (its own port)
  // gives --public behind NAT instead.
  if (!config.public && config.bootstrap.length > 0 && socket && config.peerTransport !== 'tls') {
    const outcome = await probeNat({
      transactions,
      socket,
      local: { host: local.host, port: local.port },
      overlay: config.overlay,
      bootstraps: config.bootstrap.map((b) => hostPort(b.host, b.port)),
      // A closed overlay answers an unproven PING 428 without candidates; a secret one 488.
      firstContact: firstContactTrust(trust, { host: local.host, port: local.port }, config.overlay),
    });
    const attachTo = outcome.kind === 'detected' && outcome.detection.behindNat && outcome.mapping === 'dependent' ? outcome.observations.find((o) => o.via === 'sip') : undefined;
    // (A node configured as a client is one already, but it too must attach where its Peer-ID fits.)
    if (attachTo) {
      // A symmetric NAT: each destination sees another mapping, so no Peer-ID fits more than one
      // peer and nobody reaches this node at an address a third party saw. It runs as a client of
      // the bootstrap whose answer named its mapping (PROTOCOL.md section 10). One line says so.
      const bootstrap = splitAddress(attachTo.server);
      if (bootstrap) {
        advertised = attachTo.mapped;
        behindNat = true;
        attach = bootstrap;
        log.warn(
          { attachPeer: attachTo.server, reflexive: hostPort(attachTo.mapped.host, attachTo.mapped.port), local: hostPort(local.host, local.port), mappings: outcome.kind === 'detected' ? outcome.observations.map((o) => `${o.server}->${hostPort(o.mapped.host, o.mapped.port)}`) : [] },
          'symmetric NAT (a new mapping per destination): running as a client attached to its bootstrap',
        );
      }
    } else if (outcome.kind === 'detected') {
      const { detection, server } = outcome;
      stunServers = [server, ...outcome.candidates.filter((c) => c !== server)];
      if (detection.behindNat) {
        advertised = detection.reflexive;
        behindNat = true;
        log.info(
          {
            reflexive: hostPort(detection.reflexive.host, detection.reflexive.port),
            local: hostPort(local.host, local.port),
            reason: detection.reason,
            server,
            mapping: outcome.mapping === 'unknown' ? 'unknown: one server only answered, endpoint-independent assumed' : outcome.mapping,
          },
          'nat detected',
        );
      } else {
        log.info({ address: hostPort(local.host, local.port), server }, 'public address');
      }
    } else if (outcome.kind === 'no-candidate') {
      log.warn({ bootstrapsAnswered: outcome.answered }, 'no STUN server advertised by the bootstraps: NAT not checked, using the listen address');
    } else {
      log.warn({ candidates: outcome.candidates }, 'no STUN candidate answered: NAT not checked, using the listen address');
    }
  }
  let stunServer: StunServer | undefined;
  let stun: string | undefined;
  if (config.stun) {
    const at = config.stun;
    stunServer = await StunServer.listen({ host: at.host, port: at.port, logger: log.child({ component: 'stun' }) }).catch((e: unknown) => {
      throw new StartupError(`cannot run the STUN server on ${hostPort(at.host, at.port)}: ${systemErrorText(e)}`, e);
    });
    const bound = stunServer.address();
    const wildcard = bound.host === '0.0.0.0' || bound.host === '::';
    stun = hostPort(wildcard ? advertised.host : bound.host, bound.port);
  }
  return { advertised, behindNat, ...(stunServer ? { stunServer } : {}), ...(stun ? { stun } : {}), ...(attach ? { attach } : {}), ...(stunServers ? { stunServers } : {}) };
}
