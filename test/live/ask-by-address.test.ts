/**
 * Asking a node by its address alone (issue 9), across two hosts of the testbed: a node of overlay
 * "acme" on 192.0.2.10, asked from 198.51.100.10 where no node runs. The one-shot client binds the
 * address that host sends from (a wildcard there made the node answer 400: the client's
 * DHT-PeerID named 0.0.0.0) and learns the overlay from the node's answer to `overlay=*`.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { idToHex } from '../../src/overlay/id.js';
import { peerIdFromAddress } from '../../src/overlay/peer-id.js';
import { requireBuilt } from './live-helpers.js';
import { requireTestbed, Testbed, type Host } from './testbed.js';

let tb: Testbed;
let nodeHost: Host;
let asker: Host;

describe('kadsip lookup / candidates --via a node, from another host, without knowing its overlay', () => {
  beforeAll(async () => {
    requireBuilt();
    requireTestbed();
    tb = await Testbed.create();
    nodeHost = await tb.addHost('node', '192.0.2.10', { delayMs: 10 });
    asker = await tb.addHost('asker', '198.51.100.10', { delayMs: 10 });
    const node = tb.startNode(nodeHost, ['--overlay', 'acme', '--stun', `${nodeHost.ip}:3478`, '--transports', 'udp']);
    await tb.healthy(nodeHost, node);
  }, 60_000);

  afterAll(async () => {
    await tb?.destroy();
  }, 30_000);

  it('FIND_NODE of the node\'s own Peer-ID: found, in overlay "acme", exit 0', async () => {
    const id = idToHex(peerIdFromAddress(nodeHost.ip, 5060));
    const r = await tb.kadsip(asker, ['lookup', id, '--via', `${nodeHost.ip}:5060`]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toContain(`${nodeHost.ip}:5060`);
    expect(r.stdout).toContain('overlay "acme"');
  });

  it('FIND_VALUE of an AoR nobody registered: not found (exit 1), not an error; --json names the overlay', async () => {
    const r = await tb.kadsip(asker, ['lookup', 'sip:nobody@acme.example', '--via', `${nodeHost.ip}:5060`, '--json']);
    expect(r.code, r.stderr + r.stdout).toBe(1);
    expect(JSON.parse(r.stdout)).toMatchObject({ found: false, overlay: 'acme', kind: 'FIND_VALUE' });
  });

  it('--overlay naming another overlay: exit 2, saying which overlay the node is in', async () => {
    const r = await tb.kadsip(asker, ['lookup', 'sip:nobody@acme.example', '--via', `${nodeHost.ip}:5060`, '--overlay', 'kadsip']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('is a node of overlay "acme", not "kadsip"');
  });

  it('nobody at the address: exit 2, "did not answer"', async () => {
    const r = await tb.kadsip(asker, ['lookup', 'sip:nobody@acme.example', '--via', `${nodeHost.ip}:5999`, '--timeout', '6']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('did not answer');
  });

  it('kadsip candidates --via: the STUN server the node offers a newcomer', async () => {
    const r = await tb.kadsip(asker, ['candidates', '--via', `${nodeHost.ip}:5060`]);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    expect(r.stdout).toMatch(new RegExp(`^stun=${nodeHost.ip.replace(/\./g, '\\.')}:3478 role=peer`));
  });
});
