import type { Contact, PeerAddress } from './contact.js';
import type { OverlayResponse, RequestEnvelope, RpcResult } from './messages.js';

/**
 * How the core reaches the world. The SIP layer implements it with REGISTER/OPTIONS transactions,
 * the simulator with an in-memory network. `onResult` is called at most once; the core also keeps
 * its own per-RPC timer, so a transport that never answers cannot stall a lookup.
 */
export interface OverlayTransport {
  sendRequest(to: PeerAddress, envelope: RequestEnvelope, onResult: (result: RpcResult) => void): void;
}

/** The core's side: the transport hands every incoming request here and relays the answer. */
export interface RequestHandler {
  handleRequest(envelope: RequestEnvelope, respond: (response: OverlayResponse) => void): void;
  /** Who answers, as it describes itself now (its load figure changes): the answer's DHT-PeerID. */
  readonly self?: Contact;
}
