/**
 * RFC 3263 "Locating SIP Servers", client side (section 4), for the domains
 * kadsip does not serve from its overlay: a SIP URI becomes an ordered list of
 * (transport, IP, port) targets to try one after the other (section 4.3).
 *
 * Scope and decisions:
 * - Transports: UDP and TCP only (NAPTR services SIP+D2U and SIP+D2T). sips:
 *   URIs and transport=tls need TLS, which kadsip does not implement: resolve()
 *   rejects them with Rfc3263Error 'unsupported-scheme' / 'unsupported-transport'
 *   (a proxy answers 416 Unsupported URI Scheme, or 503 for the transport)
 *   rather than returning [], so "cannot" stays distinct from "no such domain".
 * - An empty list means DNS said the domain has no SIP server (NXDOMAIN /
 *   NODATA all the way down): the proxy answers 404/480-ish, its choice.
 * - DNS failures (SERVFAIL, timeout...) reject with DnsError -> 503 — unless
 *   some other branch of the same resolution produced targets, which are then
 *   returned (a broken SRV target must not hide a working one).
 * - Answers are cached per (type, name) by CachingDnsClient, honouring TTLs.
 */
import { isIP } from 'node:net';
import { getUriParam, hostForSocket, type SipUri } from '../sip/message/index.js';
import type { Endpoint, Protocol } from '../sip/transport/types.js';
import { CachingDnsClient, type DnsCacheOptions } from './dns-cache.js';
import { DnsError, type AddressRecord, type DnsClient, type SrvRecord } from './dns-client.js';
import { orderSrv, type RandomSource } from './srv-order.js';

/** RFC 3261 19.1.2: the default port of sip: URIs. */
export const SIP_DEFAULT_PORT = 5060;

/** Which RFC 3263 step produced a target. */
export type TargetSource = 'numeric' | 'address' | 'srv' | 'naptr';

/** One place to send a request to, in the order to try (RFC 3263 section 4.3). */
export interface ServerTarget extends Endpoint {
  readonly protocol: Protocol;
  /** An IP address in socket form (IPv6 without brackets). */
  readonly host: string;
  readonly port: number;
  /** The DNS name whose A/AAAA record gave `host`; null for a numeric URI. */
  readonly name: string | null;
  readonly source: TargetSource;
  /** SRV priority (RFC 2782); 0 when no SRV record was involved. */
  readonly priority: number;
  /** SRV weight (RFC 2782); 0 when no SRV record was involved. */
  readonly weight: number;
  /** NAPTR order and preference (RFC 3403) when the target came through NAPTR. */
  readonly naptr?: { readonly order: number; readonly preference: number };
}

export type Rfc3263ErrorCode = 'unsupported-scheme' | 'unsupported-transport';

/** The URI asks for something this resolver cannot provide (TLS, SCTP, ...); no DNS query was made. */
export class Rfc3263Error extends Error {
  override readonly name = 'Rfc3263Error';
  constructor(
    readonly code: Rfc3263ErrorCode,
    message: string,
  ) {
    super(message);
  }
}

export interface Rfc3263ResolverOptions {
  readonly dns: DnsClient;
  /** Transports we can use, most preferred first (used when no NAPTR record exists, RFC 3263 4.1). */
  readonly supportedTransports: readonly Protocol[];
  /** Answer cache (RFC 3263 section 4: honour DNS TTLs). On by default; `false` disables it. */
  readonly cache?: DnsCacheOptions | false;
  /** Random source of the RFC 2782 weighted choice; inject for deterministic order. Default Math.random. */
  readonly random?: RandomSource;
  /** Address families to look up for a name, in order. Default [4, 6]: A records before AAAA. */
  readonly addressFamilies?: readonly (4 | 6)[];
  /** At most this many targets are returned (and SRV records followed). Default 16. */
  readonly maxTargets?: number;
}

/** RFC 3263 4.1: NAPTR services for sip: URIs and the transport each names. */
const NAPTR_SERVICES: Readonly<Record<string, Protocol>> = {
  'SIP+D2U': 'udp',
  'SIP+D2T': 'tcp',
};

type Outcome = { targets: ServerTarget[]; error: DnsError | undefined };

export class Rfc3263Resolver {
  private readonly dns: DnsClient;
  private readonly supported: readonly Protocol[];
  private readonly random: RandomSource;
  private readonly families: readonly (4 | 6)[];
  private readonly maxTargets: number;

