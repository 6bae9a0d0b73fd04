/**
 * One lookup over d disjoint paths (S/Kademlia, Baumgart and Mies 2007, section 4.4; PROTOCOL.md
 * 11.5). The contacts the node starts from are dealt among d paths (closest to path 1, next to path
 * 2, ..., round robin); each path is an ordinary iterative lookup (lookup.ts) with its own shortlist
 * and its own alpha, fed only by the answers to its own queries. A peer asked by one path is never
 * asked by another (the paths share the set of addresses asked), so a hostile peer sits on one path
 * at most and whatever it answers (silence, contacts of its accomplices, forged bindings) misleads
 * that path only. The lookup ends at the first accepted value of any path, or once every path has
 * ended (a FIND_NODE: or waits only for stalled queries, with k answers over all paths); the
 * closest contacts of all paths are merged.
 */
import type { Contact } from './contact.js';
import type { NodeId } from './id.js';
import { keepCandidate, Lookup, type LookupKind, type LookupMachine, type LookupResult, type Query } from './lookup.js';
import type { Binding, Candidate, OverlayResponse } from './messages.js';

export class DisjointLookup implements LookupMachine {
  private readonly paths: Lookup[] = [];
  /** Which path asked whom (each peer is asked by one path at most). */
  private readonly askedBy = new Map<NodeId, Lookup>();
  /** The first path that got an accepted value. */
  private valuePath?: Lookup;

  constructor(
    readonly target: NodeId,
    readonly kind: LookupKind,
    selfId: NodeId,
    private readonly k: number,
    alpha: number,
    maxShortlist: number,
    paths: number,
    accept?: (binding: Binding) => boolean,
  ) {
    const claimed = new Set<string>();
    for (let i = 0; i < paths; i++) {
      this.paths.push(new Lookup(target, kind, selfId, k, alpha, maxShortlist, { claimed, ...(accept ? { accept } : {}) }));
    }
  }

  /** Deals the contacts among the paths, closest first, round robin. */
  add(contacts: readonly Contact[], round: number): void {
    const sorted = [...contacts].sort((a, b) => ((a.id ^ this.target) < (b.id ^ this.target) ? -1 : 1));
    const dealt: Contact[][] = this.paths.map(() => []);
    sorted.forEach((contact, i) => dealt[i % dealt.length]!.push(contact));
    this.paths.forEach((path, i) => path.add(dealt[i]!, round));
  }

  next(): Query[] {
    const out: Query[] = [];
    if (this.done) return out;
    for (const path of this.paths) {
      for (const query of path.next()) {
        this.askedBy.set(query.contact.id, path);
        out.push(query);
      }
    }
    return out;
  }

  onAnswer(id: NodeId, response: OverlayResponse): void {
    const path = this.askedBy.get(id);
    if (!path) return;
    path.onAnswer(id, response);
    if (!this.valuePath && path.hasValue) this.valuePath = path;
  }

  onStall(id: NodeId): boolean {
    return this.askedBy.get(id)?.onStall(id) ?? false;
  }

  onFailure(id: NodeId): void {
    this.askedBy.get(id)?.onFailure(id);
  }

  get done(): boolean {
    if (this.valuePath !== undefined || this.paths.every((p) => p.done)) return true;
    // FIND_NODE: a path left with nothing but stalled queries does not hold the others up once k
    // contacts have answered over all paths, as one path stops waiting for a stalled query among
    // its k closest (lookup.ts). A FIND_VALUE waits: a stalled query may still bring the value.
    return this.kind === 'node'
      && this.paths.reduce((n, p) => n + p.answered, 0) >= this.k
      && this.paths.every((p) => p.done || p.onlyStalled);
  }

  get inFlight(): number {
    return this.paths.reduce((n, p) => n + p.inFlight, 0);
  }

  get stalled(): number {
    return this.paths.reduce((n, p) => n + p.stalled, 0);
  }

  result(): LookupResult {
    const results = this.paths.map((p) => p.result());
    const closest = results
      .flatMap((r) => r.closest)
      .sort((a, b) => ((a.id ^ this.target) < (b.id ^ this.target) ? -1 : 1))
      .slice(0, this.k);
    const candidates = new Map<string, Candidate>();
    for (const r of results) for (const c of r.candidates ?? []) keepCandidate(candidates, c);
    const sum = (f: (r: LookupResult) => number): number => results.reduce((n, r) => n + f(r), 0);
    const forged = sum((r) => r.forged ?? 0);
    const base = {
      target: this.target,
      kind: this.kind,
      closest,
      rpcs: sum((r) => r.rpcs),
      failures: sum((r) => r.failures),
      stalls: sum((r) => r.stalls),
      ...(forged > 0 ? { forged } : {}),
      ...(candidates.size > 0 ? { candidates: [...candidates.values()] } : {}),
    };
    const valued = this.valuePath ? results[this.paths.indexOf(this.valuePath)]! : undefined;
    if (valued) {
      return { ...base, bindings: valued.bindings, ...(valued.valueFrom ? { valueFrom: valued.valueFrom } : {}), rounds: valued.rounds };
    }
    return { ...base, bindings: [], rounds: Math.max(0, ...results.map((r) => r.rounds)) };
  }
}
