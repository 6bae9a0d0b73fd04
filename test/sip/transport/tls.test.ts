/**
 * SIP over TLS on real sockets (127.0.0.1): the TLS channel of SipTransport with certificates from
 * the overlay CA code (`kadsip ca`), Ed25519 and P-256 alike.
 *
 * Asserted:
 * - a TLS client (a phone, no certificate) that trusts the CA reaches the node's TLS port; the
 *   request arrives with source protocol `tls`, and the response sent to that source comes back
 *   over the same connection (RFC 3261 18.2.2);
 * - two transports with mutual TLS: A's request reaches B over TLS, B sees A's certificate as
 *   verified (`isVerifiedTls`), B's response passes A's sent-by check (the TLS port is A's) and
 *   arrives; a phone without a certificate still connects but is not verified;
 * - a transport whose certificate comes from another CA cannot send to B (its handshake fails:
 *   B's certificate does not chain to its CA), and when it trusts B's CA but shows its own foreign
 *   certificate, B takes the connection yet does not count it verified;
 * - TLS is its own port, and UDP/TCP keep theirs.
 */
import net from 'node:net';
import tls from 'node:tls';
import { describe, expect, it } from 'vitest';
import { createResponse, parseMessage, serializeMessage, StreamFramer } from '../../../src/sip/message/index.js';
import type { SipTransport } from '../../../src/sip/transport/index.js';
import type { TlsMaterial } from '../../../src/sip/transport/tls.js';
import { createCa, issueCertificate } from '../../../src/trust/ca.js';
import type { KeyAlgorithm } from '../../../src/trust/keys.js';
import { derToPem } from '../../../src/trust/x509.js';
import { closedAfterEach, HOST, nextMessage, options } from './helpers.js';

const { track, transport } = closedAfterEach();

interface Pki {
  caPem: string;
  issue(): Promise<{ cert: string; key: string }>;
}

async function pki(algorithm: KeyAlgorithm): Promise<Pki> {
  const ca = await createCa({ algorithm });
  return {
    caPem: derToPem('CERTIFICATE', ca.certDer),
    async issue() {
      const issued = await issueCertificate(ca);
      return { cert: derToPem('CERTIFICATE', issued.der), key: issued.key.export({ format: 'pem', type: 'pkcs8' }).toString() };
    },
  };
}

async function tlsTransport(material: TlsMaterial): Promise<SipTransport> {
  return transport({ protocols: ['udp', 'tcp', 'tls'], tls: { port: 0, material } });
}

/** A raw TLS client that collects the SIP messages it receives. */
function rawClient(port: number, opts: tls.ConnectionOptions): Promise<{ socket: tls.TLSSocket; next(): Promise<string> }> {
  return new Promise((resolve, reject) => {
    const framer = new StreamFramer({ maxMessageSize: 65536 });
    const got: string[] = [];
    const waiters: Array<(m: string) => void> = [];
    const socket = tls.connect({ host: HOST, port, ...opts }, () => resolve({ socket, next }));
    track({ close: async () => void socket.destroy() });
    socket.on('error', reject);
    socket.on('data', (chunk: Buffer) => {
      for (const item of framer.push(chunk)) {
        if (item.kind !== 'message') continue;
        const w = waiters.shift();
        if (w) w(item.raw.toString());
        else got.push(item.raw.toString());
      }
    });
    function next(): Promise<string> {
      const m = got.shift();
      if (m !== undefined) return Promise.resolve(m);
      return new Promise((res, rej) => {
        const timer = setTimeout(() => rej(new Error('no message over TLS')), 5000);
        waiters.push((x) => {
          clearTimeout(timer);
          res(x);
        });
      });
    }
  });
}

