/**
 * role 'client' (PROTOCOL.md section 2, draft-jiang): a client attaches to its bootstrap with a
 * PING instead of JOINing, uses the overlay to store and look up, and routes and stores nothing for
 * others: no peer lists it, hands records over to it, or picks it as a holder.
 */
import { describe, expect, it } from 'vitest';
import { minute } from '../../src/overlay/constants.js';
import type { LookupResult } from '../../src/overlay/lookup.js';
import type { PublishResult } from '../../src/overlay/node.js';
import { resourceId } from '../../src/overlay/peer-id.js';
import { Wire } from './wire.js';

describe('OverlayNode role client', () => {
  it('attaches with PING, stores and finds through peers, and is in nobody\'s table nor a holder', () => {
    const wire = new Wire();
    const peers = [1, 2, 3, 4, 5].map((i) => wire.add(i));
    wire.wait<Error | null>((done) => peers[0]!.join([], done));
    for (const p of peers.slice(1)) expect(wire.wait<Error | null>((done) => p.join([{ address: '10.0.0.1:5060' }], done))).toBeNull();
    // A peer already holds a record, so a JOINing peer would get a hand-over STORE.
    const key = resourceId('sip:bob@example.com');
    wire.wait<PublishResult>((done) => peers[1]!.publish(key, [{ value: 'sip:bob@10.0.0.2:5060', ttlMs: minute * 10 }], done));

    const client = wire.add(9, { role: 'client' });
    wire.ops.length = 0;
    expect(wire.wait<Error | null>((done) => client.join([{ address: '10.0.0.1:5060' }], done))).toBeNull();
    expect(client.state).toBe('joined');
    expect(wire.ops.filter((o) => o.from === client.self.address).map((o) => o.op)).toEqual(['PING']);
    expect(wire.ops.some((o) => o.to === client.self.address)).toBe(false); // no hand-over, no ping back
    expect(client.view().contacts).toBe(1);

    const found = wire.wait<LookupResult>((done) => client.findValue(key, done));
    expect(found.bindings.map((b) => b.value)).toEqual(['sip:bob@10.0.0.2:5060']);
    const own = resourceId('sip:carol@example.com');
    const stored = wire.wait<PublishResult>((done) => client.publish(own, [{ value: 'sip:carol@10.0.0.9:5060', ttlMs: minute * 10 }], done));
    expect(stored.storedAt).toBe(4);
    expect(client.view().recordsHeld).toBe(0);
    const fromPeer = wire.wait<LookupResult>((done) => peers[4]!.findValue(own, done));
    expect(fromPeer.bindings.map((b) => b.value)).toEqual(['sip:carol@10.0.0.9:5060']);
    for (const p of peers) expect(p.contact(client.self.id)).toBeUndefined();
  });

  it('gets no hand-over even if it sends a JOIN', () => {
    const wire = new Wire();
    const peer = wire.add(1);
    wire.wait<Error | null>((done) => peer.join([], done));
    const key = resourceId('sip:x@example.com');
    wire.wait<PublishResult>((done) => peer.publish(key, [{ value: 'sip:x@10.0.0.1:5060', ttlMs: minute }], done));
    const responses: string[] = [];
    peer.handleRequest({ from: { id: 77n, address: '10.0.0.77:5060' }, mode: 'iterative', hops: 0, role: 'client', request: { op: 'JOIN' } }, (r) => responses.push(r.kind));
    wire.queue.run(wire.queue.now + 1000);
    expect(responses).toEqual(['ok']);
    expect(wire.ops.filter((o) => o.to === '10.0.0.77:5060')).toEqual([]);
  });
});
