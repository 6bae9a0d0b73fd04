import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createResponse, type SipResponse } from '../../../src/sip/message/index.js';
import { pino } from 'pino';
import { SipTransport, type Logger } from '../../../src/sip/transport/index.js';
import { closedAfterEach, RawTcp, RawUdp, listen, nextMessage, options, until, viaFor, wire } from './helpers.js';

const { track, transport } = closedAfterEach();
async function rawUdp(): Promise<RawUdp> {
  return track(await RawUdp.open());
}

/** A transport that answers every OPTIONS with 200, like a live node. */
async function responder(extra: Parameters<typeof listen>[0] = {}): Promise<SipTransport> {
  const t = await transport(extra);
  t.onMessage(({ message, source }) => {
    if (message.kind === 'request') t.send(createResponse(message, 200), source);
  });
  return t;
}

async function stillAnswers(t: SipTransport, raw: RawUdp): Promise<void> {
  const before = raw.received.length;
  await raw.send(wire(options(`SIP/2.0/UDP 127.0.0.1:${raw.port};branch=z9hG4bKgood`)), t.local('udp'));
  await until(() => raw.received.slice(before).some((m) => m.kind === 'response' && m.status === 200));
}

const CRLF = '\r\n';

describe('SipTransport: malformed UDP input', () => {
  it('survives random datagrams, answers what it can, and keeps answering good requests', async () => {
    const t = await responder();
    const raw = await rawUdp();
    const to = t.local('udp');
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 1500 }), async (bytes) => {
        await raw.send(Buffer.from(bytes), to);
      }),
      { numRuns: 150 },
    );
    await stillAnswers(t, raw);
    expect(t.stats.udpIn).toBeGreaterThan(150);
  });

  it('answers a truncated request (body shorter than Content-Length) with 400 to the source', async () => {
    const t = await responder();
    const raw = await rawUdp();
    const req = wire(options(`SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKtr`)).toString('latin1').replace('Content-Length: 0', 'Content-Length: 50');
    await raw.send(req, t.local('udp'));
    await raw.waitFor(1);
    const r = raw.received[0] as SipResponse;
    expect(r.status).toBe(400);
    expect(r.headers.get('warning')).toMatch(/^399 127\.0\.0\.1:\d+ /);
    expect(t.stats.parseErrors).toBe(1);
    await stillAnswers(t, raw);
  });

  it('answers a request missing a header with 400, a cut-off header section is dropped or answered', async () => {
    const t = await responder();
    const raw = await rawUdp();
    const text = wire(options(`SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKmc`)).toString('latin1');
    await raw.send(text.replace(/Call-ID: [^\r]*\r\n/, ''), t.local('udp'));
    await raw.waitFor(1);
    // The answer has no Call-ID either (there was none to copy), so read it as text.
    expect(raw.rawReceived[0]!.toString('latin1')).toMatch(/^SIP\/2\.0 400 Missing Call-ID header\r\n/);
    for (let cut = 5; cut < text.length; cut += 37) await raw.send(text.slice(0, cut), t.local('udp'));
    await stillAnswers(t, raw);
    for (const b of raw.rawReceived) expect(b.toString('latin1')).toMatch(/^SIP\/2\.0 (400|200) /);
  });

  it('drops an oversize datagram (513 without a reply context) and answers a huge Content-Length with 413', async () => {
    const t = await responder({ limits: { maxMessageSize: 2000 } });
    const raw = await rawUdp();
    const big = options(`SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKbig`);
    big.headers.append('X-Pad', 'y'.repeat(3000));
    await raw.send(wire(big), t.local('udp'));
    await until(() => t.stats.parseErrors === 1);
    const cl = wire(options(`SIP/2.0/UDP 192.0.2.5:5060;branch=z9hG4bKcl`)).toString('latin1').replace('Content-Length: 0', 'Content-Length: 99999');
    await raw.send(cl, t.local('udp'));
    await raw.waitFor(1);
    expect((raw.received[0] as SipResponse).status).toBe(413);
    await stillAnswers(t, raw);
    expect(raw.received.filter((m) => m.kind === 'response' && m.status !== 200)).toHaveLength(1);
  });

  it('logs bad input once per source per minute through an injected pino-compatible logger', async () => {
    const lines: string[] = [];
    const capture = (level: string) => (_obj: object, msg?: string) => void lines.push(`${level} ${msg ?? ''}`);
    const logger: Logger = { debug: capture('debug'), info: capture('info'), warn: capture('warn') };
    const typed: Logger = pino({ level: 'silent' }); // pino itself fits the interface
    expect(typed).toBeDefined();
    const t = await responder({ logger });
    const raw = await rawUdp();
    for (let i = 0; i < 5; i++) await raw.send('garbage\r\n\r\n', t.local('udp'));
    await until(() => t.stats.parseErrors === 5);
    expect(lines.filter((l) => l === 'info bad SIP input')).toHaveLength(1);
  });

  it('ignores a datagram of CRLFs (keep-alive) and malformed responses without answering', async () => {
    const t = await responder();
    const raw = await rawUdp();
    await raw.send('\r\n\r\n', t.local('udp'));
    await raw.send('SIP/2.0 200 OK\r\nVia: broken\r\n\r\n', t.local('udp'));
    await stillAnswers(t, raw);
    expect(t.stats.parseErrors).toBe(1);
    expect(raw.received).toHaveLength(1);
  });
});

