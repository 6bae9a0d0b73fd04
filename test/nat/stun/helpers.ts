/** Test helpers: UDP sockets on 127.0.0.1 and a scriptable fake STUN server. */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { decodeStun, encodeStun, type EncodableAttribute, type StunMessage } from '../../../src/nat/stun/codec.js';
import { Attr, StunClass, StunMethod } from '../../../src/nat/stun/constants.js';

export async function udpSocket(port = 0): Promise<Socket> {
  const s = createSocket('udp4');
  s.bind(port, '127.0.0.1');
  await once(s, 'listening');
  return s;
}

export function closeSocket(s: Socket): Promise<void> {
  return new Promise((resolve) => {
    try {
      s.close(() => resolve());
    } catch {
      resolve();
    }
  });
}

export function port(s: Socket): number {
  return s.address().port;
}

/** Next datagram on `s` (rejects after `ms`). */
export function nextDatagram(s: Socket, ms = 2000): Promise<{ msg: Buffer; rinfo: RemoteInfo }> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      s.off('message', on);
      reject(new Error('no datagram'));
    }, ms);
    const on = (msg: Buffer, rinfo: RemoteInfo): void => {
      clearTimeout(timer);
      s.off('message', on);
      resolve({ msg, rinfo });
    };
    s.on('message', on);
  });
}

/** A Binding success response to `req` claiming `mapped`, from a test server. */
export function successFor(req: StunMessage, mapped: { host: string; port: number }, extra: EncodableAttribute[] = []): Buffer {
  return encodeStun({
    method: StunMethod.Binding,
    cls: StunClass.SuccessResponse,
    transactionId: req.transactionId,
    attributes: [{ kind: 'address', type: Attr.XOR_MAPPED_ADDRESS, address: { family: 'IPv4', ...mapped } }, ...extra],
    fingerprint: true,
  });
}

export type FakeHandler = (req: StunMessage, rinfo: RemoteInfo, reply: (b: Buffer) => void, n: number) => void;

/** A UDP socket that decodes what it gets and lets the test decide what to answer. */
export async function fakeServer(handler: FakeHandler): Promise<{ socket: Socket; port: number; requests: StunMessage[] }> {
  const socket = await udpSocket();
  const requests: StunMessage[] = [];
  socket.on('message', (msg, rinfo) => {
    const r = decodeStun(msg);
    if (!r.ok) return;
    requests.push(r.message);
    handler(r.message, rinfo, (b) => socket.send(b, rinfo.port, rinfo.address), requests.length);
  });
  return { socket, port: port(socket), requests };
}
