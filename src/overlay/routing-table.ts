/**
 * The Kademlia routing table: 160 k-buckets in least-recently-seen order (head = oldest), each with a
 * bounded replacement cache. It does no I/O: when a full bucket meets a new contact it answers
 * `full` with the oldest entry, and the caller pings that one and reports back with `markAlive` or
 * `markFailed` (ping-before-evict, as the k-bucket package does it).
 */
import type { Contact } from './contact.js';
import { ID_BITS } from './constants.js';
import { bucketIndex, type NodeId } from './id.js';

export type ObserveResult =
  | { kind: 'self' }
  | { kind: 'updated' }
  | { kind: 'added' }
  /** The bucket is full; `oldest` should be pinged. The new contact waits in the replacement cache. */
  | { kind: 'full'; oldest: Contact };

interface Bucket {
  /** Least-recently seen first. */
  contacts: Contact[];
  /** Most-recently seen last; never holds a contact that is in `contacts`. */
  replacements: Contact[];
}

const NO_CONTACTS: readonly Contact[] = [];

export class RoutingTable {
  /** Created on first use: most of the 160 buckets of a node stay empty, and the simulator runs thousands of tables. */
  private readonly buckets: (Bucket | undefined)[];
  /** Last time a lookup targeted each bucket's range, or a contact in it was added or refreshed. */
  private readonly lastTouched: Float64Array;
  private readonly failures = new Map<NodeId, number>();
  private count = 0;

  constructor(
    readonly selfId: NodeId,
    private readonly k: number,
    private readonly replacementCacheSize: number,
    now: number,
  ) {
    this.buckets = new Array<Bucket | undefined>(ID_BITS).fill(undefined);
    this.lastTouched = new Float64Array(ID_BITS).fill(now);
  }

  get size(): number {
    return this.count;
  }

  /** Records that `contact` was heard from directly (it answered us, or we verified it). */
  observe(contact: Contact, now: number): ObserveResult {
    const index = bucketIndex(this.selfId, contact.id);
    if (index < 0) return { kind: 'self' };
    const bucket = (this.buckets[index] ??= { contacts: [], replacements: [] });
    this.failures.delete(contact.id);
    const at = bucket.contacts.findIndex((c) => c.id === contact.id);
    if (at >= 0) {
      // Move to the tail; a new address for the same ID replaces the old one (the peer moved).
      bucket.contacts.splice(at, 1);
      bucket.contacts.push(contact);
      this.lastTouched[index] = now;
      return { kind: 'updated' };
    }
    if (bucket.contacts.length < this.k) {
      bucket.contacts.push(contact);
      this.removeReplacement(bucket, contact.id);
      this.count++;
      this.lastTouched[index] = now;
      return { kind: 'added' };
    }
    this.removeReplacement(bucket, contact.id);
    bucket.replacements.push(contact);
    if (bucket.replacements.length > this.replacementCacheSize) bucket.replacements.shift();
    return { kind: 'full', oldest: bucket.contacts[0]! };
  }

  /** The pinged oldest contact answered: it stays, moved to the tail. */
  markAlive(contact: Contact, now: number): void {
    this.observe(contact, now);
  }

  /**
   * A contact failed an RPC. After `maxFailures` consecutive failures it is dropped and the most
   * recently seen replacement takes its place. Returns true when it was dropped.
   */
  markFailed(id: NodeId, maxFailures: number): boolean {
    const failures = (this.failures.get(id) ?? 0) + 1;
    if (failures < maxFailures && this.has(id)) {
      this.failures.set(id, failures);
      return false;
    }
    return this.remove(id);
  }

  /** Removes a contact at once (it said goodbye, or it is known dead); a replacement takes its place. */
  remove(id: NodeId): boolean {
    const index = bucketIndex(this.selfId, id);
    const bucket = index < 0 ? undefined : this.buckets[index];
    if (!bucket) return false;
    const at = bucket.contacts.findIndex((c) => c.id === id);
    if (at < 0) {
      this.removeReplacement(bucket, id);
      return false;
    }
    this.dropAt(bucket, at);
    return true;
  }

  get(id: NodeId): Contact | undefined {
    const index = bucketIndex(this.selfId, id);
    if (index < 0) return undefined;
    return this.buckets[index]?.contacts.find((c) => c.id === id);
  }

  has(id: NodeId): boolean {
    return this.get(id) !== undefined;
  }

