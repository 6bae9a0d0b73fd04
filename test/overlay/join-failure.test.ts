/** A join that no bootstrap admits says what each bootstrap did: silence is not a refusal. */
import { describe, expect, it } from 'vitest';
import type { OverlayEvent } from '../../src/overlay/node.js';
import type { OverlayNode } from '../../src/overlay/node.js';
import { peerIdFromAddress } from '../../src/overlay/peer-id.js';
import { Wire } from './wire.js';

describe('join failures', () => {
  it('names every bootstrap with what it did: did not answer, or refused it and why', () => {
    const wire = new Wire();
    // 10.0.0.1 is silent; 10.0.0.2 answers every request with 400 (a peer that finds our DHT-PeerID wrong).
    wire.silent.add('10.0.0.1:5060');
    const refuser = {
      self: { id: peerIdFromAddress('10.0.0.2', 5060), address: '10.0.0.2:5060' },
      handleRequest: (_e: unknown, respond: (r: unknown) => void) => respond({ kind: 'error', reason: 'bad-request', detail: 'Invalid DHT-PeerID' }),
    };
    wire.nodes.set('10.0.0.2:5060', refuser as unknown as OverlayNode);
    const events: OverlayEvent[] = [];
    const joiner = wire.add(9, {}, (e) => events.push(e));
    const error = wire.wait<Error | null>((done) => joiner.join([{ address: '10.0.0.1:5060' }, { address: '10.0.0.2:5060' }], done));
    expect(error?.message).toMatch(/^no bootstrap peer admitted this node: /);
    expect(error?.message).toContain('10.0.0.1:5060 did not answer');
    expect(error?.message).toContain('10.0.0.2:5060 refused it: bad-request (Invalid DHT-PeerID)');
    expect(joiner.state).toBe('idle');
    expect(events.find((e) => e.type === 'join-failed')).toMatchObject({ reason: error?.message });
  });
});
