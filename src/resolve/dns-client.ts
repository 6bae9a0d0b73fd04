/**
 * The four DNS queries RFC 3263 needs (NAPTR, SRV, A, AAAA), behind a small
 * interface so the resolver can be tested with a counting or fake client, and
 * an implementation on node's c-ares `Resolver` (node:dns/promises).
 *
 * Outcome contract of every method:
 * - records found: the records, each with a TTL in seconds;
 * - NXDOMAIN or NODATA (the name or the type does not exist): `[]`, not an exception;
 * - anything else (SERVFAIL, REFUSED, timeout, unreachable server, garbled
 *   answer): a `DnsError`, which the proxy maps to 503 (RFC 3263 section 4.3
 *   leaves a failed lookup to the RFC 3261 16.7 / 17.1.4 "no target" handling).
 */
import { Resolver } from 'node:dns/promises';

/** RFC 3403 NAPTR record. `replacement` is "" when the record has none (".") */
export interface NaptrRecord {
  readonly order: number;
  readonly preference: number;
  readonly flags: string;
  readonly service: string;
  readonly regexp: string;
  readonly replacement: string;
  /** Seconds. */
  readonly ttl: number;
}

/** RFC 2782 SRV record. `target` is "." (or "") when the service is decidedly not offered. */
export interface SrvRecord {
  readonly priority: number;
  readonly weight: number;
  readonly port: number;
  readonly target: string;
  /** Seconds. */
  readonly ttl: number;
}

/** A or AAAA record: the address in socket form (no IPv6 brackets). */
export interface AddressRecord {
  readonly address: string;
  /** Seconds. */
  readonly ttl: number;
}

/** RFC 1035 PTR record (DNS-SD browsing, RFC 6763 section 4): the name it points at, without a trailing dot. */
export interface PtrRecord {
  readonly target: string;
  /** Seconds. */
  readonly ttl: number;
}

/** RFC 1035 TXT record: its character-strings in order (RFC 6763 section 6: one key=value each). */
export interface TxtRecord {
  readonly strings: readonly string[];
  /** Seconds. */
  readonly ttl: number;
}

export interface DnsClient {
  naptr(name: string): Promise<NaptrRecord[]>;
  srv(name: string): Promise<SrvRecord[]>;
  a(name: string): Promise<AddressRecord[]>;
  aaaa(name: string): Promise<AddressRecord[]>;
}

export type DnsRrType = 'NAPTR' | 'SRV' | 'A' | 'AAAA' | 'PTR' | 'TXT';

/**
 * Why a query failed (as opposed to "no such name/record", which is `[]`):
 * - `servfail`: the server answered SERVFAIL;
 * - `refused`: the server answered REFUSED or NOTIMP;
 * - `timeout`: no answer within the bounded time;
 * - `unreachable`: the server's port is closed (ICMP port unreachable) or the socket failed;
 * - `bad-response`: FORMERR, a malformed or truncated answer, or anything unclassified.
 */
export type DnsFailure = 'servfail' | 'refused' | 'timeout' | 'unreachable' | 'bad-response';

/** A DNS lookup that could not be answered. The proxy maps it to 503 Service Unavailable. */
export class DnsError extends Error {
  override readonly name = 'DnsError';
  constructor(
    readonly failure: DnsFailure,
    readonly rrtype: DnsRrType,
    readonly query: string,
    /** The c-ares code (ESERVFAIL, ETIMEOUT, ...) when the failure came from node. */
    readonly code: string | undefined,
    message?: string,
  ) {
    super(message ?? `DNS ${rrtype} query for ${query} failed: ${failure}${code ? ` (${code})` : ''}`);
  }
}

export interface NodeDnsClientOptions {
  /** Servers as "ip" or "ip:port" ("[v6]:port" for IPv6). Default: the system's servers. */
  readonly servers?: readonly string[];
  /** c-ares per-try timeout in ms. Default 1000. */
  readonly timeoutMs?: number;
  /** c-ares attempts per server. Default 2. */
  readonly tries?: number;
  /**
   * Hard upper bound on one query in ms, enforced here whatever c-ares does (it backs
   * off between tries, so its own total is roughly 2 x timeoutMs x tries). Default
   * 2 x timeoutMs x tries + 100.
   */
  readonly deadlineMs?: number;
  /**
   * TTL in seconds given to NAPTR and SRV records: node's resolveNaptr/resolveSrv do not
   * report TTLs (only resolve4/resolve6 take `{ ttl: true }`). Default 300.
   */
  readonly defaultTtlSec?: number;
}

