/**
 * A DnsClient decorator that caches answers for as long as DNS allows:
 * positive answers until the smallest TTL of the record set (RFC 1035 section
 * 3.2.1 / RFC 2181 section 5.2: a record set shares one TTL; we take the
 * minimum to be safe), empty answers (NXDOMAIN / NODATA) for a fixed
 * `negativeTtlMs` (in the spirit of RFC 2308, whose SOA minimum node does not
 * expose). Failures (DnsError) are not cached. Entries are kept in a bounded
 * LRU; concurrent identical queries share one upstream query.
 */
import type { AddressRecord, DnsClient, DnsRrType, NaptrRecord, SrvRecord } from './dns-client.js';

export interface DnsCacheOptions {
  /** Most (type, name) entries kept; the least recently used goes first. Default 1000. */
  readonly maxEntries?: number;
  /** How long an empty answer is remembered, in ms. Default 30 000. */
  readonly negativeTtlMs?: number;
  /** Upper bound on any positive entry, in ms, whatever its TTL. Default 1 day. */
  readonly maxTtlMs?: number;
  /** Time source in ms (injectable for tests). Default performance.now. */
  readonly now?: () => number;
}

interface Entry {
  readonly records: readonly unknown[];
  readonly expiresAt: number;
}

export interface DnsCacheStats {
  hits: number;
  misses: number;
  entries: number;
}

export class CachingDnsClient implements DnsClient {
  private readonly entries = new Map<string, Entry>();
  private readonly inflight = new Map<string, Promise<readonly unknown[]>>();
  private readonly maxEntries: number;
  private readonly negativeTtlMs: number;
  private readonly maxTtlMs: number;
  private readonly now: () => number;
  private hits = 0;
  private misses = 0;

  constructor(
    private readonly inner: DnsClient,
    opts: DnsCacheOptions = {},
  ) {
    this.maxEntries = Math.max(1, opts.maxEntries ?? 1000);
    this.negativeTtlMs = Math.max(0, opts.negativeTtlMs ?? 30_000);
    this.maxTtlMs = opts.maxTtlMs ?? 86_400_000;
    this.now = opts.now ?? (() => performance.now());
  }

  naptr(name: string): Promise<NaptrRecord[]> {
    return this.lookup('NAPTR', name, () => this.inner.naptr(name));
  }

  srv(name: string): Promise<SrvRecord[]> {
    return this.lookup('SRV', name, () => this.inner.srv(name));
  }

  a(name: string): Promise<AddressRecord[]> {
    return this.lookup('A', name, () => this.inner.a(name));
  }

  aaaa(name: string): Promise<AddressRecord[]> {
    return this.lookup('AAAA', name, () => this.inner.aaaa(name));
  }

  stats(): DnsCacheStats {
    return { hits: this.hits, misses: this.misses, entries: this.entries.size };
  }

  clear(): void {
    this.entries.clear();
  }

  private async lookup<T extends { ttl: number }>(rrtype: DnsRrType, name: string, query: () => Promise<T[]>): Promise<T[]> {
    // DNS names compare case-insensitively (RFC 4343); a trailing dot names the same node.
    const key = `${rrtype} ${name.toLowerCase().replace(/\.$/, '')}`;
    const entry = this.entries.get(key);
    if (entry !== undefined) {
      if (entry.expiresAt > this.now()) {
        // Refresh the LRU position: Map iteration order is insertion order.
        this.entries.delete(key);
        this.entries.set(key, entry);
        this.hits++;
        return [...(entry.records as readonly T[])];
      }
      this.entries.delete(key);
    }
    this.misses++;
    const pending = this.inflight.get(key);
    if (pending !== undefined) return [...((await pending) as readonly T[])];
    const p = query().then((records) => {
      this.store(key, records);
      return records;
    });
    this.inflight.set(key, p);
    try {
      return [...(await p)];
    } finally {
      this.inflight.delete(key);
    }
  }

  private store(key: string, records: readonly { ttl: number }[]): void {
    let lifeMs: number;
    if (records.length === 0) lifeMs = this.negativeTtlMs;
    else lifeMs = Math.min(this.maxTtlMs, Math.min(...records.map((r) => r.ttl)) * 1000);
    if (!(lifeMs > 0)) return;
    this.entries.delete(key);
    this.entries.set(key, { records, expiresAt: this.now() + lifeMs });
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next();
      if (oldest.done === true) break;
      this.entries.delete(oldest.value);
    }
  }
}
