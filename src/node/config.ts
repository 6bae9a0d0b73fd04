/**
 * Node configuration from three sources, later ones winning: built-in defaults, a JSON config file
 * (--config), environment variables (KADSIP_*), command-line flags. Every value is checked here, so
 * the rest of the node can trust it; a bad value stops start-up with a message naming it.
 */
import { hostPort } from '../common/host-port.js';
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { MAX_CANDIDATES } from '../overlay/candidates.js';
import { parseCidr, type Cidr } from '../policy/cidr.js';

/** A SIP transport protocol a node listens on (`tls`: SIP over TLS, RFC 3261 26.2, on its own port). */
export type Protocol = 'udp' | 'tcp' | 'tls';

/** An IP address (IPv6 without brackets) and a port. */
export interface HostPort {
  host: string;
  port: number;
}

/** A node's configuration, every value checked (what resolveConfig returns from ConfigInput). */
export interface NodeConfig {
  /** Where the node's SIP transports listen (its public address unless behind NAT). */
  listen: HostPort;
  transports: Protocol[];
  /**
   * The transport peers speak between them (dSIP). Its address is the node's overlay address (the
   * one its Peer-ID hashes): with `tls`, the TLS port. Default udp when listed, else tcp, else tls.
   */
  peerTransport: Protocol;
  /** TLS (transports include `tls`): port, certificate files, mutual TLS between peers. */
  tls: TlsSettings;
  /** Peers to join through; empty: start a new overlay. */
  bootstrap: HostPort[];
  /**
   * Domains whose DNS-SD/SRV records name bootstrap peers (`dns:DOMAIN` entries of the bootstrap
   * list; docs/PROTOCOL.md section 8.1), resolved at start and added to `bootstrap`.
   */
  bootstrapDns: string[];
  /** `lan`: find peers on the link by multicast DNS-SD and announce this node there (section 8.2). */
  discover: 'lan' | null;
  /** Overlay name carried in DHT-PeerID `overlay=`. */
  overlay: string;
  /** SIP domains served by the overlay (issue 4: phones' AoRs in these domains live in the overlay). */
  domains: string[];
  /** Address of the HTTP status server (/status, /healthz, /metrics); null: none. */
  http: HostPort | null;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  /** Seconds a graceful leave may take on SIGTERM before the process exits anyway. */
  shutdownGraceS: number;
  /**
   * Kademlia k: bucket size and number of peers storing each record. Every peer of an overlay must
   * use the same value; 20 (PROTOCOL.md section 3) unless a small test overlay needs fewer replicas.
   */
  k: number;
  /**
   * Disjoint paths each lookup runs over (S/Kademlia; PROTOCOL.md 11.5): a local choice, peers
   * may differ. 3 by default, from the hostile-peer figures in docs/BENCHMARKS.md.
   */
  disjointPaths: number;
  /** DNS servers for RFC 3263 resolution of non-overlay domains (IP or IP:PORT); empty: the system's. */
  dns: string[];
  /** Users file for digest authentication of phones (lines user:password or user:realm:HA1); null: none. */
  usersFile: string | null;
  /** Digest realm; default the first overlay domain, else the listen IP. */
  realm: string | null;
  /**
   * The `trust` setting (README "Who may do what"): source networks whose requests leave the node
   * without a digest challenge (Kamailio's trusted addresses). Default loopback only.
   */
  trustedNetworks: Cidr[];
  /** Whether phones' requests may go to other domains by RFC 3263; false: 404. */
  dnsRouting: boolean;
  /** Failed digest authentications from one IP within authFailureWindowS that start a cooling-off. */
  authFailures: number;
  authFailureWindowS: number;
  /** Seconds a source that failed too often gets 403 without its credentials being checked. */
  authCoolingOffS: number;
  /**
   * Digest algorithms offered, in challenge order. RFC 8760 puts SHA-256 first; some phones (and
   * SIPp 3.6) answer only the first challenge and know only MD5: list MD5 first for them.
   */
  digestAlgorithms: ('SHA-256' | 'MD5')[];
  /**
   * SIP timer T1 in ms (RFC 3261 17.1.1.1: 500, "an estimate of the RTT"; it may be lowered where
   * the RTT is known to be small). Timers A, B, E, F, G, H, J scale with it.
   */
  sipT1Ms: number;
  /**
   * Overload (README "Under attack: rate limits and overload"; src/sip/admission.ts). rateLimit:
   * new out-of-dialog requests per second one phone source (an IP, an IPv6 /64) may send, a burst
   * of twice that; 0: no limit. overlayRateLimit: peer requests per second, node-wide, the overlay's
   * own budget; 0: none. The overload detector's thresholds (src/common/overload-detector.ts):
   * event-loop utilisation 0-1, p99 event-loop delay in ms, requests in progress; 0: that signal off.
   */
  rateLimit: number;
  overlayRateLimit: number;
  overloadUtilisation: number;
  overloadLagMs: number;
  overloadDepth: number;
  /** `client`: attaches to a peer and uses the overlay, but routes and stores nothing for others. */
  role: 'peer' | 'client';
  /** Run a STUN server here and advertise it (`stun=` in DHT-PeerID, draft-jiang); null: none. */
  stun: HostPort | null;
  /** A TURN server running beside the node (coturn, say), advertised as `turn=`; null: none. */
  turn: HostPort | null;
  /** STUN/TURN candidates to ask for (DHT-Candidates-Wanted); null: 10 behind NAT, else 0. */
  candidatesWanted: number | null;
  /** The address others reach this node at (skips NAT detection); null: detect with STUN. */
  public: HostPort | null;
  /**
   * Seconds between the node's keep-alives (CRLF CRLF datagrams) on the UDP flows of phones it
   * reaches over their flow (behind NAT, or `;ob`): short enough for a NAT's UDP mapping timeout
   * (often 30 s, some 20 s). 0: off. See src/p2psip/flow-keepalive.ts.
   */
  natKeepaliveS: number;
  /**
   * Trust material, as file paths (issue 11, PROTOCOL.md section 11). caCert + cert + key: a closed
   * overlay of the CA's enrolled nodes (crl: the CA's revocation list, reloaded when it changes);
   * overlaySecretFile: the light mode, Peer-IDs and bindings under a shared secret; none: open.
   */
  trust: TrustSettings;
}

