/**
 * STUN message codec (RFC 8489 §5, §14). `decodeStun` never throws: it returns either a decoded
 * message or a typed error. `encodeStun` throws (RangeError/TypeError) only on a caller's bad input.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { formatIp, parseIp, type TransportAddress } from './address.js';
import {
  Attr,
  FINGERPRINT_XOR,
  HEADER_LENGTH,
  KNOWN_REQUIRED_ATTRS,
  MAGIC_COOKIE,
  MAX_STUN_MESSAGE,
  PLAIN_ADDRESS_ATTRS,
  StunClass,
  TEXT_ATTR_MAX_BYTES,
  TRANSACTION_ID_LENGTH,
  XOR_ADDRESS_ATTRS,
  isComprehensionRequired,
} from './constants.js';
import { crc32 } from './crc32.js';

// ---------------------------------------------------------------------------------------------
// Types

/** MAPPED-ADDRESS, XOR-MAPPED-ADDRESS, RESPONSE-ORIGIN, OTHER-ADDRESS, ALTERNATE-SERVER, ... */
export interface AddressAttribute {
  readonly kind: 'address';
  readonly type: number;
  readonly address: TransportAddress;
}
/** USERNAME, REALM, NONCE, SOFTWARE, ALTERNATE-DOMAIN (UTF-8). */
export interface TextAttribute {
  readonly kind: 'text';
  readonly type: number;
  readonly value: string;
}
/** ERROR-CODE (RFC 8489 §14.8): code 300-699 and a reason phrase. */
export interface ErrorCodeAttribute {
  readonly kind: 'error-code';
  readonly type: typeof Attr.ERROR_CODE;
  readonly code: number;
  readonly reason: string;
}
/** UNKNOWN-ATTRIBUTES (RFC 8489 §14.13). */
export interface UnknownAttributesAttribute {
  readonly kind: 'unknown-attributes';
  readonly type: typeof Attr.UNKNOWN_ATTRIBUTES;
  readonly types: readonly number[];
}
/** Any other attribute, value kept as bytes (e.g. ICE's PRIORITY, PASSWORD-ALGORITHM). */
export interface RawAttribute {
  readonly kind: 'raw';
  readonly type: number;
  readonly value: Uint8Array;
}
/** MESSAGE-INTEGRITY / MESSAGE-INTEGRITY-SHA256 as decoded; produced by the encoder from a key. */
export interface IntegrityAttribute {
  readonly kind: 'integrity';
  readonly type: typeof Attr.MESSAGE_INTEGRITY | typeof Attr.MESSAGE_INTEGRITY_SHA256;
  readonly hmac: Uint8Array;
  /** Byte offset of the attribute header in the message. */
  readonly offset: number;
}
/** FINGERPRINT as decoded (already checked by the decoder); produced by the encoder on request. */
export interface FingerprintAttribute {
  readonly kind: 'fingerprint';
  readonly type: typeof Attr.FINGERPRINT;
  readonly crc: number;
}

export type EncodableAttribute = AddressAttribute | TextAttribute | ErrorCodeAttribute | UnknownAttributesAttribute | RawAttribute;
export type StunAttribute = EncodableAttribute | IntegrityAttribute | FingerprintAttribute;

export interface StunMessageInit {
  /** 12-bit method (RFC 8489 §5), e.g. StunMethod.Binding. */
  readonly method: number;
  readonly cls: StunClass;
  /** 12 bytes (RFC 8489 §5). */
  readonly transactionId: Uint8Array;
  readonly attributes?: readonly EncodableAttribute[];
  /**
   * Appends MESSAGE-INTEGRITY (HMAC-SHA1, §14.5) and/or MESSAGE-INTEGRITY-SHA256 (§14.6) computed
   * with `key` (see credentials.ts for key derivation). Default: SHA-1 only.
   */
  readonly integrity?: { readonly key: Uint8Array; readonly sha1?: boolean; readonly sha256?: boolean };
  /** Appends FINGERPRINT (§14.7). */
  readonly fingerprint?: boolean;
}

