/**
 * A live node (real sockets on 127.0.0.1) under hostile peer traffic: lying DHT-PeerIDs, a wrong
 * overlay, too many Contacts, too many bindings, a missing `Require: dht`, random datagrams and
 * TCP streams. Each gets its precise error or is dropped; afterwards the node still serves, and
 * its store holds exactly what honest requests put there.
 */
import { createSocket, type Socket } from 'node:dgram';
import { connect } from 'node:net';
import fc from 'fast-check';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeRequest } from '../../src/dsip/index.js';
import { resolveConfig } from '../../src/node/config.js';
import { KadsipNode } from '../../src/node/kadsip-node.js';
import { lookupThrough } from '../../src/node/lookup-client.js';
import type { Contact } from '../../src/overlay/contact.js';
import type { OverlayRequest } from '../../src/overlay/messages.js';
import { testAccess } from '../../src/overlay/node.js';
import { peerIdFromAddress, resourceId } from '../../src/overlay/peer-id.js';
import { parseMessage, serializeMessage, type SipResponse } from '../../src/sip/message/index.js';

let node: KadsipNode;
let sock: Socket;
let self: Contact;
const overlay = 'hostile';
let branch = 0;

/** Sends one peer request from our UDP socket and waits for its final response (or null). */
function send(request: OverlayRequest, opts: { as?: Contact; overlay?: string; edit?: (text: string) => string } = {}): Promise<SipResponse | null> {
  const sip = encodeRequest({ from: opts.as ?? self, mode: 'iterative', hops: 0, request }, { overlay: opts.overlay ?? overlay, self: opts.as ?? self, to: { address: node.self.address } });
  const b = `z9hG4bKhostile${branch++}`;
  sip.headers.prepend('Via', `SIP/2.0/UDP ${self.address};branch=${b};rport`);
  let bytes = serializeMessage(sip);
  if (opts.edit) bytes = Buffer.from(opts.edit(bytes.toString('latin1')), 'latin1');
  return sendRaw(bytes, b);
}

function sendRaw(bytes: Buffer, expectBranch?: string, waitMs = 1500): Promise<SipResponse | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => { sock.off('message', onMessage); resolve(null); }, waitMs);
    const onMessage = (msg: Buffer): void => {
      const parsed = parseMessage(msg);
      if (!parsed.ok || parsed.message.kind !== 'response' || parsed.message.status < 200) return;
      if (expectBranch && !(parsed.message.headers.get('via') ?? '').includes(expectBranch)) return;
      clearTimeout(timer);
      sock.off('message', onMessage);
      resolve(parsed.message);
    };
    sock.on('message', onMessage);
    const [host, port] = node.self.address.split(':');
    sock.send(bytes, Number(port), host);
  });
}

const key = resourceId('sip:carol@hostile.example');

