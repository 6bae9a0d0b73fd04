/**
 * Hostile nodes for the simulator (PROTOCOL.md 11.5, docs/BENCHMARKS.md "Hostile peers"). A hostile
 * node is an ordinary OverlayNode that joins, keeps its routing table and runs its own lookups like
 * any other; what it does with the requests of others depends on the attack:
 *
 * - `drop`: answers PING, JOIN and LEAVE like an honest peer (so it keeps its place in routing
 *   tables) and never answers FIND_NODE, FIND_VALUE, STORE or REMOVE: the asker sees a timeout.
 * - `misroute`: answers every FIND_NODE and FIND_VALUE at once with a 302 naming only accomplices,
 *   the k hostile nodes closest to the target (never a value, never an honest peer); acknowledges
 *   every STORE and keeps nothing.
 * - `forge`: stores and routes honestly, but answers every FIND_VALUE with a 200 carrying one
 *   binding of its own making (the AoR's contact at the hostile node's address), with a proof it
 *   made under a key of its own, since it lacks the overlay's.
 * - `eclipse`: misroute, from Peer-IDs placed next to a few victim keys: each hostile node takes the
 *   best of `ECLIPSE_TRIES` addresses for its victim, as an attacker with that many IP addresses to
 *   choose from would (the Peer-ID's top 144 bits hash the IP, the port gives nothing), so that the
 *   hostile nodes crowd the k closest of the victims, where the victims' bindings are stored.
 *
 * Bindings in a run with hostile nodes carry a MAC (SimRecordPolicy) that only honest publishers
 * can make, as the overlay secret's MAC or a signature would in a real overlay.
 */
import { createHmac } from 'node:crypto';
import type { Contact } from '../overlay/contact.js';
import type { NodeId } from '../overlay/id.js';
import type { Binding, OverlayResponse, RequestEnvelope } from '../overlay/messages.js';
import type { OverlayNode } from '../overlay/node.js';
import type { Random } from '../overlay/random.js';
import type { PolicyVerdict, RecordPolicy } from '../overlay/record-policy.js';

export const ATTACKS = ['drop', 'misroute', 'forge', 'eclipse'] as const;
export type Attack = (typeof ATTACKS)[number];

/** Addresses an eclipsing node tries for its Peer-ID (an IPv4 /16, or a sliver of one IPv6 /64). */
export const ECLIPSE_TRIES = 65_536;

/**
 * Who stored a binding, as a MAC over the key and the value under a key only honest publishers
 * hold (the TTL is left out: it shrinks on every hand-over). A forged binding fails it.
 */
export class SimRecordPolicy implements RecordPolicy {
  constructor(private readonly secret: Buffer) {}

  /** The proof an honest publisher attaches to `value` under `key`. */
  proof(key: NodeId, value: string): string {
    return macOf(this.secret, key, value);
  }

  /** STOREs in the simulator come from honest nodes only (no attack stores): nothing to refuse. */
  admitStore(): PolicyVerdict {
    return { ok: true };
  }

  admitRemove(): PolicyVerdict {
    return { ok: true };
  }

  acceptFetched(key: NodeId, binding: Binding): boolean {
    return binding.proof !== undefined && binding.proof === macOf(this.secret, key, binding.value);
  }
}

function macOf(secret: Buffer, key: NodeId, value: string): string {
  return createHmac('sha256', secret).update(`${key.toString(16)}\n${value}`).digest('base64url').slice(0, 22);
}

/**
 * The hostile nodes, sorted by Peer-ID, so that each can name the accomplices closest to a target
 * (as colluders sharing one list would).
 */
export class Accomplices {
  private readonly ids: bigint[] = [];
  private readonly contacts: Contact[] = [];

  add(contact: Contact): void {
    const at = this.lowerBound(contact.id);
    this.ids.splice(at, 0, contact.id);
    this.contacts.splice(at, 0, contact);
  }

  remove(contact: Contact): void {
    const at = this.lowerBound(contact.id);
    if (this.ids[at] === contact.id) {
      this.ids.splice(at, 1);
      this.contacts.splice(at, 1);
    }
  }

  get size(): number {
    return this.ids.length;
  }

  /**
   * The `count` hostile nodes closest to `target` by XOR, `exclude` left out. All IDs that share a
   * p-bit prefix with the target are one run of the sorted list and closer than any other; the
   * longest prefix whose run holds enough of them is searched, and only that run is sorted.
   */
  closest(target: NodeId, count: number, exclude: NodeId): Contact[] {
    const want = count + 1; // `exclude` may be among them
    let lo = 0;
    let hi = this.ids.length;
    for (let p = 1; p <= 160; p++) {
      const shift = BigInt(160 - p);
      const base = (target >> shift) << shift;
      const l = this.lowerBound(base);
      const h = this.lowerBound(base + (1n << shift));
      if (h - l < want) break;
      lo = l;
      hi = h;
    }
    return this.contacts
      .slice(lo, hi)
      .filter((c) => c.id !== exclude)
      .sort((a, b) => ((a.id ^ target) < (b.id ^ target) ? -1 : 1))
      .slice(0, count);
  }

  private lowerBound(id: bigint): number {
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.ids[mid]! < id) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/**
 * A Peer-ID as close to `key` as the best of `tries` uniformly drawn IDs: the distance of the
 * best of n uniform draws is the minimum of n uniforms, drawn here directly (without hashing n
 * addresses), then the low bits uniform.
 */
export function minedId(key: NodeId, tries: number, random: Random): NodeId {
  const fraction = 1 - Math.pow(1 - random.next(), 1 / tries); // min of `tries` uniforms in [0, 1)
  const top = BigInt(Math.floor(fraction * 2 ** 52)); // top 52 bits of the distance
  const distance = (top << 108n) | random.bits(108);
  return key ^ distance;
}

/** What a hostile node does with one request of another node. */
export function hostileHandle(
  attack: Attack,
  node: OverlayNode,
  accomplices: Accomplices,
  envelope: RequestEnvelope,
  respond: (response: OverlayResponse) => void,
): void {
  const { request } = envelope;
  const honest = (): void => node.handleRequest(envelope, respond);
  switch (request.op) {
    case 'PING':
    case 'JOIN':
    case 'LEAVE':
      honest();
      return;
    case 'FIND_NODE':
    case 'FIND_VALUE': {
      if (attack === 'drop') return;
      if (attack === 'forge') {
        if (request.op === 'FIND_NODE') {
          honest();
          return;
        }
        const value = `sip:forged@${node.self.address}`;
        respond({ kind: 'value', bindings: [{ value, ttlMs: 3_600_000, proof: macOf(FORGER_KEY, request.key, value) }] });
        return;
      }
      const target = request.op === 'FIND_NODE' ? request.target : request.key;
      respond({ kind: 'nodes', contacts: accomplices.closest(target, node.config.k, envelope.from.id) });
      return;
    }
    case 'STORE':
      if (attack === 'drop') return;
      if (attack === 'forge') honest();
      else respond({ kind: 'stored', bindings: request.bindings });
      return;
    case 'REMOVE':
      if (attack === 'drop') return;
      if (attack === 'forge') honest();
      else respond({ kind: 'ok' });
      return;
  }
}

/** The forgers' own key: not the overlay's, so what they sign fails SimRecordPolicy. */
const FORGER_KEY = Buffer.from('hostile nodes do not hold the overlay key');