export interface StunMessage {
  readonly method: number;
  readonly cls: StunClass;
  readonly transactionId: Buffer;
  /**
   * Attributes in wire order, MESSAGE-INTEGRITY(-SHA256) and FINGERPRINT included; attributes
   * that follow MESSAGE-INTEGRITY other than those two are ignored as §14.5 requires.
   */
  readonly attributes: readonly StunAttribute[];
  /** Comprehension-required types (< 0x8000) this codec does not understand, in order, no duplicates. */
  readonly unknownRequired: readonly number[];
  /** True when a FINGERPRINT was present (and matched: a mismatch is a decode error). */
  readonly hasFingerprint: boolean;
  /** The message bytes (a view on the decoder's input), needed to check MESSAGE-INTEGRITY. */
  readonly raw: Buffer;
}

export type StunDecodeErrorCode =
  | 'too-short'
  | 'too-large'
  | 'not-stun'
  | 'bad-magic-cookie'
  | 'bad-length'
  | 'attribute-overrun'
  | 'malformed-attribute'
  | 'fingerprint-not-last'
  | 'bad-fingerprint';

export interface StunDecodeError {
  readonly code: StunDecodeErrorCode;
  readonly detail: string;
  /** Set once the header has been read (useful for an error response). */
  readonly transactionId?: Buffer;
}

export type StunDecodeResult =
  | { readonly ok: true; readonly message: StunMessage }
  | { readonly ok: false; readonly error: StunDecodeError };

// ---------------------------------------------------------------------------------------------
// Header helpers

/** RFC 8489 §5 fig. 3: interleaves method bits M11..M0 with class bits C1 C0. */
export function encodeMessageType(method: number, cls: StunClass): number {
  return (
    (method & 0x000f) | ((method & 0x0070) << 1) | ((method & 0x0f80) << 2) | ((cls & 0x1) << 4) | ((cls & 0x2) << 7)
  );
}

export function decodeMessageType(type: number): { method: number; cls: StunClass } {
  const method = (type & 0x000f) | ((type & 0x00e0) >> 1) | ((type & 0x3e00) >> 2);
  const cls = (((type >> 4) & 0x1) | ((type >> 7) & 0x2)) as StunClass;
  return { method, cls };
}

/**
 * Quick demultiplexing test (RFC 8489 §6.3, RFC 7983): the two top bits are zero and the magic
 * cookie is at offset 4. A SIP message starts with a letter or digit, so it never passes.
 */
export function isStunPacket(buf: Uint8Array): boolean {
  return (
    buf.length >= HEADER_LENGTH &&
    ((buf[0] as number) & 0xc0) === 0 &&
    buf[4] === 0x21 &&
    buf[5] === 0x12 &&
    buf[6] === 0xa4 &&
    buf[7] === 0x42
  );
}

const pad4 = (n: number): number => (n + 3) & ~3;

// ---------------------------------------------------------------------------------------------
// Encoding

function encodeAddress(attr: AddressAttribute, transactionId: Uint8Array): Buffer {
  const { address, type } = attr;
  const ip = parseIp(address.host);
  if (ip === undefined) throw new TypeError(`not an IP address: ${address.host}`);
  if (!Number.isInteger(address.port) || address.port < 0 || address.port > 0xffff) throw new RangeError(`bad port ${address.port}`);
  const out = Buffer.alloc(4 + ip.length);
  out[1] = ip.length === 4 ? 0x01 : 0x02; // §14.1: family 0x01 IPv4, 0x02 IPv6
  if (XOR_ADDRESS_ATTRS.has(type)) {
    // §14.2: X-Port = port XOR most significant 16 bits of the cookie; X-Address = address XOR
    // cookie (IPv4) or XOR cookie || transaction ID (IPv6).
    out.writeUInt16BE(address.port ^ (MAGIC_COOKIE >>> 16), 2);
    const mask = xorMask(transactionId);
    for (let i = 0; i < ip.length; i++) out[4 + i] = (ip[i] as number) ^ (mask[i] as number);
  } else {
    out.writeUInt16BE(address.port, 2);
    out.set(ip, 4);
  }
  return out;
}

