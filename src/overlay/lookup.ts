/**
 * One iterative Kademlia lookup (FIND_NODE or FIND_VALUE) as a state machine without I/O: the node
 * asks it whom to query next, feeds it answers and failures, and reads the result. alpha queries
 * stay in flight among the k closest not yet asked; the lookup ends when a value arrives (FIND_VALUE)
 * or when the k closest contacts seen that did not fail have all answered.
 *
 * A query not answered within the node's soft timeout is marked stalled (`onStall`): it no longer
 * counts towards alpha, so the next call to `next()` asks one more contact in its place, and the
 * lookup no longer waits for it among the k closest. Its answer still counts if it comes before the
 * RPC's hard deadline (`onAnswer`), and its failure is recorded as any other (`onFailure`). Alpha
 * is thus the number of queries making progress, not of queries outstanding: the Kademlia paper,
 * section 2.3, "nodes that fail to respond quickly are removed from consideration until and unless
 * they do respond" (libtorrent's DHT widens its branch factor on a short timeout the same way).
 *
 * A value answer is believed only as far as the node's record policy accepts its bindings
 * (`accept`, RecordPolicy.acceptFetched): a peer that answers with forged bindings only has given
 * nothing, is not counted among the closest that answered, and the lookup goes on. One Lookup is
 * one path; disjoint-lookup.ts runs d of them that share `claimed`, so that no peer is asked by two
 * (S/Kademlia, PROTOCOL.md 11.5).
 */
import type { Contact } from './contact.js';
import type { NodeId } from './id.js';
import { candidateIp, MAX_CANDIDATES } from './candidates.js';
import type { Binding, Candidate, OverlayResponse } from './messages.js';

export type LookupKind = 'node' | 'value';

/** `taken`: another path of the same disjoint lookup asked this contact, so this path never will. */
type EntryState = 'new' | 'inflight' | 'stalled' | 'answered' | 'failed' | 'taken';

interface Entry {
  readonly contact: Contact;
  readonly distance: bigint;
  state: EntryState;
  /** The wave this contact is queried in: 1 for the seeds, parent's round + 1 for contacts it named. */
  readonly round: number;
}

export interface LookupResult {
  readonly target: NodeId;
  readonly kind: LookupKind;
  /** The k closest contacts that answered, closest first. */
  readonly closest: Contact[];
  /** FIND_VALUE: the bindings found (empty when none). */
  readonly bindings: Binding[];
  /** Who answered with the value. */
  readonly valueFrom?: Contact;
  /** STUN/TURN candidates the answers carried (unique by IP), when the node asked for them. */
  readonly candidates?: Candidate[];
  /** Sequential waves of RPCs until the value arrived, or until the k closest had answered. */
  readonly rounds: number;
  readonly rpcs: number;
  readonly failures: number;
  /** Queries that passed the soft timeout unanswered (each had one more query sent beside it). */
  readonly stalls: number;
  /** Bindings answers carried that the record policy refused (forged), when there were any. */
  readonly forged?: number;
}

export interface Query {
  readonly contact: Contact;
  readonly round: number;
}

/** What lookups.ts drives: one path (Lookup) or several disjoint ones (DisjointLookup). */
export interface LookupMachine {
  add(contacts: readonly Contact[], round: number): void;
  next(): Query[];
  onAnswer(id: NodeId, response: OverlayResponse): void;
  onStall(id: NodeId): boolean;
  onFailure(id: NodeId): void;
  readonly done: boolean;
  readonly inFlight: number;
  readonly stalled: number;
  result(): LookupResult;
}

export interface LookupOptions {
  /** Whether a fetched binding is genuine (RecordPolicy.acceptFetched); absent: all are. */
  readonly accept?: (binding: Binding) => boolean;
  /** Addresses asked by any path of the lookup this one is a path of (shared, written here). */
  readonly claimed?: Set<string>;
}

/**
 * Keeps a candidate an answer offered, unique by IP. Offered twice with different figures (each
 * peer heard it at another time): the higher is kept, so an old low figure does not make it look
 * idler than anyone has seen it lately.
 */
