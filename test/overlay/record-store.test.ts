import { describe, expect, it } from 'vitest';
import { RecordStore } from '../../src/overlay/record-store.js';

const limits = { maxRecords: 3, maxBindingsPerRecord: 2, maxValueBytes: 16, maxTtlMs: 10_000 };

describe('RecordStore', () => {
  it('stores several bindings per key, each with its own expiry', () => {
    const store = new RecordStore(limits);
    expect(store.put(1n, [{ value: 'a', ttlMs: 1000 }], 0).ok).toBe(true);
    expect(store.put(1n, [{ value: 'b', ttlMs: 3000 }], 0).ok).toBe(true);
    expect(store.get(1n, 500).map((b) => b.value).sort()).toEqual(['a', 'b']);
    expect(store.get(1n, 500).find((b) => b.value === 'a')!.ttlMs).toBe(500);
    expect(store.get(1n, 1000).map((b) => b.value)).toEqual(['b']);
    expect(store.get(1n, 3000)).toEqual([]);
    expect(store.size).toBe(0);
  });

  it('refreshes an existing binding instead of adding a second one', () => {
    const store = new RecordStore(limits);
    store.put(1n, [{ value: 'a', ttlMs: 1000 }], 0);
    store.put(1n, [{ value: 'a', ttlMs: 5000 }], 500);
    expect(store.get(1n, 4000)).toEqual([{ value: 'a', ttlMs: 1500 }]);
  });

  it('refuses what breaks a bound and leaves stored data untouched', () => {
    const store = new RecordStore(limits);
    store.put(1n, [{ value: 'a', ttlMs: 1000 }], 0);
    expect(store.put(1n, [{ value: 'b', ttlMs: 1000 }, { value: 'c', ttlMs: 1000 }], 0)).toEqual({ ok: false, reason: 'too-many-bindings' });
    expect(store.put(1n, [{ value: 'x'.repeat(17), ttlMs: 1000 }], 0)).toEqual({ ok: false, reason: 'value-too-large' });
    expect(store.put(1n, [{ value: '', ttlMs: 1000 }], 0).ok).toBe(false);
    expect(store.put(1n, [{ value: 'b', ttlMs: -1 }], 0)).toEqual({ ok: false, reason: 'bad-request' });
    expect(store.put(1n, [{ value: 'b', ttlMs: Number.NaN }], 0).ok).toBe(false);
    expect(store.get(1n, 0)).toEqual([{ value: 'a', ttlMs: 1000 }]);
    store.put(2n, [{ value: 'a', ttlMs: 1000 }], 0);
    store.put(3n, [{ value: 'a', ttlMs: 1000 }], 0);
    expect(store.put(4n, [{ value: 'a', ttlMs: 1000 }], 0)).toEqual({ ok: false, reason: 'store-full' });
    expect(store.size).toBe(3);
  });

  it('clips TTLs to the maximum and expires in bulk', () => {
    const store = new RecordStore(limits);
    const put = store.put(1n, [{ value: 'a', ttlMs: 1e12 }], 0);
    expect(put).toEqual({ ok: true, stored: [{ value: 'a', ttlMs: 10_000 }] });
    store.put(2n, [{ value: 'a', ttlMs: 100 }], 0);
    expect(store.expire(200)).toBe(1);
    expect([...store.keys()]).toEqual([1n]);
  });

  it('removes single values', () => {
    const store = new RecordStore(limits);
    store.put(1n, [{ value: 'a', ttlMs: 1000 }, { value: 'b', ttlMs: 1000 }], 0);
    store.remove(1n, ['a']);
    expect(store.get(1n, 0).map((b) => b.value)).toEqual(['b']);
    store.remove(1n, ['b']);
    expect(store.size).toBe(0);
  });
});
