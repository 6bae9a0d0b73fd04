/**
 * A lookup's soft timeout (src/overlay/lookup.ts, rtt.ts): a contact that does not answer within
 * SRTT + 4 * RTTVAR is counted stalled and another is asked beside it, so one silent contact costs
 * a lookup a fraction of a second rather than the 2 s hard timeout; a late answer still counts.
 */
import { describe, expect, it } from 'vitest';
import type { Contact } from '../../src/overlay/contact.js';
import { minute, type OverlayConfig } from '../../src/overlay/constants.js';
import type { NodeId } from '../../src/overlay/id.js';
import type { LookupResult } from '../../src/overlay/lookup.js';
import { testAccess, type OverlayNode } from '../../src/overlay/node.js';
import { Wire } from './wire.js';

/** A FIND_VALUE from `asker`, with its virtual duration. */
function findValue(wire: Wire, asker: OverlayNode, key: NodeId): { result: LookupResult; ms: number } {
  const started = wire.queue.now;
  const result = wire.wait<LookupResult>((done) => asker.findValue(key, done));
  return { result, ms: wire.queue.now - started };
}

/**
 * An asker that knows three peers and has measured 10 ms round trips to them; `b` is the closest
 * to the key, so a lookup with alpha = 1 asks it first.
 */
function setUp(config: Partial<OverlayConfig>) {
  const wire = new Wire();
  // One path: these are the soft timeouts of one iterative lookup (disjoint paths would ask b, c
  // and d at once, one each).
  const asker = wire.add(1, { alpha: 1, disjointPaths: 1, ...config });
  const [b, c, d] = [2, 3, 4].map((i) => wire.add(i, config)) as [OverlayNode, OverlayNode, OverlayNode];
  for (const peer of [b, c, d]) {
    const answerer = wire.wait<Contact | null>((done) => asker.ping({ address: peer.self.address }, done));
    expect(answerer?.id).toBe(peer.self.id);
  }
  expect(asker.view().contacts).toBe(3);
  const key = b.self.id ^ 1n;
  return { wire, asker, b, c, d, key };
}

const binding = { value: 'sip:alice@10.0.0.9', ttlMs: 10 * minute };

describe('lookup soft timeout', () => {
  it('a lookup whose first contact is silent finishes long before the 2 s hard timeout', () => {
    const { wire, asker, b, c, d, key } = setUp({});
    expect(asker.view().rttTimeoutMs).toBe(200); // 10 ms round trips: the floor
    testAccess(c).store.put(key, [binding], wire.queue.now);
    testAccess(d).store.put(key, [binding], wire.queue.now);
    wire.silent.add(b.self.address);
    const { result, ms } = findValue(wire, asker, key);
    expect(result.bindings).toEqual([expect.objectContaining({ value: binding.value })]);
    expect(ms).toBeLessThan(300); // 200 ms stall + one 10 ms round trip
    // The silent contact still runs to its hard timeout and counts as a failure there.
    wire.queue.run(wire.queue.now + 5000);
    expect(asker.stats.rpcsFailed).toBe(1);
  });

  it('without soft timeouts (stallFloorMs 0) the same lookup waits out the hard timeout', () => {
    const { wire, asker, b, c, d, key } = setUp({ stallFloorMs: 0 });
    testAccess(c).store.put(key, [binding], wire.queue.now);
    testAccess(d).store.put(key, [binding], wire.queue.now);
    wire.silent.add(b.self.address);
    const { result, ms } = findValue(wire, asker, key);
    expect(result.bindings.length).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(2000);
  });

  it('uses a late answer: the only holder answers after its soft timeout, before the hard one', () => {
    const { wire, asker, b, key } = setUp({});
    testAccess(b).store.put(key, [binding], wire.queue.now);
    wire.delayMs.set(b.self.address, 700); // 1.4 s round trip, after the others have answered
    const { result, ms } = findValue(wire, asker, key);
    expect(result.valueFrom?.id).toBe(b.self.id);
    expect(result.bindings.length).toBe(1);
    expect(ms).toBeGreaterThanOrEqual(1400);
    expect(ms).toBeLessThan(2000);
    expect(result.rpcs).toBe(3); // b, then c and d beside it while it was stalled
    expect(result.failures).toBe(0);
  });

  it('a FIND_NODE does not wait for a stalled contact once k others have answered', () => {
    const { wire, asker, b, key } = setUp({ k: 2 });
    wire.silent.add(b.self.address);
    const started = wire.queue.now;
    const result = wire.wait<LookupResult>((done) => asker.findNode(key, done));
    expect(wire.queue.now - started).toBeLessThan(400);
    expect(result.closest.length).toBe(2);
    expect(result.closest.map((x) => x.id)).not.toContain(b.self.id);
  });
});
