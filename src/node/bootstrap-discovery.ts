/**
 * Finding a first peer without typing its address (docs/PROTOCOL.md section 8, README "Finding a
 * first peer"): the `dns:DOMAIN` entries of the bootstrap list are resolved by DNS-SD/SRV, and with
 * `discover: lan` the link is asked by multicast DNS-SD. Runs at start, before NAT probing and the
 * join, and again (bounded) when every bootstrap of a join failed.
 *
 * Outcomes at start:
 * - some peer found (typed, DNS or LAN): those are the bootstraps, typed ones first;
 * - DNS names only this node (the seed of a zone that lists every peer): a new overlay;
 * - `discover: lan` and nobody answered on the link (and nothing else configured): a new overlay;
 * - nothing found and a `dns:` entry failed (NXDOMAIN, no records, SERVFAIL, timeout): a
 *   BootstrapDiscoveryError with one human line (a run-time failure: exit 1).
 */
import { hostPort } from '../common/host-port.js';
import { isIP } from 'node:net';
import type { Logger } from 'pino';
import { BootstrapDiscoveryError, resolveDnsBootstraps, type DnsSdClient } from '../discovery/dns-sd.js';
import { LanAnnouncer, lanNames, queryLan } from '../discovery/mdns.js';
import { NodeDnsClient, type RandomSource } from '../resolve/index.js';
import type { HostPort, NodeConfig, Protocol } from './config.js';

export { BootstrapDiscoveryError } from '../discovery/dns-sd.js';

export interface DiscoveryOptions {
  readonly config: NodeConfig;
  readonly log: Logger;
  /** Default: NodeDnsClient on the `dns` setting's servers (the system's when empty). */
  readonly dns?: DnsSdClient;
  /** How long to listen for mDNS answers, ms (default 2000). */
  readonly lanWaitMs?: number;
  /** mDNS port (default 5353). */
  readonly lanPort?: number;
  readonly random?: RandomSource;
}

export interface Discovered {
  /** Typed bootstraps first, then DNS, then LAN ones; without duplicates and without this node. */
  readonly bootstrap: HostPort[];
  /** Present when something was discovered: runs the discovery again, asking afresh. */
  readonly rediscover?: () => Promise<HostPort[]>;
}

function peerProtocol(config: NodeConfig): Protocol {
  return config.peerTransport;
}

function key(h: HostPort): string {
  return `${h.host.toLowerCase()}|${h.port}`;
}

function show(h: HostPort): string {
  return hostPort(h.host, h.port);
}

/** The configured bootstraps plus those found in DNS and on the link. */
export async function discoverBootstraps(opts: DiscoveryOptions): Promise<Discovered> {
  const { config } = opts;
  if (config.bootstrapDns.length === 0 && config.discover !== 'lan') return { bootstrap: config.bootstrap };
  const once = (): Promise<HostPort[]> => discoverOnce(opts);
  return { bootstrap: await once(), rediscover: once };
}

async function discoverOnce(opts: DiscoveryOptions): Promise<HostPort[]> {
  const { config, log } = opts;
  const protocol = peerProtocol(config);
  const own = new Set([key(config.listen), ...(config.public ? [key(config.public)] : [])]);
  const dns = opts.dns ?? new NodeDnsClient(config.dns.length > 0 ? { servers: config.dns } : {});
  const family = isIP(config.listen.host) === 6 ? 6 : 4;
  const failures: string[] = [];
  let onlySelf = false;
  const fromDns = await Promise.all(
    config.bootstrapDns.map(async (domain) => {
      try {
        const r = await resolveDnsBootstraps(domain, { dns, overlay: config.overlay, protocol, family, ...(opts.random ? { random: opts.random } : {}) });
        for (const s of r.skipped) log.warn({ domain, record: s.name, reason: s.reason }, 'DNS bootstrap record not used');
        const peers = r.peers.filter((p) => !own.has(key(p)));
        if (peers.length === 0) onlySelf = true;
        log.info({ domain, peers: peers.map(show) }, 'bootstrap peers from DNS');
        return peers;
      } catch (e) {
        if (!(e instanceof BootstrapDiscoveryError)) throw e;
        failures.push(e.message);
        return [];
      }
    }),
  );
  let fromLan: HostPort[] = [];
  if (config.discover === 'lan') {
    const r = await queryLan({
      interfaceIp: config.listen.host,
      log,
      overlay: config.overlay,
      protocol,
      ...(opts.lanWaitMs !== undefined ? { waitMs: opts.lanWaitMs } : {}),
      ...(opts.lanPort !== undefined ? { port: opts.lanPort } : {}),
      ...(opts.random ? { random: opts.random } : {}),
    });
    for (const s of r.skipped) log.info({ instance: s.name, reason: s.reason }, 'mDNS instance not used');
    fromLan = r.peers.filter((p) => !own.has(key(p)));
    log.info({ peers: fromLan.map(show) }, fromLan.length > 0 ? 'bootstrap peers heard on the link (mDNS)' : 'no kadsip peer answered on the link (mDNS)');
  }
  const seen = new Set<string>();
  const all = [...config.bootstrap, ...fromDns.flat(), ...fromLan].filter((h) => {
    const k = key(h);
    if (seen.has(k) || own.has(k)) return false;
    seen.add(k);
    return true;
  });
  for (const f of failures) log.warn({ reason: f }, 'DNS bootstrap lookup failed');
  if (all.length === 0) {
    if (failures.length > 0 && !onlySelf && config.discover !== 'lan') throw new BootstrapDiscoveryError(`bootstrap ${failures.join('; ')}`);
    log.info(onlySelf ? 'DNS names only this node: starting a new overlay' : 'no peer found: starting a new overlay');
  }
  return all;
}

