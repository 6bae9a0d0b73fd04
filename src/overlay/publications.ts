/**
 * The publication ledger: what this node published itself, stored on the k closest peers and kept
 * alive (republished every republishIntervalMs until its TTL runs out or it is unpublished).
 */
import type { NodeContext, RpcSender } from './context.js';
import type { NodeId } from './id.js';
import type { LookupResult } from './lookup.js';
import type { Lookups } from './lookups.js';
import type { Binding } from './messages.js';

export interface PublishResult {
  /** Peers (this one included) that confirmed the STORE. */
  storedAt: number;
  lookup: LookupResult;
}

interface Publication {
  expiresAt: number;
  nextRepublishAt: number;
  /** The binding's proof, republished as is: signed once per publication, not per republish. */
  proof?: string;
}

export class Publications {
  /** key -> value -> schedule. */
  private readonly published = new Map<NodeId, Map<string, Publication>>();

  constructor(
    private readonly ctx: NodeContext,
    private readonly rpc: RpcSender,
    private readonly lookups: Lookups,
  ) {}

  /**
   * Stores bindings on the k closest peers (this one too when it is among them) and keeps them
   * alive: republished every republishIntervalMs until their TTL runs out or `unpublish`.
   */
  publish(key: NodeId, bindings: readonly Binding[], done: (result: PublishResult) => void): void {
    const now = this.ctx.clock.now();
    let values = this.published.get(key);
    if (!values) this.published.set(key, (values = new Map()));
    for (const b of bindings) {
      values.set(b.value, { expiresAt: now + b.ttlMs, nextRepublishAt: now + this.ctx.config.republishIntervalMs, ...(b.proof !== undefined ? { proof: b.proof } : {}) });
    }
    this.storeOnClosest(key, bindings, done);
  }

  /**
   * Stops republishing and removes the values from the k closest peers. `removalProofs` (value ->
   * proof) go with the REMOVEs where the overlay's RecordPolicy wants them (PROTOCOL.md 11.4).
   */
  unpublish(key: NodeId, values: readonly string[], done: (removedAt: number) => void, removalProofs?: ReadonlyMap<string, string>): void {
    const mine = this.published.get(key);
    if (mine) {
      for (const v of values) mine.delete(v);
      if (mine.size === 0) this.published.delete(key);
    }
    const removals: Binding[] = values.map((value) => {
      const proof = removalProofs?.get(value);
      return { value, ttlMs: 0, ...(proof !== undefined ? { proof } : {}) };
    });
    this.lookups.run(key, 'node', (lookup) => {
      // This node holds records for others too: its own copy goes by the same rule as theirs.
      const now = this.ctx.clock.now();
      if (this.ctx.records.admitRemove(key, removals, this.ctx.store.get(key, now), now).ok) this.ctx.store.remove(key, values);
      let removed = 0;
      let pending = lookup.closest.length + 1;
      const step = (ok: boolean): void => {
        if (ok) removed++;
        if (--pending === 0) done(removed);
      };
      for (const contact of lookup.closest) {
        this.rpc.send(contact, { op: 'REMOVE', key, removals }, 'iterative', (r) => step(r.ok && r.response.kind === 'ok'));
      }
      step(false);
    });
  }

  /** Republishes what is due at `now` and forgets what expired (a maintenance tick). */
  republishDue(now: number): void {
    for (const [key, values] of this.published) {
      const due: Binding[] = [];
      for (const [value, pub] of values) {
        if (pub.expiresAt <= now) {
          values.delete(value);
          continue;
        }
        if (pub.nextRepublishAt > now) continue;
        pub.nextRepublishAt = now + this.ctx.config.republishIntervalMs;
        due.push({ value, ttlMs: pub.expiresAt - now, ...(pub.proof !== undefined ? { proof: pub.proof } : {}) });
      }
      if (values.size === 0) this.published.delete(key);
      if (due.length > 0) this.storeOnClosest(key, due, () => {});
    }
  }

  /** What this node published and still keeps alive. */
  keys(): NodeId[] {
    return [...this.published.keys()];
  }

  private storeOnClosest(key: NodeId, bindings: readonly Binding[], done: (result: PublishResult) => void): void {
    const { ctx } = this;
    this.lookups.run(key, 'node', (lookup) => {
      // The k closest of those found and this node itself: the lookup never lists its asker.
      const { k } = ctx.config;
      // A client stores nothing, not even its own records: peers never look it up.
      const holders = ctx.config.role === 'client' ? [...lookup.closest] : [...lookup.closest, ctx.self];
      const targets = holders.sort((a, b) => ((a.id ^ key) < (b.id ^ key) ? -1 : 1)).slice(0, k);
      let storedAt = 0;
      let pending = targets.length + 1;
      const step = (): void => {
        if (--pending === 0) done({ storedAt, lookup });
      };
      for (const contact of targets) {
        if (contact.id === ctx.self.id) {
          const now = ctx.clock.now();
          if (ctx.records.admitStore(key, bindings, ctx.store.get(key, now), now).ok && ctx.store.put(key, bindings, now).ok) storedAt++;
          step();
          continue;
        }
        this.rpc.send(contact, { op: 'STORE', key, bindings: [...bindings] }, 'iterative', (r) => {
          if (r.ok && r.response.kind === 'stored') storedAt++;
          step();
        });
      }
      step();
    });
  }
}
