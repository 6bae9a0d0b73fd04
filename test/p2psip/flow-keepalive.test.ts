/**
 * The keep-alive scheduler of phones' NAT flows (src/p2psip/flow-keepalive.ts) on a virtual clock:
 * each flow that needs it gets one CRLF CRLF ping per interval, steadily, and no other flow does.
 */
import { describe, expect, it } from 'vitest';
import { FlowKeepalive, natFlows } from '../../src/p2psip/flow-keepalive.js';
import type { RegistrarBinding } from '../../src/registrar/index.js';
import { EventQueue } from '../../src/sim/event-queue.js';
import { VirtualClock } from '../../src/sim/virtual-clock.js';
import { parseUri } from '../../src/sip/message/index.js';
import type { Endpoint } from '../../src/sip/transport/index.js';

function binding(contact: string, source: Endpoint): RegistrarBinding {
  const uri = parseUri(contact);
  if (!uri.ok) throw new Error(contact);
  return { aor: 'sip:bob@example.com', contact, contactUri: uri.value, params: [], q: 1, expiresAt: 1e12, callId: 'c', cseq: 1, source, createdAt: 0, updatedAt: 0 };
}

const udp = (host: string, port: number): Endpoint => ({ protocol: 'udp', host, port });

describe('natFlows: which bindings are kept alive', () => {
  it('UDP bindings reached over their flow (NAT detected, or ;ob), not those reached at their Contact, not TCP', () => {
    const natted = binding('sip:bob@10.0.0.5:5080', udp('203.0.113.9', 40000));
    const ob = binding('sip:bob@203.0.113.10:5080;ob', udp('203.0.113.10', 5080));
    const direct = binding('sip:bob@203.0.113.11:5080', udp('203.0.113.11', 5080));
    const tcp = binding('sip:bob@10.0.0.6:5080', { protocol: 'tcp', host: '203.0.113.12', port: 40001 });
    expect([...natFlows([natted, ob, direct, tcp])]).toEqual([natted.source, ob.source]);
  });
});

describe('FlowKeepalive on a virtual clock', () => {
  function run(flows: () => Endpoint[], intervalMs: number, untilMs: number): Map<string, number[]> {
    const queue = new EventQueue();
    const clock = new VirtualClock(queue);
    const sent = new Map<string, number[]>();
    const keepalive = new FlowKeepalive({
      clock,
      intervalMs,
      flows,
      send: (to) => {
        const key = `${to.host}:${to.port}`;
        sent.set(key, [...(sent.get(key) ?? []), clock.now()]);
      },
    });
    keepalive.start();
    queue.run(untilMs);
    keepalive.stop();
    return sent;
  }

  it('pings every flow once per interval, at a steady period, duplicates once', () => {
    const flows = Array.from({ length: 50 }, (_, i) => udp('198.51.100.1', 40000 + i));
    const sent = run(() => [...flows, flows[0]!], 15_000, 300_000);
    expect(sent.size).toBe(50);
    for (const [flow, times] of sent) {
      // 300 s at 15 s: 20 pings, the gaps exactly one interval (a NAT timing out after 20 s never does).
      expect(times.length, flow).toBe(20);
      for (let i = 1; i < times.length; i++) expect(times[i]! - times[i - 1]!, flow).toBe(15_000);
      expect(times[0]!, flow).toBeLessThanOrEqual(15_000);
    }
  });

  it('a flow that goes (unregistered) is no longer pinged; one that comes is', () => {
    let flows = [udp('198.51.100.1', 40000)];
    const queue = new EventQueue();
    const clock = new VirtualClock(queue);
    const sent: string[] = [];
    const keepalive = new FlowKeepalive({ clock, intervalMs: 10_000, flows: () => flows, send: (to) => sent.push(`${to.port}@${clock.now()}`) });
    keepalive.start();
    queue.run(30_000);
    expect(sent).toHaveLength(3);
    flows = [udp('198.51.100.1', 40001)];
    sent.length = 0;
    queue.run(60_000);
    keepalive.stop();
    expect(sent.every((s) => s.startsWith('40001@'))).toBe(true);
    expect(sent.length).toBeGreaterThanOrEqual(2);
    expect(sent.length).toBeLessThanOrEqual(3);
  });

  it('stop() stops', () => {
    const queue = new EventQueue();
    const clock = new VirtualClock(queue);
    let n = 0;
    const keepalive = new FlowKeepalive({ clock, intervalMs: 1000, flows: () => [udp('198.51.100.1', 1)], send: () => n++ });
    keepalive.start();
    queue.run(5000);
    keepalive.stop();
    const before = n;
    queue.run(20_000);
    expect(before).toBe(5);
    expect(n).toBe(before);
  });
});