export interface JoinRetryOptions {
  /** Joins through these addresses; rejects when none answered. */
  readonly join: (bootstraps: readonly HostPort[]) => Promise<void>;
  readonly bootstrap: readonly HostPort[];
  readonly rediscover?: () => Promise<HostPort[]>;
  readonly log: Logger;
  /** Join attempts in all, each after a fresh discovery but the first. Default 3. */
  readonly rounds?: number;
  /** Wait before a new discovery, ms. Default 5000. */
  readonly retryMs?: number;
}

/**
 * Joins; when no bootstrap answered and the bootstraps were discovered (DNS or LAN), waits, asks
 * again (the zone or the link may have changed: a restarted seed at a new address), and joins
 * through the fresh answers, for a bounded number of rounds. Without discovery: one attempt, as before.
 */
export async function joinWithRediscovery(opts: JoinRetryOptions): Promise<void> {
  const rounds = opts.rounds ?? 3;
  let list = [...opts.bootstrap];
  for (let round = 1; ; round++) {
    try {
      await opts.join(list);
      return;
    } catch (e) {
      if (!opts.rediscover || round >= rounds) {
        if (opts.rediscover && list.length > 0) throw new BootstrapDiscoveryError(`${(e as Error).message} (tried ${list.map(show).join(', ')}; discovered ${round} times)`);
        throw e;
      }
      opts.log.warn({ round, bootstraps: list.map(show), reason: (e as Error).message }, 'no bootstrap answered: discovering the bootstraps again');
      await new Promise((r) => setTimeout(r, opts.retryMs ?? 5000));
      // A DNS server that is down for a moment (restarting with the new zone, say) costs a round,
      // not the node: it tries the bootstraps it had, and asks DNS again at the next round.
      list = await opts.rediscover().catch((e2: unknown) => {
        opts.log.warn({ round, reason: (e2 as Error).message }, 'discovering the bootstraps again failed: trying the ones found before');
        return list;
      });
    }
  }
}

/**
 * Announces the node on its link when `discover: lan` (closed by the node on leave/close). Only a
 * peer announces itself: a client (configured, or made one at start) routes and stores nothing for
 * others, so it is no bootstrap to offer.
 */
export async function announceOnLan(opts: {
  config: NodeConfig;
  /** The role the node runs in now. */
  role: 'peer' | 'client';
  peerIdHex: string;
  /** The SIP address on the link (the listen address). */
  address: HostPort;
  log: Logger;
  port?: number;
}): Promise<LanAnnouncer | undefined> {
  if (opts.config.discover !== 'lan') return undefined;
  if (opts.role !== 'peer') {
    opts.log.info('a client does not announce itself on the link (mDNS): it is no bootstrap for others');
    return undefined;
  }
  const names = lanNames(opts.peerIdHex);
  return LanAnnouncer.start({
    interfaceIp: opts.address.host,
    log: opts.log,
    ...(opts.port !== undefined ? { port: opts.port } : {}),
    self: { ...names, address: opts.address.host, port: opts.address.port, overlay: opts.config.overlay, transports: opts.config.transports, protocol: peerProtocol(opts.config) },
  });
}
