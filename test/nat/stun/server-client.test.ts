import { randomBytes } from 'node:crypto';
import type { Socket } from 'node:dgram';
import fc from 'fast-check';
import { afterEach, describe, expect, it } from 'vitest';
import {
  Attr,
  StunBindingError,
  StunClass,
  StunMethod,
  StunServer,
  decodeStun,
  encodeStun,
  getAddress,
  getAttribute,
  getErrorCode,
  getText,
  stunBinding,
  type StunLogger,
} from '../../../src/nat/stun/index.js';
import { SAMPLE_REQUEST } from '../../fixtures/stun/rfc5769.js';
import { closeSocket, fakeServer, nextDatagram, port, successFor, udpSocket } from './helpers.js';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  while (cleanups.length > 0) await cleanups.pop()?.();
});
function track<T extends { close(): Promise<void> } | Socket>(x: T): T {
  cleanups.push(async () => {
    if ('send' in x) await closeSocket(x);
    else await x.close();
  });
  return x;
}
async function server(opts: Parameters<typeof StunServer.listen>[0] = {}): Promise<StunServer> {
  return track(await StunServer.listen({ host: '127.0.0.1', port: 0, ...opts }));
}
async function fake(handler: Parameters<typeof fakeServer>[0]): Promise<Awaited<ReturnType<typeof fakeServer>>> {
  const f = await fakeServer(handler);
  track(f.socket);
  return f;
}
function bindingRequest(attributes: Parameters<typeof encodeStun>[0]['attributes'] = [], cls: StunClass = StunClass.Request): Buffer {
  return encodeStun({ method: StunMethod.Binding, cls, transactionId: randomBytes(12), attributes, fingerprint: true });
}
function capturingLogger(): StunLogger & { warns: unknown[] } {
  const warns: unknown[] = [];
  return { warns, debug: () => {}, info: () => {}, warn: (obj) => warns.push(obj) };
}