function xorMask(transactionId: Uint8Array): Buffer {
  const mask = Buffer.alloc(16);
  mask.writeUInt32BE(MAGIC_COOKIE, 0);
  mask.set(transactionId, 4);
  return mask;
}

function encodeValue(attr: EncodableAttribute, transactionId: Uint8Array): Buffer {
  switch (attr.kind) {
    case 'address':
      return encodeAddress(attr, transactionId);
    case 'text':
      return Buffer.from(attr.value, 'utf8');
    case 'error-code': {
      // §14.8: 21 reserved bits, Class (hundreds, 3 bits), Number (0-99), reason phrase.
      if (!Number.isInteger(attr.code) || attr.code < 300 || attr.code > 699) throw new RangeError(`bad error code ${attr.code}`);
      const reason = Buffer.from(attr.reason, 'utf8');
      const out = Buffer.alloc(4 + reason.length);
      out[2] = Math.floor(attr.code / 100);
      out[3] = attr.code % 100;
      reason.copy(out, 4);
      return out;
    }
    case 'unknown-attributes': {
      // §14.13: a list of 16-bit types.
      const out = Buffer.alloc(2 * attr.types.length);
      attr.types.forEach((t, i) => out.writeUInt16BE(t & 0xffff, 2 * i));
      return out;
    }
    case 'raw':
      return Buffer.from(attr.value);
  }
}

/** Appends one TLV (§14: type, length, value, zero padding to 4 bytes). */
function pushTlv(parts: Buffer[], type: number, value: Uint8Array): number {
  const tlv = Buffer.alloc(4 + pad4(value.length));
  tlv.writeUInt16BE(type & 0xffff, 0);
  if (value.length > 0xffff) throw new RangeError('attribute too long');
  tlv.writeUInt16BE(value.length, 2);
  tlv.set(value, 4);
  parts.push(tlv);
  return tlv.length;
}

/** Encodes a STUN message. Throws on invalid input or when the result exceeds MAX_STUN_MESSAGE. */
export function encodeStun(init: StunMessageInit): Buffer {
  if (init.transactionId.length !== TRANSACTION_ID_LENGTH) throw new RangeError('transaction ID must be 12 bytes');
  if (!Number.isInteger(init.method) || init.method < 0 || init.method > 0xfff) throw new RangeError(`bad method ${init.method}`);
  const header = Buffer.alloc(HEADER_LENGTH);
  header.writeUInt16BE(encodeMessageType(init.method, init.cls), 0);
  header.writeUInt32BE(MAGIC_COOKIE, 4);
  header.set(init.transactionId, 8);
  const parts: Buffer[] = [header];
  let bodyLength = 0;
  for (const attr of init.attributes ?? []) bodyLength += pushTlv(parts, attr.type, encodeValue(attr, init.transactionId));

  // §14.5/§14.6: the HMAC covers the message up to the attribute, with the header length already
  // counting the attribute itself (but nothing after it).
  const appendHmac = (type: number, algorithm: 'sha1' | 'sha256', size: number, key: Uint8Array): void => {
    header.writeUInt16BE(bodyLength + 4 + size, 2);
    const hmac = createHmac(algorithm, key);
    for (const p of parts) hmac.update(p);
    bodyLength += pushTlv(parts, type, hmac.digest());
  };
  if (init.integrity !== undefined) {
    const { key, sha1 = true, sha256 = false } = init.integrity;
    if (sha1) appendHmac(Attr.MESSAGE_INTEGRITY, 'sha1', 20, key);
    if (sha256) appendHmac(Attr.MESSAGE_INTEGRITY_SHA256, 'sha256', 32, key);
  }
  if (init.fingerprint === true) {
    // §14.7: CRC-32 of the message up to the attribute, the length field counting the attribute.
    header.writeUInt16BE(bodyLength + 8, 2);
    const crc = crc32(Buffer.concat(parts));
    const value = Buffer.alloc(4);
    value.writeUInt32BE((crc ^ FINGERPRINT_XOR) >>> 0, 0);
    bodyLength += pushTlv(parts, Attr.FINGERPRINT, value);
  }
  header.writeUInt16BE(bodyLength, 2);
  if (HEADER_LENGTH + bodyLength > MAX_STUN_MESSAGE) throw new RangeError(`STUN message of ${HEADER_LENGTH + bodyLength} bytes exceeds ${MAX_STUN_MESSAGE}`);
  return Buffer.concat(parts, HEADER_LENGTH + bodyLength);
}

