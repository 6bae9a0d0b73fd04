/**
 * One iterative Kademlia lookup (FIND_NODE or FIND_VALUE) as a state machine without I/O: the node
 * asks it whom to query next, feeds it answers and failures, and reads the result. alpha queries
 * stay in flight among the k closest not yet asked; the lookup ends when a value arrives (FIND_VALUE)
 * or when the k closest contacts seen that did not fail have all answered.
 */
import type { Contact } from './contact.js';
import type { NodeId } from './id.js';
import { candidateIp, MAX_CANDIDATES } from './candidates.js';
import type { Binding, Candidate, OverlayResponse } from './messages.js';

export type LookupKind = 'node' | 'value';

type EntryState = 'new' | 'inflight' | 'answered' | 'failed';

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
}

export interface Query {
  readonly contact: Contact;
  readonly round: number;
}

export class Lookup {
  private readonly shortlist: Entry[] = [];
  /** Addresses already in the shortlist (string keys hash far faster than bigint ones). */
  private readonly seen = new Set<string>();
  private inflight = 0;
  private rpcs = 0;
  private failures = 0;
  private found?: { bindings: Binding[]; from: Contact; round: number };
  private readonly candidates = new Map<string, Candidate>();

  constructor(
    readonly target: NodeId,
    readonly kind: LookupKind,
    private readonly selfId: NodeId,
    private readonly k: number,
    private readonly alpha: number,
    private readonly maxShortlist: number,
  ) {
  }

  /** Adds contacts to ask; `round` is the wave they will be asked in. */
  add(contacts: readonly Contact[], round: number): void {
    for (const contact of contacts) {
      if (contact.id === this.selfId || this.seen.has(contact.address)) continue;
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
    let considered = 0;
    for (const entry of this.shortlist) {
      if (this.inflight >= this.alpha) break;
      if (entry.state === 'failed') continue;
      if (considered++ >= this.k) break;
      if (entry.state !== 'new') continue;
      entry.state = 'inflight';
      this.inflight++;
      this.rpcs++;
      out.push({ contact: entry.contact, round: entry.round });
    }
    return out;
  }

  onAnswer(id: NodeId, response: OverlayResponse): void {
    const entry = this.take(id);
    if (!entry) return;
    for (const candidate of response.candidates ?? []) {
      const ip = candidateIp(candidate.stun);
      const had = this.candidates.get(ip);
      // Offered twice with different figures (each peer heard it at another time): keep the higher,
      // so an old low figure does not make it look idler than anyone has seen it lately.
      if (had ? (candidate.load ?? -1) > (had.load ?? -1) : this.candidates.size < MAX_CANDIDATES * 4) this.candidates.set(ip, candidate);
    }
    if (response.kind === 'error') {
      entry.state = 'failed';
      this.failures++;
      return;
    }
    entry.state = 'answered';
    if (response.kind === 'value' && response.bindings.length > 0 && !this.found) {
      this.found = { bindings: response.bindings, from: entry.contact, round: entry.round };
      return;
    }
    const contacts = response.kind === 'nodes' || response.kind === 'ok' || response.kind === 'not-found'
      ? response.contacts ?? []
      : [];
    this.add(contacts, entry.round + 1);
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
      if (entry.state === 'failed') continue;
      if (entry.state !== 'answered') return false;
      if (++considered >= this.k) return true;
    }
    // Fewer than k reachable contacts: done once nothing is in flight.
    return this.inflight === 0;
  }

  get inFlight(): number {
    return this.inflight;
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
      ...(this.candidates.size > 0 ? { candidates: [...this.candidates.values()] } : {}),
    };
    if (this.found) {
      return { ...base, bindings: this.found.bindings, valueFrom: this.found.from, rounds: this.found.round };
    }
    return { ...base, bindings: [], rounds };
  }

  private take(id: NodeId): Entry | undefined {
    const entry = this.shortlist.find((e) => e.contact.id === id);
    if (!entry || entry.state !== 'inflight') return undefined;
    this.inflight--;
    return entry;
  }

  /** Drops the farthest entries that are neither in flight nor answered beyond the bound. */
  private trim(): void {
    for (let i = this.shortlist.length - 1; i >= 0 && this.shortlist.length > this.maxShortlist; i--) {
      const state = this.shortlist[i]!.state;
      if (state === 'new' || state === 'failed') this.shortlist.splice(i, 1);
    }
  }
}
