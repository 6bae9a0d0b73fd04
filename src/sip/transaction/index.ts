/** Public API of the SIP transaction layer (RFC 3261 section 17, RFC 6026 Accepted state on the INVITE server side). */
export { TransactionLayer, DEFAULT_MAX_TRANSACTIONS, type SipRequestHandler, type StrayHandler, type AdmissionHook, type AdmissionVerdict } from './layer.js';
export { TRYING_DELAY_MS } from './server-invite.js';
export { MAGIC_COOKIE, clientKeyOf, serverKeyOf } from './keys.js';
export { responseTargets, type ResponseTargets } from './response-target.js';
export { ackForFailure, cancelFor } from './request-forms.js';
export {
  DEFAULT_TIMERS,
  type TimerValues,
  type TransactionTransport,
  type TransactionLayerOptions,
  type ClientHandlers,
  type ClientState,
  type ServerState,
  type ClientTransaction,
  type ServerTransaction,
  type TransactionStats,
} from './types.js';
