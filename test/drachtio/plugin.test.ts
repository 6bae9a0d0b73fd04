/**
 * The drachtio-srf plugin over real kadsip nodes on loopback: the plugin's overlay peer and a
 * native node form one overlay; drachtio-srf's req/res are fakes shaped like lib/request.js and
 * lib/response.js (the real drachtio-server is in test/live/drachtio.test.ts).
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNode, type KadsipNodeHandle } from '../../src/index.js';
import { kadsipOverlay, type KadsipOverlay, type SrfProxyOptions, type SrfRequest } from '../../src/drachtio/index.js';
import { computeHa1, digestResponse } from '../../src/registrar/index.js';

const SIP_ADDRESS = '127.0.0.1:5090';

interface Sent {
  status: number;
  reason: string | undefined;
  headers: Record<string, string>;
}

/** A fake of drachtio-srf's req/res pair: records what the middleware sends or proxies. */
function exchange(method: string, uri: string, raw?: string, headers: Record<string, string> = {}) {
  const sent: Sent[] = [];
  const proxied: SrfProxyOptions[] = [];
  let settle: () => void = () => undefined;
  const done = new Promise<void>((resolve) => (settle = resolve));
  let nextCalled = false;
  const req: SrfRequest = {
    method,
    uri,
    source_address: '127.0.0.1',
    source_port: 40000,
    protocol: 'udp',
    msg: raw === undefined ? {} : { raw },
    get: (name) => headers[name.toLowerCase()],
    proxy: (opts) => {
      proxied.push(opts);
      settle();
      return Promise.resolve({ connected: true, finalStatus: 200 });
    },
  };
  const res = {
    send: (status: number, reason?: string, opts?: { headers?: Record<string, string> }) => {
      sent.push({ status, reason, headers: opts?.headers ?? {} });
      settle();
    },
  };
  const next = () => {
    nextCalled = true;
    settle();
  };
  return { req, res, next, sent, proxied, done, nextCalled: () => nextCalled };
}

function register(user: string, opts: { expires?: number; authorization?: string; cseq?: number } = {}): string {
  return [
    `REGISTER sip:example.com SIP/2.0`,
    `Via: SIP/2.0/UDP 127.0.0.1:40000;branch=z9hG4bK-${user}-${opts.cseq ?? 1}`,
    `Max-Forwards: 70`,
    `From: <sip:${user}@example.com>;tag=t-${user}`,
    `To: <sip:${user}@example.com>`,
    `Call-ID: reg-${user}@test`,
    `CSeq: ${opts.cseq ?? 1} REGISTER`,
    `Contact: <sip:${user}@127.0.0.1:40000>`,
    `Expires: ${opts.expires ?? 600}`,
    ...(opts.authorization ? [`Authorization: ${opts.authorization}`] : []),
    `Content-Length: 0`,
    ``,
    ``,
  ].join('\r\n');
}