describe('StunServer + stunBinding on 127.0.0.1', () => {
  it('the client learns 127.0.0.1 and its own port (own socket)', async () => {
    const srv = await server({ software: 'kadsip-test' });
    const res = await stunBinding({ host: '127.0.0.1', port: srv.address().port }, { localHost: '127.0.0.1' });
    expect(res.mapped.host).toBe('127.0.0.1');
    expect(res.mapped.family).toBe('IPv4');
    expect(res.local?.port).toBe(res.mapped.port);
    expect(res.transmissions).toBe(1);
    expect(res.rttMs).toBeGreaterThanOrEqual(0);
    expect(res.software).toBe('kadsip-test');
    expect(srv.stats).toMatchObject({ datagrams: 1, bindingRequests: 1, successResponses: 1, errorResponses: 0, malformed: 0 });
  });

  it('runs on a shared socket without disturbing its other listeners', async () => {
    const srv = await server();
    const shared = track(await udpSocket());
    const other: Buffer[] = [];
    const otherListener = (m: Buffer): void => void other.push(m);
    shared.on('message', otherListener);
    const peer = track(await udpSocket());
    peer.send('OPTIONS sip:x SIP/2.0\r\n\r\n', port(shared), '127.0.0.1');
    const res = await stunBinding({ host: '127.0.0.1', port: srv.address().port }, { socket: shared });
    expect(res.mapped).toEqual({ family: 'IPv4', host: '127.0.0.1', port: port(shared) });
    expect(shared.listenerCount('message')).toBe(1);
    // The SIP-side listener saw the STUN response too (it must skip it with isStunPacket) and the SIP message.
    await new Promise((r) => setTimeout(r, 20));
    expect(other.some((m) => m.toString().startsWith('OPTIONS'))).toBe(true);
    // The socket still works for its owner after the transaction.
    peer.send('again', port(shared), '127.0.0.1');
    await new Promise((r) => setTimeout(r, 20));
    expect(other.some((m) => m.toString() === 'again')).toBe(true);
  });

  it('counts distinct clients for its load figure; a KADSIP-LOAD query reads it without being counted', async () => {
    let now = 0;
    const srv = await server({ now: () => now, loadWindowMs: 300_000 });
    const at = { host: '127.0.0.1', port: srv.address().port };
    const sockets = await Promise.all([1, 2, 3].map(async () => track(await udpSocket())));
    for (const socket of sockets) await stunBinding(at, { socket });
    await stunBinding(at, { socket: sockets[0]! }); // the same client again: still one
    expect(srv.load()).toBe(3);
    const prober = track(await udpSocket());
    const probed = await stunBinding(at, { socket: prober, queryLoad: true });
    expect(probed.load).toBe(3);
    expect(probed.mapped.port).toBe(prober.address().port); // still a full Binding answer
    expect(srv.load()).toBe(3); // the query is not a use
    expect((await stunBinding(at, { socket: prober })).load).toBeUndefined(); // asked for nothing, told nothing
    expect(srv.load()).toBe(4);
    now = 300_001; // the window has passed
    expect(srv.load()).toBe(0);
    // An attribute of 0x8000-0xFFFF is comprehension-optional: a server that knows nothing of it
    // answers a plain Binding, and the client reports no figure.
    const plain = await fake((req, rinfo, reply) => reply(successFor(req, { host: rinfo.address, port: rinfo.port })));
    const r = await stunBinding({ host: '127.0.0.1', port: plain.port }, { queryLoad: true, localHost: '127.0.0.1' });
    expect(r.load).toBeUndefined();
    expect(getAttribute(plain.requests[0]!, Attr.KADSIP_LOAD)).toBeDefined();
  });

  it('answers 420 with UNKNOWN-ATTRIBUTES to unknown comprehension-required attributes', async () => {
    const srv = await server();
    const c = track(await udpSocket());
    c.send(SAMPLE_REQUEST, srv.address().port, '127.0.0.1'); // carries ICE PRIORITY (0x0024)
    const { msg } = await nextDatagram(c);
    const r = decodeStun(msg);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.message.cls).toBe(StunClass.ErrorResponse);
    expect(r.message.transactionId.equals(SAMPLE_REQUEST.subarray(8, 20))).toBe(true);
    expect(getErrorCode(r.message)).toEqual({ code: 420, reason: 'Unknown Attribute' });
    const ua = getAttribute(r.message, Attr.UNKNOWN_ATTRIBUTES);
    expect(ua?.kind === 'unknown-attributes' ? ua.types : undefined).toEqual([0x0024]);
    expect(r.message.hasFingerprint).toBe(true);
    expect(srv.stats.errorResponses).toBe(1);
  });

  it('answers a request carrying only understood or optional attributes', async () => {
    const srv = await server();
    const c = track(await udpSocket());
    c.send(bindingRequest([{ kind: 'text', type: Attr.SOFTWARE, value: 'x' }, { kind: 'raw', type: 0x8fff, value: Buffer.from([1]) }]), srv.address().port, '127.0.0.1');
    const r = decodeStun((await nextDatagram(c)).msg);
    expect(r.ok && r.message.cls).toBe(StunClass.SuccessResponse);
    if (r.ok) {
      expect(getAddress(r.message, Attr.XOR_MAPPED_ADDRESS)).toEqual({ family: 'IPv4', host: '127.0.0.1', port: port(c) });
      expect(getText(r.message, Attr.SOFTWARE)).toBe('kadsip');
    }
  });

  it('ignores indications, responses and other methods', async () => {
    const srv = await server();
    const c = track(await udpSocket());
    const to = srv.address().port;
    c.send(bindingRequest([], StunClass.Indication), to, '127.0.0.1');
    c.send(bindingRequest([], StunClass.SuccessResponse), to, '127.0.0.1');
    c.send(encodeStun({ method: 0x003, cls: StunClass.Request, transactionId: randomBytes(12) }), to, '127.0.0.1'); // TURN Allocate
    await expect(nextDatagram(c, 200)).rejects.toThrow('no datagram');
    expect(srv.stats).toMatchObject({ datagrams: 3, ignored: 3, successResponses: 0, errorResponses: 0 });
  });

  it('drops garbage, logging once per source per interval, and keeps answering', async () => {
    const log = capturingLogger();
    const srv = await server({ logger: log });
    const c = track(await udpSocket());
    const to = srv.address().port;
    for (let i = 0; i < 10; i++) c.send(Buffer.from(`garbage ${i}`), to, '127.0.0.1');
    const broken = bindingRequest();
    broken[broken.length - 1] = (broken[broken.length - 1] as number) ^ 0xff; // bad FINGERPRINT
    c.send(broken, to, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 50));
    expect(srv.stats.malformed).toBe(11);
    expect(log.warns).toHaveLength(1);
    const res = await stunBinding({ host: '127.0.0.1', port: to }, { socket: c });
    expect(res.mapped.port).toBe(port(c));
  });

  it('survives random datagrams (fast-check) and still answers afterwards', async () => {
    const srv = await server();
    const c = track(await udpSocket());
    const to = srv.address().port;
    const stunish = fc
      .tuple(fc.nat(0x3fff), fc.uint8Array({ minLength: 12, maxLength: 12 }), fc.uint8Array({ maxLength: 200 }))
      .map(([type, txid, body]) => {
        const b = Buffer.alloc(20 + body.length);
        b.writeUInt16BE(type, 0);
        b.writeUInt16BE(body.length & ~3, 2);
        b.writeUInt32BE(0x2112a442, 4);
        b.set(txid, 8);
        b.set(body, 20);
        return b;
      });
    let sent = 0;
    await fc.assert(
      fc.asyncProperty(fc.oneof(fc.uint8Array({ minLength: 1, maxLength: 1400 }).map((u) => Buffer.from(u)), stunish), async (bytes) => {
        await new Promise<void>((resolve, reject) => c.send(bytes, to, '127.0.0.1', (e) => (e ? reject(e) : resolve())));
        sent++;
        // Client and server share this event loop: let the server drain each datagram so the
        // kernel's receive buffer never overflows (a loss there would not be the server's fault).
        for (let i = 0; i < 1000 && srv.stats.datagrams < sent; i++) await new Promise((r) => setImmediate(r));
      }),
      { numRuns: 300 },
    );
    // Wait until the server has taken all of them in.
    for (let i = 0; i < 100 && srv.stats.datagrams < sent; i++) await new Promise((r) => setTimeout(r, 10));
    expect(srv.stats.datagrams).toBe(sent);
    const res = await stunBinding({ host: '127.0.0.1', port: to }, { localHost: '127.0.0.1' });
    expect(res.mapped.host).toBe('127.0.0.1');
  });

  it('rate-limits Binding requests per source', async () => {
    const srv = await server({ maxRequestsPerSecondPerSource: 2 });
    const c = track(await udpSocket());
    let answers = 0;
    c.on('message', () => answers++);
    for (let i = 0; i < 5; i++) c.send(bindingRequest(), srv.address().port, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 100));
    expect(answers).toBe(2);
    expect(srv.stats.rateLimited).toBe(3);
  });

  it('close() is idempotent and listen() rejects on a port in use', async () => {
    const srv = await server();
    await expect(StunServer.listen({ host: '127.0.0.1', port: srv.address().port })).rejects.toThrow();
    await srv.close();
    await srv.close();
  });
});

