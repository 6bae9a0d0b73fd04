/**
 * `--discover lan` across the multi-host testbed's link (test/live/testbed.ts; docs/PROTOCOL.md
 * section 8.2): nodes on three hosts of one Ethernet segment find each other by multicast DNS-SD
 * (224.0.0.251:5353), without any address typed.
 *
 * - A starts with `--discover lan`: nobody answers, so it starts a new overlay and announces itself.
 * - B starts with `--discover lan` and no bootstrap: it hears A's instance and joins A.
 * - C starts with `--discover lan --overlay other`: it hears A and B, leaves them out (their TXT
 *   says overlay=kadsip) and starts its own overlay.
 * Needs root (namespaces); without it, or a tool, it fails saying what is missing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { logLines } from './netns-helpers.js';
import { Testbed, type Host } from './testbed.js';

interface Status {
  state: string;
  contacts: number;
  overlay: string;
}

describe('--discover lan across the testbed link', () => {
  let tb: Testbed;
  let a: Host;
  let b: Host;
  let c: Host;

  beforeAll(async () => {
    tb = await Testbed.create();
    a = await tb.addHost('a', '192.0.2.10', { delayMs: 5 });
    b = await tb.addHost('b', '198.51.100.20', { delayMs: 5 });
    c = await tb.addHost('c', '203.0.113.30', { delayMs: 5 });
  }, 30_000);

  afterAll(async () => {
    await tb?.destroy();
  }, 30_000);

  it('B with --discover lan and no bootstrap joins A; C of another overlay leaves both out', async () => {
    const nodeA = tb.startNode(a, ['--discover', 'lan']);
    await tb.healthy(a, nodeA);
    const linesA = logLines(nodeA);
    expect(linesA.find((l) => l.msg === 'no kadsip peer answered on the link (mDNS)'), nodeA.output()).toBeDefined();
    expect(linesA.find((l) => l.msg === 'announcing on the link (mDNS)'), nodeA.output()).toBeDefined();

    const nodeB = tb.startNode(b, ['--discover', 'lan']);
    await tb.healthy(b, nodeB);
    const heard = logLines(nodeB).find((l) => l.msg === 'bootstrap peers heard on the link (mDNS)');
    expect(heard?.peers, nodeB.output()).toEqual(['192.0.2.10:5060']);
    const [sa, sb] = [await tb.status<Status>(a), await tb.status<Status>(b)];
    expect(sb.state).toBe('joined');
    expect(sb.contacts).toBeGreaterThanOrEqual(1);
    // A learned B from its JOIN: one overlay of two.
    expect(sa.contacts).toBeGreaterThanOrEqual(1);

    const nodeC = tb.startNode(c, ['--discover', 'lan', '--overlay', 'other']);
    await tb.healthy(c, nodeC);
    const linesC = logLines(nodeC);
    const skipped = linesC.filter((l) => l.msg === 'mDNS instance not used').map((l) => l.reason);
    expect(skipped, nodeC.output()).toEqual(['overlay=kadsip is not other', 'overlay=kadsip is not other']);
    expect((await tb.status<Status>(c)).contacts).toBe(0);

    // On SIGTERM a node withdraws its instance (TTL 0) and exits 0.
    expect(await tb.stop(nodeC)).toBe(0);
  }, 90_000);
});
