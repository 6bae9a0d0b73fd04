/** STUN (RFC 8489): codec, Binding server, Binding client and NAT detection. */
export * from './constants.js';
export { crc32 } from './crc32.js';
export { formatIp, parseIp, toTransportAddress, unmapIPv4, type IpFamily, type TransportAddress } from './address.js';
export * from './codec.js';
export { longTermKey, shortTermKey, userHash } from './credentials.js';
export type { StunLogger, StunLogFn } from './logger.js';
export { StunServer, type StunServerOptions, type StunServerStats } from './server.js';
export {
  DEFAULT_RC,
  DEFAULT_RM,
  DEFAULT_RTO_MS,
  DEFAULT_TIMEOUT_MS,
  StunBindingError,
  stunBinding,
  type StunBindingFailure,
  type StunBindingOptions,
  type StunBindingResult,
  type StunEndpoint,
} from './client.js';
export { detectNat, type NatDetection } from './nat-detect.js';
