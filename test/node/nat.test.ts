/**
 * Start-up NAT detection (src/node/nat.ts, KadsipNode.start) on loopback: the bootstrap's `stun=`
 * is learned from its answer to a client PING (a 200, or the 493 a NATed node gets while its
 * Peer-ID cannot match yet), STUN runs from the SIP socket, and detectNat decides. The real NAT is
 * test/live/nat.test.ts.
 */
import { createSocket } from 'node:dgram';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { realClock } from '../../src/common/real-clock.js';
import { resolveConfig } from '../../src/node/config.js';
import { KadsipNode } from '../../src/node/kadsip-node.js';
import { readDhtPeerId, splitAddress } from '../../src/dsip/index.js';
import { StunServer, stunBinding } from '../../src/nat/stun/index.js';
import { probeNat } from '../../src/node/nat.js';
import { OverlayOverSip } from '../../src/p2psip/overlay-over-sip.js';
import { OverlayNode, testAccess } from '../../src/overlay/node.js';
import { peerIdFromAddress } from '../../src/overlay/peer-id.js';
import { SeededRandom } from '../../src/overlay/random.js';
import type { SipRequest } from '../../src/sip/message/index.js';
import { sipEndpoint as openEndpoint } from './sip-endpoint.js';

const silent = pino({ level: 'silent' });
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const sipEndpoint = () => openEndpoint(cleanup);

/** A bootstrap peer that advertises `stun` (which nobody need serve). */
async function bootstrapAdvertising(stun: string): Promise<string> {
  const { transactions, port } = await sipEndpoint();
  const self = { id: peerIdFromAddress('127.0.0.1', port), address: `127.0.0.1:${port}`, stun };
  const core = new OverlayNode({ self, transport: { sendRequest: () => {} }, clock: realClock, random: new SeededRandom(1) });
  const link = new OverlayOverSip({ transactions, overlay: 'nat-test', self, protocol: 'udp', log: silent });
  transactions.onRequest((request, txn) => link.serve(request, txn, core));
  return self.address;
}

async function startNode(extra: Record<string, string>, natRecheckMs?: number): Promise<KadsipNode> {
  const config = resolveConfig({ listen: '127.0.0.1:0', transports: 'udp', overlay: 'nat-test', logLevel: 'silent', ...extra });
  const node = await KadsipNode.start({ config, logger: silent, ...(natRecheckMs ? { natRecheckMs } : {}) });
  cleanup.push(() => node.close());
  return node;
}

describe('probeNat', () => {
  it('finds a node on its own address public: stun= from the bootstrap answer, STUN from the SIP socket', async () => {
    const bootstrap = await startNode({ stun: '127.0.0.1:0' });
    expect(bootstrap.self.stun).toMatch(/^127\.0\.0\.1:\d+$/);
    const me = await sipEndpoint();
    const outcome = await probeNat({
      transactions: me.transactions,
      socket: me.transport.udpSocket()!,
      local: { host: '127.0.0.1', port: me.port },
      overlay: 'nat-test',
      bootstraps: [bootstrap.self.address],
    });
    expect(outcome).toMatchObject({ kind: 'detected', server: bootstrap.self.stun, detection: { behindNat: false } });
    expect(me.transport.stats.parseErrors).toBe(0);
  });

  it('behind NAT: learns stun= from the 493 its unmatched Peer-ID gets, and the reflexive address from STUN', async () => {
    const bootstrap = await startNode({ stun: '127.0.0.1:0' });
    const me = await sipEndpoint();
    // The node believes it is 10.200.0.2 (no such interface here): its Peer-ID will not match.
    const outcome = await probeNat({
      transactions: me.transactions,
      socket: me.transport.udpSocket()!,
      local: { host: '10.200.0.2', port: 5060 },
      overlay: 'nat-test',
      bootstraps: [bootstrap.self.address],
      interfaces: {},
    });
    expect(outcome.kind).toBe('detected');
    if (outcome.kind !== 'detected') return;
    expect(outcome.server).toBe(bootstrap.self.stun);
    expect(outcome.detection).toEqual({ behindNat: true, reason: 'address', reflexive: { host: '127.0.0.1', port: me.port } });
  });

  it('says so, within its bounds, when no bootstrap names a STUN server or none answers', async () => {
    const me = await sipEndpoint();
    const base = { transactions: me.transactions, socket: me.transport.udpSocket()!, local: { host: '127.0.0.1', port: me.port }, overlay: 'nat-test' };
    const silentPeer = createSocket('udp4');
    await new Promise<void>((r) => silentPeer.bind(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => silentPeer.close(() => r())));
    const deadAddress = `127.0.0.1:${silentPeer.address().port}`;
    const started = Date.now();
    expect(await probeNat({ ...base, bootstraps: [deadAddress], pingTimeoutMs: 500 })).toEqual({ kind: 'no-candidate', answered: 0 });
    const advertiser = await bootstrapAdvertising(deadAddress);
    expect(await probeNat({ ...base, bootstraps: [advertiser], stunTimeoutMs: 500 })).toEqual({ kind: 'no-answer', candidates: [deadAddress], failed: [deadAddress] });
    expect(Date.now() - started).toBeLessThan(3000);
  });
});

