import { describe, expect, it, vi } from 'vitest';
import net from 'node:net';
import {
  createResponse,
  getTopVia,
  getVias,
  viaReceived,
  viaRport,
  type SipResponse,
} from '../../../src/sip/message/index.js';
import { MTU_LIMIT, SipTransport, type Endpoint } from '../../../src/sip/transport/index.js';
import { closedAfterEach, HOST, RawTcp, RawUdp, listen, nextMessage, options, until, viaFor, wire } from './helpers.js';

const { track, transport } = closedAfterEach();

describe('SipTransport: listening', () => {
  it('binds a real ephemeral port, shared by UDP and TCP, and reports it', async () => {
    const a = await transport();
    const b = await transport();
    const ua = a.local('udp');
    expect(ua.port).toBeGreaterThan(0);
    expect(ua.port).not.toBe(5060);
    expect(a.local('tcp').port).toBe(ua.port);
    expect(ua.host).toBe(HOST);
    expect(b.local('udp').port).not.toBe(ua.port);
  });

  it('rejects a port already taken and can listen on one protocol only', async () => {
    const a = await transport({ protocols: ['udp'] });
    await expect(SipTransport.listen({ host: HOST, port: a.local('udp').port, protocols: ['udp'] })).rejects.toThrow();
    expect(() => a.local('tcp')).toThrow();
  });
});

describe('SipTransport: two transports on one IP', () => {
  for (const protocol of ['udp', 'tcp'] as const) {
    it(`exchange a request and its response over ${protocol.toUpperCase()}`, async () => {
      const a = await transport();
      const b = await transport();
      const req = options(viaFor(a.local(protocol), undefined, ';rport'));
      const atB = nextMessage(b);
      a.send(req, b.local(protocol));
      const inbound = await atB;
      expect(inbound.message.kind).toBe('request');
      expect(inbound.source.protocol).toBe(protocol);
      expect(inbound.source.host).toBe(HOST);
      const top = getTopVia(inbound.message);
      // RFC 3581: rport filled with the source port, received added even though the host matches.
      expect(viaRport(top)).toBe(inbound.source.port);
      expect(viaReceived(top)).toBe(HOST);
      if (protocol === 'udp') expect(inbound.source.port).toBe(a.local('udp').port);

      const res = createResponse(inbound.message as never, 200);
      const atA = nextMessage(a);
      // Respond to the source: over TCP that is the connection A opened (18.2.2).
      b.send(res, inbound.source);
      const back = await atA;
      expect(back.message.kind === 'response' && back.message.status).toBe(200);
      if (protocol === 'tcp') {
        expect(a.stats.tcpConnections).toBe(1);
        expect(b.stats.tcpConnections).toBe(1);
        // A second request reuses the connection.
        const again = nextMessage(b);
        a.send(options(viaFor(a.local('tcp'))), b.local('tcp'));
        expect((await again).source).toEqual(inbound.source);
        expect(a.stats.tcpConnections).toBe(1);
        expect(a.stats.tcpOut).toBe(2);
        expect(b.stats.tcpIn).toBe(2);
      } else {
        expect(a.stats.udpOut).toBe(1);
        expect(b.stats.udpIn).toBe(1);
      }
    });
  }

  it('sends messages larger than the UDP MTU limit and says they would not fit', async () => {
    const a = await transport();
    const b = await transport();
    const req = options(viaFor(a.local('udp')));
    req.headers.append('X-Pad', 'x'.repeat(3000));
    expect(a.wouldFitUdp(req)).toBe(false);
    expect(a.wouldFitUdp(options(viaFor(a.local('udp'))))).toBe(true);
    expect(MTU_LIMIT).toBe(1300);
    const atB = nextMessage(b);
    a.send(req, b.local('udp'));
    expect((await atB).message.headers.get('x-pad')).toHaveLength(3000);
  });
});