// ---------------------------------------------------------------------------------------------
// Decoding

type ValueResult = { ok: true; attr: StunAttribute } | { ok: false; detail: string };

function decodeAddress(type: number, v: Buffer, transactionId: Buffer): ValueResult {
  // §14.1: 1 reserved byte, family, port, 4 or 16 address bytes.
  const family = v.length >= 2 ? v[1] : undefined;
  const size = family === 0x01 ? 4 : family === 0x02 ? 16 : undefined;
  if (size === undefined) return { ok: false, detail: `address family ${String(family)}` };
  if (v.length !== 4 + size) return { ok: false, detail: `address value of ${v.length} bytes` };
  let port = v.readUInt16BE(2);
  const ip = Buffer.from(v.subarray(4));
  if (XOR_ADDRESS_ATTRS.has(type)) {
    port ^= MAGIC_COOKIE >>> 16;
    const mask = xorMask(transactionId);
    for (let i = 0; i < size; i++) ip[i] = (ip[i] as number) ^ (mask[i] as number);
  }
  const address: TransportAddress = { family: size === 4 ? 'IPv4' : 'IPv6', host: formatIp(ip), port };
  return { ok: true, attr: { kind: 'address', type, address } };
}

function decodeValue(type: number, v: Buffer, transactionId: Buffer, offset: number): ValueResult {
  if (PLAIN_ADDRESS_ATTRS.has(type) || XOR_ADDRESS_ATTRS.has(type)) return decodeAddress(type, v, transactionId);
  const maxText = TEXT_ATTR_MAX_BYTES.get(type);
  if (maxText !== undefined) {
    if (v.length > maxText) return { ok: false, detail: `text of ${v.length} bytes` };
    return { ok: true, attr: { kind: 'text', type, value: v.toString('utf8') } };
  }
  switch (type) {
    case Attr.ERROR_CODE: {
      if (v.length < 4 || v.length > 4 + 763) return { ok: false, detail: `error code value of ${v.length} bytes` };
      const cls = (v[2] as number) & 0x07;
      const num = v[3] as number;
      if (cls < 3 || cls > 6 || num > 99) return { ok: false, detail: `error code class ${cls} number ${num}` };
      return { ok: true, attr: { kind: 'error-code', type, code: cls * 100 + num, reason: v.toString('utf8', 4) } };
    }
    case Attr.UNKNOWN_ATTRIBUTES: {
      if (v.length % 2 !== 0) return { ok: false, detail: 'odd UNKNOWN-ATTRIBUTES length' };
      const types: number[] = [];
      for (let i = 0; i < v.length; i += 2) types.push(v.readUInt16BE(i));
      return { ok: true, attr: { kind: 'unknown-attributes', type, types } };
    }
    case Attr.MESSAGE_INTEGRITY:
      if (v.length !== 20) return { ok: false, detail: `MESSAGE-INTEGRITY of ${v.length} bytes` };
      return { ok: true, attr: { kind: 'integrity', type, hmac: Buffer.from(v), offset } };
    case Attr.MESSAGE_INTEGRITY_SHA256:
      // §14.6: truncation allowed down to 16 bytes, in multiples of 4.
      if (v.length < 16 || v.length > 32 || v.length % 4 !== 0) return { ok: false, detail: `MESSAGE-INTEGRITY-SHA256 of ${v.length} bytes` };
      return { ok: true, attr: { kind: 'integrity', type, hmac: Buffer.from(v), offset } };
    case Attr.FINGERPRINT:
      if (v.length !== 4) return { ok: false, detail: `FINGERPRINT of ${v.length} bytes` };
      return { ok: true, attr: { kind: 'fingerprint', type, crc: v.readUInt32BE(0) } };
    default:
      return { ok: true, attr: { kind: 'raw', type, value: Buffer.from(v) } };
  }
}