/**
 * TLS settings, checked. cert and key are PEM files (in a closed overlay, the enrollment certificate
 * and key by default); ca verifies the other end (the overlay CA by default in a closed overlay).
 */
export interface TlsSettings {
  /** TLS listen port; default the listen port + 1 (5061 beside 5060), 0 with an ephemeral listen port. */
  port: number;
  cert?: string;
  key?: string;
  ca?: string;
  /** Peers must show a certificate `ca` verifies: peer requests without one get 403. */
  mutual: boolean;
}

/** Paths of the trust files; caCert, cert and key come together, and never with overlaySecretFile. */
export interface TrustSettings {
  caCert?: string;
  cert?: string;
  key?: string;
  crl?: string;
  overlaySecretFile?: string;
}

export const DEFAULT_CONFIG: NodeConfig = {
  listen: { host: '127.0.0.1', port: 5060 },
  transports: ['udp', 'tcp'],
  peerTransport: 'udp',
  tls: { port: 5061, mutual: false },
  bootstrap: [],
  bootstrapDns: [],
  discover: null,
  overlay: 'kadsip',
  domains: [],
  http: null,
  logLevel: 'info',
  shutdownGraceS: 10,
  k: 20,
  disjointPaths: 3,
  dns: [],
  usersFile: null,
  realm: null,
  trustedNetworks: ['127.0.0.0/8', '::1/128'].map((n) => (parseCidr(n) as { ok: true; value: Cidr }).value),
  dnsRouting: true,
  authFailures: 10,
  authFailureWindowS: 60,
  authCoolingOffS: 300,
  digestAlgorithms: ['SHA-256', 'MD5'],
  sipT1Ms: 500,
  rateLimit: 50,
  overlayRateLimit: 2000,
  overloadUtilisation: 0.9,
  overloadLagMs: 200,
  overloadDepth: 5000,
  role: 'peer',
  stun: null,
  turn: null,
  candidatesWanted: null,
  public: null,
  natKeepaliveS: 15,
  trust: {},
};

