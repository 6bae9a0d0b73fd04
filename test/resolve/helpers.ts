/** Test doubles around DnsClient: a counting wrapper (for the real server) and a fake (for unit tests). */
import type { AddressRecord, DnsClient, DnsRrType, NaptrRecord, SrvRecord } from '../../src/resolve/index.js';

export interface DnsCall {
  readonly type: DnsRrType;
  readonly name: string;
}

/** Forwards to another client and records every query, in call order. */
export class CountingDnsClient implements DnsClient {
  readonly calls: DnsCall[] = [];

  constructor(private readonly inner: DnsClient) {}

  naptr(name: string): Promise<NaptrRecord[]> {
    this.calls.push({ type: 'NAPTR', name });
    return this.inner.naptr(name);
  }

  srv(name: string): Promise<SrvRecord[]> {
    this.calls.push({ type: 'SRV', name });
    return this.inner.srv(name);
  }

  a(name: string): Promise<AddressRecord[]> {
    this.calls.push({ type: 'A', name });
    return this.inner.a(name);
  }

  aaaa(name: string): Promise<AddressRecord[]> {
    this.calls.push({ type: 'AAAA', name });
    return this.inner.aaaa(name);
  }

  total(): number {
    return this.calls.length;
  }

  types(): DnsRrType[] {
    return this.calls.map((c) => c.type);
  }
}

export interface FakeZone {
  naptr?: Record<string, NaptrRecord[]>;
  srv?: Record<string, SrvRecord[]>;
  a?: Record<string, AddressRecord[]>;
  aaaa?: Record<string, AddressRecord[]>;
  /** Names whose queries reject with this error. */
  fail?: Record<string, Error>;
}

/** In-memory DnsClient for unit tests of ordering and caching logic. */
export class FakeDnsClient implements DnsClient {
  constructor(readonly zone: FakeZone) {}

  naptr(name: string): Promise<NaptrRecord[]> {
    return this.answer(name, this.zone.naptr);
  }

  srv(name: string): Promise<SrvRecord[]> {
    return this.answer(name, this.zone.srv);
  }

  a(name: string): Promise<AddressRecord[]> {
    return this.answer(name, this.zone.a);
  }

  aaaa(name: string): Promise<AddressRecord[]> {
    return this.answer(name, this.zone.aaaa);
  }

  private async answer<T>(name: string, table: Record<string, T[]> | undefined): Promise<T[]> {
    const err = this.zone.fail?.[name];
    if (err !== undefined) throw err;
    return [...(table?.[name] ?? [])];
  }
}

/** A random source that returns the given values in turn, then `rest`. */
export function scriptedRandom(values: readonly number[], rest = 0): () => number {
  let i = 0;
  return () => (i < values.length ? (values[i++] as number) : rest);
}

/** A seeded PRNG (mulberry32) in [0, 1), for reproducible distributions. */
export function seededRandom(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
