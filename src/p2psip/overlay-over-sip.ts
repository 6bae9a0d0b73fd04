/**
 * The overlay core's transport over SIP: each RPC becomes a REGISTER or OPTIONS client
 * transaction (src/dsip encodes it), and each peer request arriving at the node is decoded,
 * handed to the core, and answered in the same server transaction. Retransmissions and timeouts
 * are the transaction layer's (Timer E/F); the core keeps its own shorter deadline on top.
 */
import { hostPort } from '../common/host-port.js';
import type { Logger } from '../common/logger.js';
import { decodeRequest, decodeResponse, encodeRejection, encodeRequest, encodeResponse, offerOf, splitAddress } from '../dsip/index.js';
import type { Contact, PeerAddress } from '../overlay/contact.js';
import type { RequestEnvelope, RpcResult } from '../overlay/messages.js';
import type { OverlayTransport, RequestHandler } from '../overlay/transport.js';
import { getCallId, getTopVia, type SipRequest } from '../sip/message/index.js';
import type { ServerTransaction, TransactionLayer } from '../sip/transaction/index.js';
import type { Protocol } from '../sip/transport/index.js';

export interface OverlayOverSipOptions {
  transactions: TransactionLayer;
  overlay: string;
  self: Contact;
  /** Transport for peer RPCs (UDP unless the node only speaks TCP). */
  protocol: Protocol;
  log: Logger;
  /** Accept `overlay=*` from newcomers (every peer may be somebody's bootstrap). */
  acceptAnyOverlay?: boolean;
}

export class OverlayOverSip implements OverlayTransport {
  private readonly options: OverlayOverSipOptions;
  private cseq = 1;

  constructor(options: OverlayOverSipOptions) {
    this.options = options;
  }

  sendRequest(to: PeerAddress, envelope: RequestEnvelope, onResult: (result: RpcResult) => void): void {
    const { transactions, overlay, self, protocol } = this.options;
    const target = splitAddress(to.address);
    if (!target) {
      onResult({ ok: false, reason: 'unreachable', detail: `not an IP:PORT address: ${to.address}` });
      return;
    }
    let request: SipRequest;
    try {
      request = encodeRequest(envelope, {
        overlay,
        self,
        to,
        firstContact: to.id === undefined,
        cseq: this.cseq++,
        ...(envelope.role === 'client' ? { role: 'client' as const } : {}),
        // The core's current self: its load figure changes (DHT-PeerID load=).
        ...offerOf(envelope.from.id === self.id ? envelope.from : self),
      });
    } catch (e) {
      onResult({ ok: false, reason: 'rejected', detail: (e as Error).message });
      return;
    }
    let settled = false;
    const settle = (result: RpcResult): void => {
      if (settled) return;
      settled = true;
      onResult(result);
    };
    transactions.sendRequest(request, { protocol, host: target.host, port: target.port }, {
      onResponse: (response) => {
        if (response.status < 200) return;
        settle(decodeResponse(response, envelope.request, target, { overlay }));
      },
      onTimeout: () => settle({ ok: false, reason: 'timeout' }),
      onTransportError: (error) => settle({ ok: false, reason: 'unreachable', detail: error.message }),
    });
  }

  /**
   * Serves one peer request in its server transaction. The sender's Peer-ID is checked against the
   * IP address the request really came from and the port it listens on: the source port over UDP
   * (a NATed peer's reflexive port), the Via sent-by port over TCP (the source port of a TCP
   * connection is ephemeral).
   */
  serve(request: SipRequest, txn: ServerTransaction, core: RequestHandler): void {
    const { overlay, self, log } = this.options;
    const source = { host: txn.source.host, port: listeningPortOf(request, txn) };
    const decoded = decodeRequest(request, source, { overlay, self, acceptAnyOverlay: this.options.acceptAnyOverlay ?? true });
    if (!decoded.ok) {
      log.info({ callId: safeCallId(request), status: decoded.status, reason: decoded.reason, from: hostPort(txn.source.host, txn.source.port) }, 'peer request refused');
      // With stun=: a NATed newcomer whose Peer-ID cannot match yet learns where to ask (draft-jiang).
      txn.respond(encodeRejection(request, decoded, { overlay, self, ...offerOf(core.self ?? self) }));
      return;
    }
    core.handleRequest(decoded.envelope, (response) => {
      txn.respond(encodeResponse(request, response, { overlay, self, protocol: txn.source.protocol, ...offerOf(core.self ?? self) }));
    });
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
