/**
 * STUN/TURN server candidates (draft-jiang sections 3.3.1 and 4.2; PROTOCOL.md section 5).
 *
 * The candidate table is not a second copy of the routing table: routing-state candidates are the
 * contacts of the routing table whose DHT-PeerID advertised `stun=`, read when asked, so a
 * candidate that stops answering leaves the table with its contact. Next come this peer itself
 * when it is willing, then its associated clients that are willing (bounded). Priority follows
 * that order. Within one priority the draw is random but weighted towards the less loaded, by the
 * load figures the candidates advertised (src/common/load.ts): figures are as stale as the last
 * message heard from each candidate, so a plain "least loaded first" would send every asker that
 * read the same old figures to the same server; a weighted draw keeps them apart.
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

  /** `self`: this peer's own entry when it is willing (read when needed: its load changes). */
  constructor(
    private readonly self: () => Candidate | null,
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
    this.clients.set(ip, candidateOf(contact, 'client', PRIORITY_CLIENT));
  }

  forgetClient(address: string): void {
    this.clients.delete(candidateIp(address));
  }

  /**
   * Adds to `already` up to `wanted` candidates in all, unique by IP, best priority first and,
   * among equals, drawn by sampleByLoad (draft-jiang 4.2 steps 3-7). `asker` is never offered to itself.
   */
  fill(wanted: number, already: readonly Candidate[], routingState: Iterable<Contact>, asker?: string): Candidate[] {
    const set = already.slice(0, MAX_CANDIDATES);
    const goal = Math.min(wanted, MAX_CANDIDATES);
    if (set.length >= goal) return set;
    const taken = new Set(set.map((c) => candidateIp(c.stun)));
    if (asker !== undefined) taken.add(candidateIp(asker));
    const add = (pool: Candidate[]): void => {
      for (const candidate of sampleByLoad(pool, this.random)) {
        if (set.length >= goal) return;
        const ip = candidateIp(candidate.stun);
        if (taken.has(ip)) continue;
        taken.add(ip);
        set.push(candidate);
      }
    };
    const fromRouting: Candidate[] = [];
    for (const contact of routingState) {
      if (contact.stun) fromRouting.push(candidateOf(contact, 'peer', PRIORITY_ROUTING_STATE));
    }
    add(fromRouting);
    const self = this.self();
    if (self) add([self]);
    add([...this.clients.values()]);
    return set;
  }
}

/** The candidate entry for a willing contact (its `stun=`, `turn=` and `load=`). */
export function candidateOf(contact: Contact, role: Candidate['role'], priority: number): Candidate {
  return {
    stun: contact.stun!,
    ...(contact.turn ? { turn: contact.turn } : {}),
    role,
    priority,
    ...(contact.load !== undefined ? { load: contact.load } : {}),
  };
}

/**
 * The pool in a random order where a candidate comes early with weight 1 / (1 + load): weighted
 * sampling without replacement (Efraimidis and Spirakis, 2006: sort by u^(1/w), u uniform). A
 * candidate that advertised no figure counts as the mean of those that did (an implementation that
 * does not write `load=` is neither shunned nor swamped). Equal figures: a uniformly random order.
 */
export function sampleByLoad(pool: readonly Candidate[], random: Random): Candidate[] {
  if (pool.length <= 1) return [...pool];
  const known = pool.filter((c) => c.load !== undefined);
  const unknown = known.length === 0 ? 0 : known.reduce((a, c) => a + c.load!, 0) / known.length;
  const keyed = pool.map((c) => ({ c, key: Math.log(1 - random.next()) * (1 + (c.load ?? unknown)) }));
  keyed.sort((a, b) => b.key - a.key);
  return keyed.map((k) => k.c);
}

/**
 * The candidates worth asking for their current load before choosing (a KADSIP-LOAD query, STUN
 * Binding with the attribute, src/nat/stun): up to `n` of the best priority, drawn by sampleByLoad.
 */
export function probeOrder(candidates: readonly Candidate[], random: Random, n: number): Candidate[] {
  if (candidates.length === 0) return [];
  const best = Math.min(...candidates.map((c) => c.priority));
  return sampleByLoad(candidates.filter((c) => c.priority === best), random).slice(0, n);
}

/** The least loaded of `candidates` (figures fresh from probes, or as advertised); ties at random. */
export function leastLoaded(candidates: readonly Candidate[], random: Random): Candidate | undefined {
  let chosen: Candidate | undefined;
  let ties = 0;
  for (const c of candidates) {
    const load = c.load ?? Infinity;
    const best = chosen?.load ?? Infinity;
    if (chosen === undefined || load < best) {
      chosen = c;
      ties = 1;
    } else if (load === best && random.int(++ties) === 0) {
      chosen = c;
    }
  }
  return chosen;
}

/**
 * Picks the candidate to use from a received set without asking anyone: the less loaded of two
 * drawn from the best priority by their advertised figures ("power of two choices", Mitzenmacher
 * 2001: two random choices already cut the busiest server's load from log n / log log n to
 * log log n, and they herd less on stale figures than "least loaded of all" would).
 */
export function chooseCandidate(candidates: readonly Candidate[], random: Random): Candidate | undefined {
  return leastLoaded(probeOrder(candidates, random, 2), random);
}

/** Candidates a node keeps from what it received. */
const MAX_DISCOVERED = 64;

/** STUN/TURN candidates received from other peers, by IP (draft-jiang 4.1 step 2: saved for later use). */
export class DiscoveredCandidates {
  private readonly byIp = new Map<string, Candidate>();

  /** `onReceived`: told of every answer that carried candidates (the node's 'candidates' event). */
  constructor(private readonly onReceived: (event: { type: 'candidates'; from: Contact; count: number }) => void) {}

  /** Keeps (at most MAX_CANDIDATES of) what one answer carried, up to MAX_DISCOVERED IPs in all. */
  keep(from: Contact, received: readonly Candidate[]): void {
    for (const candidate of received.slice(0, MAX_CANDIDATES)) {
      const ip = candidateIp(candidate.stun);
      if (this.byIp.has(ip) || this.byIp.size < MAX_DISCOVERED) this.byIp.set(ip, candidate);
    }
    this.onReceived({ type: 'candidates', from, count: received.length });
  }

  list(): Candidate[] {
    return [...this.byIp.values()];
  }

  forget(stunAddress: string): void {
    this.byIp.delete(candidateIp(stunAddress));
  }
}
