/** CachingDnsClient: TTLs, negative caching, LRU bound, coalescing (unit tests with a fake client). */
import { describe, expect, it } from 'vitest';
import { CachingDnsClient, DnsError } from '../../src/resolve/index.js';
import { CountingDnsClient, FakeDnsClient } from './helpers.js';

function setup(opts: { maxEntries?: number; negativeTtlMs?: number } = {}) {
  let now = 1000;
  const fake = new FakeDnsClient({
    a: {
      'one.test': [{ address: '192.0.2.1', ttl: 10 }],
      'two.test': [
        { address: '192.0.2.2', ttl: 30 },
        { address: '192.0.2.3', ttl: 5 },
      ],
      'zero.test': [{ address: '192.0.2.4', ttl: 0 }],
      'three.test': [{ address: '192.0.2.5', ttl: 60 }],
    },
    fail: { 'broken.test': new DnsError('servfail', 'A', 'broken.test', 'ESERVFAIL') },
  });
  const counting = new CountingDnsClient(fake);
  const cache = new CachingDnsClient(counting, { ...opts, now: () => now });
  return { cache, counting, advance: (ms: number) => (now += ms) };
}

describe('CachingDnsClient', () => {
  it('serves a positive answer until its TTL, then asks again', async () => {
    const { cache, counting, advance } = setup();
    await cache.a('one.test');
    advance(9_999);
    expect(await cache.a('ONE.test.')).toEqual([{ address: '192.0.2.1', ttl: 10 }]);
    expect(counting.total()).toBe(1);
    advance(2);
    await cache.a('one.test');
    expect(counting.total()).toBe(2);
  });

  it('uses the smallest TTL of the set', async () => {
    const { cache, counting, advance } = setup();
    await cache.a('two.test');
    advance(5_001);
    await cache.a('two.test');
    expect(counting.total()).toBe(2);
  });

  it('does not cache TTL 0 answers', async () => {
    const { cache, counting } = setup();
    await cache.a('zero.test');
    await cache.a('zero.test');
    expect(counting.total()).toBe(2);
  });

  it('caches empty answers for negativeTtlMs, per record type', async () => {
    const { cache, counting, advance } = setup({ negativeTtlMs: 2000 });
    expect(await cache.a('nothing.test')).toEqual([]);
    expect(await cache.a('nothing.test')).toEqual([]);
    expect(await cache.aaaa('nothing.test')).toEqual([]);
    expect(counting.types()).toEqual(['A', 'AAAA']);
    advance(2001);
    await cache.a('nothing.test');
    expect(counting.types()).toEqual(['A', 'AAAA', 'A']);
  });

  it('does not cache failures', async () => {
    const { cache, counting } = setup();
    await expect(cache.a('broken.test')).rejects.toBeInstanceOf(DnsError);
    await expect(cache.a('broken.test')).rejects.toBeInstanceOf(DnsError);
    expect(counting.total()).toBe(2);
  });

  it('is a bounded LRU', async () => {
    const { cache, counting } = setup({ maxEntries: 2 });
    await cache.a('one.test');
    await cache.a('two.test');
    await cache.a('one.test'); // one is now the most recent
    await cache.a('three.test'); // evicts two
    expect(cache.stats().entries).toBe(2);
    await cache.a('one.test');
    expect(counting.total()).toBe(3);
    await cache.a('two.test');
    expect(counting.total()).toBe(4);
  });

  it('coalesces concurrent identical queries', async () => {
    const { cache, counting } = setup();
    const answers = await Promise.all([cache.a('one.test'), cache.a('one.test'), cache.a('One.Test')]);
    expect(answers.every((a) => a.length === 1)).toBe(true);
    expect(counting.total()).toBe(1);
  });

  it('hands out copies: a caller mutating its array does not change the cache', async () => {
    const { cache } = setup();
    const first = await cache.a('one.test');
    first.pop();
    expect(await cache.a('one.test')).toHaveLength(1);
  });
});
