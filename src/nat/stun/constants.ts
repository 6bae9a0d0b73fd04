/**
 * STUN (RFC 8489) numbers: magic cookie, classes, methods and attribute types.
 */

/** RFC 8489 §5: fixed value in bytes 4..7 of every STUN message. */
export const MAGIC_COOKIE = 0x2112a442;

/** RFC 8489 §5: 20-byte header. */
export const HEADER_LENGTH = 20;

/** RFC 8489 §5: 96-bit transaction ID. */
export const TRANSACTION_ID_LENGTH = 12;

/**
 * Largest message accepted or produced. RFC 8489 §6.1 bounds UDP messages by the path MTU
 * (576 bytes when unknown for IPv4); kadsip accepts up to a full Ethernet MTU and refuses more.
 */
export const MAX_STUN_MESSAGE = 1500;

/** RFC 8489 §14.7: FINGERPRINT is the CRC-32 of the message XOR this value ("STUN"). */
export const FINGERPRINT_XOR = 0x5354554e;

/** RFC 8489 §5: the two class bits C1 C0. */
export const StunClass = {
  Request: 0,
  Indication: 1,
  SuccessResponse: 2,
  ErrorResponse: 3,
} as const;
export type StunClass = (typeof StunClass)[keyof typeof StunClass];

/** RFC 8489 §18.2 (Binding); others are defined by TURN (RFC 8656) and not handled here. */
export const StunMethod = {
  Binding: 0x001,
} as const;

/** RFC 8489 §18.3, RFC 5780 §7 (RESPONSE-ORIGIN, OTHER-ADDRESS), RFC 8656 §18 (XOR-PEER/RELAYED-ADDRESS). */
export const Attr = {
  MAPPED_ADDRESS: 0x0001,
  USERNAME: 0x0006,
  MESSAGE_INTEGRITY: 0x0008,
  ERROR_CODE: 0x0009,
  UNKNOWN_ATTRIBUTES: 0x000a,
  XOR_PEER_ADDRESS: 0x0012,
  REALM: 0x0014,
  NONCE: 0x0015,
  XOR_RELAYED_ADDRESS: 0x0016,
  MESSAGE_INTEGRITY_SHA256: 0x001c,
  PASSWORD_ALGORITHM: 0x001d,
  USERHASH: 0x001e,
  XOR_MAPPED_ADDRESS: 0x0020,
  PASSWORD_ALGORITHMS: 0x8002,
  ALTERNATE_DOMAIN: 0x8003,
  SOFTWARE: 0x8022,
  ALTERNATE_SERVER: 0x8023,
  FINGERPRINT: 0x8028,
  RESPONSE_ORIGIN: 0x802b,
  OTHER_ADDRESS: 0x802c,
  /**
   * kadsip's load query and answer (docs/PROTOCOL.md section 7), comprehension-optional and not
   * registered with IANA: in a Binding request (any value, usually empty) it asks for the server's
   * load figure and says "this is a query, do not count me as a client"; in the success response
   * its value is that figure, 32 bits big-endian. Other servers ignore it and answer a plain Binding.
   */
  KADSIP_LOAD: 0xc5ad,
} as const;

/** Attributes whose value is an address (family, port, address), plain (RFC 8489 §14.1). */
export const PLAIN_ADDRESS_ATTRS: ReadonlySet<number> = new Set([
  Attr.MAPPED_ADDRESS,
  Attr.ALTERNATE_SERVER,
  Attr.RESPONSE_ORIGIN,
  Attr.OTHER_ADDRESS,
]);

/** Attributes whose address is XOR-obfuscated (RFC 8489 §14.2). */
export const XOR_ADDRESS_ATTRS: ReadonlySet<number> = new Set([
  Attr.XOR_MAPPED_ADDRESS,
  Attr.XOR_PEER_ADDRESS,
  Attr.XOR_RELAYED_ADDRESS,
]);

/**
 * UTF-8 text attributes and the bound on their length in bytes: USERNAME < 513 (§14.3),
 * REALM, NONCE, SOFTWARE, ALTERNATE-DOMAIN < 763 (§14.9, §14.10, §14.14, §14.16).
 */
export const TEXT_ATTR_MAX_BYTES: ReadonlyMap<number, number> = new Map([
  [Attr.USERNAME, 512],
  [Attr.REALM, 762],
  [Attr.NONCE, 762],
  [Attr.SOFTWARE, 762],
  [Attr.ALTERNATE_DOMAIN, 762],
]);

/**
 * Comprehension-required attributes (type < 0x8000, RFC 8489 §14) that this codec understands.
 * PASSWORD-ALGORITHM and USERHASH are parsed as raw values but count as understood.
 */
export const KNOWN_REQUIRED_ATTRS: ReadonlySet<number> = new Set([
  Attr.MAPPED_ADDRESS,
  Attr.USERNAME,
  Attr.MESSAGE_INTEGRITY,
  Attr.ERROR_CODE,
  Attr.UNKNOWN_ATTRIBUTES,
  Attr.REALM,
  Attr.NONCE,
  Attr.MESSAGE_INTEGRITY_SHA256,
  Attr.PASSWORD_ALGORITHM,
  Attr.USERHASH,
  Attr.XOR_MAPPED_ADDRESS,
]);

/** RFC 8489 §14: types 0x0000-0x7FFF are comprehension-required. */
export function isComprehensionRequired(type: number): boolean {
  return type < 0x8000;
}

/** RFC 8489 §14.8: reason phrases recommended for the error codes a Binding server may send. */
export const ERROR_REASONS: ReadonlyMap<number, string> = new Map([
  [300, 'Try Alternate'],
  [400, 'Bad Request'],
  [401, 'Unauthenticated'],
  [420, 'Unknown Attribute'],
  [438, 'Stale Nonce'],
  [500, 'Server Error'],
]);
