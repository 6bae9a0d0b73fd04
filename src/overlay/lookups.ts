/**
 * Lookup driving: runs the iterative lookups of lookup.ts (a state machine without I/O) over the
 * node's RPCs, with the soft timeout of the RTT estimate (a stalled query makes the lookup ask one
 * more peer beside it). With `disjointPaths` d > 1 every lookup runs over d disjoint paths
 * (disjoint-lookup.ts, PROTOCOL.md 11.5); d = 1 is the plain Kademlia lookup. Value answers are
 * believed only as far as the node's record policy accepts them (RecordPolicy.acceptFetched).
 */
import type { Contact } from './contact.js';
import type { NodeContext, RpcSender } from './context.js';
import { bucketIndex, type NodeId } from './id.js';
import { DisjointLookup } from './disjoint-lookup.js';
import { Lookup, type LookupKind, type LookupMachine, type LookupResult } from './lookup.js';
import type { Binding } from './messages.js';
import { believed, OPEN_RECORD_POLICY } from './record-policy.js';
import type { OverlayRequest } from './messages.js';

export class Lookups {
  constructor(
    private readonly ctx: NodeContext,
    private readonly rpc: RpcSender,
  ) {}

  findNode(target: NodeId, done: (result: LookupResult) => void): void {
    this.run(target, 'node', done);
  }

  /**
   * FIND_VALUE: answers from the local store at once (0 rounds) when this node holds the key.
   * `settled`, when given, is called once the requests still in flight at the first value have
   * been answered too (or failed): its result has every candidate the answers brought, the late
   * ones included (the node keeps those as well; draft-jiang counts them as discovered).
   */
  findValue(key: NodeId, done: (result: LookupResult) => void, settled?: (result: LookupResult) => void): void {
    const { ctx } = this;
    // Held bindings were admitted when stored, but a proof can expire or its signer be revoked
    // since: the record policy judges them as it judges fetched ones (PROTOCOL.md 11.4).
    const now = ctx.clock.now();
    const local = believed(ctx.records, key, ctx.store.get(key, now), now);
    if (local.length > 0) {
      const result: LookupResult = { target: key, kind: 'value', closest: [], bindings: local, valueFrom: this.ctx.self, rounds: 0, rpcs: 0, failures: 0, stalls: 0 };
      done(result);
      settled?.(result);
      return;
    }
    this.run(key, 'value', done, [], settled);
  }

  /** Runs one iterative lookup to its end. */
  run(
    target: NodeId,
    kind: LookupKind,
    done: (result: LookupResult) => void,
    seeds: readonly Contact[] = [],
    settled?: (result: LookupResult) => void,
  ): void {
    const { ctx } = this;
    const { k, alpha, maxShortlist } = ctx.config;
    const paths = Math.max(1, Math.floor(ctx.config.disjointPaths));
    // The open policy believes everything: no filter at all, so an open overlay does what it did.
    const accept = kind === 'value' && ctx.records !== OPEN_RECORD_POLICY
      ? (binding: Binding): boolean => ctx.records.acceptFetched(target, binding, ctx.clock.now())
      : undefined;
    const lookup: LookupMachine = paths === 1
      ? new Lookup(target, kind, ctx.self.id, k, alpha, maxShortlist, accept ? { accept } : {})
      : new DisjointLookup(target, kind, ctx.self.id, k, alpha, maxShortlist, paths, accept);
    // Seed with more than k known contacts, so that a lookup whose k closest are all dead (a crashed
    // neighbourhood) still has live peers to go on with. Over d paths they are dealt among the paths.
    lookup.add(ctx.routingTable.closest(target, maxShortlist), 1);
    lookup.add(seeds, 1);
    const index = bucketIndex(ctx.self.id, target);
    if (index >= 0) ctx.routingTable.touch(index, ctx.clock.now());
    const request: OverlayRequest = kind === 'node' ? { op: 'FIND_NODE', target } : { op: 'FIND_VALUE', key: target };
    let finished = false;
    const finish = (): void => {
      finished = true;
      done(lookup.result());
    };
    const pump = (): void => {
      if (finished) {
        if (settled && lookup.inFlight === 0) {
          const report = settled;
          settled = undefined;
          report(lookup.result());
        }
        return;
      }
      if (lookup.done) {
        finish();
        pump();
        return;
      }
      for (const query of lookup.next()) {
        const id = query.contact.id;
        // Soft timeout: past it the query is stalled, and the lookup asks one more peer beside it.
        const stall = ctx.config.stallFloorMs > 0
          ? ctx.clock.setTimer(ctx.rtt.timeoutMs, () => {
              if (lookup.onStall(id)) pump();
            })
          : undefined;
        this.rpc.send(query.contact, request, 'iterative', (result) => {
          stall?.cancel();
          if (result.ok) lookup.onAnswer(id, result.response);
          else lookup.onFailure(id);
          pump();
        });
      }
      if (lookup.inFlight === 0 && !finished) {
        finish();
        pump();
      }
    };
    pump();
  }
}
