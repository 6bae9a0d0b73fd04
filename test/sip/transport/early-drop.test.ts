/**
 * SipTransport.setEarlyDrop: what admission control drops before parsing (a source past ten times
 * its rate, src/sip/admission.ts) is neither parsed, answered nor handed on, and is counted; other
 * sources are served as before, and so is the dropped one once the test says so.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createResponse } from '../../../src/sip/message/index.js';
import { listen, options, RawUdp, wire } from './helpers.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

describe('SipTransport: early drop', () => {
  it('drops datagrams from the sources the test names, unparsed and unanswered, and serves the rest', async () => {
    const t = await listen({ protocols: ['udp'] });
    open.push(t);
    const seen: number[] = [];
    t.onMessage(({ message, source }) => {
      if (message.kind !== 'request') return;
      seen.push(source.port);
      t.send(createResponse(message, 200), source);
    });
    const [blocked, other] = [await RawUdp.open(), await RawUdp.open()];
    open.push(blocked, other);
    let dropping = true;
    const asked: string[] = [];
    t.setEarlyDrop((host) => {
      asked.push(host);
      return dropping && asked.length === 1;
    });
    await blocked.send(wire(options(`SIP/2.0/UDP 127.0.0.1:${blocked.port};branch=z9hG4bKdropped`)), t.local('udp'));
    // The first datagram (from the dropped source) is never seen; the second is served.
    await other.send(wire(options(`SIP/2.0/UDP 127.0.0.1:${other.port};branch=z9hG4bKother`)), t.local('udp'));
    await other.waitFor(1);
    expect(seen).toEqual([other.port]);
    expect(t.stats.dropped).toBe(1);
    expect(t.stats.parseErrors).toBe(0);
    dropping = false;
    await blocked.send(wire(options(`SIP/2.0/UDP 127.0.0.1:${blocked.port};branch=z9hG4bKlater`)), t.local('udp'));
    await blocked.waitFor(1);
    expect(blocked.received.map((m) => (m.kind === 'response' ? m.status : 0))).toEqual([200]);
    expect(asked).toEqual(['127.0.0.1', '127.0.0.1', '127.0.0.1']);
  });
});
