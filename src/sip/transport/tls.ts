/**
 * SIP over TLS (RFC 3261 section 26.2, RFC 5630): the `StreamKind` that makes a TLS server and
 * opens TLS connections; everything else (framing, connection reuse, limits, idleness) is the
 * stream channel of tcp.ts, shared with TCP.
 *
 * Server side: every connection gets the node's certificate. When `requestClientCert` is set (mutual
 * TLS between peers) the server asks each client for a certificate but does not insist on one:
 * phones share port 5061 and seldom have one (RFC 5630 section 3.1.2 has no client certificates
 * for UAs either). Whether the certificate a client showed chains to the configured CA is kept
 * per connection (`verified`) and the layer above decides what needs it (peer requests do, under
 * mutual TLS). Client side: the server's certificate must chain to the configured CA (or, without
 * one, to the system's roots); a peer with a certificate of another CA fails the handshake.
 */
import { isIP } from 'node:net';
import tls from 'node:tls';
import type net from 'node:net';
import type { StreamKind } from './tcp.js';

export interface TlsMaterial {
  /** PEM certificate chain (the node's certificate first). */
  readonly cert: string | Buffer;
  /** PEM private key of the certificate. */
  readonly key: string | Buffer;
  /** PEM CA certificates that verify the other end; none: the system's roots (client side only). */
  readonly ca?: string | Buffer;
  /** Ask clients for a certificate (mutual TLS); a client without one still connects. */
  readonly requestClientCert?: boolean;
}

/** A handshake that has not finished in this long is given up (a slowloris on the TLS port). */
const HANDSHAKE_TIMEOUT_MS = 10_000;

/**
 * The host check of RFC 5922 section 7 for a server named by a domain. A server reached by IP
 * address (an overlay peer, a phone's flow) is identified by the chain alone: overlay certificates
 * (`kadsip ca issue`) name no IP subjectAltName, membership is the CA's word, and which address a
 * certificate may use is checked by peer authentication above (PROTOCOL.md section 11).
 */
function checkServerIdentity(host: string, cert: tls.PeerCertificate): Error | undefined {
  return isIP(host) !== 0 ? undefined : tls.checkServerIdentity(host, cert);
}

export function tlsKind(material: TlsMaterial, onHandshakeError?: (host: string, error: Error) => void): StreamKind {
  const secure = { cert: material.cert, key: material.key, ...(material.ca !== undefined ? { ca: material.ca } : {}), minVersion: 'TLSv1.2' as const };
  // Built once: every connection shares the parsed certificate and key.
  const clientContext = tls.createSecureContext(secure);
  return {
    protocol: 'tls',
    readyEvent: 'secureConnect',
    createServer(onSocket, maxConnections) {
      const server = tls.createServer(
        { ...secure, requestCert: material.requestClientCert === true, rejectUnauthorized: false, handshakeTimeout: HANDSHAKE_TIMEOUT_MS, allowHalfOpen: false },
        onSocket,
      );
      // Sockets still in their handshake count too: half-open handshakes are bounded like connections.
      server.maxConnections = maxConnections;
      server.on('tlsClientError', (error: Error, socket: tls.TLSSocket) => {
        onHandshakeError?.(socket.remoteAddress ?? '?', error);
        socket.destroy();
      });
      return server;
    },
    connect(to, localAddress) {
      return tls.connect({
        host: to.host,
        port: to.port,
        ...(localAddress ? { localAddress } : {}),
        secureContext: clientContext,
        rejectUnauthorized: true,
        // SNI only for names (RFC 6066 section 3: no IP literals).
        ...(isIP(to.host) === 0 ? { servername: to.host } : {}),
        checkServerIdentity,
      });
    },
    verified(socket: net.Socket): boolean {
      return (socket as tls.TLSSocket).authorized === true;
    },
  };
}