describe.each(['ed25519', 'p256'] as const)('SIP over TLS with %s certificates', (algorithm) => {
  it('a phone without a certificate is answered over its own TLS connection', async () => {
    const p = await pki(algorithm);
    const node = await tlsTransport({ ...(await p.issue()), ca: p.caPem, requestClientCert: true });
    const tlsPort = node.local('tls').port;
    expect(tlsPort).not.toBe(node.local('udp').port);
    const phone = await rawClient(tlsPort, { ca: p.caPem, checkServerIdentity: () => undefined });
    expect(phone.socket.authorized).toBe(true);
    const arrived = nextMessage(node, (m) => m.message.kind === 'request');
    const { port: phonePort } = phone.socket.address() as net.AddressInfo;
    phone.socket.write(serializeMessage(options(`SIP/2.0/TLS ${HOST}:${phonePort};branch=z9hG4bKtls1;rport`, 'tls-phone')));
    const inbound = await arrived;
    expect(inbound.source.protocol).toBe('tls');
    expect(inbound.source.port).toBe(phonePort);
    expect(node.hasFlow(inbound.source)).toBe(true);
    // A phone shows no certificate: the connection carries SIP but is not a verified peer.
    expect(node.isVerifiedTls(inbound.source)).toBe(false);
    if (inbound.message.kind !== 'request') throw new Error('not a request');
    node.send(createResponse(inbound.message, 200), inbound.source);
    const answer = parseMessage(Buffer.from(await phone.next()));
    expect(answer.ok && answer.message.kind === 'response' && answer.message.status).toBe(200);
    expect(node.stats.tlsConnections).toBe(1);
  });

  it('mutual TLS between two transports: the client certificate is verified, the response comes back', async () => {
    const p = await pki(algorithm);
    const a = await tlsTransport({ ...(await p.issue()), ca: p.caPem, requestClientCert: true });
    const b = await tlsTransport({ ...(await p.issue()), ca: p.caPem, requestClientCert: true });
    const bTls = { protocol: 'tls' as const, host: HOST, port: b.local('tls').port };
    const arrived = nextMessage(b, (m) => m.message.kind === 'request');
    a.send(options(`SIP/2.0/TLS ${HOST}:${a.local('tls').port};branch=z9hG4bKtls2`, 'tls-peer'), bTls);
    const inbound = await arrived;
    expect(inbound.source.protocol).toBe('tls');
    expect(b.isVerifiedTls(inbound.source)).toBe(true);
    if (inbound.message.kind !== 'request') throw new Error('not a request');
    const answered = nextMessage(a, (m) => m.message.kind === 'response');
    b.send(createResponse(inbound.message, 200), inbound.source);
    const response = await answered;
    expect(response.message.kind === 'response' && response.message.status).toBe(200);
    // Over the connection A opened: no second connection.
    expect(a.stats.tlsConnections).toBe(1);
    expect(b.stats.tlsConnections).toBe(1);
  });

  it('a peer with a certificate of another CA is refused', async () => {
    const p = await pki(algorithm);
    const foreign = await pki(algorithm);
    const b = await tlsTransport({ ...(await p.issue()), ca: p.caPem, requestClientCert: true });
    const bTls = { protocol: 'tls' as const, host: HOST, port: b.local('tls').port };
    // It trusts its own CA only: B's certificate does not verify, the handshake fails, nothing arrives.
    const stranger = await tlsTransport({ ...(await foreign.issue()), ca: foreign.caPem, requestClientCert: true });
    const failed = new Promise<Error>((resolve) => stranger.send(options(`SIP/2.0/TLS ${HOST}:${stranger.local('tls').port};branch=z9hG4bKtls3`), bTls, resolve));
    expect((await failed).message).toMatch(/certificate|self.signed|verify/i);
    // It trusts B's CA but shows its foreign certificate: B takes the connection, never as a verified peer.
    const cheat = await tlsTransport({ ...(await foreign.issue()), ca: p.caPem, requestClientCert: true });
    const arrived = nextMessage(b, (m) => m.message.kind === 'request');
    cheat.send(options(`SIP/2.0/TLS ${HOST}:${cheat.local('tls').port};branch=z9hG4bKtls4`), bTls);
    const inbound = await arrived;
    expect(inbound.source.protocol).toBe('tls');
    expect(b.isVerifiedTls(inbound.source)).toBe(false);
  });
});

describe('TLS listen options', () => {
  it('tls without a certificate is refused at listen', async () => {
    await expect(transport({ protocols: ['udp', 'tls'] })).rejects.toThrow(/certificate/);
  });
});