/** The raw, unchecked form every source provides: strings as typed by a human, or JSON values. */
export interface ConfigInput {
  listen?: string;
  transports?: string | string[];
  peerTransport?: string;
  tlsPort?: string | number;
  tlsCert?: string;
  tlsKey?: string;
  tlsCa?: string;
  tlsMutual?: string | boolean;
  bootstrap?: string | string[];
  overlay?: string;
  domain?: string | string[];
  http?: string;
  logLevel?: string;
  shutdownGraceS?: string | number;
  k?: string | number;
  disjointPaths?: string | number;
  dns?: string | string[];
  usersFile?: string;
  realm?: string;
  trust?: string | string[];
  dnsRouting?: string | boolean;
  authFailures?: string | number;
  authFailureWindowS?: string | number;
  authCoolingOffS?: string | number;
  digestAlgorithms?: string | string[];
  sipT1Ms?: string | number;
  rateLimit?: string | number;
  overlayRateLimit?: string | number;
  overloadUtilisation?: string | number;
  overloadLagMs?: string | number;
  overloadDepth?: string | number;
  role?: string;
  stun?: string;
  turn?: string;
  candidatesWanted?: string | number;
  public?: string;
  discover?: string;
  natKeepaliveS?: string | number;
  caCert?: string;
  cert?: string;
  key?: string;
  crl?: string;
  overlaySecretFile?: string;
}

/** A configuration value that is wrong; the message names the setting (`listen: ...`) and says why. */
export class ConfigError extends Error {}

const ENV: Record<keyof ConfigInput, string> = {
  listen: 'KADSIP_LISTEN',
  transports: 'KADSIP_TRANSPORTS',
  peerTransport: 'KADSIP_PEER_TRANSPORT',
  tlsPort: 'KADSIP_TLS_PORT',
  tlsCert: 'KADSIP_TLS_CERT',
  tlsKey: 'KADSIP_TLS_KEY',
  tlsCa: 'KADSIP_TLS_CA',
  tlsMutual: 'KADSIP_TLS_MUTUAL',
  bootstrap: 'KADSIP_BOOTSTRAP',
  overlay: 'KADSIP_OVERLAY',
  domain: 'KADSIP_DOMAIN',
  http: 'KADSIP_HTTP',
  logLevel: 'KADSIP_LOG_LEVEL',
  shutdownGraceS: 'KADSIP_SHUTDOWN_GRACE_S',
  k: 'KADSIP_K',
  disjointPaths: 'KADSIP_DISJOINT_PATHS',
  dns: 'KADSIP_DNS',
  usersFile: 'KADSIP_USERS_FILE',
  realm: 'KADSIP_REALM',
  trust: 'KADSIP_TRUST',
  dnsRouting: 'KADSIP_DNS_ROUTING',
  authFailures: 'KADSIP_AUTH_FAILURES',
  authFailureWindowS: 'KADSIP_AUTH_FAILURE_WINDOW_S',
  authCoolingOffS: 'KADSIP_AUTH_COOLING_OFF_S',
  digestAlgorithms: 'KADSIP_DIGEST_ALGORITHMS',
  sipT1Ms: 'KADSIP_SIP_T1_MS',
  rateLimit: 'KADSIP_RATE_LIMIT',
  overlayRateLimit: 'KADSIP_OVERLAY_RATE_LIMIT',
  overloadUtilisation: 'KADSIP_OVERLOAD_UTILISATION',
  overloadLagMs: 'KADSIP_OVERLOAD_LAG_MS',
  overloadDepth: 'KADSIP_OVERLOAD_DEPTH',
  role: 'KADSIP_ROLE',
  stun: 'KADSIP_STUN',
  turn: 'KADSIP_TURN',
  candidatesWanted: 'KADSIP_CANDIDATES_WANTED',
  public: 'KADSIP_PUBLIC',
  discover: 'KADSIP_DISCOVER',
  natKeepaliveS: 'KADSIP_NAT_KEEPALIVE_S',
  caCert: 'KADSIP_CA_CERT',
  cert: 'KADSIP_CERT',
  key: 'KADSIP_KEY',
  crl: 'KADSIP_CRL',
  overlaySecretFile: 'KADSIP_OVERLAY_SECRET_FILE',
};