describe('KadsipNode start-up NAT detection', () => {
  it('a node with a public address keeps its listen address, advertises its STUN server, and joins', async () => {
    const first = await startNode({ stun: '127.0.0.1:0' });
    const second = await startNode({ bootstrap: first.self.address, stun: '127.0.0.1:0' });
    expect(second.behindNat).toBe(false);
    expect(second.self.address).toBe(`127.0.0.1:${second.transport.local('udp').port}`);
    expect(second.overlay.config.candidatesWanted).toBe(0);
    expect(second.overlay.state).toBe('joined');
    expect(first.overlay.contact(second.self.id)?.stun).toBe(second.self.stun);
  });

  it('carries on with its listen address when no bootstrap advertises STUN; --public skips detection', async () => {
    const first = await startNode({});
    const second = await startNode({ bootstrap: first.self.address, candidatesWanted: '3' });
    expect(second.behindNat).toBe(false);
    expect(second.overlay.state).toBe('joined');
    expect(second.overlay.config.candidatesWanted).toBe(3);
    const third = await startNode({ public: '192.0.2.1:5999' });
    expect(third.self.address).toBe('192.0.2.1:5999');
  });

  it('a client attaches to its bootstrap without entering its routing table', async () => {
    // (Candidates are unique by IP, and on loopback everyone is 127.0.0.1: the peer offers no STUN itself.)
    const first = await startNode({});
    const client = await startNode({ bootstrap: first.self.address, role: 'client', stun: '127.0.0.1:0' });
    expect(client.overlay.state).toBe('joined');
    expect(client.overlay.contact(first.self.id)).toBeDefined();
    expect(first.overlay.view().contacts).toBe(0);
    // A willing client is listed in the peer's candidate table (priority 3).
    expect(first.overlay.candidates.fill(5, [], [])).toEqual([{ stun: client.self.stun, role: 'client', priority: 3, load: 0 }]);
  });

  it('forgets a received candidate that stops answering STUN', async () => {
    const silentPeer = createSocket('udp4');
    // 127.0.0.2: candidates are unique by IP, and the asker (127.0.0.1) is never offered its own.
    await new Promise<void>((r) => silentPeer.bind(0, '127.0.0.2', () => r()));
    cleanup.push(() => new Promise<void>((r) => silentPeer.close(() => r())));
    const dead = `127.0.0.2:${silentPeer.address().port}`;
    const first = await startNode({});
    // The bootstrap's routing table lists a peer advertising a STUN server that never answers.
    testAccess(first.overlay).routingTable.observe({ id: peerIdFromAddress('127.0.0.1', 1), address: '127.0.0.1:1', stun: dead }, Date.now());
    const second = await startNode({ bootstrap: first.self.address, candidatesWanted: '5' }, 300);
    expect(second.overlay.discoveredCandidates().map((c) => c.stun)).toEqual([dead]);
    const deadline = Date.now() + 3000;
    while (second.overlay.discoveredCandidates().length > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    expect(second.overlay.discoveredCandidates()).toEqual([]);
  });
});

describe('load figures (docs/PROTOCOL.md section 7)', () => {
  it('a willing node advertises what its STUN server counted on its next overlay request (load=)', async () => {
    const first = await startNode({ stun: '127.0.0.1:0' });
    const second = await startNode({ bootstrap: first.self.address });
    expect(second.overlay.contact(first.self.id)?.load).toBe(0);
    const stunAt = splitAddress(first.self.stun!)!;
    for (let i = 0; i < 3; i++) await stunBinding(stunAt, { localHost: '127.0.0.1', timeoutMs: 2000, rto: 250 });
    // What goes on the wire: a peer that listens for it reads load=3 or more in the DHT-PeerID.
    const me = await sipEndpoint();
    const heard: SipRequest[] = [];
    me.transactions.onRequest((request) => heard.push(request));
    first.overlay.ping({ address: `127.0.0.1:${me.port}` }, () => {});
    const deadline = Date.now() + 3000;
    while (heard.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    const dht = readDhtPeerId(heard[0]!);
    expect(dht?.ok && dht.value.stun).toBe(first.self.stun);
    expect(dht?.ok && dht.value.load).toBeGreaterThanOrEqual(3);
    // A peer that knows it refreshes the figure when a request from it arrives.
    await new Promise<void>((resolve) => first.overlay.ping(second.self, () => resolve()));
    expect(second.overlay.contact(first.self.id)?.load).toBeGreaterThanOrEqual(3);
  });

  it('a NATed node asks its candidates for their load (KADSIP-LOAD) and binds to the least loaded', async () => {
    // Two STUN servers on other loopback addresses (candidates are unique by IP); one has clients.
    const busy = await StunServer.listen({ host: '127.0.0.2', port: 0 });
    const idle = await StunServer.listen({ host: '127.0.0.3', port: 0 });
    cleanup.push(() => busy.close(), () => idle.close());
    for (let i = 0; i < 2; i++) await stunBinding({ host: '127.0.0.2', port: busy.address().port }, { localHost: '127.0.0.1', timeoutMs: 2000, rto: 250 });
    const first = await startNode({});
    // The bootstrap heard of both long ago, when both were idle: its figures are stale.
    for (const [i, server] of [busy, idle].entries()) {
      const stun = `${server.address().host}:${server.address().port}`;
      testAccess(first.overlay).routingTable.observe({ id: peerIdFromAddress('127.0.0.1', i + 1), address: `127.0.0.1:${i + 1}`, stun, load: 0 }, Date.now());
    }
    const second = await startNode({ bootstrap: first.self.address, candidatesWanted: '5' }, 200);
    expect(second.overlay.discoveredCandidates().map((c) => c.load)).toEqual([0, 0]);
    const deadline = Date.now() + 3000;
    while (idle.load() === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(idle.load()).toBe(1); // bound to (and counted by) the idle one
    expect(busy.load()).toBe(2); // the busy one was only asked
  });
});
