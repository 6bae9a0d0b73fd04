/**
 * Membership: joining through bootstrap peers, handing records over to a newcomer, leaving
 * gracefully (records handed to their new holders, goodbye to every contact) and stopping.
 */
import type { Contact, PeerAddress } from './contact.js';
import type { NodeContext, RpcSender } from './context.js';
import type { NodeId } from './id.js';
import type { Lookups } from './lookups.js';
import type { Maintenance } from './maintenance.js';
import type { RpcResult } from './messages.js';
import { believed } from './record-policy.js';

/** Records handed over at once while leaving (each costs a lookup and k STOREs). */
const LEAVE_HANDOVER_CONCURRENCY = 8;

export class Membership {
  constructor(
    private readonly ctx: NodeContext,
    private readonly rpc: RpcSender,
    private readonly lookups: Lookups,
    private readonly maintenance: Maintenance,
  ) {}

  /**
   * Joins through the bootstrap peers (none: this node starts a new overlay). Sends JOIN to the
   * bootstraps, looks itself up, sends JOIN to the k closest found (each hands over the records the
   * newcomer is now responsible for), then refreshes the buckets farther than its closest neighbour.
   * A client (role 'client') only attaches: it PINGs the bootstraps, and those that answer are the
   * peers it asks; it does not JOIN, so nobody hands records over to it.
   */
  join(bootstraps: readonly PeerAddress[], done: (error: Error | null) => void): void {
    const { ctx } = this;
    if (ctx.state !== 'idle') {
      done(new Error(`cannot join from state ${ctx.state}`));
      return;
    }
    ctx.state = 'joining';
    this.maintenance.start();
    if (bootstraps.length === 0) {
      ctx.state = 'joined';
      ctx.onEvent({ type: 'joined', contacts: 0 });
      done(null);
      return;
    }
    const seeds: Contact[] = [];
    const joined = new Set<NodeId>();
    // What each bootstrap that did not admit us said: a refusal is not silence, and the operator
    // needs to tell "nobody there" from "it answered 400 Invalid DHT-PeerID".
    const refusals: string[] = [];
    let pending = bootstraps.length;
    const client = ctx.config.role === 'client';
    for (const bootstrap of bootstraps) {
      this.rpc.send(bootstrap, { op: client ? 'PING' : 'JOIN' }, 'iterative', (result) => {
        if (result.ok && result.response.kind === 'ok') {
          joined.add(result.from.id);
          seeds.push(...(result.response.contacts ?? []));
        } else {
          refusals.push(`${bootstrap.address} ${describeFailure(result)}`);
        }
        if (--pending > 0) return;
        if (joined.size === 0) {
          ctx.state = 'idle';
          this.maintenance.stop();
          const reason = `no bootstrap peer admitted this node: ${refusals.join('; ')}`;
          ctx.onEvent({ type: 'join-failed', reason });
          done(new Error(reason));
          return;
        }
        if (client) {
          ctx.state = 'joined';
          ctx.onEvent({ type: 'joined', contacts: ctx.routingTable.size });
          done(null);
          return;
        }
        this.completeJoin(seeds, joined, done);
      });
    }
  }

  private completeJoin(seeds: Contact[], joined: Set<NodeId>, done: (error: Error | null) => void): void {
    const { ctx } = this;
    this.lookups.run(ctx.self.id, 'node', (selfLookup) => {
      const admitters = selfLookup.closest.filter((c) => !joined.has(c.id));
      let pending = admitters.length + 1;
      const step = (): void => {
        if (--pending > 0) return;
        if (ctx.config.refreshOnJoin) this.maintenance.refreshFartherBuckets();
        if (ctx.state === 'joining') ctx.state = 'joined';
        ctx.onEvent({ type: 'joined', contacts: ctx.routingTable.size });
        done(null);
      };
      for (const admitter of admitters) this.rpc.send(admitter, { op: 'JOIN' }, 'iterative', step);
      step();
    }, seeds);
  }