describe('SipTransport: Via rules', () => {
  it('adds received when the sent-by host is not the source IP (18.2.1), touching nothing else', async () => {
    const t = await transport();
    const raw = await RawUdp.open();
    track(raw);
    const req = options('SIP/2.0/UDP 192.0.2.1:5099;branch=z9hG4bKabc, SIP/2.0/UDP second.example.com;branch=z9hG4bKdef');
    req.headers.append('Via', 'SIP/2.0/TCP third.example.com;branch=z9hG4bKghi');
    const got = nextMessage(t);
    await raw.send(wire(req), t.local('udp'));
    const m = (await got).message;
    const lines = m.headers.getAll('via');
    expect(lines[0]).toBe('SIP/2.0/UDP 192.0.2.1:5099;branch=z9hG4bKabc;received=127.0.0.1, SIP/2.0/UDP second.example.com;branch=z9hG4bKdef');
    expect(lines[1]).toBe('SIP/2.0/TCP third.example.com;branch=z9hG4bKghi');
    expect(viaRport(getVias(m)[0]!)).toBeUndefined();
  });

  it('leaves the Via alone when sent-by is the source IP and there is no rport', async () => {
    const t = await transport();
    const raw = await RawUdp.open();
    track(raw);
    const via = `SIP/2.0/UDP 127.0.0.1:${raw.port};branch=z9hG4bKsame`;
    const got = nextMessage(t);
    await raw.send(wire(options(via)), t.local('udp'));
    expect((await got).message.headers.get('via')).toBe(via);
  });

  it('drops responses whose top Via sent-by is not ours (18.1.2)', async () => {
    const t = await transport();
    const raw = await RawUdp.open();
    track(raw);
    const onMessage = vi.fn();
    t.onMessage(onMessage);
    const foreign = createResponse(options('SIP/2.0/UDP 192.0.2.1:5060;branch=z9hG4bKx'), 200);
    const ours = createResponse(options(viaFor(t.local('udp'))), 200);
    await raw.send(wire(foreign), t.local('udp'));
    const got = nextMessage(t);
    await raw.send(wire(ours), t.local('udp'));
    expect(((await got).message as SipResponse).status).toBe(200);
    expect(onMessage).toHaveBeenCalledOnce();
    expect(t.stats.dropped).toBe(1);
  });
});

describe('SipTransport: send failures', () => {
  it('reports a refused TCP connection to the callback and onError, never throws', async () => {
    const t = await transport();
    // A port that was free a moment ago: connecting to it is refused.
    const probe = net.createServer();
    await new Promise<void>((r) => probe.listen(0, HOST, () => r()));
    const port = (probe.address() as net.AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    const cb = vi.fn();
    const onError = vi.fn();
    t.onError(onError);
    const to: Endpoint = { protocol: 'tcp', host: HOST, port };
    t.send(options(viaFor(t.local('tcp'))), to, cb);
    await until(() => cb.mock.calls.length === 1);
    expect(cb.mock.calls[0]![0]).toBeInstanceOf(Error);
    expect(onError).toHaveBeenCalledOnce();
    expect(onError.mock.calls[0]![0].to).toEqual(to);
    await until(() => t.stats.tcpConnections === 0);
  });

  it('reports a UDP message above 65507 bytes instead of sending it', async () => {
    const t = await transport();
    const req = options(viaFor(t.local('udp')));
    req.body = Buffer.alloc(70_000, 0x61);
    const cb = vi.fn();
    t.send(req, { protocol: 'udp', host: HOST, port: 9 }, cb);
    await until(() => cb.mock.calls.length === 1);
    expect(String(cb.mock.calls[0]![0])).toMatch(/exceeds 65507/);
  });

  it('reports sends on a closed transport and on a protocol it does not have', async () => {
    const t = await SipTransport.listen({ host: HOST, port: 0, protocols: ['udp'] });
    const cb = vi.fn();
    t.send(options('SIP/2.0/UDP a.example.com;branch=z9hG4bK1'), { protocol: 'tcp', host: HOST, port: 9 }, cb);
    await t.close();
    t.send(options('SIP/2.0/UDP a.example.com;branch=z9hG4bK1'), { protocol: 'udp', host: HOST, port: 9 }, cb);
    await until(() => cb.mock.calls.length === 2);
  });
});

describe('SipTransport: close', () => {
  it('closes the sockets and every TCP connection at once', async () => {
    const t = await listen();
    const local = t.local('tcp');
    const raw = await RawTcp.open(local);
    await until(() => t.stats.tcpConnections === 1);
    const started = Date.now();
    await t.close();
    await raw.closedP;
    expect(Date.now() - started).toBeLessThan(2000);
    await expect(RawTcp.open(local)).rejects.toThrow();
  });
});