describe('stunBinding retransmission and validation (RFC 8489 §6.2.1, §6.3)', () => {
  it('retransmits when the first request is lost', async () => {
    const f = await fake((req, rinfo, reply, n) => {
      if (n > 1) reply(successFor(req, { host: rinfo.address, port: rinfo.port }));
    });
    const res = await stunBinding({ host: '127.0.0.1', port: f.port }, { rto: 50 });
    expect(res.transmissions).toBe(2);
    expect(f.requests).toHaveLength(2);
    expect(f.requests[0]?.transactionId.equals(f.requests[1]?.transactionId ?? Buffer.alloc(0))).toBe(true);
    expect(f.requests[0]?.hasFingerprint).toBe(true);
    expect(res.mapped.host).toBe('127.0.0.1');
  });

  it('ignores a response with another transaction ID or a bad FINGERPRINT', async () => {
    const f = await fake((req, _rinfo, reply) => {
      const wrongId = successFor({ ...req, transactionId: randomBytes(12) }, { host: '10.0.0.1', port: 1 });
      const badFp = successFor(req, { host: '10.0.0.2', port: 2 });
      badFp[badFp.length - 1] = (badFp[badFp.length - 1] as number) ^ 0x55;
      const notBinding = encodeStun({ method: 0x003, cls: StunClass.SuccessResponse, transactionId: req.transactionId });
      reply(wrongId);
      reply(badFp);
      reply(notBinding);
      setTimeout(() => reply(successFor(req, { host: '203.0.113.7', port: 4242 })), 30);
    });
    const res = await stunBinding({ host: '127.0.0.1', port: f.port }, { rto: 1000 });
    expect(res.mapped).toEqual({ family: 'IPv4', host: '203.0.113.7', port: 4242 });
    expect(res.transmissions).toBe(1);
  });

  it('gives up after Rc requests and Rm x RTO', async () => {
    const f = await fake(() => {});
    const t0 = performance.now();
    const err = await stunBinding({ host: '127.0.0.1', port: f.port }, { rto: 20, maxRequests: 3, rm: 4 }).catch((e: unknown) => e);
    const elapsed = performance.now() - t0;
    expect(err).toBeInstanceOf(StunBindingError);
    expect((err as StunBindingError).reason).toBe('timeout');
    expect(f.requests).toHaveLength(3); // at 0, 20, 60 ms; fails at 60 + 4 x 20 = 140 ms
    expect(elapsed).toBeGreaterThanOrEqual(130);
    expect(elapsed).toBeLessThan(1000);
  });

  it('is bounded by timeoutMs', async () => {
    const f = await fake(() => {});
    const t0 = performance.now();
    const err = await stunBinding({ host: '127.0.0.1', port: f.port }, { rto: 50, timeoutMs: 300 }).catch((e: unknown) => e);
    const elapsed = performance.now() - t0;
    expect((err as StunBindingError).reason).toBe('timeout');
    expect(elapsed).toBeGreaterThanOrEqual(290);
    expect(elapsed).toBeLessThan(800);
    expect(f.requests.length).toBe(3); // at 0, 50, 150 ms; the next (350) is past the 300 ms bound
  });

  it('never sends more than 7 requests', async () => {
    const f = await fake(() => {});
    await stunBinding({ host: '127.0.0.1', port: f.port }, { rto: 5, maxRequests: 50, rm: 1 }).catch(() => undefined);
    expect(f.requests).toHaveLength(7);
  });

  it('fails with the code of an error response', async () => {
    const f = await fake((req, _rinfo, reply) =>
      reply(
        encodeStun({
          method: StunMethod.Binding,
          cls: StunClass.ErrorResponse,
          transactionId: req.transactionId,
          attributes: [{ kind: 'error-code', type: Attr.ERROR_CODE, code: 300, reason: 'Try Alternate' }],
          fingerprint: true,
        }),
      ),
    );
    const err = await stunBinding({ host: '127.0.0.1', port: f.port }).catch((e: unknown) => e);
    expect(err).toMatchObject({ reason: 'error-response', errorCode: 300 });
  });

  it('fails on a success response with unknown comprehension-required attributes or no address', async () => {
    const f = await fake((req, rinfo, reply, n) =>
      reply(
        n === 1
          ? successFor(req, { host: rinfo.address, port: rinfo.port }, [{ kind: 'raw', type: 0x7fff, value: Buffer.alloc(4) }])
          : encodeStun({ method: StunMethod.Binding, cls: StunClass.SuccessResponse, transactionId: req.transactionId }),
      ),
    );
    await expect(stunBinding({ host: '127.0.0.1', port: f.port })).rejects.toMatchObject({ reason: 'bad-response' });
    await expect(stunBinding({ host: '127.0.0.1', port: f.port })).rejects.toMatchObject({ reason: 'bad-response' });
  });

  it('can require FINGERPRINT', async () => {
    const f = await fake((req, rinfo, reply) =>
      reply(
        encodeStun({
          method: StunMethod.Binding,
          cls: StunClass.SuccessResponse,
          transactionId: req.transactionId,
          attributes: [{ kind: 'address', type: Attr.XOR_MAPPED_ADDRESS, address: { family: 'IPv4', host: rinfo.address, port: rinfo.port } }],
        }),
      ),
    );
    expect((await stunBinding({ host: '127.0.0.1', port: f.port })).mapped.host).toBe('127.0.0.1');
    await expect(stunBinding({ host: '127.0.0.1', port: f.port }, { requireFingerprint: true, timeoutMs: 150 })).rejects.toMatchObject({ reason: 'timeout' });
  });

  it('can be aborted and leaves a shared socket clean', async () => {
    const f = await fake(() => {});
    const shared = track(await udpSocket());
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 30);
    await expect(stunBinding({ host: '127.0.0.1', port: f.port }, { socket: shared, signal: ac.signal })).rejects.toMatchObject({ reason: 'aborted' });
    expect(shared.listenerCount('message')).toBe(0);
  });

  it('reports a bind failure', async () => {
    const taken = track(await udpSocket());
    await expect(stunBinding({ host: '127.0.0.1', port: 9 }, { localHost: '127.0.0.1', localPort: port(taken), timeoutMs: 100 })).rejects.toMatchObject({
      reason: 'socket-error',
    });
  });

  it('falls back to MAPPED-ADDRESS', async () => {
    const f = await fake((req, _rinfo, reply) =>
      reply(
        encodeStun({
          method: StunMethod.Binding,
          cls: StunClass.SuccessResponse,
          transactionId: req.transactionId,
          attributes: [{ kind: 'address', type: Attr.MAPPED_ADDRESS, address: { family: 'IPv4', host: '198.51.100.1', port: 5060 } }],
        }),
      ),
    );
    const res = await stunBinding({ host: '127.0.0.1', port: f.port });
    expect(res.mapped).toEqual({ family: 'IPv4', host: '198.51.100.1', port: 5060 });
  });
});