  /** Hand-over on join: STORE at the newcomer every record it is now among the k closest for. */
  handOver(newcomer: Contact): void {
    const { ctx } = this;
    const now = ctx.clock.now();
    let records = 0;
    for (const key of ctx.store.keys()) {
      const closest = ctx.routingTable.closest(key, ctx.config.k, newcomer.id);
      const kth = closest[ctx.config.k - 1];
      if (kth && (newcomer.id ^ key) >= (kth.id ^ key)) continue;
      // Only what is still believed: one binding whose proof ran out would get the whole STORE refused.
      const bindings = believed(ctx.records, key, ctx.store.get(key, now), now);
      if (bindings.length === 0) continue;
      records++;
      this.rpc.send(newcomer, { op: 'STORE', key, bindings }, 'iterative', () => {});
    }
    if (records > 0) ctx.onEvent({ type: 'handed-over', to: newcomer, records });
  }

  /**
   * Leaves gracefully: looks up the k closest peers of every record it holds (its own table may not
   * list them: a bucket keeps only k) and STOREs the record there, so the peer that becomes
   * responsible in its place has it; then tells every contact of its table goodbye, and stops.
   */
  leave(done: () => void): void {
    const { ctx } = this;
    if (ctx.state === 'stopped') {
      done();
      return;
    }
    ctx.state = 'leaving';
    // Alone in the overlay there is nobody to hand anything to.
    const keys = ctx.routingTable.size === 0 ? [] : [...ctx.store.keys()];
    ctx.onEvent({ type: 'left', records: keys.length });
    let next = 0;
    let running = 0;
    // A trampoline: a lookup may answer synchronously (no peer left to ask), and a plain recursive
    // call per record would overflow the stack with thousands of records.
    let pumping = false;
    let again = false;
    let finished = false;
    const handOverNext = (): void => {
      if (pumping) {
        again = true;
        return;
      }
      pumping = true;
      do {
        again = false;
        while (running < LEAVE_HANDOVER_CONCURRENCY && next < keys.length) {
          const key = keys[next++]!;
          const now = ctx.clock.now();
          const bindings = believed(ctx.records, key, ctx.store.get(key, now), now);
          if (bindings.length === 0) continue;
          running++;
          this.lookups.run(key, 'node', (lookup) => {
            let pending = lookup.closest.length + 1;
            const stored = (): void => {
              if (--pending > 0) return;
              running--;
              handOverNext();
            };
            for (const contact of lookup.closest) this.rpc.send(contact, { op: 'STORE', key, bindings }, 'iterative', stored);
            stored();
          });
        }
      } while (again);
      pumping = false;
      if (!finished && running === 0 && next >= keys.length) {
        finished = true;
        sayGoodbye();
      }
    };
    const sayGoodbye = (): void => {
      // Everyone in the routing table hears goodbye (one datagram each): they are the peers most
      // likely to hold this one in their own tables.
      let pending = 1;
      const step = (): void => {
        if (--pending > 0) return;
        this.stop();
        done();
      };
      for (const contact of ctx.routingTable.all()) {
        pending++;
        this.rpc.send(contact, { op: 'LEAVE' }, 'iterative', step);
      }
      step();
    };
    handOverNext();
  }

  /** OPTIONS ping; the answerer (a bootstrap whose ID was unknown, say) enters the routing table. */
  ping(to: PeerAddress, done: (answerer: Contact | null) => void): void {
    this.rpc.send(to, { op: 'PING' }, 'iterative', (result) => done(result.ok && result.response.kind === 'ok' ? result.from : null));
  }

  /** Stops at once, without goodbye (also what a crash looks like to the others). */
  stop(): void {
    this.ctx.state = 'stopped';
    this.maintenance.stop();
  }
}

/** A bootstrap's answer to JOIN (or a client's PING) that did not admit the node, in words. */
function describeFailure(result: RpcResult): string {
  if (result.ok) {
    const r = result.response;
    return r.kind === 'error' ? `refused it: ${r.reason}${r.detail ? ` (${r.detail})` : ''}` : `answered ${r.kind}`;
  }
  if (result.reason === 'timeout') return 'did not answer';
  if (result.reason === 'unreachable') return `is unreachable${result.detail ? ` (${result.detail})` : ''}`;
  return `refused it${result.detail ? `: ${result.detail}` : ''}`;
}
