/**
 * The location service of RFC 3261 section 10: address-of-record -> bindings. Pure data, no
 * timers: expiry is evaluated against the `now` the caller passes (milliseconds, same clock as
 * every other `now` given to the registrar).
 *
 * Bounds: at most `maxAors` addresses-of-record and `maxBindingsPerAor` bindings each. The store
 * refuses to exceed them (throws RangeError); the registrar checks first and answers the phone
 * (403 per AoR, 503 when the store is full; see registrar.ts).
 */
import type { Param, Uri } from '../sip/message/index.js';
import type { Endpoint } from '../sip/transport/index.js';
import { MinHeap } from '../common/min-heap.js';
import { uriEquals } from './uri-equal.js';

export interface RegistrarBinding {
  /** Canonical AoR (canonicalAor of the To URI). */
  readonly aor: string;
  /** The Contact URI as registered (serialised, without header parameters). */
  readonly contact: string;
  readonly contactUri: Uri;
  /** Contact header parameters as received, except `expires` (echoed in the 200 OK). */
  readonly params: readonly Param[];
  /** 0..1, default 1 (RFC 3261 20.10): higher is tried first when forking. */
  readonly q: number;
  /** When the binding lapses, on the caller's clock (ms). Expired when now >= expiresAt. */
  readonly expiresAt: number;
  /** Call-ID and CSeq of the REGISTER that last wrote the binding (10.3 step 7). */
  readonly callId: string;
  readonly cseq: number;
  /**
   * Where that REGISTER came from. A Contact behind NAT (private address, wrong port) is not
   * reachable; the proxy then sends to this address instead (RFC 3581 symmetric response idea).
   */
  readonly source: Endpoint;
  /** +sip.instance value without quotes (RFC 5626 section 4.1), when given. */
  readonly instanceId?: string;
  /** reg-id (RFC 5626 section 4.2), when given. */
  readonly regId?: number;
  /** When the binding was first created and last written (ms, caller's clock). */
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type BindingChangeKind = 'added' | 'refreshed' | 'removed' | 'expired';

export interface BindingChange {
  readonly aor: string;
  readonly kind: BindingChangeKind;
  /** The binding after the change ('added', 'refreshed') or as it was ('removed', 'expired'). */
  readonly binding: RegistrarBinding;
  /**
   * Bindings the AoR holds right after this change. Within one handle() result an AoR may pass
   * through 0 (an expired binding swept, then a new one added): use aorBecameReachable /
   * aorBecameUnreachable for the net effect of a change list.
   */
  readonly remaining: number;
}

export interface BindingStoreOptions {
  readonly maxAors?: number;
  readonly maxBindingsPerAor?: number;
}

export const DEFAULT_MAX_AORS = 100_000;
export const DEFAULT_MAX_BINDINGS_PER_AOR = 10;

/** Highest q first; equal q keep registration order (the sort is stable). */
export function sortByQ(bindings: readonly RegistrarBinding[]): RegistrarBinding[] {
  return bindings.slice().sort((a, b) => b.q - a.q);
}

export class BindingStore {
  readonly maxAors: number;
  readonly maxBindingsPerAor: number;
  #aors = new Map<string, RegistrarBinding[]>();
  #count = 0;
  #expiry = new MinHeap<RegistrarBinding>();

  constructor(opts: BindingStoreOptions = {}) {
    this.maxAors = opts.maxAors ?? DEFAULT_MAX_AORS;
    this.maxBindingsPerAor = opts.maxBindingsPerAor ?? DEFAULT_MAX_BINDINGS_PER_AOR;
  }

  /** Number of AoRs with at least one binding (expired ones not yet swept included). */
  get aorCount(): number {
    return this.#aors.size;
  }

  get bindingCount(): number {
    return this.#count;
  }

  has(aor: string): boolean {
    return this.#aors.has(aor);
  }

  aors(): IterableIterator<string> {
    return this.#aors.keys();
  }

  /** Every stored binding of the AoR in registration order, expired ones not yet swept included. */
  all(aor: string): readonly RegistrarBinding[] {
    return this.#aors.get(aor) ?? [];
  }

  /** Unexpired bindings, highest q first. */
  lookup(aor: string, now: number): RegistrarBinding[] {
    return sortByQ(this.all(aor).filter((b) => b.expiresAt > now));
  }

  /** The binding whose Contact URI equals `uri` under RFC 3261 19.1.4. */
  find(aor: string, uri: Uri): RegistrarBinding | undefined {
    return this.all(aor).find((b) => uriEquals(b.contactUri, uri));
  }

  /** Adds a binding, or replaces the one with an equal Contact URI (kept at its position). */
  put(binding: RegistrarBinding): BindingChange {
    return this.#put(binding, true);
  }