const fail = (code: StunDecodeErrorCode, detail: string, transactionId?: Buffer): StunDecodeResult => ({
  ok: false,
  error: transactionId === undefined ? { code, detail } : { code, detail, transactionId },
});

/**
 * Decodes one STUN message occupying all of `input` (a UDP datagram). Never throws.
 * Checks (RFC 8489 §6.3): top two bits zero, magic cookie, length a multiple of 4 and equal to
 * the datagram's, every attribute within the message, known attributes well-formed, FINGERPRINT
 * last and correct when present.
 */
export function decodeStun(input: Uint8Array): StunDecodeResult {
  if (input.length < HEADER_LENGTH) return fail('too-short', `${input.length} bytes`);
  if (input.length > MAX_STUN_MESSAGE) return fail('too-large', `${input.length} bytes`);
  const buf = Buffer.from(input.buffer, input.byteOffset, input.length);
  const type = buf.readUInt16BE(0);
  if ((type & 0xc000) !== 0) return fail('not-stun', 'top two bits set');
  if (buf.readUInt32BE(4) !== MAGIC_COOKIE) return fail('bad-magic-cookie', `0x${buf.readUInt32BE(4).toString(16)}`);
  const transactionId = Buffer.from(buf.subarray(8, HEADER_LENGTH));
  const length = buf.readUInt16BE(2);
  if (length % 4 !== 0) return fail('bad-length', `length ${length} not a multiple of 4`, transactionId);
  if (HEADER_LENGTH + length !== buf.length) return fail('bad-length', `length ${length} but ${buf.length - HEADER_LENGTH} bytes follow the header`, transactionId);

  const attributes: StunAttribute[] = [];
  const unknownRequired: number[] = [];
  let hasFingerprint = false;
  let seenSha1 = false;
  let seenSha256 = false;
  let offset = HEADER_LENGTH;
  while (offset < buf.length) {
    if (hasFingerprint) return fail('fingerprint-not-last', `attribute after FINGERPRINT at ${offset}`, transactionId);
    if (offset + 4 > buf.length) return fail('attribute-overrun', `attribute header at ${offset}`, transactionId);
    const atype = buf.readUInt16BE(offset);
    const alen = buf.readUInt16BE(offset + 2);
    const end = offset + 4 + alen;
    if (end > buf.length) return fail('attribute-overrun', `attribute 0x${atype.toString(16)} of ${alen} bytes at ${offset}`, transactionId);
    // §14.5/§14.6: after MESSAGE-INTEGRITY only MESSAGE-INTEGRITY-SHA256 and FINGERPRINT count;
    // after MESSAGE-INTEGRITY-SHA256 only FINGERPRINT. Anything else there is ignored.
    const ignored =
      (seenSha256 && atype !== Attr.FINGERPRINT) ||
      (seenSha1 && atype !== Attr.FINGERPRINT && atype !== Attr.MESSAGE_INTEGRITY_SHA256);
    if (!ignored) {
      const decoded = decodeValue(atype, buf.subarray(offset + 4, end), transactionId, offset);
      if (!decoded.ok) return fail('malformed-attribute', `0x${atype.toString(16)}: ${decoded.detail}`, transactionId);
      const attr = decoded.attr;
      if (attr.kind === 'fingerprint') {
        // §14.7: CRC-32 over the message up to (not including) this attribute, XOR 0x5354554e.
        const expected = (crc32(buf, 0, offset) ^ FINGERPRINT_XOR) >>> 0;
        if (attr.crc !== expected) return fail('bad-fingerprint', `0x${attr.crc.toString(16)} != 0x${expected.toString(16)}`, transactionId);
        hasFingerprint = true;
      } else if (attr.type === Attr.MESSAGE_INTEGRITY) {
        seenSha1 = true;
      } else if (attr.type === Attr.MESSAGE_INTEGRITY_SHA256) {
        seenSha256 = true;
      } else if (attr.kind === 'raw' && isComprehensionRequired(atype) && !KNOWN_REQUIRED_ATTRS.has(atype) && !unknownRequired.includes(atype)) {
        unknownRequired.push(atype);
      }
      attributes.push(attr);
    }
    offset += 4 + pad4(alen);
  }
  // The last attribute's padding may be missing from the datagram only if it ran past the end.
  if (offset !== buf.length) return fail('attribute-overrun', 'padding of the last attribute runs past the end', transactionId);
  const { method, cls } = decodeMessageType(type);
  return { ok: true, message: { method, cls, transactionId, attributes, unknownRequired, hasFingerprint, raw: buf } };
}

