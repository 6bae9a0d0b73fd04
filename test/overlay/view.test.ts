/** What outside code reads of a node: a snapshot of figures and read-only accessors, never its tables. */
import { describe, expect, it } from 'vitest';
import { minute } from '../../src/overlay/constants.js';
import type { PublishResult } from '../../src/overlay/node.js';
import { resourceId } from '../../src/overlay/peer-id.js';
import { Wire } from './wire.js';

describe('OverlayNode.view and accessors', () => {
  it('reports contacts, buckets, records and RPC counters, and stays as it was when taken', () => {
    const wire = new Wire();
    const first = wire.add(1);
    expect(wire.wait<Error | null>((done) => first.join([], done))).toBeNull();
    const second = wire.add(2);
    expect(wire.wait<Error | null>((done) => second.join([{ address: first.self.address }], done))).toBeNull();
    const before = second.view();
    expect(before).toMatchObject({ state: 'joined', self: second.self, contacts: 1, recordsHeld: 0, recordsPublished: 0 });
    expect(Object.values(before.contactsPerBucket)).toEqual([1]);
    expect(before.rpc.rpcsSent).toBeGreaterThan(0);
    expect(before.rttTimeoutMs).toBeGreaterThan(0);

    const key = resourceId('sip:alice@example.com');
    const stored = wire.wait<PublishResult>((done) => second.publish(key, [{ value: 'sip:alice@10.0.0.2:5060', ttlMs: 10 * minute }], done));
    expect(stored.storedAt).toBe(2);
    const after = second.view();
    expect(after).toMatchObject({ contacts: 1, recordsHeld: 1, recordsPublished: 1 });
    expect(after.rpc.rpcsSent).toBeGreaterThan(before.rpc.rpcsSent);
    // The earlier snapshot did not move with the node.
    expect(before).toMatchObject({ recordsHeld: 0, recordsPublished: 0 });

    expect(second.contactList().map((c) => c.id)).toEqual([first.self.id]);
    expect(second.contact(first.self.id)?.address).toBe(first.self.address);
    expect(second.knows(first.self.id)).toBe(true);
    expect(first.knows(second.self.id)).toBe(true);
    expect(first.holds(key, wire.queue.now)).toBe(true);
    expect(first.heldKeys()).toEqual([key]);
    expect(first.heldBindings(key, wire.queue.now).map((b) => b.value)).toEqual(['sip:alice@10.0.0.2:5060']);
    // Accessors hand out copies: changing one changes nothing in the node.
    second.contactList().length = 0;
    first.heldKeys().length = 0;
    expect(second.view().contacts).toBe(1);
    expect(first.view().recordsHeld).toBe(1);
  });
});
