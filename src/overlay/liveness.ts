/**
 * Ping-before-evict (Kademlia paper 2.2) and the check of unknown requesters: a peer enters the
 * routing table only once this node has reached it itself, and a full bucket keeps its oldest
 * contact as long as that one still answers.
 */
import type { Contact } from './contact.js';
import type { NodeContext, RpcSender } from './context.js';

export class Liveness {
  constructor(
    private readonly ctx: NodeContext,
    private readonly rpc: RpcSender,
  ) {}

  /** A contact we reached: add it, or ping the oldest of its full bucket (ping-before-evict). */
  heardFrom(contact: Contact): void {
    const { ctx } = this;
    const observed = ctx.routingTable.observe(contact, ctx.clock.now());
    if (observed.kind !== 'full') return;
    const oldest = observed.oldest;
    if (ctx.pinging.has(oldest.id)) return;
    ctx.pinging.add(oldest.id);
    this.rpc.send(oldest, { op: 'PING' }, 'iterative', (result) => {
      ctx.pinging.delete(oldest.id);
      if (result.ok) return; // heardFrom already moved it to the tail; the newcomer stays a replacement
      if (ctx.routingTable.remove(oldest.id)) ctx.onEvent({ type: 'contact-dropped', contact: oldest });
    });
  }

  /**
   * A peer sent us a request. A peer we know at that address is refreshed. An unknown one whose
   * bucket has room is pinged first, because a peer never stores a contact it has not reached itself.
   */
  requestFrom(contact: Contact): void {
    const { ctx } = this;
    const known = ctx.routingTable.get(contact.id);
    if (known && known.address === contact.address) {
      // Its DHT-PeerID is the newest word on what it offers (stun=, turn=, load=): keep that.
      ctx.routingTable.observe(contact, ctx.clock.now());
      return;
    }
    if (!ctx.routingTable.hasRoomFor(contact.id) || ctx.pinging.has(contact.id)) return;
    if (contact.id === ctx.self.id) return;
    ctx.pinging.add(contact.id);
    this.rpc.send(contact, { op: 'PING' }, 'iterative', () => ctx.pinging.delete(contact.id));
  }
}
