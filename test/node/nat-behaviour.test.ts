/**
 * The NAT pieces of issue 9 on loopback, over real sockets (the NATs themselves are the testbed's:
 * test/live/nat-symmetric.test.ts, nat-mapping-change.test.ts, nat-keepalive.test.ts):
 * - mappingBehaviour: the verdict from what several destinations saw (PROTOCOL.md 10.1);
 * - probeNat: the bootstrap's SIP answer is one of those destinations (received/rport);
 * - MappingWatch: a STUN answer naming another mapping, confirmed, is reported; the same one is not;
 * - AttachRelay: the REGISTER a symmetric-NAT client sends its attach peer (PROTOCOL.md 10.2);
 * - StunServer.attach: a phone's STUN keep-alive on the SIP port is answered (RFC 5626 4.4.1);
 * - LocationService.flowOf: an in-dialog request to a NATed phone's Contact goes over its flow.
 */
import { createSocket, type Socket } from 'node:dgram';
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { realClock } from '../../src/common/real-clock.js';
import { StunServer, stunBinding } from '../../src/nat/stun/index.js';
import { AttachRelay } from '../../src/p2psip/attach-relay.js';
import { LocationService } from '../../src/p2psip/location-service.js';
import type { Rfc3263Resolver } from '../../src/resolve/index.js';
import { MappingWatch } from '../../src/p2psip/mapping-watch.js';
import { mappingBehaviour, probeNat, type NatObservation } from '../../src/node/nat.js';
import { OverlayOverSip } from '../../src/p2psip/overlay-over-sip.js';
import { OverlayNode } from '../../src/overlay/node.js';
import { peerIdFromAddress } from '../../src/overlay/peer-id.js';
import { SeededRandom } from '../../src/overlay/random.js';
import { Registrar } from '../../src/registrar/index.js';
import { parseMessage, parseUri, type SipRequest } from '../../src/sip/message/index.js';
import { sipEndpoint as openEndpoint } from './sip-endpoint.js';

const silent = pino({ level: 'silent' });
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

const sipEndpoint = () => openEndpoint(cleanup);

async function stunServer(): Promise<string> {
  const server = await StunServer.listen({ host: '127.0.0.1', port: 0 });
  cleanup.push(() => server.close());
  return `127.0.0.1:${server.address().port}`;
}

const seen = (server: string, via: 'stun' | 'sip', port: number): NatObservation => ({ server, via, mapped: { host: '203.0.113.1', port } });

describe('mappingBehaviour (PROTOCOL.md 10.1)', () => {
  it('different mappings at two destinations: dependent; the same: independent; one destination: unknown', () => {
    expect(mappingBehaviour([seen('192.0.2.10:3478', 'stun', 40000), seen('192.0.2.10:5060', 'sip', 40001)])).toBe('dependent');
    expect(mappingBehaviour([seen('192.0.2.10:3478', 'stun', 40000), seen('198.51.100.10:3478', 'stun', 40000), seen('192.0.2.10:5060', 'sip', 40000)])).toBe('independent');
    expect(mappingBehaviour([seen('192.0.2.10:3478', 'stun', 40000)])).toBe('unknown');
    // Two answers from one server say nothing about other destinations.
    expect(mappingBehaviour([seen('192.0.2.10:3478', 'stun', 40000), seen('192.0.2.10:3478', 'stun', 40001)])).toBe('unknown');
  });
});

describe('probeNat', () => {
  it("counts the bootstrap's SIP answer (received/rport) as a second destination: a public node is endpoint-independent", async () => {
    const stun = await stunServer();
    const boot = await sipEndpoint();
    const self = { id: peerIdFromAddress('127.0.0.1', boot.port), address: `127.0.0.1:${boot.port}`, stun };
    const core = new OverlayNode({ self, transport: { sendRequest: () => {} }, clock: realClock, random: new SeededRandom(1) });
    const link = new OverlayOverSip({ transactions: boot.transactions, overlay: 'nat-test', self, protocol: 'udp', log: silent });
    boot.transactions.onRequest((request, txn) => link.serve(request, txn, core));
    const node = await sipEndpoint();
    const outcome = await probeNat({
      transactions: node.transactions,
      socket: node.transport.udpSocket()!,
      local: { host: '127.0.0.1', port: node.port },
      overlay: 'nat-test',
      bootstraps: [self.address],
    });
    expect(outcome.kind).toBe('detected');
    if (outcome.kind !== 'detected') return;
    expect(outcome.observations).toEqual([
      { server: stun, via: 'stun', mapped: { host: '127.0.0.1', port: node.port } },
      { server: self.address, via: 'sip', mapped: { host: '127.0.0.1', port: node.port } },
    ]);
    expect(outcome.mapping).toBe('independent');
  });
});