// ---------------------------------------------------------------------------------------------
// Accessors and integrity checks

/** First attribute of a type (§14: only the first occurrence of a type is considered). */
export function getAttribute(msg: StunMessage, type: number): StunAttribute | undefined {
  return msg.attributes.find((a) => a.type === type);
}

/** The address of the first address attribute of `type`. */
export function getAddress(msg: StunMessage, type: number): TransportAddress | undefined {
  const a = getAttribute(msg, type);
  return a?.kind === 'address' ? a.address : undefined;
}

/** The text of the first text attribute of `type` (USERNAME, SOFTWARE, ...). */
export function getText(msg: StunMessage, type: number): string | undefined {
  const a = getAttribute(msg, type);
  return a?.kind === 'text' ? a.value : undefined;
}

export function getErrorCode(msg: StunMessage): { code: number; reason: string } | undefined {
  const a = getAttribute(msg, Attr.ERROR_CODE);
  return a?.kind === 'error-code' ? { code: a.code, reason: a.reason } : undefined;
}

function verifyHmac(msg: StunMessage, type: number, algorithm: 'sha1' | 'sha256', key: Uint8Array): boolean {
  const a = getAttribute(msg, type);
  if (a?.kind !== 'integrity') return false;
  // §14.5: recompute over the header (length adjusted to end at this attribute) and the
  // attributes before it.
  const header = Buffer.from(msg.raw.subarray(0, HEADER_LENGTH));
  header.writeUInt16BE(a.offset + 4 + a.hmac.length - HEADER_LENGTH, 2);
  const mac = createHmac(algorithm, key).update(header).update(msg.raw.subarray(HEADER_LENGTH, a.offset)).digest();
  const expected = mac.subarray(0, a.hmac.length);
  return timingSafeEqual(expected, a.hmac);
}

/** True when MESSAGE-INTEGRITY (HMAC-SHA1, RFC 8489 §14.5) is present and matches `key`. */
export function verifyMessageIntegrity(msg: StunMessage, key: Uint8Array): boolean {
  return verifyHmac(msg, Attr.MESSAGE_INTEGRITY, 'sha1', key);
}

/** True when MESSAGE-INTEGRITY-SHA256 (RFC 8489 §14.6, possibly truncated) is present and matches `key`. */
export function verifyMessageIntegritySha256(msg: StunMessage, key: Uint8Array): boolean {
  return verifyHmac(msg, Attr.MESSAGE_INTEGRITY_SHA256, 'sha256', key);
}
