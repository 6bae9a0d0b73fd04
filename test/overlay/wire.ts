/**
 * Overlay nodes on one in-memory wire in virtual time, for tests of the core: every request is
 * logged in `ops`; each address answers after its one-way delay (5 ms unless set), and a silent
 * address never answers (the core's own timer ends the RPC).
 */
import type { Contact, PeerAddress } from '../../src/overlay/contact.js';
import { minute, type OverlayConfig } from '../../src/overlay/constants.js';
import type { RequestEnvelope, RpcResult } from '../../src/overlay/messages.js';
import { OverlayNode, type OverlayEvent } from '../../src/overlay/node.js';
import { peerIdFromAddress } from '../../src/overlay/peer-id.js';
import { SeededRandom } from '../../src/overlay/random.js';
import type { RecordPolicy } from '../../src/overlay/record-policy.js';
import { EventQueue } from '../../src/sim/event-queue.js';
import { VirtualClock } from '../../src/sim/virtual-clock.js';

export class Wire {
  readonly queue = new EventQueue();
  readonly clock = new VirtualClock(this.queue);
  readonly nodes = new Map<string, OverlayNode>();
  readonly ops: Array<{ from: string; to: string; op: string; role?: string }> = [];
  readonly delayMs = new Map<string, number>();
  readonly silent = new Set<string>();

  /**
   * Node `i` at 10.0.0.i:5060, with k = 4 and no bucket refresh on join unless `config` says
   * otherwise; `onEvent` hears its events; `records` is its record policy (default: open).
   */
  add(i: number, config: Partial<OverlayConfig> = {}, onEvent?: (event: OverlayEvent) => void, records?: RecordPolicy): OverlayNode {
    const address = `10.0.0.${i}:5060`;
    const self: Contact = { id: peerIdFromAddress(`10.0.0.${i}`, 5060), address };
    const node = new OverlayNode({
      self,
      clock: this.clock,
      random: new SeededRandom(i),
      config: { k: 4, refreshOnJoin: false, ...config },
      ...(onEvent ? { onEvent } : {}),
      ...(records ? { records } : {}),
      transport: {
        sendRequest: (to: PeerAddress, envelope: RequestEnvelope, onResult: (r: RpcResult) => void) => {
          const target = this.nodes.get(to.address);
          this.ops.push({ from: address, to: to.address, op: envelope.request.op, ...(envelope.role ? { role: envelope.role } : {}) });
          if (!target || this.silent.has(to.address)) return;
          const oneWay = this.delayMs.get(to.address) ?? 5;
          this.queue.schedule(oneWay, () =>
            target.handleRequest(envelope, (response) => this.queue.schedule(oneWay, () => onResult({ ok: true, from: target.self, response }))),
          );
        },
      },
    });
    this.nodes.set(address, node);
    return node;
  }

  /** Starts something and runs virtual time until it completes (at most a minute). */
  wait<T>(start: (done: (value: T) => void) => void): T {
    let result: { value: T } | undefined;
    start((value) => (result = { value }));
    this.queue.runUntil(() => result !== undefined, this.queue.now + minute);
    if (!result) throw new Error('did not complete');
    return result.value;
  }
}