describe('kadsip/drachtio middleware', () => {
  let native: KadsipNodeHandle;
  let kad: KadsipOverlay;

  beforeAll(async () => {
    native = await startNode({ listen: '127.0.0.1:0', domain: 'example.com', transports: 'udp' });
    kad = await kadsipOverlay({ listen: '127.0.0.1:0', sipAddress: SIP_ADDRESS, domains: ['example.com'], bootstrap: [native.address] });
  });
  afterAll(async () => {
    await kad?.close();
    await native?.stop();
  });

  it('REGISTER stores the binding and publishes the AoR naming drachtio-server: a native node locates it there', async () => {
    const x = exchange('REGISTER', 'sip:example.com', register('alice'));
    kad.register(x.req, x.res, x.next);
    await x.done;
    expect(x.sent[0]?.status).toBe(200);
    expect(x.sent[0]?.headers.Contact).toContain('sip:alice@127.0.0.1:40000');
    expect(kad.registeredAors()).toEqual(['sip:alice@example.com']);
    // Publication is asynchronous: the native node finds the record within a bounded wait.
    let located;
    for (let i = 0; i < 50; i++) {
      located = await native.locate('sip:alice@example.com');
      if (located.found) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(located).toEqual({ found: true, targets: [{ uri: 'sip:alice@example.com', addresses: [{ transport: 'udp', host: '127.0.0.1', port: 5090 }] }] });
  });

  it('a request for a phone registered through the plugin goes to its Contact, with Record-Route', async () => {
    const x = exchange('INVITE', 'sip:alice@example.com');
    kad.invite(x.req, x.res, x.next);
    await x.done;
    expect(x.sent).toEqual([]);
    expect(x.proxied).toEqual([{ destination: ['sip:alice@127.0.0.1:40000;transport=udp'], recordRoute: true }]);
  });

  it('INVITE to an AoR another peer published is proxied to that peer, Request-URI unchanged, with Record-Route', async () => {
    await native.publish('sip:bob@example.com');
    const x = exchange('INVITE', 'sip:bob@example.com');
    kad.invite(x.req, x.res, x.next);
    await x.done;
    expect(x.sent).toEqual([]);
    expect(x.proxied).toEqual([{ destination: [`sip:bob@${native.address};transport=udp`], recordRoute: true }]);
  });

  it('nobody has the user: 404', async () => {
    const x = exchange('MESSAGE', 'sip:nobody@example.com');
    kad.request(x.req, x.res, x.next);
    await x.done;
    expect(x.proxied).toEqual([]);
    expect(x.sent.map((s) => s.status)).toEqual([404]);
  });

  it('another domain goes through RFC 3263 (a numeric host: that address, its port and transport)', async () => {
    const x = exchange('INVITE', 'sip:carol@127.0.0.2:5999');
    kad.invite(x.req, x.res, x.next);
    await x.done;
    expect(x.proxied).toEqual([{ destination: ['sip:carol@127.0.0.2:5999;transport=udp'], recordRoute: true }]);
  });

  it('an in-dialog request is left to the next middleware; a REGISTER to request() reaches the registrar', async () => {
    const x = exchange('BYE', 'sip:alice@127.0.0.1:40000', undefined, { to: '<sip:alice@example.com>;tag=abc' });
    kad.request(x.req, x.res, x.next);
    await x.done;
    expect(x.nextCalled()).toBe(true);
    expect(x.sent).toEqual([]);
    const y = exchange('REGISTER', 'sip:example.com', register('dave'));
    kad.request(y.req, y.res, y.next);
    await y.done;
    expect(y.sent[0]?.status).toBe(200);
  });

  it('a request to the server itself (no user part) is left to the next middleware', async () => {
    const x = exchange('OPTIONS', 'sip:127.0.0.1:5090;transport=udp');
    kad.request(x.req, x.res, x.next);
    await x.done;
    expect(x.nextCalled()).toBe(true);
    expect(x.sent).toEqual([]);
    expect(x.proxied).toEqual([]);
    expect(kad.peerId).toMatch(/^[0-9a-f]{40}$/);
  });

  it('the overlay out of reach: 480 with Retry-After, as the native proxy answers', async () => {
    const lone = await startNode({ listen: '127.0.0.1:0', domain: 'example.com', transports: 'udp' });
    const app = await kadsipOverlay({ listen: '127.0.0.1:0', sipAddress: '127.0.0.1:5091', domains: ['example.com'], bootstrap: [lone.address] });
    try {
      await lone.stop();
      const x = exchange('INVITE', 'sip:erin@example.com');
      app.invite(x.req, x.res, x.next);
      await x.done;
      expect(x.proxied).toEqual([]);
      expect(x.sent).toEqual([{ status: 480, reason: 'Temporarily Unavailable', headers: { 'Retry-After': '5' } }]);
    } finally {
      await app.close();
    }
  }, 20_000);
});

describe('kadsip/drachtio with a users file', () => {
  let dir: string;
  let kad: KadsipOverlay;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'kadsip-drachtio-'));
    await writeFile(join(dir, 'users'), 'alice:secret\n');
    kad = await kadsipOverlay({ listen: '127.0.0.1:0', sipAddress: SIP_ADDRESS, domains: ['example.com'], usersFile: join(dir, 'users'), digestAlgorithms: ['MD5'] });
  });
  afterAll(async () => {
    await kad?.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('challenges a REGISTER without credentials (401, no binding) and accepts the right answer', async () => {
    const x = exchange('REGISTER', 'sip:example.com', register('alice'));
    kad.register(x.req, x.res, x.next);
    await x.done;
    expect(x.sent[0]?.status).toBe(401);
    const challenge = x.sent[0]?.headers['WWW-Authenticate'] ?? '';
    expect(challenge).toMatch(/^Digest realm="example.com"/);
    expect(kad.registeredAors()).toEqual([]);

    const nonce = /nonce="([^"]+)"/.exec(challenge)?.[1] ?? '';
    const opaque = /opaque="([^"]+)"/.exec(challenge)?.[1] ?? '';
    const ha1 = computeHa1('MD5', 'alice', 'example.com', 'secret');
    const response = digestResponse({ algorithm: 'MD5', ha1, nonce, nc: '00000001', cnonce: 'c1', qop: 'auth', method: 'REGISTER', uri: 'sip:example.com' });
    const authorization = `Digest username="alice", realm="example.com", nonce="${nonce}", uri="sip:example.com", response="${response}", algorithm=MD5, qop=auth, nc=00000001, cnonce="c1", opaque="${opaque}"`;
    const y = exchange('REGISTER', 'sip:example.com', register('alice', { authorization, cseq: 2 }));
    kad.register(y.req, y.res, y.next);
    await y.done;
    expect(y.sent[0]?.status).toBe(200);
    expect(kad.registeredAors()).toEqual(['sip:alice@example.com']);
  });

  it('offers one challenge only, the first algorithm (RFC 3261 7.3.1: challenges are never comma-joined)', async () => {
    const app = await kadsipOverlay({ listen: '127.0.0.1:0', sipAddress: SIP_ADDRESS, domains: ['example.com'], usersFile: join(dir, 'users') });
    try {
      const x = exchange('REGISTER', 'sip:example.com', register('alice'));
      app.register(x.req, x.res, x.next);
      await x.done;
      expect(x.sent[0]?.status).toBe(401);
      const challenge = x.sent[0]?.headers['WWW-Authenticate'] ?? '';
      expect(challenge.match(/Digest/g)).toHaveLength(1);
      expect(challenge).toContain('algorithm=SHA-256');
    } finally {
      await app.close();
    }
  });
});
