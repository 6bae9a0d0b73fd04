/**
 * The operator's window: GET /healthz (200 "ok" while the node serves, 503 while it starts or
 * leaves), GET /status (JSON: node ID, overlay, contacts per bucket, records held, counters) and
 * GET /metrics (Prometheus text, from prom-client). Nothing else is served; other paths get 404.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Registry } from 'prom-client';
import type { HostPort } from './config.js';

export interface StatusSource {
  healthy(): boolean;
  status(): unknown;
  metrics?: Registry;
}

export async function startHttpStatus(at: HostPort, source: StatusSource): Promise<{ server: Server; address: HostPort; close(): Promise<void> }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { allow: 'GET, HEAD' }).end();
      return;
    }
    if (path === '/healthz') {
      const ok = source.healthy();
      res.writeHead(ok ? 200 : 503, { 'content-type': 'text/plain' }).end(ok ? 'ok\n' : 'unavailable\n');
      return;
    }
    if (path === '/status') {
      const body = JSON.stringify(source.status(), (_k, v: unknown) => (typeof v === 'bigint' ? v.toString(16).padStart(40, '0') : v), 2);
      res.writeHead(200, { 'content-type': 'application/json' }).end(body + '\n');
      return;
    }
    if (path === '/metrics' && source.metrics) {
      const registry = source.metrics;
      registry.metrics().then(
        (text) => res.writeHead(200, { 'content-type': registry.contentType }).end(text),
        () => res.writeHead(500).end(),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'text/plain' }).end('not found\n');
  });
  // A slow or idle client must not hold a socket forever.
  server.headersTimeout = 10_000;
  server.requestTimeout = 10_000;
  server.keepAliveTimeout = 5_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(at.port, at.host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const bound = server.address() as AddressInfo;
  return {
    server,
    address: { host: bound.address, port: bound.port },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