describe('MappingWatch', () => {
  async function socket(): Promise<{ socket: Socket; port: number }> {
    const s = createSocket('udp4');
    await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => s.close(() => r())));
    return { socket: s, port: s.address().port };
  }

  it('reports a mapping other than the current one, once confirmed, and nothing when it is the same', async () => {
    const servers = [await stunServer(), await stunServer()];
    const { socket: s, port } = await socket();
    const changes: Array<{ mapped: { host: string; port: number }; server: string }> = [];
    let current = { host: '203.0.113.1', port: 5060 };
    const watch = new MappingWatch({ socket: s, servers: () => servers, current: () => current, intervalMs: 3_600_000, onChange: (mapped, server) => changes.push({ mapped, server }), log: silent });
    cleanup.push(() => watch.stop());
    await watch.check();
    expect(changes).toEqual([{ mapped: { host: '127.0.0.1', port }, server: servers[0] }]);
    current = { host: '127.0.0.1', port };
    await watch.check();
    expect(changes).toHaveLength(1);
  });

  it('reports nothing when no server answers', async () => {
    const dead = await socket(); // bound, silent
    const { socket: s } = await socket();
    const changes: unknown[] = [];
    const watch = new MappingWatch({ socket: s, servers: () => [`127.0.0.1:${dead.port}`], current: () => ({ host: '203.0.113.1', port: 5060 }), intervalMs: 3_600_000, onChange: (m) => changes.push(m), log: silent, timeoutMs: 500 });
    cleanup.push(() => watch.stop());
    await watch.check();
    expect(changes).toEqual([]);
  });
});

describe('AttachRelay (PROTOCOL.md 10.2)', () => {
  it("registers an AoR at the attach peer with Contact <AoR;ob> when its first phone registers, and unregisters it with the last", async () => {
    const peer = createSocket('udp4');
    await new Promise<void>((r) => peer.bind(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => peer.close(() => r())));
    const received: SipRequest[] = [];
    peer.on('message', (data, from) => {
      const parsed = parseMessage(data, { transport: 'datagram' });
      if (!parsed.ok || parsed.message.kind !== 'request') return;
      const req = parsed.message;
      received.push(req);
      const echo = ['Via', 'From', 'To', 'Call-ID', 'CSeq'].map((h) => `${h}: ${req.headers.get(h)}${h === 'To' ? ';tag=x' : ''}`).join('\r\n');
      peer.send(Buffer.from(`SIP/2.0 200 OK\r\n${echo}\r\nContent-Length: 0\r\n\r\n`), from.port, from.address);
    });
    const { transactions } = await sipEndpoint();
    const registrar = new Registrar({ domains: (h) => h === 'example.com' });
    const relay = new AttachRelay({ transactions, peer: { protocol: 'udp', host: '127.0.0.1', port: peer.address().port }, registrar, now: () => realClock.now(), log: silent });
    cleanup.push(() => relay.close());

    const aor = 'sip:bob@example.com';
    // No binding yet: nothing to relay.
    relay.sync(aor);
    expect(received).toHaveLength(0);
    const register = (expires: number): void => {
      const text = `REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 10.0.0.5:5080;branch=z9hG4bK${expires}x\r\nFrom: <${aor}>;tag=1\r\nTo: <${aor}>\r\nCall-ID: phone-1\r\nCSeq: ${expires === 0 ? 2 : 1} REGISTER\r\nContact: <sip:bob@10.0.0.5:5080>\r\nExpires: ${expires}\r\nContent-Length: 0\r\n\r\n`;
      const parsed = parseMessage(Buffer.from(text), { transport: 'datagram' });
      if (!parsed.ok || parsed.message.kind !== 'request') throw new Error('bad test REGISTER');
      const result = registrar.handle(parsed.message, { protocol: 'udp', host: '10.0.0.5', port: 5080 }, realClock.now());
      expect(result.response.status).toBe(200);
    };
    register(300);
    relay.sync(aor);
    relay.sync(aor); // already registered there: no second REGISTER
    await waitFor(() => received.length >= 1);
    expect(relay.aors()).toEqual([aor]);
    register(0);
    relay.sync(aor);
    await waitFor(() => received.length >= 2);
    expect(relay.aors()).toEqual([]);

    const [first, last] = received as [SipRequest, SipRequest];
    expect(first.method).toBe('REGISTER');
    expect(first.headers.get('Contact')).toBe(`<${aor};ob>`);
    expect(first.headers.get('Expires')).toBe('300');
    expect(first.headers.get('To')).toBe(`<${aor}>`);
    expect(last.headers.get('Expires')).toBe('0');
    expect(last.headers.get('Contact')).toBe(`<${aor};ob>`);
    // One Call-ID per AoR, CSeq rising (RFC 3261 10.2.4).
    expect(last.headers.get('Call-ID')).toBe(first.headers.get('Call-ID'));
    expect(Number(last.headers.get('CSeq')!.split(' ')[0])).toBeGreaterThan(Number(first.headers.get('CSeq')!.split(' ')[0]));
  });
});