describe('SipTransport: TCP input', () => {
  it('answers a CRLFCRLF ping with a CRLF pong (RFC 5626 3.5.1)', async () => {
    const t = await responder();
    const c = await RawTcp.open(t.local('tcp'));
    c.write('\r\n\r\n');
    expect(await c.waitForData((s) => s.length >= 2)).toBe('\r\n');
    c.write(wire(options(viaFor({ protocol: 'tcp', host: '127.0.0.1', port: 5999 }))));
    await c.waitForData((s) => s.includes('SIP/2.0 200'));
    c.destroy();
  });

  it('a stream message without Content-Length gets 400 and the connection is closed', async () => {
    const t = await responder();
    const c = await RawTcp.open(t.local('tcp'));
    const text = wire(options(`SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKnocl`)).toString('latin1').replace('Content-Length: 0\r\n', '');
    c.write(text);
    await c.closedP;
    expect(c.data.toString('latin1')).toMatch(/^SIP\/2\.0 400 Missing Content-Length\r\n/);
    expect(t.stats.parseErrors).toBe(1);
    await until(() => t.stats.tcpConnections === 0);
  });

  it('a per-message error keeps the stream usable', async () => {
    const t = await responder();
    const c = await RawTcp.open(t.local('tcp'));
    const good = wire(options(`SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKok`)).toString('latin1');
    c.write(good.replace(/Call-ID: [^\r]*\r\n/, '') + good);
    await c.waitForData((s) => s.includes('400 Missing Call-ID') && s.includes('SIP/2.0 200'));
    expect(c.closed).toBe(false);
    c.destroy();
  });

  it('a half-open connection (half a message, then silence) does not block others and is closed after tcpIdleMs', async () => {
    const t = await responder({ limits: { tcpIdleMs: 300 } });
    const stalled = await RawTcp.open(t.local('tcp'));
    stalled.write(wire(options(`SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKhalf`)).subarray(0, 60));
    // Trickling bytes does not count as activity: only whole messages do.
    const trickle = setInterval(() => stalled.write('X'), 50);
    try {
      const other = await RawTcp.open(t.local('tcp'));
      other.write(wire(options(`SIP/2.0/TCP 127.0.0.1:5998;branch=z9hG4bKother`)));
      await other.waitForData((s) => s.includes('SIP/2.0 200'));
      const raw = await rawUdp();
      await stillAnswers(t, raw);
      await stalled.closedP;
      expect(stalled.data.length).toBe(0);
      await other.closedP; // idle too once it stops talking
    } finally {
      clearInterval(trickle);
    }
    await until(() => t.stats.tcpConnections === 0);
  });

  it('enforces the connection limit', async () => {
    const t = await responder({ limits: { maxTcpConnections: 2 } });
    const a = await RawTcp.open(t.local('tcp'));
    const b = await RawTcp.open(t.local('tcp'));
    await until(() => t.stats.tcpConnections === 2);
    const c = await RawTcp.open(t.local('tcp'));
    await c.closedP;
    expect(t.stats.tcpConnections).toBe(2);
    // The admitted ones still work.
    a.write(wire(options(`SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKlim`)));
    await a.waitForData((s) => s.includes('SIP/2.0 200'));
    a.destroy();
    await until(() => t.stats.tcpConnections === 1);
    const d = await RawTcp.open(t.local('tcp'));
    d.write(wire(options(`SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKlim2`)));
    await d.waitForData((s) => s.includes('SIP/2.0 200'));
    b.destroy();
    d.destroy();
  });

  it('a message above the size limit on a stream gets 413/513 and a close', async () => {
    const t = await responder({ limits: { maxMessageSize: 1000 } });
    const c = await RawTcp.open(t.local('tcp'));
    const req = options(`SIP/2.0/TCP 127.0.0.1:5999;branch=z9hG4bKbig`);
    req.body = Buffer.alloc(2000, 0x41);
    c.write(wire(req));
    await c.closedP;
    expect(c.data.toString('latin1')).toMatch(/^SIP\/2\.0 413 /);
  });

  it('abrupt resets and random stream garbage never crash the transport', async () => {
    const t = await responder();
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 1, maxLength: 600 }), fc.boolean(), async (bytes, reset) => {
        const c = await RawTcp.open(t.local('tcp'));
        c.write(Buffer.from(bytes));
        if (reset) c.socket.resetAndDestroy();
        else c.socket.end();
        await c.closedP;
      }),
      { numRuns: 30 },
    );
    const raw = await rawUdp();
    await stillAnswers(t, raw);
    await until(() => t.stats.tcpConnections === 0);
  });
});

describe('SipTransport: replies to bad TCP input go to the connection', () => {
  it('uses the connection the malformed request came on', async () => {
    const t = await transport();
    const c = await RawTcp.open(t.local('tcp'));
    c.write(`OPTIONS sip:x SIP/2.0${CRLF}Via: SIP/2.0/TCP 192.0.2.9;branch=z9hG4bKq${CRLF}Content-Length: 0${CRLF}${CRLF}`);
    await c.waitForData((s) => s.startsWith('SIP/2.0 400'));
    c.destroy();
    const got = nextMessage(t, () => true, 200).catch(() => null);
    expect(await got).toBeNull();
  });
});
