/**
 * The node's TLS from its settings (README "TLS"): the PEM files read once at start (a bad file
 * stops start-up with a line naming it), and the mutual-TLS rule for peer requests.
 *
 * Mutual TLS between peers (`tlsMutual`): a peer request (DHT-PeerID, PROTOCOL.md section 2) is
 * served only when it came over a TLS connection whose far end showed a certificate the TLS CA
 * verified; otherwise 403 with a Warning saying so. Phones share the TLS port and need no
 * certificate: the rule reads only peer requests. A node speaking TLS to its peers shows its own
 * certificate on every connection it opens, and verifies the peer's (src/sip/transport/tls.ts).
 */
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { createResponse, type SipRequest, type SipResponse } from '../sip/message/index.js';
import type { Endpoint } from '../sip/transport/index.js';
import type { TlsMaterial } from '../sip/transport/tls.js';
import type { TlsSettings } from './config.js';

export class TlsSetupError extends Error {}

/** Reads and checks the PEM files (a certificate that does not match its key fails here, not at the first handshake). */
export function loadTlsMaterial(settings: TlsSettings): TlsMaterial {
  const read = (what: string, path: string | undefined): string => {
    if (path === undefined) throw new TlsSetupError(`TLS ${what}: no file given`);
    try {
      return readFileSync(path, 'utf8');
    } catch (e) {
      throw new TlsSetupError(`TLS ${what} ${path}: ${(e as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (e as Error).message}`);
    }
  };
  const material: TlsMaterial = {
    cert: read('certificate', settings.cert),
    key: read('key', settings.key),
    ...(settings.ca !== undefined ? { ca: read('CA', settings.ca) } : {}),
    requestClientCert: settings.mutual,
  };
  try {
    createSecureContext({ cert: material.cert, key: material.key, ...(material.ca !== undefined ? { ca: material.ca } : {}) });
  } catch (e) {
    throw new TlsSetupError(`TLS certificate ${settings.cert} and key ${settings.key} cannot serve: ${(e as Error).message}`);
  }
  return material;
}

const REFUSED_TEXT = 'mutual TLS: peer requests only over TLS with a certificate of the overlay CA';

/**
 * Under mutual TLS, the 403 owed to a peer request that did not come over a verified TLS
 * connection; null when it may be served. `agent` is the Warning's agent (the node's address).
 */
export function unverifiedPeerRefusal(request: SipRequest, source: Endpoint, verified: (from: Endpoint) => boolean, agent: string): SipResponse | null {
  if (verified(source)) return null;
  return createResponse(request, 403, { reason: 'Forbidden', headers: [['Warning', `399 ${agent} "${REFUSED_TEXT}"`]] });
}