describe('a live node under hostile peer traffic', () => {
  beforeAll(async () => {
    node = await KadsipNode.start({ config: resolveConfig({ listen: '127.0.0.1:0', overlay }), logger: pino({ level: 'silent' }) });
    sock = createSocket('udp4');
    await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
    const port = sock.address().port;
    self = { id: peerIdFromAddress('127.0.0.1', port), address: `127.0.0.1:${port}` };
  });
  afterAll(async () => {
    sock.close();
    await node.close();
  });

  it('stores what an honest peer sends', async () => {
    const res = await send({ op: 'STORE', key, bindings: [{ value: 'sip:carol@127.0.0.1:5080', ttlMs: 600_000 }] });
    expect(res?.status).toBe(200);
    expect(node.overlay.heldBindings(key, performance.now()).map((b) => b.value)).toEqual(['sip:carol@127.0.0.1:5080']);
  });

  it('refuses a Peer-ID that does not match the source address with 493, storing nothing', async () => {
    const liar = { id: peerIdFromAddress('192.0.2.1', 5060), address: self.address };
    const res = await send({ op: 'STORE', key: resourceId('sip:liar@hostile.example'), bindings: [{ value: 'sip:evil@192.0.2.1', ttlMs: 600_000 }] }, { as: liar });
    expect(res?.status).toBe(493);
    expect(res?.headers.get('dht-peerid')).toContain(`peer-ID=`);
    expect(node.overlay.holds(resourceId('sip:liar@hostile.example'), performance.now())).toBe(false);
  });

  it('refuses another overlay with 488 and a missing Require: dht with 421', async () => {
    const other = await send({ op: 'STORE', key: resourceId('sip:x@hostile.example'), bindings: [{ value: 'sip:x@1.2.3.4', ttlMs: 1000 }] }, { overlay: 'elsewhere' });
    expect(other?.status).toBe(488);
    const noRequire = await send({ op: 'PING' }, { edit: (t) => t.replace(/^Require: dht\r\n/m, '') });
    expect(noRequire?.status).toBe(421);
    expect(noRequire?.headers.get('require')).toBe('dht');
    expect(node.overlay.holds(resourceId('sip:x@hostile.example'), performance.now())).toBe(false);
  });

  it('refuses hundreds of Contacts with a 400 and more bindings than a record may hold with a 403', async () => {
    const many = Array.from({ length: 300 }, (_, i) => ({ value: `sip:u${i}@127.0.0.1:${6000 + i}`, ttlMs: 600_000 }));
    const flood = await send({ op: 'STORE', key, bindings: many });
    expect(flood?.status).toBe(400);
    const twenty = (name: string) => Array.from({ length: 20 }, (_, i) => ({ value: `sip:${name}${i}@127.0.0.1:5080`, ttlMs: 600_000 }));
    expect((await send({ op: 'STORE', key, bindings: twenty('carol') }))?.status).toBe(200);
    expect((await send({ op: 'STORE', key, bindings: twenty('mallory') }))?.status).toBe(403);
    // The refused STORE changed nothing: the first binding and the first twenty are all there is.
    const held = node.overlay.heldBindings(key, performance.now()).map((b) => b.value);
    expect(held.length).toBe(21);
    expect(held).toContain('sip:carol@127.0.0.1:5080');
    expect(held.some((v) => v.startsWith('sip:mallory'))).toBe(false);
  });

  it('survives random datagrams and TCP garbage, and still serves afterwards', async () => {
    const [host, port] = node.self.address.split(':');
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 1400 }), async (bytes) => {
        sock.send(Buffer.from(bytes), Number(port), host);
      }),
      { numRuns: 300 },
    );
    // A datagram of the largest size UDP carries, and truncated SIP.
    sock.send(Buffer.alloc(65_000, 0x41), Number(port), host);
    sock.send(Buffer.from('REGISTER sip:127.0.0.1 SIP/2.0\r\nVia: SIP/2.0/UDP 1.2.3.4;branch=z9hG4bKx\r\nContent-Length: 500\r\n\r\nshort'), Number(port), host);
    for (let i = 0; i < 20; i++) {
      await new Promise<void>((resolve) => {
        const c = connect(Number(port), host, () => {
          c.write(Buffer.from(fc.sample(fc.uint8Array({ minLength: 1, maxLength: 3000 }), 1)[0]!));
          // Half the connections vanish mid-stream, half are reset.
          if (i % 2 === 0) c.end(); else c.resetAndDestroy();
          resolve();
        });
        c.on('error', () => resolve());
      });
    }
    const ping = await send({ op: 'PING' });
    expect(ping?.status).toBe(200);
    const found = await lookupThrough({ host: host!, port: Number(port) }, { kind: 'value', key }, { overlay, timeoutMs: 5000 });
    expect(found.kind).toBe('answered');
    if (found.kind === 'answered') expect(found.result.bindings.length).toBe(21);
    // Nothing from the garbage became a record.
    expect(node.overlay.heldKeys()).toEqual([key]);
  });
});

describe('graceful leave of a node holding thousands of records', () => {
  it('runs its lookups over the disjointPaths of its settings (default 3)', async () => {
    expect(node.overlay.config.disjointPaths).toBe(3);
    const one = await KadsipNode.start({ config: resolveConfig({ listen: '127.0.0.1:0', overlay: 'onepath', disjointPaths: 1 }), logger: pino({ level: 'silent' }) });
    try {
      expect(one.overlay.config.disjointPaths).toBe(1);
    } finally {
      await one.close();
    }
  });

  it('hands over (alone: nothing to hand to) and closes without overflowing the stack', async () => {
    const lone = await KadsipNode.start({ config: resolveConfig({ listen: '127.0.0.1:0', overlay: 'lone' }), logger: pino({ level: 'silent' }) });
    for (let i = 0; i < 5000; i++) testAccess(lone.overlay).store.put(resourceId(`sip:u${i}@lone.example`), [{ value: `sip:u${i}@127.0.0.1:1`, ttlMs: 600_000 }], performance.now());
    await lone.leave();
    expect(lone.overlay.state).toBe('stopped');
  });
});