  /**
   * One REGISTER's worth of changes, atomically: puts first, then removals (so a Contact replaced
   * by another never leaves the AoR empty in between). The per-AoR bound applies to the result,
   * not to the intermediate state. Throws RangeError, changing nothing, when the result is out of
   * bounds.
   */
  apply(aor: string, puts: readonly RegistrarBinding[], removals: readonly RegistrarBinding[]): BindingChange[] {
    const list = this.all(aor);
    let added = 0;
    for (const b of puts) {
      if (b.aor !== aor) throw new RangeError('binding of another AoR');
      if (!list.some((x) => uriEquals(x.contactUri, b.contactUri))) added++;
    }
    const removed = removals.filter((b) => list.includes(b)).length;
    if (list.length + added - removed > this.maxBindingsPerAor) throw new RangeError(`too many bindings for ${aor}`);
    if (list.length === 0 && added > 0 && this.#aors.size >= this.maxAors) throw new RangeError('binding store full (maxAors)');
    const out: BindingChange[] = [];
    for (const b of puts) out.push(this.#put(b, false));
    for (const b of removals) {
      const c = this.remove(b, 'removed');
      if (c) out.push(c);
    }
    return out;
  }

  #put(binding: RegistrarBinding, checkLimit: boolean): BindingChange {
    let list = this.#aors.get(binding.aor);
    const idx = list === undefined ? -1 : list.findIndex((b) => uriEquals(b.contactUri, binding.contactUri));
    if (list !== undefined && idx >= 0) {
      list[idx] = binding;
      this.#schedule(binding);
      return { aor: binding.aor, kind: 'refreshed', binding, remaining: list.length };
    }
    if (list === undefined) {
      if (this.#aors.size >= this.maxAors) throw new RangeError('binding store full (maxAors)');
      list = [];
      this.#aors.set(binding.aor, list);
    }
    if (checkLimit && list.length >= this.maxBindingsPerAor) throw new RangeError(`too many bindings for ${binding.aor}`);
    list.push(binding);
    this.#count++;
    this.#schedule(binding);
    return { aor: binding.aor, kind: 'added', binding, remaining: list.length };
  }

  /** Removes this exact binding object; undefined when it is no longer stored. */
  remove(binding: RegistrarBinding, kind: 'removed' | 'expired' = 'removed'): BindingChange | undefined {
    const list = this.#aors.get(binding.aor);
    if (list === undefined) return undefined;
    const idx = list.indexOf(binding);
    if (idx < 0) return undefined;
    list.splice(idx, 1);
    this.#count--;
    if (list.length === 0) this.#aors.delete(binding.aor);
    return { aor: binding.aor, kind, binding, remaining: list.length };
  }

  /** Sweeps the expired bindings of one AoR (the registrar does this before handling a REGISTER). */
  expireAor(aor: string, now: number): BindingChange[] {
    const out: BindingChange[] = [];
    for (const b of this.all(aor).slice()) {
      if (b.expiresAt <= now) {
        const c = this.remove(b, 'expired');
        if (c) out.push(c);
      }
    }
    return out;
  }

  /** Removes and returns every binding with expiresAt <= now, oldest expiry first. */
  expire(now: number): BindingChange[] {
    const out: BindingChange[] = [];
    for (;;) {
      const key = this.#expiry.peekKey();
      if (key === undefined || key > now) break;
      const b = this.#expiry.pop();
      if (b === undefined) break;
      // A refreshed binding is a new object: the stale queue entry finds nothing to remove.
      const c = this.remove(b, 'expired');
      if (c) out.push(c);
    }
    return out;
  }

  clear(): void {
    this.#aors.clear();
    this.#count = 0;
    this.#expiry.clear();
  }

  #schedule(binding: RegistrarBinding): void {
    this.#expiry.push(binding.expiresAt, binding);
    // Refreshes leave stale entries behind; rebuild when they outnumber the live ones.
    if (this.#expiry.size > 2 * this.#count + 1024) {
      this.#expiry.clear();
      for (const list of this.#aors.values()) for (const b of list) this.#expiry.push(b.expiresAt, b);
    }
  }
}

/**
 * AoRs whose binding set went from empty to non-empty over `changes` (in order, as handle() or
 * expire() returned them): the node STOREs AoR -> itself in the overlay for these.
 */
export function aorBecameReachable(changes: readonly BindingChange[]): string[] {
  return transitions(changes).filter((t) => t.before === 0 && t.after > 0).map((t) => t.aor);
}

/** AoRs whose last binding disappeared over `changes`: the node withdraws AoR -> itself. */
export function aorBecameUnreachable(changes: readonly BindingChange[]): string[] {
  return transitions(changes).filter((t) => t.before > 0 && t.after === 0).map((t) => t.aor);
}

function transitions(changes: readonly BindingChange[]): Array<{ aor: string; before: number; after: number }> {
  const m = new Map<string, { aor: string; before: number; after: number }>();
  for (const c of changes) {
    const delta = c.kind === 'added' ? 1 : c.kind === 'refreshed' ? 0 : -1;
    const t = m.get(c.aor);
    if (t === undefined) m.set(c.aor, { aor: c.aor, before: c.remaining - delta, after: c.remaining });
    else t.after = c.remaining;
  }
  return [...m.values()];
}