  /** True when a contact in `id`'s bucket could be added without evicting anyone. */
  hasRoomFor(id: NodeId): boolean {
    const index = bucketIndex(this.selfId, id);
    return index >= 0 && (this.buckets[index]?.contacts.length ?? 0) < this.k;
  }

  /**
   * The `n` known contacts closest to `target`, closest first. Contacts in target's own bucket j are
   * closer than any other; then come the nearer buckets (j-1 .. 0, mixed), then the farther buckets in
   * increasing order, each strictly farther than everything before. So the scan stops as soon as n
   * are held after the nearer group, and a bounded insertion keeps only the best n.
   */
  closest(target: NodeId, n: number, exclude?: NodeId): Contact[] {
    const best: Contact[] = [];
    const dist: bigint[] = [];
    const consider = (contacts: readonly Contact[]): void => {
      for (const c of contacts) {
        if (c.id === exclude) continue;
        const d = c.id ^ target;
        if (best.length === n && d >= dist[n - 1]!) continue;
        let at = best.length === n ? n - 1 : best.length;
        while (at > 0 && dist[at - 1]! > d) {
          if (at < n) {
            best[at] = best[at - 1]!;
            dist[at] = dist[at - 1]!;
          }
          at--;
        }
        best[at] = c;
        dist[at] = d;
      }
    };
    const j = bucketIndex(this.selfId, target);
    // j < 0: the target is this node, and distance order is bucket order.
    for (let i = j; i >= 0; i--) consider(this.contactsIn(i));
    for (let i = j + 1; i < ID_BITS && best.length < n; i++) consider(this.contactsIn(i));
    return best;
  }

  /** A lookup ran into bucket `index`'s range: it need not be refreshed for a while. */
  touch(index: number, now: number): void {
    if (index >= 0 && index < ID_BITS) this.lastTouched[index] = now;
  }

  /**
   * Buckets idle for `idleMs` worth refreshing: from the bucket of the k-th closest contact to this
   * node up to the farthest non-empty bucket. Nearer buckets hold only peers among the k closest,
   * which every self-lookup finds anyway; ranges beyond the farthest known peer are empty as far as
   * anyone told us (a newcomer there reaches us by its own lookups, and we ping it in). Refreshing
   * those empty ranges would cost a lookup each for nothing, and it matters: peers sharing one IP
   * address sit in buckets 0-15, where a Kademlia-paper refresh of "all buckets beyond the closest
   * neighbour" means some 145 lookups at every join.
   */
  idleBuckets(now: number, idleMs: number): number[] {
    const closest = this.closest(this.selfId, this.k);
    const kth = closest[this.k - 1];
    // Fewer than k peers known: every lookup already returns all of them, a refresh finds nothing new.
    if (!kth) return [];
    let highest = ID_BITS - 1;
    while (highest >= 0 && this.contactsIn(highest).length === 0) highest--;
    const out: number[] = [];
    for (let i = bucketIndex(this.selfId, kth.id); i <= highest; i++) {
      if (now - this.lastTouched[i]! >= idleMs) out.push(i);
    }
    return out;
  }

  /** Index of the nearest non-empty bucket, -1 when the table is empty. */
  /** Every contact, bucket by bucket (for hand-over on leave and for /status). */
  *all(): IterableIterator<Contact> {
    for (const b of this.buckets) if (b) yield* b.contacts;
  }

  /** Contacts per non-empty bucket index. */
  bucketSizes(): Record<number, number> {
    const out: Record<number, number> = {};
    this.buckets.forEach((b, i) => {
      if (b && b.contacts.length > 0) out[i] = b.contacts.length;
    });
    return out;
  }

  /** For invariant checks in tests: bucket contents in LRS order. */
  bucketContents(index: number): readonly Contact[] {
    return this.contactsIn(index);
  }

  replacementContents(index: number): readonly Contact[] {
    return this.buckets[index]?.replacements ?? NO_CONTACTS;
  }

  private contactsIn(index: number): readonly Contact[] {
    return this.buckets[index]?.contacts ?? NO_CONTACTS;
  }

  private dropAt(bucket: Bucket, at: number): void {
    const [dropped] = bucket.contacts.splice(at, 1);
    if (dropped) this.failures.delete(dropped.id);
    this.count--;
    const replacement = bucket.replacements.pop();
    if (replacement) {
      bucket.contacts.push(replacement);
      this.count++;
    }
  }

  private removeReplacement(bucket: Bucket, id: NodeId): void {
    const at = bucket.replacements.findIndex((c) => c.id === id);
    if (at >= 0) bucket.replacements.splice(at, 1);
  }
}