export const ENVIRONMENT_VARIABLES = ENV;

export function inputFromEnv(env: NodeJS.ProcessEnv): ConfigInput {
  const out: ConfigInput = {};
  for (const [key, name] of Object.entries(ENV) as [keyof ConfigInput, string][]) {
    const value = env[name];
    if (value !== undefined && value !== '') out[key] = value;
  }
  return out;
}

export function inputFromFile(path: string): ConfigInput {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new ConfigError(`cannot read config file ${path}: ${(e as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (e) {
    throw new ConfigError(`config file ${path} is not valid JSON: ${(e as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new ConfigError(`config file ${path} must hold a JSON object`);
  }
  const known = new Set<string>(Object.keys(ENV));
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) throw new ConfigError(`config file ${path}: unknown key "${key}" (known: ${[...known].join(', ')})`);
  }
  return parsed as ConfigInput;
}

/** One source of settings and how it names a setting in an error message. */
export interface NamedInput {
  readonly input: ConfigInput;
  /** `KADSIP_LISTEN`, `--listen`, `"listen" in FILE`. */
  readonly name: (key: keyof ConfigInput) => string;
}

export function environmentSource(env: NodeJS.ProcessEnv): NamedInput {
  return { input: inputFromEnv(env), name: (key) => ENV[key] };
}

export function fileSource(path: string): NamedInput {
  return { input: inputFromFile(path), name: (key) => `"${key}" in ${path}` };
}

export function flagSource(input: ConfigInput): NamedInput {
  return { input, name: flagName };
}

/**
 * resolveConfig over named sources: an error names the setting as the user wrote it, where the
 * winning value came from (an operator who set KADSIP_LISTEN in a unit file looks for that, not
 * for "listen").
 */
export function resolveConfigFrom(sources: readonly NamedInput[]): NodeConfig {
  try {
    return resolveConfig(...sources.map((s) => s.input));
  } catch (e) {
    throw nameConfigError(e, sources);
  }
}

/** Rewrites a ConfigError's leading `key:` into the name of the source that set the key. */
export function nameConfigError(e: unknown, sources: readonly NamedInput[]): unknown {
  if (!(e instanceof ConfigError)) return e;
  const m = /^([A-Za-z]+): ([\s\S]*)$/.exec(e.message);
  const key = m?.[1];
  if (!m || key === undefined || !(key in ENV)) return e;
  const origin = [...sources].reverse().find((s) => s.input[key as keyof ConfigInput] !== undefined);
  return origin ? new ConfigError(`${origin.name(key as keyof ConfigInput)}: ${m[2]}`) : e;
}

