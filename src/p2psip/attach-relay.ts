/**
 * A client behind a symmetric NAT (PROTOCOL.md section 10) makes its phones reachable through
 * the peer it attached to: for every AoR its phones registered, it REGISTERs that AoR at the
 * attach peer as an RFC 5626 outbound UA would, with the Contact `<AoR;ob>` over the one flow
 * the NAT keeps open towards that peer. The attach peer's registrar keeps the binding, publishes
 * the AoR in the overlay under its own address (PROTOCOL.md section 4), and sends requests for
 * it back over the flow (`;ob`: src/registrar/flow.ts), with the Request-URI `<AoR;ob>`, which
 * this node resolves in its own registrar like any request for an overlay AoR. The attach peer
 * pings the flow (src/p2psip/flow-keepalive.ts), and the refreshes here keep it too.
 *
 * One Call-ID per AoR and a rising CSeq (RFC 3261 section 10.2.4); refreshed every refreshMs
 * with Expires expiresS; Expires: 0 when the AoR's last phone goes (10.2.2).
 */
import { hostPort } from '../common/host-port.js';
import type { Logger } from '../common/logger.js';
import type { Registrar } from '../registrar/index.js';
import { createRequest, parseUri, randomCallId, serializeUri, type SipRequest } from '../sip/message/index.js';
import type { TransactionLayer } from '../sip/transaction/index.js';
import type { Endpoint } from '../sip/transport/index.js';

export interface AttachRelayOptions {
  transactions: TransactionLayer;
  /** The attach peer's SIP address (UDP). */
  peer: Endpoint;
  registrar: Registrar;
  now: () => number;
  log: Logger;
  /** Expires asked of the attach peer. Default 300 s. */
  expiresS?: number;
  /** Re-REGISTER period. Default 120 s. */
  refreshMs?: number;
}

export class AttachRelay {
  private readonly registered = new Map<string, { callId: string; cseq: number }>();
  private readonly timer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly options: AttachRelayOptions) {
    this.timer = setInterval(() => {
      for (const aor of this.registered.keys()) this.send(aor, this.options.expiresS ?? 300);
    }, options.refreshMs ?? 120_000);
    this.timer.unref();
  }

  /** The AoR's bindings here changed: register it at the attach peer, or unregister it. */
  sync(aor: string): void {
    if (this.closed) return;
    const reachable = this.options.registrar.lookup(aor, this.options.now()).length > 0;
    if (reachable && !this.registered.has(aor)) {
      this.registered.set(aor, { callId: randomCallId(), cseq: 0 });
      this.send(aor, this.options.expiresS ?? 300);
    } else if (!reachable && this.registered.has(aor)) {
      this.send(aor, 0);
      this.registered.delete(aor);
    }
  }

  get peer(): Endpoint {
    return this.options.peer;
  }

  /** The AoRs registered at the attach peer now. */
  aors(): string[] {
    return [...this.registered.keys()];
  }

  close(): void {
    this.closed = true;
    clearInterval(this.timer);
  }

  private send(aor: string, expiresS: number): void {
    const state = this.registered.get(aor);
    const uri = parseUri(aor);
    if (!state || !uri.ok || uri.value.kind !== 'sip') return;
    state.cseq++;
    let request: SipRequest;
    try {
      request = createRequest({
        method: 'REGISTER',
        uri: `sip:${uri.value.host}`,
        from: `<${aor}>`,
        to: `<${aor}>`,
        callId: state.callId,
        cseq: state.cseq,
        headers: [
          ['Contact', `<${serializeUri(uri.value)};ob>`],
          ['Expires', String(expiresS)],
          ['Supported', 'outbound'],
        ],
      });
    } catch (e) {
      this.options.log.warn({ aor, err: (e as Error).message }, 'cannot build the REGISTER for the attach peer');
      return;
    }
    const peer = this.options.peer;
    const where = hostPort(peer.host, peer.port);
    this.options.transactions.sendRequest(request, peer, {
      onResponse: (response) => {
        if (response.status < 200) return;
        if (response.status < 300) this.options.log.info({ aor, attachPeer: where, expires: expiresS }, expiresS > 0 ? 'registered at the attach peer' : 'unregistered at the attach peer');
        else this.options.log.warn({ aor, attachPeer: where, status: response.status }, 'attach peer refused the REGISTER');
      },
      onTimeout: () => this.options.log.warn({ aor, attachPeer: where }, 'attach peer did not answer the REGISTER'),
      onTransportError: (error) => this.options.log.warn({ aor, attachPeer: where, err: error.message }, 'REGISTER to the attach peer not sent'),
    });
  }
}