export function keepCandidate(candidates: Map<string, Candidate>, candidate: Candidate): void {
  const ip = candidateIp(candidate.stun);
  const had = candidates.get(ip);
  if (had ? (candidate.load ?? -1) > (had.load ?? -1) : candidates.size < MAX_CANDIDATES * 4) candidates.set(ip, candidate);
}

export class Lookup implements LookupMachine {
  private readonly shortlist: Entry[] = [];
  /** Addresses already in the shortlist (string keys hash far faster than bigint ones). */
  private readonly seen = new Set<string>();
  /** Queries in flight and not stalled: the ones alpha bounds. */
  private inflight = 0;
  /** Queries in flight past their soft timeout. */
  private stalledCount = 0;
  private rpcs = 0;
  private failures = 0;
  private stalls = 0;
  private forged = 0;
  private answeredCount = 0;
  private found?: { bindings: Binding[]; from: Contact; round: number };
  private readonly candidates = new Map<string, Candidate>();

  constructor(
    readonly target: NodeId,
    readonly kind: LookupKind,
    private readonly selfId: NodeId,
    private readonly k: number,
    private readonly alpha: number,
    private readonly maxShortlist: number,
    private readonly options: LookupOptions = {},
  ) {
  }

  /** Adds contacts to ask; `round` is the wave they will be asked in. */
  add(contacts: readonly Contact[], round: number): void {
    for (const contact of contacts) {
      if (contact.id === this.selfId || this.seen.has(contact.address) || this.options.claimed?.has(contact.address)) continue;
      this.seen.add(contact.address);
      const entry: Entry = { contact, distance: contact.id ^ this.target, state: 'new', round };
      // Binary insertion keeps the shortlist sorted by distance.
      let lo = 0;
      let hi = this.shortlist.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (this.shortlist[mid]!.distance < entry.distance) lo = mid + 1;
        else hi = mid;
      }
      this.shortlist.splice(lo, 0, entry);
    }
    this.trim();
  }

  /** Contacts to query now; each returned entry is counted in flight until answered or failed. */
  next(): Query[] {
    const out: Query[] = [];
    if (this.done) return out;
    const claimed = this.options.claimed;
    let considered = 0;
    for (const entry of this.shortlist) {
      if (this.inflight >= this.alpha) break;
      // Asked by another path meanwhile: never by this one, and it holds none of this path's places.
      if (claimed && entry.state === 'new' && claimed.has(entry.contact.address)) entry.state = 'taken';
      // A stalled contact is probably gone: it does not hold one of the k places of the window.
      if (entry.state === 'failed' || entry.state === 'stalled' || entry.state === 'taken') continue;
      if (considered++ >= this.k) break;
      if (entry.state !== 'new') continue;
      entry.state = 'inflight';
      this.inflight++;
      this.rpcs++;
      claimed?.add(entry.contact.address);
      out.push({ contact: entry.contact, round: entry.round });
    }
    return out;
  }

  onAnswer(id: NodeId, response: OverlayResponse): void {
    const entry = this.take(id);
    if (!entry) return;
    for (const candidate of response.candidates ?? []) keepCandidate(this.candidates, candidate);
    if (response.kind === 'error') {
      entry.state = 'failed';
      this.failures++;
      return;
    }
    if (response.kind === 'value' && response.bindings.length > 0 && !this.found) {
      const accept = this.options.accept;
      const bindings = accept ? response.bindings.filter((b) => accept(b)) : response.bindings;
      this.forged += response.bindings.length - bindings.length;
      if (bindings.length === 0) {
        // Only forged bindings: as if this peer had not answered at all (it named no contacts
        // either), so it holds none of the k places the lookup waits for, and the lookup goes on.
        entry.state = 'failed';
        return;
      }
      entry.state = 'answered';
      this.answeredCount++;
      this.found = { bindings, from: entry.contact, round: entry.round };
      return;
    }
    entry.state = 'answered';
    this.answeredCount++;
    const contacts = response.kind === 'nodes' || response.kind === 'ok' || response.kind === 'not-found'
      ? response.contacts ?? []
      : [];
    this.add(contacts, entry.round + 1);
  }

  /**
   * The query to `id` passed the soft timeout unanswered: it stops counting towards alpha and
   * towards the k closest the lookup waits for. Returns false when it was not in flight.
   */
  onStall(id: NodeId): boolean {
    const entry = this.shortlist.find((e) => e.contact.id === id);
    if (!entry || entry.state !== 'inflight') return false;
    entry.state = 'stalled';
    this.inflight--;
    this.stalledCount++;
    this.stalls++;
    return true;
  }

  onFailure(id: NodeId): void {
    const entry = this.take(id);
    if (!entry) return;
    entry.state = 'failed';
    this.failures++;
  }

  get done(): boolean {
    if (this.found) return true;
    let considered = 0;
    for (const entry of this.shortlist) {
      if (entry.state === 'failed' || entry.state === 'stalled' || entry.state === 'taken') continue;
      if (entry.state !== 'answered') return false;
      if (++considered >= this.k) return true;
    }
    // Fewer than k contacts answered: done once nothing is in flight, stalled queries included
    // (one of them may still bring the value, or be one of the few peers there are).
    return this.inflight + this.stalledCount === 0;
  }

  /**
   * Nothing of this path makes progress: no query in flight but stalled ones, and nobody left to
   * ask within its k closest (disjoint-lookup.ts ends a FIND_NODE whose paths are all so, once k
   * contacts have answered over all of them).
   */
  get onlyStalled(): boolean {
    if (this.inflight > 0) return false;
    const claimed = this.options.claimed;
    let considered = 0;
    for (const entry of this.shortlist) {
      if (entry.state === 'failed' || entry.state === 'stalled' || entry.state === 'taken') continue;
      if (considered++ >= this.k) break;
      if (entry.state === 'new' && !claimed?.has(entry.contact.address)) return false;
    }
    return true;
  }

  /** Contacts that answered (a FIND_VALUE's forgers not counted). */
  get answered(): number {
    return this.answeredCount;
  }

  /** Whether an accepted value has arrived (FIND_VALUE). */
  get hasValue(): boolean {
    return this.found !== undefined;
  }

  /** Queries outstanding, stalled ones included. */
  get inFlight(): number {
    return this.inflight + this.stalledCount;
  }

  /** Queries outstanding that have passed their soft timeout. */
  get stalled(): number {
    return this.stalledCount;
  }

  result(): LookupResult {
    const closest: Contact[] = [];
    let rounds = 0;
    for (const entry of this.shortlist) {
      if (entry.state !== 'answered') continue;
      closest.push(entry.contact);
      rounds = Math.max(rounds, entry.round);
      if (closest.length >= this.k) break;
    }
    const base = {
      target: this.target,
      kind: this.kind,
      closest,
      rpcs: this.rpcs,
      failures: this.failures,
      stalls: this.stalls,
      ...(this.forged > 0 ? { forged: this.forged } : {}),
      ...(this.candidates.size > 0 ? { candidates: [...this.candidates.values()] } : {}),
    };
    if (this.found) {
      return { ...base, bindings: this.found.bindings, valueFrom: this.found.from, rounds: this.found.round };
    }
    return { ...base, bindings: [], rounds };
  }

  private take(id: NodeId): Entry | undefined {
    const entry = this.shortlist.find((e) => e.contact.id === id);
    if (!entry) return undefined;
    if (entry.state === 'inflight') this.inflight--;
    else if (entry.state === 'stalled') this.stalledCount--;
    else return undefined;
    return entry;
  }

  /** Drops the farthest entries that are neither in flight nor answered beyond the bound. */
  private trim(): void {
    for (let i = this.shortlist.length - 1; i >= 0 && this.shortlist.length > this.maxShortlist; i--) {
      const state = this.shortlist[i]!.state;
      if (state === 'new' || state === 'failed' || state === 'taken') this.shortlist.splice(i, 1);
    }
  }
}