describe('STUN keep-alives on the SIP port (RFC 5626 4.4.1)', () => {
  it("a StunServer attached to the SIP socket answers a phone's Binding request there", async () => {
    const { transport, port } = await sipEndpoint();
    StunServer.attach(transport.udpSocket()!);
    const phone = createSocket('udp4');
    await new Promise<void>((r) => phone.bind(0, '127.0.0.1', () => r()));
    cleanup.push(() => new Promise<void>((r) => phone.close(() => r())));
    const result = await stunBinding({ host: '127.0.0.1', port }, { socket: phone, timeoutMs: 2000, rto: 250 });
    expect(result.mapped).toMatchObject({ host: '127.0.0.1', port: phone.address().port });
  });
});

describe('LocationService.flowOf: in-dialog requests to a phone behind NAT', () => {
  function registered(contact: string, source: { host: string; port: number }, expires = 300): { registrar: Registrar; ls: LocationService } {
    const registrar = new Registrar({ domains: (h) => h === 'example.com' });
    const ls = new LocationService({
      registrar,
      overlay: { routingTable: { size: 0 }, findValue: () => undefined } as never,
      isOverlayHost: (h) => h === 'example.com',
      self: { host: '192.0.2.10', port: 5060 },
      dns: {} as Rfc3263Resolver,
      clock: realClock,
      peerProtocol: 'udp',
    });
    const text = `REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP ${source.host}:${source.port};branch=z9hG4bKf1\r\nFrom: <sip:bob@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: f-1\r\nCSeq: ${expires === 0 ? 2 : 1} REGISTER\r\nContact: <${contact}>\r\nExpires: ${expires}\r\nContent-Length: 0\r\n\r\n`;
    const parsed = parseMessage(Buffer.from(text), { transport: 'datagram' });
    if (!parsed.ok || parsed.message.kind !== 'request') throw new Error('bad REGISTER');
    registrar.handle(parsed.message, { protocol: 'udp', ...source }, realClock.now());
    ls.invalidate('sip:bob@example.com');
    return { registrar, ls };
  }
  const uri = (s: string) => {
    const r = parseUri(s);
    if (!r.ok) throw new Error(s);
    return r.value;
  };

  it('the private Contact of a phone registered through a NAT maps to its flow; other URIs to nothing', () => {
    const { ls } = registered('sip:bob@10.77.1.10:5080', { host: '203.0.113.1', port: 40000 });
    expect(ls.flowOf(uri('sip:bob@10.77.1.10:5080'))).toEqual({ protocol: 'udp', host: '203.0.113.1', port: 40000 });
    expect(ls.flowOf(uri('sip:bob@10.77.1.10:5080;transport=udp'))).toEqual({ protocol: 'udp', host: '203.0.113.1', port: 40000 });
    expect(ls.flowOf(uri('sip:bob@10.77.1.10:5082'))).toBeUndefined();
    expect(ls.flowOf(uri('sip:carol@10.77.1.10:5080'))).toBeUndefined();
  });

  it('a phone reached at its Contact (no NAT) is not redirected; an unregistered one is forgotten', () => {
    const direct = registered('sip:bob@198.51.100.7:5080', { host: '198.51.100.7', port: 5080 });
    expect(direct.ls.flowOf(uri('sip:bob@198.51.100.7:5080'))).toBeUndefined();
    const { registrar, ls } = registered('sip:bob@10.77.1.10:5080', { host: '203.0.113.1', port: 40000 });
    const text = `REGISTER sip:example.com SIP/2.0\r\nVia: SIP/2.0/UDP 203.0.113.1:40000;branch=z9hG4bKf2\r\nFrom: <sip:bob@example.com>;tag=1\r\nTo: <sip:bob@example.com>\r\nCall-ID: f-1\r\nCSeq: 2 REGISTER\r\nContact: <sip:bob@10.77.1.10:5080>\r\nExpires: 0\r\nContent-Length: 0\r\n\r\n`;
    const parsed = parseMessage(Buffer.from(text), { transport: 'datagram' });
    if (!parsed.ok || parsed.message.kind !== 'request') throw new Error('bad REGISTER');
    registrar.handle(parsed.message, { protocol: 'udp', host: '203.0.113.1', port: 40000 }, realClock.now());
    ls.invalidate('sip:bob@example.com');
    expect(ls.flowOf(uri('sip:bob@10.77.1.10:5080'))).toBeUndefined();
  });
});

async function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('timed out');
    await new Promise((r) => setTimeout(r, 20));
  }
}