/** Merges the sources (later wins) over the defaults and checks every value. */
export function resolveConfig(...inputs: ConfigInput[]): NodeConfig {
  const merged: ConfigInput = Object.assign({}, ...inputs.map(dropUndefined));
  const config: NodeConfig = { ...DEFAULT_CONFIG };
  if (merged.listen !== undefined) config.listen = parseHostPort(merged.listen, 'listen', 5060);
  if (merged.transports !== undefined) {
    const list = toList(merged.transports);
    for (const t of list) if (t !== 'udp' && t !== 'tcp' && t !== 'tls') throw new ConfigError(`transports: "${t}" is not udp, tcp or tls`);
    if (list.length === 0) throw new ConfigError('transports: at least one of udp, tcp, tls');
    config.transports = [...new Set(list)] as Protocol[];
  }
  if (merged.bootstrap !== undefined) {
    // `dns:DOMAIN` entries name a domain to resolve at start (src/node/bootstrap-discovery.ts).
    const list = toList(merged.bootstrap);
    const isDns = (b: string): boolean => b.toLowerCase().startsWith('dns:');
    config.bootstrap = list.filter((b) => !isDns(b)).map((b) => parseHostPort(b, 'bootstrap', 5060));
    config.bootstrapDns = list.filter(isDns).map((b) => {
      const domain = b.slice(4).trim().replace(/\.$/, '').toLowerCase();
      if (!/^[a-z0-9_]([a-z0-9_-]*[a-z0-9])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9])?)*$/.test(domain)) {
        throw new ConfigError(`bootstrap: "${b}" needs a domain name after dns: (dns:overlay.example.com)`);
      }
      return domain;
    });
  }
  if (merged.overlay !== undefined) {
    if (!isOverlayName(merged.overlay)) {
      throw new ConfigError(`overlay: "${merged.overlay}" must be 1-64 letters, digits, '.', '_' or '-'`);
    }
    config.overlay = merged.overlay;
  }
  if (merged.domain !== undefined) {
    config.domains = toList(merged.domain).map((d) => {
      const lower = d.toLowerCase();
      if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/.test(lower) && isIP(lower) === 0) {
        throw new ConfigError(`domain: "${d}" is not a host name`);
      }
      return lower;
    });
  }
  if (merged.http !== undefined) config.http = merged.http === 'off' ? null : parseHostPort(merged.http, 'http', 8080);
  if (merged.logLevel !== undefined) {
    const levels = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'];
    if (!levels.includes(merged.logLevel)) throw new ConfigError(`logLevel: "${merged.logLevel}" is not one of ${levels.join(', ')}`);
    config.logLevel = merged.logLevel as NodeConfig['logLevel'];
  }
  if (merged.shutdownGraceS !== undefined) {
    const s = Number(merged.shutdownGraceS);
    if (!Number.isFinite(s) || s < 0 || s > 600) throw new ConfigError(`shutdownGraceS: "${merged.shutdownGraceS}" is not 0-600`);
    config.shutdownGraceS = s;
  }
  if (merged.k !== undefined) {
    const k = Number(merged.k);
    if (!Number.isInteger(k) || k < 1 || k > 64) throw new ConfigError(`k: "${merged.k}" is not an integer 1-64`);
    config.k = k;
  }
  if (merged.disjointPaths !== undefined) {
    const d = Number(merged.disjointPaths);
    if (!Number.isInteger(d) || d < 1 || d > 8) throw new ConfigError(`disjointPaths: "${merged.disjointPaths}" is not an integer 1-8`);
    config.disjointPaths = d;
  }
  if (merged.dns !== undefined) {
    config.dns = toList(merged.dns).map((d) => {
      const hp = parseHostPort(d, 'dns', 53);
      return hostPort(hp.host, hp.port);
    });
  }
  if (merged.usersFile !== undefined) config.usersFile = merged.usersFile;
  if (merged.realm !== undefined) {
    if (!/^[^"\\\r\n]{1,128}$/.test(merged.realm)) throw new ConfigError(`realm: "${merged.realm}" must be 1-128 characters without quotes`);
    config.realm = merged.realm;
  }
  if (merged.trust !== undefined) config.trustedNetworks = parseTrustedNetworks(merged.trust);
  if (merged.dnsRouting !== undefined) config.dnsRouting = parseSwitch(merged.dnsRouting, 'dnsRouting');
  config.authFailures = boundedInt(merged.authFailures, 'authFailures', 1, 1000, config.authFailures);
  config.authFailureWindowS = boundedInt(merged.authFailureWindowS, 'authFailureWindowS', 1, 86_400, config.authFailureWindowS);
  config.authCoolingOffS = boundedInt(merged.authCoolingOffS, 'authCoolingOffS', 0, 86_400, config.authCoolingOffS);
  if (merged.digestAlgorithms !== undefined) {
    const list = toList(merged.digestAlgorithms).map((a) => a.toUpperCase());
    for (const a of list) if (a !== 'SHA-256' && a !== 'MD5') throw new ConfigError(`digestAlgorithms: "${a}" is not SHA-256 or MD5`);
    if (list.length === 0) throw new ConfigError('digestAlgorithms: at least one of SHA-256, MD5');
    config.digestAlgorithms = [...new Set(list)] as NodeConfig['digestAlgorithms'];
  }
  if (merged.sipT1Ms !== undefined) {
    const t1 = Number(merged.sipT1Ms);
    if (!Number.isInteger(t1) || t1 < 50 || t1 > 5000) throw new ConfigError(`sipT1Ms: "${merged.sipT1Ms}" is not an integer 50-5000`);
    config.sipT1Ms = t1;
  }
  config.rateLimit = overloadNumber(merged.rateLimit, 'rateLimit', 1_000_000, config.rateLimit);
  config.overlayRateLimit = overloadNumber(merged.overlayRateLimit, 'overlayRateLimit', 1_000_000, config.overlayRateLimit);
  config.overloadUtilisation = overloadNumber(merged.overloadUtilisation, 'overloadUtilisation', 1, config.overloadUtilisation);
  config.overloadLagMs = overloadNumber(merged.overloadLagMs, 'overloadLagMs', 60_000, config.overloadLagMs);
  config.overloadDepth = overloadNumber(merged.overloadDepth, 'overloadDepth', 10_000_000, config.overloadDepth);
  if (merged.role !== undefined) {
    if (merged.role !== 'peer' && merged.role !== 'client') throw new ConfigError(`role: "${merged.role}" is not peer or client`);
    config.role = merged.role;
  }
  if (merged.stun !== undefined) config.stun = merged.stun === 'off' ? null : parseHostPort(merged.stun, 'stun', 3478);
  if (merged.turn !== undefined) config.turn = merged.turn === 'off' ? null : parseHostPort(merged.turn, 'turn', 3478);
  if (merged.candidatesWanted !== undefined) {
    const n = Number(merged.candidatesWanted);
    if (!Number.isInteger(n) || n < 0 || n > MAX_CANDIDATES) {
      throw new ConfigError(`candidatesWanted: "${merged.candidatesWanted}" is not an integer 0-${MAX_CANDIDATES}`);
    }
    config.candidatesWanted = n;
  }
  if (merged.public !== undefined) config.public = merged.public === 'off' ? null : parseHostPort(merged.public, 'public', config.listen.port);
  if (merged.discover !== undefined) {
    if (merged.discover !== 'lan' && merged.discover !== 'off') throw new ConfigError(`discover: "${merged.discover}" is not lan or off`);
    config.discover = merged.discover === 'lan' ? 'lan' : null;
    // Multicast DNS is implemented over IPv4 only (src/discovery/mdns.ts).
    if (config.discover === 'lan' && isIP(config.listen.host) === 6) throw new ConfigError(`discover: lan needs an IPv4 listen address (got ${config.listen.host})`);
  }
  if (merged.natKeepaliveS !== undefined) {
    const s = Number(merged.natKeepaliveS);
    if (!Number.isInteger(s) || s < 0 || s > 3600) throw new ConfigError(`natKeepaliveS: "${merged.natKeepaliveS}" is not an integer 0-3600 (0: off)`);
    config.natKeepaliveS = s;
  }
  config.trust = resolveTrust(merged);
  config.peerTransport = resolvePeerTransport(merged, config.transports);
  config.tls = resolveTls(merged, config);
  checkOneFamily(config);
  return config;
}

/**
 * The `trust` list: CIDR networks (IPv4, IPv6, a bare address is one host), comma-separated or an
 * array; `none` trusts no source at all, not even loopback.
 */
function parseTrustedNetworks(value: string | string[]): Cidr[] {
  // `--trust A --trust B,C`: repeated flags, each maybe a comma list.
  const list = toList(value).flatMap((v) => toList(v));
  if (list.length === 1 && list[0]!.toLowerCase() === 'none') return [];
  if (list.length === 0) throw new ConfigError('trust: give CIDR networks (127.0.0.0/8,10.0.0.0/8) or none');
  return list.map((entry) => {
    const r = parseCidr(entry);
    if (!r.ok) throw new ConfigError(`trust: ${r.error}`);
    return r.value;
  });
}

function parseSwitch(value: string | boolean, key: keyof ConfigInput): boolean {
  if (typeof value === 'boolean') return value;
  const v = value.trim().toLowerCase();
  if (['on', 'true', 'yes', '1'].includes(v)) return true;
  if (['off', 'false', 'no', '0'].includes(v)) return false;
  throw new ConfigError(`${key}: "${value}" is not on or off`);
}

function boundedInt(value: string | number | undefined, key: keyof ConfigInput, min: number, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (String(value).trim() === '' || !Number.isInteger(n) || n < min || n > max) throw new ConfigError(`${key}: "${value}" is not an integer ${min}-${max}`);
  return n;
}

/** A rate or threshold of the overload settings: a number 0-max (0: off). */
function overloadNumber(value: string | number | undefined, key: keyof ConfigInput, max: number, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (String(value).trim() === '' || !Number.isFinite(n) || n < 0 || n > max) throw new ConfigError(`${key}: "${value}" is not a number 0-${max} (0: off)`);
  return n;
}

/** Whether the text is a valid overlay name (DHT-PeerID `overlay=`, the CA's overlay). */
export function isOverlayName(text: string): boolean {
  return /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(text);
}

const TRUST_KEYS = ['caCert', 'cert', 'key', 'crl', 'overlaySecretFile'] as const;

/**
 * The trust files: caCert, cert and key together (a closed overlay needs all three: the anchor,
 * the node's certificate and its key), crl only with them, and the overlay secret never with a CA
 * (two membership rules at once would leave it unclear which one admits a peer).
 */
function resolveTrust(merged: ConfigInput): TrustSettings {
  const trust: TrustSettings = {};
  for (const key of TRUST_KEYS) {
    const value = merged[key];
    if (value === undefined) continue;
    if (typeof value !== 'string' || value.trim() === '') throw new ConfigError(`${key}: needs a file path`);
    trust[key] = value;
  }
  const closed = (['caCert', 'cert', 'key'] as const).filter((k) => trust[k] !== undefined);
  const missing = (['caCert', 'cert', 'key'] as const).filter((k) => trust[k] === undefined);
  if (closed.length > 0 && missing.length > 0) {
    const named = missing.map((k) => `${flagName(k)} (${ENV[k]}, "${k}")`).join(' and ');
    throw new ConfigError(`${closed[0]}: a closed overlay needs --ca-cert, --cert and --key together; missing ${named}`);
  }
  if (trust.crl !== undefined && closed.length === 0) throw new ConfigError('crl: a CRL needs the CA it belongs to: give --ca-cert, --cert and --key too');
  if (trust.overlaySecretFile !== undefined && closed.length > 0) {
    throw new ConfigError('overlaySecretFile: an overlay secret and a CA (--ca-cert) exclude each other: a closed overlay authenticates peers by certificate; give one of them');
  }
  return trust;
}

function resolvePeerTransport(merged: ConfigInput, transports: readonly Protocol[]): Protocol {
  if (merged.peerTransport === undefined) return transports.includes('udp') ? 'udp' : transports.includes('tcp') ? 'tcp' : 'tls';
  const t = merged.peerTransport.toLowerCase();
  if (t !== 'udp' && t !== 'tcp' && t !== 'tls') throw new ConfigError(`peerTransport: "${merged.peerTransport}" is not udp, tcp or tls`);
  if (!transports.includes(t)) throw new ConfigError(`peerTransport: ${t} is not one of the transports (${transports.join(', ')}): add it to --transports`);
  return t;
}

/**
 * TLS: the certificate and key (given, or the closed overlay's enrollment pair), the CA that
 * verifies the other end (given, or the overlay CA), the port, and mutual TLS (which needs a CA).
 * TLS settings without `tls` among the transports are refused rather than silently unused.
 */
function resolveTls(merged: ConfigInput, config: NodeConfig): TlsSettings {
  const on = config.transports.includes('tls');
  const keys = ['tlsPort', 'tlsCert', 'tlsKey', 'tlsCa', 'tlsMutual'] as const;
  const given = keys.find((k) => merged[k] !== undefined);
  if (!on) {
    if (given !== undefined) throw new ConfigError(`${given}: TLS is not among the transports: add tls (--transports udp,tcp,tls)`);
    return { port: DEFAULT_CONFIG.tls.port, mutual: false };
  }
  let port = config.listen.port === 0 ? 0 : config.listen.port + 1;
  if (merged.tlsPort !== undefined) {
    port = Number(merged.tlsPort);
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`tlsPort: "${merged.tlsPort}" is not a port 0-65535`);
  } else if (port > 65535) {
    throw new ConfigError(`tlsPort: the default (listen port + 1) is past 65535: give one`);
  }
  if (port !== 0 && port === config.listen.port && config.transports.some((t) => t === 'tcp')) {
    throw new ConfigError(`tlsPort: ${port} is the TCP listen port too: give TLS a port of its own (5061 beside 5060)`);
  }
  for (const k of ['tlsCert', 'tlsKey', 'tlsCa'] as const) {
    const v = merged[k];
    if (v !== undefined && (typeof v !== 'string' || v.trim() === '')) throw new ConfigError(`${k}: needs a file path`);
  }
  const cert = merged.tlsCert ?? config.trust.cert;
  const key = merged.tlsKey ?? config.trust.key;
  const ca = merged.tlsCa ?? config.trust.caCert;
  if (cert === undefined || key === undefined) {
    const missing = cert === undefined ? 'tlsCert' : 'tlsKey';
    throw new ConfigError(`${missing}: TLS needs a certificate and its key (--tls-cert and --tls-key, PEM files; a closed overlay's --cert and --key serve by default)`);
  }
  let mutual = false;
  if (merged.tlsMutual !== undefined) {
    const m = String(merged.tlsMutual).toLowerCase();
    if (!['on', 'off', 'true', 'false'].includes(m)) throw new ConfigError(`tlsMutual: "${merged.tlsMutual}" is not on or off`);
    mutual = m === 'on' || m === 'true';
  }
  if (mutual && ca === undefined) throw new ConfigError('tlsMutual: mutual TLS needs the CA that verifies peers: give --tls-ca (or a closed overlay\'s --ca-cert)');
  return { port, cert, key, ...(ca !== undefined ? { ca } : {}), mutual };
}

