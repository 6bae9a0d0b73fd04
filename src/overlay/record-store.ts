/**
 * Records this peer holds for the overlay: key -> bindings, each with its own expiry. Bounded in
 * keys, bindings per key and value size (PROTOCOL.md section 6), so a flood of STOREs cannot grow
 * it without limit; a refused STORE changes nothing already stored.
 */
import type { NodeId } from './id.js';
import type { Binding, OverlayErrorReason } from './messages.js';

export interface StoredBinding {
  readonly value: string;
  readonly expiresAt: number;
  /** The binding's proof as stored (opaque here): served with it and handed over with it. */
  readonly proof?: string;
}

export interface RecordStoreLimits {
  maxRecords: number;
  maxBindingsPerRecord: number;
  maxValueBytes: number;
  maxTtlMs: number;
}

export type PutResult = { ok: true; stored: Binding[] } | { ok: false; reason: OverlayErrorReason };

const utf8 = new TextEncoder();

export class RecordStore {
  private readonly records = new Map<NodeId, Map<string, StoredBinding>>();

  constructor(private readonly limits: RecordStoreLimits) {}

  get size(): number {
    return this.records.size;
  }

  /** Adds or refreshes bindings. All-or-nothing: a binding that breaks a bound refuses the whole put. */
  put(key: NodeId, bindings: readonly Binding[], now: number): PutResult {
    for (const b of bindings) {
      // A UTF-16 unit is at most 3 UTF-8 bytes: only long values need encoding to be measured.
      const tooLong = b.value.length * 3 > this.limits.maxValueBytes && utf8.encode(b.value).length > this.limits.maxValueBytes;
      if (b.value.length === 0 || tooLong) {
        return { ok: false, reason: 'value-too-large' };
      }
      if (!(b.ttlMs > 0) || !Number.isFinite(b.ttlMs)) return { ok: false, reason: 'bad-request' };
    }
    const existing = this.records.get(key);
    if (!existing && this.records.size >= this.limits.maxRecords) return { ok: false, reason: 'store-full' };
    const live = existing ? this.purge(existing, now) : new Map<string, StoredBinding>();
    const newValues = new Set(bindings.map((b) => b.value).filter((v) => !live.has(v)));
    if (live.size + newValues.size > this.limits.maxBindingsPerRecord) return { ok: false, reason: 'too-many-bindings' };
    const stored: Binding[] = [];
    for (const b of bindings) {
      const ttlMs = Math.min(b.ttlMs, this.limits.maxTtlMs);
      live.set(b.value, { value: b.value, expiresAt: now + ttlMs, ...(b.proof !== undefined ? { proof: b.proof } : {}) });
      stored.push({ value: b.value, ttlMs });
    }
    this.records.set(key, live);
    return { ok: true, stored };
  }

  remove(key: NodeId, values: readonly string[]): void {
    const record = this.records.get(key);
    if (!record) return;
    for (const v of values) record.delete(v);
    if (record.size === 0) this.records.delete(key);
  }

  /** Live bindings of `key` with their remaining TTL and their proofs; empty when none. */
  get(key: NodeId, now: number): Binding[] {
    const record = this.records.get(key);
    if (!record) return [];
    const live = this.purge(record, now);
    if (live.size === 0) {
      this.records.delete(key);
      return [];
    }
    return [...live.values()].map((b) => ({ value: b.value, ttlMs: b.expiresAt - now, ...(b.proof !== undefined ? { proof: b.proof } : {}) }));
  }

  has(key: NodeId, now: number): boolean {
    return this.get(key, now).length > 0;
  }

  /** Drops every expired binding; returns how many records disappeared. */
  expire(now: number): number {
    let dropped = 0;
    for (const [key, record] of this.records) {
      this.purge(record, now);
      if (record.size === 0) {
        this.records.delete(key);
        dropped++;
      }
    }
    return dropped;
  }

  keys(): IterableIterator<NodeId> {
    return this.records.keys();
  }

  private purge(record: Map<string, StoredBinding>, now: number): Map<string, StoredBinding> {
    for (const [v, b] of record) if (b.expiresAt <= now) record.delete(v);
    return record;
  }
}