/** c-ares codes that mean "the name or the record type does not exist". */
const EMPTY_CODES = new Set(['ENODATA', 'ENOTFOUND']);

function failureOf(code: string | undefined): DnsFailure {
  switch (code) {
    case 'ESERVFAIL':
      return 'servfail';
    case 'EREFUSED':
    case 'ENOTIMP':
      return 'refused';
    case 'ETIMEOUT':
      return 'timeout';
    case 'ECONNREFUSED':
    case 'ECONNRESET':
    case 'ENETUNREACH':
    case 'EHOSTUNREACH':
      return 'unreachable';
    default:
      return 'bad-response';
  }
}

function errorCode(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

/** Drops the trailing dot of an absolute name; "." (the root) becomes "". */
function stripDot(name: string): string {
  return name.endsWith('.') ? name.slice(0, -1) : name;
}

/** DnsClient on node's c-ares resolver, with bounded time per query. */
export class NodeDnsClient implements DnsClient {
  private readonly resolver: Resolver;
  private readonly deadlineMs: number;
  private readonly defaultTtlSec: number;

  constructor(opts: NodeDnsClientOptions = {}) {
    const timeoutMs = opts.timeoutMs ?? 1000;
    const tries = opts.tries ?? 2;
    this.resolver = new Resolver({ timeout: timeoutMs, tries });
    if (opts.servers !== undefined) this.resolver.setServers([...opts.servers]);
    this.deadlineMs = opts.deadlineMs ?? 2 * timeoutMs * tries + 100;
    this.defaultTtlSec = opts.defaultTtlSec ?? 300;
  }

  async naptr(name: string): Promise<NaptrRecord[]> {
    const rs = await this.run('NAPTR', name, () => this.resolver.resolveNaptr(name));
    return rs.map((r) => ({
      order: r.order,
      preference: r.preference,
      flags: r.flags,
      service: r.service,
      regexp: r.regexp,
      replacement: stripDot(r.replacement),
      ttl: this.defaultTtlSec,
    }));
  }

  async srv(name: string): Promise<SrvRecord[]> {
    const rs = await this.run('SRV', name, () => this.resolver.resolveSrv(name));
    return rs.map((r) => ({
      priority: r.priority,
      weight: r.weight,
      port: r.port,
      target: r.name === '' || r.name === '.' ? '.' : stripDot(r.name),
      ttl: this.defaultTtlSec,
    }));
  }

  /** PTR, for DNS-SD (RFC 6763): node reports no TTL, so `defaultTtlSec` as for SRV. */
  async ptr(name: string): Promise<PtrRecord[]> {
    const rs = await this.run('PTR', name, () => this.resolver.resolvePtr(name));
    return rs.map((r) => ({ target: stripDot(r), ttl: this.defaultTtlSec }));
  }

  /** TXT, for DNS-SD (RFC 6763 section 6): one entry per record, its strings in order. */
  async txt(name: string): Promise<TxtRecord[]> {
    const rs = await this.run('TXT', name, () => this.resolver.resolveTxt(name));
    return rs.map((strings) => ({ strings, ttl: this.defaultTtlSec }));
  }

  async a(name: string): Promise<AddressRecord[]> {
    const rs = await this.run('A', name, () => this.resolver.resolve4(name, { ttl: true }));
    return rs.map((r) => ({ address: r.address, ttl: r.ttl }));
  }

  async aaaa(name: string): Promise<AddressRecord[]> {
    const rs = await this.run('AAAA', name, () => this.resolver.resolve6(name, { ttl: true }));
    return rs.map((r) => ({ address: r.address, ttl: r.ttl }));
  }

  /** Runs one query under the hard deadline and maps c-ares outcomes onto the contract above. */
  private async run<T>(rrtype: DnsRrType, name: string, query: () => Promise<T[]>): Promise<T[]> {
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new DnsError('timeout', rrtype, name, undefined, `DNS ${rrtype} query for ${name} got no answer within ${this.deadlineMs} ms`)),
        this.deadlineMs,
      );
    });
    try {
      return await Promise.race([query(), deadline]);
    } catch (err) {
      if (err instanceof DnsError) throw err;
      const code = errorCode(err);
      if (code !== undefined && EMPTY_CODES.has(code)) return [];
      throw new DnsError(failureOf(code), rrtype, name, code);
    } finally {
      clearTimeout(timer);
    }
  }
}
