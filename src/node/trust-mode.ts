/**
 * Which of PROTOCOL.md section 11's three modes a node runs, from its trust settings: closed (a
 * CA, the node's certificate and key: peers authenticate, src/trust/peer-auth.ts), secret (an
 * overlay secret file: Peer-IDs `hmac-sha1`, bindings MACed) or open (neither: anyone may join and
 * store; the node says so once at start). The files are read here, before any socket opens, so a
 * bad file stops start-up with a message naming it.
 */
import type { Logger } from '../common/logger.js';
import type { PeerIdScheme } from '../dsip/trust-headers.js';
import type { Contact } from '../overlay/contact.js';
import { peerIdFromAddress } from '../overlay/peer-id.js';
import { hostPort } from '../common/host-port.js';
import { SILENT_LOGGER } from '../common/logger.js';
import type { SipRequest } from '../sip/message/index.js';
import { CertificateCache } from '../trust/certificate-cache.js';
import { loadTrustMaterial, TrustMaterialError, type TrustMaterial } from '../trust/material.js';
import { hmacPeerIds, loadOverlaySecret, OverlaySecretError } from '../trust/overlay-secret.js';
import { newPeerAuthStats, PeerAuth, type PeerAuthStats } from '../trust/peer-auth.js';
import { DEFAULT_CONFIG, type NodeConfig } from './config.js';

export type TrustMode =
  | { readonly mode: 'open' }
  | { readonly mode: 'secret'; readonly secret: Buffer; readonly peerIds: PeerIdScheme }
  | { readonly mode: 'closed'; readonly material: TrustMaterial; readonly cache: CertificateCache; readonly stats: PeerAuthStats };

/** A trust file that cannot be used (the message names the file and what is wrong). */
export class TrustSetupError extends Error {}

/**
 * Reads the trust files the config names. A closed overlay takes its name from the CA certificate
 * when the CA names one: the node's `overlay` must then be that name or the default. Returns the
 * mode and the overlay name to run with. Throws TrustSetupError.
 */
export function loadTrustMode(config: NodeConfig, now: number = Date.now()): { trust: TrustMode; overlay: string } {
  const t = config.trust;
  if (t.caCert !== undefined && t.cert !== undefined && t.key !== undefined) {
    let material: TrustMaterial;
    try {
      material = loadTrustMaterial({ caCert: t.caCert, cert: t.cert, key: t.key, ...(t.crl !== undefined ? { crl: t.crl } : {}) }, now);
    } catch (e) {
      if (e instanceof TrustMaterialError) throw new TrustSetupError(e.message);
      throw e;
    }
    const named = material.anchor.overlay;
    let overlay = config.overlay;
    if (named !== undefined && named.toLowerCase() !== config.overlay.toLowerCase()) {
      if (config.overlay !== DEFAULT_CONFIG.overlay) {
        throw new TrustSetupError(`${t.caCert}: the CA is the CA of overlay "${named}", but the node is configured for overlay "${config.overlay}"`);
      }
      overlay = named;
    }
    return { trust: { mode: 'closed', material, cache: new CertificateCache({ anchor: material.anchor }), stats: newPeerAuthStats() }, overlay };
  }
  if (t.overlaySecretFile !== undefined) {
    try {
      const secret = loadOverlaySecret(t.overlaySecretFile);
      return { trust: { mode: 'secret', secret, peerIds: hmacPeerIds(secret) }, overlay: config.overlay };
    } catch (e) {
      if (e instanceof OverlaySecretError) throw new TrustSetupError(e.message);
      throw e;
    }
  }
  return { trust: { mode: 'open' }, overlay: config.overlay };
}

/** What the overlay link of a core with this Peer-ID needs: the guard (closed) or the Peer-ID scheme (secret). */
export function linkTrust(trust: TrustMode, self: Contact, overlay: string, log: Logger): { guard?: PeerAuth; peerIds?: PeerIdScheme } {
  switch (trust.mode) {
    case 'open':
      return {};
    case 'secret':
      return { peerIds: trust.peerIds };
    case 'closed':
      return { guard: new PeerAuth({ cache: trust.cache, own: trust.material.own, key: trust.material.key, overlay, self, log, stats: trust.stats }) };
  }
}

/** What a one-shot client brings (`kadsip lookup`): a certificate of the CA, or the overlay secret. */
export type ClientTrust = { readonly material: TrustMaterial } | { readonly secret: Buffer };

/** A client's trust as a mode (a closed one with a certificate cache of its own). */
export function clientMode(trust: ClientTrust | undefined): TrustMode {
  if (trust === undefined) return { mode: 'open' };
  if ('secret' in trust) return { mode: 'secret', secret: trust.secret, peerIds: hmacPeerIds(trust.secret) };
  return { mode: 'closed', material: trust.material, cache: new CertificateCache({ anchor: trust.material.anchor }), stats: newPeerAuthStats() };
}

/**
 * What a first-contact PING (src/p2psip/first-contact.ts) from `local` needs in this mode: the
 * Peer-ID scheme (secret), or the certificate and proof a closed overlay asks of a newcomer, over
 * `overlay` (the name the receiver checks the proof with).
 */
export function firstContactTrust(trust: TrustMode, local: { host: string; port: number }, overlay: string): { peerIds?: PeerIdScheme; decorate?: (request: SipRequest) => void } {
  if (trust.mode === 'secret') return { peerIds: trust.peerIds };
  if (trust.mode === 'open') return {};
  const self = { id: peerIdFromAddress(local.host, local.port), address: hostPort(local.host, local.port) };
  const guard = linkTrust(trust, self, overlay, SILENT_LOGGER).guard!;
  return { decorate: (request) => guard.proveRequest(request) };
}

/** /status `trust`: the mode, and in a closed overlay who this node is and how many peers proved themselves. */
export function trustStatus(trust: TrustMode): object {
  switch (trust.mode) {
    case 'open':
      return { mode: 'open' };
    case 'secret':
      return { mode: 'secret', algorithm: trust.peerIds.algorithm };
    case 'closed': {
      const own = trust.material.own;
      return {
        mode: 'closed',
        ca: trust.material.anchor.caFingerprint,
        certificate: own.fingerprint,
        name: own.name,
        domains: own.domains,
        ...(own.addresses.length > 0 ? { addresses: own.addresses } : {}),
        notAfter: new Date(own.notAfter).toISOString(),
        authenticatedPeers: trust.cache.peerCount,
        certificates: trust.cache.certificateCount,
        refused: { ...trust.stats.refused },
        answersRefused: trust.stats.answersRefused,
        proofsSent: trust.stats.proofsSent,
        proofsAccepted: trust.stats.proofsAccepted,
      };
    }
  }
}
