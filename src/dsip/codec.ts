/** The dSIP codec: overlay RPCs <-> SIP REGISTER/OPTIONS and their responses (PROTOCOL.md section 3). */
export {
  encodeRequest,
  decodeRequest,
  isPeerRequest,
  ttlToExpiresS,
  INITIAL_MAX_FORWARDS,
  DEFAULT_EXPIRES_S,
  CANDIDATES_WANTED_HEADER,
  MAX_CANDIDATES_WANTED,
  PEER_METHODS,
  DEFAULT_DECODE_LIMITS,
  type EncodeRequestContext,
  type DecodeRequestContext,
  type DecodeLimits,
  type DecodedRequest,
  type Accepted,
  type Rejection,
} from './request-codec.js';
export {
  encodeResponse,
  encodeRejection,
  decodeResponse,
  MAX_UDP_BYTES,
  STORE_FULL_RETRY_AFTER_S,
  LEAVING_RETRY_AFTER_S,
  type EncodeResponseContext,
  type DecodeResponseContext,
} from './response-codec.js';