  constructor(opts: Rfc3263ResolverOptions) {
    if (opts.supportedTransports.length === 0) throw new Error('Rfc3263Resolver needs at least one supported transport');
    this.dns = opts.cache === false ? opts.dns : new CachingDnsClient(opts.dns, opts.cache ?? {});
    this.supported = [...new Set(opts.supportedTransports)];
    this.random = opts.random ?? Math.random;
    this.families = opts.addressFamilies ?? [4, 6];
    this.maxTargets = Math.max(1, opts.maxTargets ?? 16);
  }

  /**
   * The targets for `uri`, in the order to try them. Rejects with Rfc3263Error for
   * sips:/unsupported transports and with DnsError when DNS could not answer.
   */
  async resolve(uri: SipUri): Promise<ServerTarget[]> {
    if (uri.scheme.toLowerCase() === 'sips') {
      throw new Rfc3263Error('unsupported-scheme', 'sips: URIs need TLS (RFC 3263 4.1), which is not supported');
    }
    const forced = this.transportParam(uri);
    // RFC 3263 section 4: "If the URI contains an maddr parameter, TARGET is the maddr value".
    const maddr = getUriParam(uri, 'maddr');
    const target = normalizeName(hostForSocket(maddr ? maddr : uri.host));

    // 4.1/4.2: a numeric TARGET is used as is; port from the URI or the default.
    if (isIP(target) !== 0) {
      return [{ protocol: forced ?? this.defaultTransport(), host: target, port: uri.port ?? SIP_DEFAULT_PORT, name: null, source: 'numeric', priority: 0, weight: 0 }];
    }
    // 4.1 + 4.2: an explicit port means no NAPTR/SRV, only A/AAAA.
    if (uri.port !== null) {
      return this.finish(await this.addressTargets(target, forced ?? this.defaultTransport(), uri.port, 'address', 0, 0));
    }
    // 4.1: a transport parameter selects the transport; 4.2: SRV for it, else A/AAAA on 5060.
    if (forced !== undefined) {
      const viaSrv = await this.srvTargets(target, forced, 'srv');
      if (viaSrv !== 'none') return this.finish(viaSrv);
      return this.finish(await this.addressTargets(target, forced, SIP_DEFAULT_PORT, 'address', 0, 0));
    }
    // 4.1: NAPTR, then SRV per supported transport, then A/AAAA.
    const viaNaptr = await this.naptrTargets(target);
    if (viaNaptr.targets.length > 0) return this.finish(viaNaptr);
    const viaSrv = await this.srvForEachTransport(target);
    // 4.2: once SRV records exist, A/AAAA of the domain itself are not consulted, even
    // when the SRV targets turn out empty (or "." only: RFC 2782 "decidedly not available").
    if (viaSrv !== 'none') return this.finish(merge(viaNaptr, viaSrv));
    const viaAddress = await this.addressTargets(target, this.defaultTransport(), SIP_DEFAULT_PORT, 'address', 0, 0);
    return this.finish(merge(viaNaptr, viaAddress));
  }

  /** 4.1: the transport parameter, if present, must be one we support. */
  private transportParam(uri: SipUri): Protocol | undefined {
    const value = getUriParam(uri, 'transport');
    if (value === undefined || value === null || value === '') return undefined;
    const t = value.toLowerCase();
    if ((t === 'udp' || t === 'tcp') && this.supported.includes(t)) return t;
    throw new Rfc3263Error('unsupported-transport', `transport=${value} is not supported`);
  }

  /** 4.1: "the client SHOULD use UDP for a SIP URI" when nothing else decides; TCP if UDP is not enabled. */
  private defaultTransport(): Protocol {
    return this.supported.includes('udp') ? 'udp' : (this.supported[0] as Protocol);
  }

