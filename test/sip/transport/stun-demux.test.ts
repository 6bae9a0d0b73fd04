/**
 * STUN on the SIP UDP socket (RFC 7983 demultiplexing): a STUN datagram is never parsed as SIP
 * (no 400, no bad-input log, no message to subscribers), and a STUN client running on the SIP
 * socket gets its answer there, with the SIP port as the mapped port.
 */
import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { encodeStun, StunClass, StunMethod, StunServer, stunBinding } from '../../../src/nat/stun/index.js';
import { createResponse } from '../../../src/sip/message/index.js';
import { looksLikeStun, type Logger, type SipTransport } from '../../../src/sip/transport/index.js';
import { listen, options, RawUdp, until, wire } from './helpers.js';

const open: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((t) => t.close()));
});

function bindingRequest(): Buffer {
  return encodeStun({ method: StunMethod.Binding, cls: StunClass.Request, transactionId: randomBytes(12), attributes: [], fingerprint: true });
}

describe('looksLikeStun', () => {
  it('tells STUN from SIP by the first byte and the magic cookie', () => {
    expect(looksLikeStun(bindingRequest())).toBe(true);
    expect(looksLikeStun(wire(options('SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bKx')))).toBe(false);
    expect(looksLikeStun(Buffer.from('\r\n\r\n'))).toBe(false);
    const noCookie = bindingRequest();
    noCookie.writeUInt32BE(0, 4);
    expect(looksLikeStun(noCookie)).toBe(false);
    expect(looksLikeStun(bindingRequest().subarray(0, 19))).toBe(false);
  });
});

describe('SipTransport: STUN on the SIP UDP socket', () => {
  it('drops a STUN datagram without parsing, answering or logging it, and keeps serving SIP', async () => {
    const logged: string[] = [];
    const capture = (level: string) => (_o: object, msg?: string) => logged.push(`${level}: ${msg ?? ''}`);
    const logger: Logger = { debug: capture('debug'), info: capture('info'), warn: capture('warn') };
    const t = await listen({ logger });
    open.push(t);
    const seen: string[] = [];
    t.onMessage(({ message, source }) => {
      seen.push(message.kind);
      if (message.kind === 'request') t.send(createResponse(message, 200), source);
    });
    const raw = await RawUdp.open();
    open.push(raw);
    await raw.send(bindingRequest(), t.local('udp'));
    await raw.send(wire(options(`SIP/2.0/UDP 127.0.0.1:${raw.port};branch=z9hG4bKafterstun`)), t.local('udp'));
    await raw.waitFor(1);
    await new Promise((r) => setTimeout(r, 100));
    expect(raw.received.map((m) => (m.kind === 'response' ? m.status : m.kind))).toEqual([200]);
    expect(seen).toEqual(['request']);
    expect(t.stats.parseErrors).toBe(0);
    expect(logged.filter((l) => l.includes('bad SIP input'))).toEqual([]);
  });

  it('lets a STUN client run on the SIP socket: the mapped address is the SIP address', async () => {
    const t: SipTransport = await listen({ protocols: ['udp'] });
    open.push(t);
    const server = await StunServer.listen({ host: '127.0.0.1', port: 0 });
    open.push(server);
    const socket = t.udpSocket();
    expect(socket).toBeDefined();
    const result = await stunBinding({ host: '127.0.0.1', port: server.address().port }, { socket: socket!, timeoutMs: 3000 });
    expect(result.mapped.host).toBe('127.0.0.1');
    expect(result.mapped.port).toBe(t.local('udp').port);
    expect(t.stats.parseErrors).toBe(0);
    // SIP still flows on the same socket afterwards.
    const raw = await RawUdp.open();
    open.push(raw);
    t.onMessage(({ message, source }) => {
      if (message.kind === 'request') t.send(createResponse(message, 200), source);
    });
    await raw.send(wire(options(`SIP/2.0/UDP 127.0.0.1:${raw.port};branch=z9hG4bKsip`)), t.local('udp'));
    await until(() => raw.received.some((m) => m.kind === 'response' && m.status === 200));
  });

  it('has no UDP socket to share when only TCP listens', async () => {
    const t = await listen({ protocols: ['tcp'] });
    open.push(t);
    expect(t.udpSocket()).toBeUndefined();
  });
});
