/**
 * The overlay core's transport over SIP: each RPC becomes a REGISTER or OPTIONS client
 * transaction (src/dsip encodes it), and each peer request arriving at the node is decoded,
 * handed to the core, and answered in the same server transaction. Retransmissions and timeouts
 * are the transaction layer's (Timer E/F); the core keeps its own shorter deadline on top.
 */
import { hostPort } from '../common/host-port.js';
import type { Logger } from '../common/logger.js';
import { decodeRequest, decodeResponse, encodeRejection, encodeRequest, encodeResponse, offerOf, splitAddress, type Accepted, type Rejection } from '../dsip/index.js';
import type { Contact, PeerAddress } from '../overlay/contact.js';
import type { Binding, RequestEnvelope, RpcResult } from '../overlay/messages.js';
import type { OverlayTransport, RequestHandler } from '../overlay/transport.js';
import { getCallId, getTopVia, type SipMessage, type SipRequest, type SipResponse } from '../sip/message/index.js';
import { randomTag } from '../sip/message/response.js';
import { formatWarning } from '../dsip/headers.js';
import { DHT_CERT_HEADER, formatCert, type PeerIdScheme } from '../dsip/trust-headers.js';
import type { ServerTransaction, TransactionLayer } from '../sip/transaction/index.js';
import type { Protocol } from '../sip/transport/index.js';
import { PerSourceRateLimit } from '../sip/transport/bad-input-log.js';

export interface OverlayOverSipOptions {
  transactions: TransactionLayer;
  overlay: string;
  self: Contact;
  /** Transport for peer RPCs (UDP unless the node only speaks TCP). */
  protocol: Protocol;
  log: Logger;
  /** Accept `overlay=*` from newcomers (every peer may be somebody's bootstrap): on PING and JOIN only. */
  acceptAnyOverlay?: boolean;
  /** A closed overlay's peer authentication (src/trust/peer-auth.ts); absent: every peer is heard. */
  guard?: PeerGuard;
  /** How this overlay makes Peer-IDs (PROTOCOL.md 11.3: `hmac-sha1` under the overlay secret); default SHA-1 of the address. */
  peerIds?: PeerIdScheme;
  /**
   * The certificates (DER) of the signers of bindings a message carries, this node's own excepted
   * (src/trust/record-policy.ts signerCertificates): a STORE, a REMOVE or a FIND_VALUE answer
   * carries them as DHT-Cert so the receiver can check the bindings (PROTOCOL.md 11.4).
   */
  signerCertificates?: (bindings: readonly Binding[]) => readonly Uint8Array[];
}

/**
 * Who may reach the core, and whose answers count (PROTOCOL.md 11.2): implemented by
 * src/trust/peer-auth.ts. A refused request never reaches the core; an answer the guard does not
 * verify is a failed RPC, so neither ever puts a peer into the routing table.
 */
export interface PeerGuard {
  /** Adds what the receiver needs to authenticate this node; `force`: it asked (428). Returns whether a proof went in. */
  decorateRequest(request: SipRequest, to: PeerAddress, force: boolean): boolean;
  /** Null to hand the request to the core, else the refusal to answer with. */
  admitRequest(request: SipRequest, accepted: Accepted): Rejection | null;
  /** Adds this node's proof to an answer when the requester needs it. */
  decorateResponse(request: SipRequest, response: SipResponse): void;
  /** The result the core sees for an answer (`proved`: the request carried this node's proof). */
  checkResponse(request: SipRequest, response: SipResponse, to: PeerAddress, result: RpcResult, proved: boolean): RpcResult;
}

/** PROTOCOL.md section 2: `overlay=*` only on first contact with a bootstrap, which is a PING or a JOIN. */
const FIRST_CONTACT_OPS: ReadonlySet<string> = new Set(['PING', 'JOIN']);

export class OverlayOverSip implements OverlayTransport {
  private readonly options: OverlayOverSipOptions;
  private cseq = 1;
  /**
   * "peer request refused" at most once a minute per source address: a peer (or a fuzzer) sending
   * requests the codec refuses gets its answer every time but one log line, not one per request.
   */
  private readonly refusedLog = new PerSourceRateLimit(1024, 60_000);

  constructor(options: OverlayOverSipOptions) {
    this.options = options;
  }

