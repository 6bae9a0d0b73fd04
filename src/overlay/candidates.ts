/**
 * STUN/TURN server candidates (draft-jiang sections 3.3.1 and 4.2; PROTOCOL.md section 5).
 *
 * The candidate table is not a second copy of the routing table: routing-state candidates are the
 * contacts of the routing table whose DHT-PeerID advertised `stun=`, read when asked, so a
 * candidate that stops answering leaves the table with its contact. Next come this peer itself
 * when it is willing, then its associated clients that are willing (bounded). Priority follows
 * that order; within one priority the choice is random, to spread the load.
 */
import type { Contact } from './contact.js';
import type { Candidate } from './messages.js';
import type { Random } from './random.js';

export const PRIORITY_ROUTING_STATE = 1;
export const PRIORITY_SELF = 2;
export const PRIORITY_CLIENT = 3;
/** Candidates per set, when the asker names no number (draft-jiang 4.2 step 2). */
export const DEFAULT_CANDIDATES_WANTED = 10;
/** Upper bound on what anyone may ask for or send: a set is a handful of headers, not a list. */
export const MAX_CANDIDATES = 20;
const MAX_CLIENTS = 256;

/** The IP part of IP:PORT or [IPv6]:PORT: candidates are unique by IP address (draft-jiang 4.2 step 5). */
export function candidateIp(address: string): string {
  if (address.startsWith('[')) return address.slice(1, address.indexOf(']'));
  const colon = address.lastIndexOf(':');
  return colon < 0 ? address : address.slice(0, colon);
}

export class CandidateTable {
  private readonly clients = new Map<string, Candidate>();

  constructor(
    private readonly self: Candidate | null,
    private readonly random: Random,
  ) {}

  /** A client attached to this peer said it is willing (or, with no stun, that it no longer is). */
  noteClient(contact: Contact): void {
    const ip = candidateIp(contact.address);
    if (!contact.stun) {
      this.clients.delete(ip);
      return;
    }
    if (!this.clients.has(ip) && this.clients.size >= MAX_CLIENTS) return;
    this.clients.set(ip, { stun: contact.stun, ...(contact.turn ? { turn: contact.turn } : {}), role: 'client', priority: PRIORITY_CLIENT });
  }

  forgetClient(address: string): void {
    this.clients.delete(candidateIp(address));
  }

  /**
   * Adds to `already` up to `wanted` candidates in all, unique by IP, best priority first and
   * random among equals (draft-jiang 4.2 steps 3-7). `asker` is never offered to itself.
   */
  fill(wanted: number, already: readonly Candidate[], routingState: Iterable<Contact>, asker?: string): Candidate[] {
    const set = already.slice(0, MAX_CANDIDATES);
    const goal = Math.min(wanted, MAX_CANDIDATES);
    if (set.length >= goal) return set;
    const taken = new Set(set.map((c) => candidateIp(c.stun)));
    if (asker !== undefined) taken.add(candidateIp(asker));
    const add = (pool: Candidate[]): void => {
      // Partial Fisher-Yates: a uniformly random order, drawn only as far as needed.
      for (let i = 0; i < pool.length && set.length < goal; i++) {
        const j = i + this.random.int(pool.length - i);
        [pool[i], pool[j]] = [pool[j]!, pool[i]!];
        const candidate = pool[i]!;
        const ip = candidateIp(candidate.stun);
        if (taken.has(ip)) continue;
        taken.add(ip);
        set.push(candidate);
      }
    };
    const fromRouting: Candidate[] = [];
    for (const contact of routingState) {
      if (contact.stun) fromRouting.push({ stun: contact.stun, ...(contact.turn ? { turn: contact.turn } : {}), role: 'peer', priority: PRIORITY_ROUTING_STATE });
    }
    add(fromRouting);
    if (this.self) add([this.self]);
    add([...this.clients.values()]);
    return set;
  }
}

/**
 * Picks the candidate to use from a received set: the best priority, at random among equals
 * (draft-jiang 3.3.1: "choose the candidates randomly" to spread the load). With `offers` (how many
 * answers named each one, by IP) the draw is weighted by 1/offers: every peer offers a random few
 * of the candidates in its routing table, so a candidate many answers name sits in many tables and
 * is offered to many askers. Measured (docs/BENCHMARKS.md): it evens the load among 1,000 nodes
 * (3.4x -> 3.1x at f = 10 %) but not among 10,000 with FIND_VALUE lookups (8.4x without, 10x with,
 * one seed each); load figures advertised by the candidates are the better cure, not built yet.
 */
export function chooseCandidate(candidates: readonly Candidate[], random: Random, offers?: ReadonlyMap<string, number>): Candidate | undefined {
  if (candidates.length === 0) return undefined;
  const best = Math.min(...candidates.map((c) => c.priority));
  const top = candidates.filter((c) => c.priority === best);
  if (!offers) return top[random.int(top.length)];
  const weights = top.map((c) => 1 / Math.max(1, offers.get(candidateIp(c.stun)) ?? 1));
  let pick = random.next() * weights.reduce((a, b) => a + b, 0);
  for (let i = 0; i < top.length; i++) {
    pick -= weights[i]!;
    if (pick < 0) return top[i];
  }
  return top[top.length - 1];
}
