/**
 * The contact-routing rule end to end (src/registrar/flow.ts), on a live node with real UDP
 * sockets: a phone that sends its REGISTER from one socket and listens on another port of the same
 * host (RFC 3261 section 10.2: a UA with separate sending and listening sockets, or a third-party
 * registration) is reached at its Contact; a phone whose Contact names another IP than the
 * REGISTER's source (behind NAT) is reached over the flow it registered on.
 */
import { createSocket, type Socket } from 'node:dgram';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/node/config.js';
import { KadsipNode } from '../../src/node/kadsip-node.js';
import { parseMessage, type SipRequest } from '../../src/sip/message/index.js';

let node: KadsipNode;
const sockets: Socket[] = [];

async function udp(): Promise<Socket & { port: number; inbox: SipRequest[] }> {
  const s = createSocket('udp4') as Socket & { port: number; inbox: SipRequest[] };
  s.inbox = [];
  await new Promise<void>((r) => s.bind(0, '127.0.0.1', () => r()));
  s.port = s.address().port;
  s.on('message', (data) => {
    const m = parseMessage(data);
    if (m.ok && m.message.kind === 'request') s.inbox.push(m.message);
  });
  sockets.push(s);
  return s;
}

function send(s: Socket, text: string): void {
  const [host, port] = node.self.address.split(':');
  s.send(Buffer.from(text.replace(/\n/g, '\r\n')), Number(port), host);
}

async function waitFor<T>(probe: () => T | undefined, ms = 3000): Promise<T | undefined> {
  const deadline = Date.now() + ms;
  for (;;) {
    const v = probe();
    if (v !== undefined || Date.now() > deadline) return v;
    await new Promise((r) => setTimeout(r, 20));
  }
}

let seq = 0;
function register(from: Socket & { port: number }, user: string, contact: string): void {
  seq++;
  send(from, `REGISTER sip:127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:${from.port};branch=z9hG4bKreg${seq};rport
Max-Forwards: 70
From: <sip:${user}@127.0.0.1>;tag=r${seq}
To: <sip:${user}@127.0.0.1>
Call-ID: reg-${seq}@contact-routing
CSeq: 1 REGISTER
Contact: <${contact}>
Expires: 300
Content-Length: 0

`);
}

function invite(from: Socket & { port: number }, user: string): string {
  seq++;
  const callId = `call-${seq}@contact-routing`;
  send(from, `INVITE sip:${user}@127.0.0.1 SIP/2.0
Via: SIP/2.0/UDP 127.0.0.1:${from.port};branch=z9hG4bKinv${seq};rport
Max-Forwards: 70
From: <sip:caller@127.0.0.1>;tag=i${seq}
To: <sip:${user}@127.0.0.1>
Call-ID: ${callId}
CSeq: 1 INVITE
Contact: <sip:caller@127.0.0.1:${from.port}>
Content-Length: 0

`);
  return callId;
}

describe('contact routing on a live node', () => {
  beforeAll(async () => {
    node = await KadsipNode.start({ config: resolveConfig({ listen: '127.0.0.1:0', transports: 'udp', overlay: 'contact-routing' }), logger: pino({ level: 'silent' }) });
  });
  afterAll(async () => {
    for (const s of sockets) s.close();
    await node.close();
  });

  it('REGISTER from one port, Contact on another port of the same host: the INVITE goes to the Contact', async () => {
    const [sender, listener, caller] = [await udp(), await udp(), await udp()];
    register(sender, 'dave', `sip:dave@127.0.0.1:${listener.port}`);
    expect(await waitFor(() => node.registrar.lookup('sip:dave@127.0.0.1', performance.now())[0])).toBeDefined();
    const callId = invite(caller, 'dave');
    const got = await waitFor(() => listener.inbox.find((m) => m.method === 'INVITE' && m.headers.get('call-id') === callId));
    expect(got, 'the INVITE reached the Contact').toBeDefined();
    expect(sender.inbox.filter((m) => m.method === 'INVITE')).toEqual([]);
  });

  it('a Contact naming another IP than the source (behind NAT): the INVITE goes back to the REGISTER\'s source', async () => {
    const [natted, caller] = [await udp(), await udp()];
    register(natted, 'erin', 'sip:erin@10.1.2.3:5060');
    expect(await waitFor(() => node.registrar.lookup('sip:erin@127.0.0.1', performance.now())[0])).toBeDefined();
    const callId = invite(caller, 'erin');
    expect(await waitFor(() => natted.inbox.find((m) => m.method === 'INVITE' && m.headers.get('call-id') === callId))).toBeDefined();
  });
});