  sendRequest(to: PeerAddress, envelope: RequestEnvelope, onResult: (result: RpcResult) => void): void {
    const { transactions, overlay, self, protocol, guard, peerIds } = this.options;
    const target = splitAddress(to.address);
    if (!target) {
      onResult({ ok: false, reason: 'unreachable', detail: `not an IP:PORT address: ${to.address}` });
      return;
    }
    let settled = false;
    const settle = (result: RpcResult): void => {
      if (settled) return;
      settled = true;
      onResult(result);
    };
    // A retry after 428 is the same request again with a higher CSeq (RFC 3261 8.1.3.5 does so after 401).
    const callId = guard ? `${randomTag()}${randomTag()}` : undefined;
    const attempt = (force: boolean): void => {
      let request: SipRequest;
      try {
        request = encodeRequest(envelope, {
          overlay,
          self,
          to,
          firstContact: to.id === undefined,
          cseq: this.cseq++,
          ...(peerIds ? { peerIds } : {}),
          ...(callId !== undefined ? { callId } : {}),
          ...(envelope.role === 'client' ? { role: 'client' as const } : {}),
          // The core's current self: its load figure changes (DHT-PeerID load=).
          ...offerOf(envelope.from.id === self.id ? envelope.from : self),
        });
      } catch (e) {
        settle({ ok: false, reason: 'rejected', detail: (e as Error).message });
        return;
      }
      const carried = envelope.request.op === 'STORE' ? envelope.request.bindings : envelope.request.op === 'REMOVE' ? envelope.request.removals : [];
      this.appendSignerCertificates(request, carried);
      const proved = guard?.decorateRequest(request, to, force) ?? false;
      transactions.sendRequest(request, { protocol, host: target.host, port: target.port }, {
        onResponse: (response) => {
          if (response.status < 200 || settled) return;
          // 428 to a request without a proof: the receiver does not know us. Once, with the proof.
          if (guard && response.status === 428 && !proved) {
            attempt(true);
            return;
          }
          const result = decodeResponse(response, envelope.request, target, { overlay, ...(peerIds ? { peerIds } : {}) });
          settle(guard ? guard.checkResponse(request, response, to, result, proved) : result);
        },
        onTimeout: () => settle({ ok: false, reason: 'timeout' }),
        onTransportError: (error) => settle({ ok: false, reason: 'unreachable', detail: error.message }),
      });
    };
    attempt(false);
  }

  /**
   * Serves one peer request in its server transaction. The sender's Peer-ID is checked against the
   * IP address the request really came from and the port it listens on: the source port over UDP
   * (a NATed peer's reflexive port), the Via sent-by port over TCP (the source port of a TCP
   * connection is ephemeral).
   */
  serve(request: SipRequest, txn: ServerTransaction, core: RequestHandler): void {
    const { overlay, self, log, peerIds } = this.options;
    const ids = peerIds ? { peerIds } : {};
    const source = { host: txn.source.host, port: listeningPortOf(request, txn) };
    const decoded = decodeRequest(request, source, { overlay, self, acceptAnyOverlay: this.options.acceptAnyOverlay ?? true, ...ids });
    // With stun=: a NATed newcomer whose Peer-ID cannot match yet learns where to ask (draft-jiang).
    const reject = (refusal: Rejection): void => txn.respond(encodeRejection(request, refusal, { overlay, self, ...ids, ...offerOf(core.self ?? self) }));
    if (!decoded.ok) {
      if (this.refusedLog.allow(txn.source.host)) log.info({ callId: safeCallId(request), status: decoded.status, reason: decoded.reason, from: hostPort(txn.source.host, txn.source.port) }, 'peer request refused');
      reject(decoded);
      return;
    }
    const refused = this.refusal(request, decoded, txn.source.host);
    if (refused !== null) {
      reject(refused);
      return;
    }
    const { guard } = this.options;
    core.handleRequest(decoded.envelope, (response) => {
      const res = encodeResponse(request, response, { overlay, self, protocol: txn.source.protocol, ...ids, ...offerOf(core.self ?? self) });
      if (response.kind === 'value') this.appendSignerCertificates(res, response.bindings);
      guard?.decorateResponse(request, res);
      txn.respond(res);
    });
  }

  private appendSignerCertificates(message: SipMessage, bindings: readonly Binding[]): void {
    if (bindings.length === 0 || !this.options.signerCertificates) return;
    for (const der of this.options.signerCertificates(bindings)) message.headers.append(DHT_CERT_HEADER, formatCert(der));
  }

  /** Why a request the codec read must not reach the core: `overlay=*` past first contact, or the guard's refusal. */
  private refusal(request: SipRequest, accepted: Accepted, sourceHost: string): Rejection | null {
    if (accepted.peer.anyOverlay && !FIRST_CONTACT_OPS.has(accepted.envelope.request.op)) {
      const text = `overlay=* only on first contact with a bootstrap (PING or JOIN), not ${accepted.envelope.request.op}`;
      if (this.refusedLog.allow(sourceHost)) this.options.log.info({ callId: safeCallId(request), status: 488, from: accepted.envelope.from.address }, 'peer request refused: overlay=*');
      return { ok: false, status: 488, reason: 'Not Acceptable Here', headers: [['Warning', formatWarning(this.options.self.address, text)]] };
    }
    return this.options.guard?.admitRequest(request, accepted) ?? null;
  }
}

function listeningPortOf(request: SipRequest, txn: ServerTransaction): number {
  if (txn.source.protocol === 'udp') return txn.source.port;
  try {
    return getTopVia(request).port ?? 5060;
  } catch {
    return txn.source.port;
  }
}

function safeCallId(request: SipRequest): string | undefined {
  try {
    return getCallId(request);
  } catch {
    return undefined;
  }
}
