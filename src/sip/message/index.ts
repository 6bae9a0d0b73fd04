/** Public API of the SIP message layer (sans-IO: no sockets, no timers). */
export type { Result, SyntaxFault } from './result.js';
export { unquote, quote } from './chars.js';
export { canonicalIpv6, classifyHost, hostForSocket, type HostKind } from './host.js';
export {
  parseUri,
  serializeUri,
  percentDecode,
  percentDecodeBytes,
  getUriParam,
  canonicalAor,
  type Uri,
  type SipUri,
  type AbsoluteUri,
  type UriParam,
  type UriHeader,
} from './uri.js';
export { parseParams, serializeParams, getParam, getParamText, type Param } from './params.js';
export { headerKey, canonicalHeaderName } from './header-names.js';
export {
  MAX_UINT32,
  parseVia,
  parseViaValue,
  serializeVia,
  viaBranch,
  viaReceived,
  viaMaddr,
  viaTtl,
  viaRport,
  parseNameAddr,
  parseNameAddrList,
  parseContact,
  serializeNameAddr,
  tagOf,
  parseCSeq,
  serializeCSeq,
  parseMaxForwards,
  parseContentLength,
  parseExpires,
  parseTokenList,
  type Via,
  type NameAddr,
  type ContactList,
  type CSeq,
} from './headers.js';
export {
  SipHeaders,
  KNOWN_METHODS,
  type HeaderField,
  type SipRequest,
  type SipResponse,
  type SipMessage,
} from './message.js';
export {
  parseMessage,
  DEFAULT_PARSE_OPTIONS,
  type ParseOptions,
  type ParseResult,
  type MessageParseError,
  type ParseErrorStatus,
  type ParseErrorCode,
  type ReplyContext,
} from './parse.js';
export { serializeMessage, startLine } from './serialize.js';
export { reasonPhrase } from './reason.js';
export { createResponse, createErrorResponse, randomTag, type ResponseOptions } from './response.js';
export {
  HeaderError,
  getVias,
  getTopVia,
  getFrom,
  getTo,
  getCallId,
  getCSeq,
  getMaxForwards,
  getExpires,
  getContacts,
  getRoutes,
  getRecordRoutes,
} from './accessors.js';
export {
  checkRequestSemantics,
  type SemanticsOptions,
  type SemanticProblem,
  type SemanticStatus,
} from './validate.js';
export { StreamFramer, type FramedItem } from './stream-framer.js';
export { createRequest, randomCallId, type RequestOptions } from './request-builder.js';
export { randomHex } from './random-hex.js';
export { editTopVia, type TopViaEdit } from './top-via.js';
