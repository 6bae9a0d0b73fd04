/**
 * `npm run bench:tls -- [--requests N] [--concurrency C] [--connections M] [--algorithm ed25519|p256]`:
 * what TLS costs a kadsip transport on loopback, against TCP on the same code path. Two SipTransports
 * (the server answers every OPTIONS 200 at once); the client sends N OPTIONS with C in flight over one
 * connection, then opens M fresh connections one after another (one OPTIONS each: the handshake
 * cost). Certificates come from the `kadsip ca` code. Prints one JSON line:
 *   { tcp_req_per_s, tls_req_per_s, tls_over_tcp_ratio, tcp_connect_ms_p50, tls_connect_ms_p50, tls_connect_ms_p99, ... }
 * Bounded: N <= 200,000, M <= 2,000, 120 s overall.
 */
import { performance } from 'node:perf_hooks';
import { createRequest, createResponse } from '../src/sip/message/index.js';
import { SipTransport, type Endpoint } from '../src/sip/transport/index.js';
import { createCa, issueCertificate } from '../src/trust/ca.js';
import type { KeyAlgorithm } from '../src/trust/keys.js';
import { derToPem } from '../src/trust/x509.js';

function arg(name: string, fallback: number): number {
  const i = process.argv.indexOf(`--${name}`);
  const v = i >= 0 ? Number(process.argv[i + 1]) : fallback;
  if (!Number.isFinite(v) || v <= 0) throw new Error(`--${name}: a positive number`);
  return v;
}
const REQUESTS = Math.min(arg('requests', 20_000), 200_000);
const CONCURRENCY = Math.min(arg('concurrency', 50), 1000);
const CONNECTIONS = Math.min(arg('connections', 200), 2_000);
const ai = process.argv.indexOf('--algorithm');
const ALGORITHM = (ai >= 0 ? process.argv[ai + 1] : 'ed25519') as KeyAlgorithm;
const HOST = '127.0.0.1';
const deadline = Date.now() + 120_000;

async function material() {
  const ca = await createCa({ algorithm: ALGORITHM });
  const issued = await issueCertificate(ca);
  return {
    cert: derToPem('CERTIFICATE', issued.der),
    key: issued.key.export({ format: 'pem', type: 'pkcs8' }).toString(),
    ca: derToPem('CERTIFICATE', ca.certDer),
  };
}

async function pair(): Promise<{ server: SipTransport; client: () => Promise<SipTransport>; closeAll(): Promise<void> }> {
  const m = await material();
  const tls = { port: 0, material: m };
  const server = await SipTransport.listen({ host: HOST, port: 0, protocols: ['tcp', 'tls'], tls, limits: { maxTcpConnections: 4096 } });
  server.onMessage((inbound) => {
    if (inbound.message.kind === 'request') server.send(createResponse(inbound.message, 200), inbound.source);
  });
  const clients: SipTransport[] = [];
  return {
    server,
    client: async () => {
      const c = await SipTransport.listen({ host: HOST, port: 0, protocols: ['tcp', 'tls'], tls });
      clients.push(c);
      return c;
    },
    async closeAll() {
      await Promise.all([server.close(), ...clients.map((c) => c.close())]);
    },
  };
}

/** One OPTIONS and its 200; resolves with the round trip in ms. */
function roundTrip(client: SipTransport, to: Endpoint, n: number, waiting: Map<string, () => void>): Promise<number> {
  const callId = `b${n}-${Math.random().toString(36).slice(2)}`;
  const local = client.local(to.protocol);
  const req = createRequest({ method: 'OPTIONS', uri: `sip:${HOST}`, from: '<sip:bench@example.net>', to: `<sip:${HOST}>`, callId });
  req.headers.prepend('Via', `SIP/2.0/${to.protocol.toUpperCase()} ${HOST}:${local.port};branch=z9hG4bK${callId}`);
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    waiting.set(callId, () => resolve(performance.now() - t0));
    client.send(req, to, reject);
  });
}

function track(client: SipTransport): Map<string, () => void> {
  const waiting = new Map<string, () => void>();
  client.onMessage((inbound) => {
    const id = inbound.message.headers.get('call-id');
    if (id === undefined) return;
    const done = waiting.get(id);
    waiting.delete(id);
    done?.();
  });
  return waiting;
}

async function throughput(protocol: 'tcp' | 'tls'): Promise<number> {
  const p = await pair();
  try {
    const client = await p.client();
    const waiting = track(client);
    const to: Endpoint = { protocol, host: HOST, port: p.server.local(protocol).port };
    await roundTrip(client, to, -1, waiting); // the connection (and handshake) outside the timing
    let next = 0;
    const t0 = performance.now();
    const worker = async () => {
      while (next < REQUESTS && Date.now() < deadline) await roundTrip(client, to, next++, waiting);
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    return (next / (performance.now() - t0)) * 1000;
  } finally {
    await p.closeAll();
  }
}

async function connects(protocol: 'tcp' | 'tls'): Promise<number[]> {
  const p = await pair();
  const times: number[] = [];
  try {
    for (let i = 0; i < CONNECTIONS && Date.now() < deadline; i++) {
      const client = await p.client();
      const waiting = track(client);
      times.push(await roundTrip(client, { protocol, host: HOST, port: p.server.local(protocol).port }, i, waiting));
      await client.close();
    }
  } finally {
    await p.closeAll();
  }
  return times.sort((a, b) => a - b);
}

const q = (xs: number[], f: number): number => Number((xs[Math.min(xs.length - 1, Math.floor(xs.length * f))] ?? NaN).toFixed(2));

// Both paths once before measuring: the first run otherwise pays the JIT's warm-up alone.
await throughput('tcp');
await throughput('tls');
const tcpRate = await throughput('tcp');
const tlsRate = await throughput('tls');
const tcpConn = await connects('tcp');
const tlsConn = await connects('tls');
process.stdout.write(
  `${JSON.stringify({
    bench: 'tls',
    algorithm: ALGORITHM,
    requests: REQUESTS,
    concurrency: CONCURRENCY,
    connections: CONNECTIONS,
    tcp_req_per_s: Math.round(tcpRate),
    tls_req_per_s: Math.round(tlsRate),
    tls_over_tcp_ratio: Number((tlsRate / tcpRate).toFixed(2)),
    tcp_connect_ms_p50: q(tcpConn, 0.5),
    tls_connect_ms_p50: q(tlsConn, 0.5),
    tls_connect_ms_p99: q(tlsConn, 0.99),
  })}\n`,
);
