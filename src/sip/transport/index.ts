/** Public API of the SIP transport layer (RFC 3261 section 18 over UDP and TCP). */
export { SipTransport, looksLikeStun, type ListenOptions } from './transport.js';
export {
  MTU_LIMIT,
  MAX_DATAGRAM,
  DEFAULT_LIMITS,
  normalizeHost,
  hostForWire,
  endpointKey,
  type Protocol,
  type Endpoint,
  type InboundMessage,
  type SendError,
  type Logger,
  type LogFn,
  type TransportLimits,
  type TransportStats,
} from './types.js';
export { stampReceived, sentByIsOurs } from './via-stamp.js';