  /**
   * 4.1: NAPTR records of TARGET, keeping only flag "s" records whose service is a
   * supported SIP+D2x, in (order, preference) order; each replacement is an SRV
   * name. All usable records are followed so later ones serve as fallbacks (4.3).
   */
  private async naptrTargets(target: string): Promise<Outcome> {
    const records = await this.dns.naptr(target);
    const usable = records
      .map((r) => ({ r, protocol: NAPTR_SERVICES[r.service.toUpperCase()] }))
      .filter((x): x is { r: (typeof records)[number]; protocol: Protocol } =>
        x.protocol !== undefined && this.supported.includes(x.protocol) && x.r.flags.toLowerCase() === 's' && x.r.replacement !== '' && x.r.replacement !== '.',
      )
      .sort((x, y) => x.r.order - y.r.order || x.r.preference - y.r.preference);
    const seen = new Set<string>();
    const steps = usable.filter(({ r, protocol }) => {
      const key = `${protocol} ${normalizeName(r.replacement)}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
    const parts = await Promise.all(
      steps.map(async ({ r, protocol }) => {
        const out = await this.srvTargets(normalizeName(r.replacement), protocol, 'naptr', { order: r.order, preference: r.preference }, true);
        return out === 'none' ? { targets: [], error: undefined } : out;
      }),
    );
    return parts.reduce(merge, { targets: [], error: undefined });
  }

  /** 4.1: no NAPTR: SRV for each supported transport, in our order of preference. */
  private async srvForEachTransport(target: string): Promise<Outcome | 'none'> {
    const parts = await Promise.all(this.supported.map((p) => this.srvTargets(target, p, 'srv')));
    const found = parts.filter((x): x is Outcome => x !== 'none');
    return found.length === 0 ? 'none' : found.reduce(merge, { targets: [], error: undefined });
  }

  /**
   * 4.2: SRV records of `name` (or of _sip._udp/_sip._tcp.name), ordered by RFC 2782,
   * each target resolved to its addresses. 'none' when the name has no SRV record.
   */
  private async srvTargets(
    name: string,
    protocol: Protocol,
    source: TargetSource,
    naptr?: { order: number; preference: number },
    nameIsSrv = false,
  ): Promise<Outcome | 'none'> {
    const srvName = nameIsSrv ? name : `_sip._${protocol}.${name}`;
    let records: SrvRecord[];
    try {
      records = await this.dns.srv(srvName);
    } catch (err) {
      if (err instanceof DnsError && source === 'naptr') return { targets: [], error: err };
      throw err;
    }
    if (records.length === 0) return 'none';
    // RFC 2782: a target of "." means the service is decidedly not available.
    // The arrangement before the weighted draw is free (RFC 2782); a canonical one
    // (by priority, target, port) makes the order a function of the random source alone.
    const live = records
      .filter((r) => r.target !== '.' && r.target !== '')
      .sort((x, y) => x.priority - y.priority || compareText(x.target.toLowerCase(), y.target.toLowerCase()) || x.port - y.port)
      .slice(0, this.maxTargets);
    const ordered = orderSrv(live, this.random);
    const parts = await Promise.all(
      ordered.map((r) => this.addressTargets(normalizeName(r.target), protocol, r.port, source, r.priority, r.weight, naptr)),
    );
    return parts.reduce(merge, { targets: [], error: undefined });
  }

  /** 4.2: A and AAAA records of `name` (or `name` itself if numeric) as targets. */
  private async addressTargets(
    name: string,
    protocol: Protocol,
    port: number,
    source: TargetSource,
    priority: number,
    weight: number,
    naptr?: { order: number; preference: number },
  ): Promise<Outcome> {
    const make = (host: string): ServerTarget => ({ protocol, host, port, name, source, priority, weight, ...(naptr ? { naptr } : {}) });
    if (isIP(name) !== 0) return { targets: [make(name)], error: undefined };
    const lookups = await Promise.allSettled(this.families.map((f) => (f === 4 ? this.dns.a(name) : this.dns.aaaa(name))));
    const targets: ServerTarget[] = [];
    let error: DnsError | undefined;
    for (const l of lookups) {
      if (l.status === 'fulfilled') targets.push(...l.value.map((r: AddressRecord) => make(r.address)));
      else if (l.reason instanceof DnsError) error ??= l.reason;
      else throw l.reason;
    }
    return { targets, error };
  }

  /** Deduplicates and bounds the list; a failure with nothing to show for it becomes the answer. */
  private finish(outcome: Outcome): ServerTarget[] {
    const seen = new Set<string>();
    const out: ServerTarget[] = [];
    for (const t of outcome.targets) {
      const key = `${t.protocol}|${t.host}|${t.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      out.push(t);
      if (out.length >= this.maxTargets) break;
    }
    if (out.length === 0 && outcome.error !== undefined) throw outcome.error;
    return out;
  }
}

function merge(a: Outcome, b: Outcome): Outcome {
  return { targets: [...a.targets, ...b.targets], error: a.error ?? b.error };
}

function compareText(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

function normalizeName(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}