function flagName(key: keyof ConfigInput): string {
  return `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
}

/**
 * A node has one SIP socket family, its listen address's (PROTOCOL.md section 9): an IPv4 node
 * cannot send to an IPv6 bootstrap, nor the reverse. Said at start rather than as a failed join.
 * A wildcard (0.0.0.0, ::) has its family too: start-up resolves it to an address of that family.
 */
function checkOneFamily(config: NodeConfig): void {
  const listen = config.listen.host;
  const family = isIP(listen);
  for (const b of config.bootstrap) {
    if (isIP(b.host) === family) continue;
    const text = hostPort(b.host, b.port);
    throw new ConfigError(`bootstrap: ${text} is an IPv${isIP(b.host)} address but listen ${listen} is IPv${family}: a node speaks one IP family, give bootstraps of that family`);
  }
}

/** `IP:PORT`, `[IPv6]:PORT`, or a bare IP (default port). Host names are refused: a peer's ID derives from its IP. */
export function parseHostPort(text: string, what: string, defaultPort: number): HostPort {
  const trimmed = text.trim();
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(trimmed);
  if (bracketed) {
    host = bracketed[1]!;
    portText = bracketed[2];
  } else if (isIP(trimmed) === 6) {
    host = trimmed;
  } else {
    const at = trimmed.lastIndexOf(':');
    host = at < 0 ? trimmed : trimmed.slice(0, at);
    portText = at < 0 ? undefined : trimmed.slice(at + 1);
  }
  if (isIP(host) === 0) throw new ConfigError(`${what}: "${text}" needs an IP address (got host "${host}")`);
  const port = portText === undefined ? defaultPort : Number(portText);
  if (!/^\d*$/.test(portText ?? '') || !Number.isInteger(port) || port < 0 || port > 65535) {
    throw new ConfigError(`${what}: "${text}" has no valid port (0-65535)`);
  }
  return { host, port };
}

function toList(value: string | string[]): string[] {
  // A repeated flag gives an array whose entries may themselves be comma lists (--bootstrap a,b --bootstrap c).
  const list = (Array.isArray(value) ? value : [value]).flatMap((v) => String(v).split(','));
  return list.map((v) => String(v).trim()).filter((v) => v.length > 0);
}

function dropUndefined(input: ConfigInput): ConfigInput {
  return Object.fromEntries(Object.entries(input).filter(([, v]) => v !== undefined)) as ConfigInput;
}
