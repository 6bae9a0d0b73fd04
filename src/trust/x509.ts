/**
 * X.509 encoding for the overlay's enrollment PKI (PROTOCOL.md section 11.1): building the CA
 * certificate, node certificates and CRLs, and reading the fields kadsip needs out of them.
 * Building uses @peculiar/x509 (X.509 on WebCrypto; node:crypto verifies X.509 but cannot issue
 * it), loaded on first use so a node that only verifies never loads it; this is the only module
 * that loads it. Reading walks the DER itself (a few fields; asn1js under the library mangles
 * 128-bit OID arcs and loses CRL entries). Signatures are checked elsewhere, with node:crypto.
 */
import { createPublicKey, sign, webcrypto, type KeyObject } from 'node:crypto';
import type * as X509 from '@peculiar/x509';
import { keyAlgorithm, type KeyAlgorithm } from './keys.js';

let loaded: Promise<typeof X509> | undefined;

/** @peculiar/x509, loaded once, set up on node:crypto's WebCrypto. */
function library(): Promise<typeof X509> {
  loaded ??= (async () => {
    // The library resolves its algorithm providers through tsyringe, which needs the Reflect
    // metadata polyfill loaded before it: keep this import first.
    await import('reflect-metadata');
    const x509 = await import('@peculiar/x509');
    // node:crypto's webcrypto is the WebCrypto the library types as the DOM's Crypto (absent from our lib).
    x509.cryptoProvider.set(webcrypto as never);
    return x509;
  })();
  return loaded;
}

/**
 * kadsip's OID arc: 2.25 followed by a UUID as an integer (ITU-T X.667 section 6.3: anyone may
 * make an OID from a UUID they generated, no registration needed). UUID
 * d44dc307-2165-4abf-84a1-0eba73e7a3ea.
 */
export const KADSIP_OID_ARC = '2.25.282200097599314656278477229190652863466';
/** Node certificate extension: the addresses the node may use, SEQUENCE OF UTF8String "IP:PORT". */
export const ADDRESSES_OID = `${KADSIP_OID_ARC}.1`;
/** CA certificate extension: the overlay's name, UTF8String. */
export const OVERLAY_OID = `${KADSIP_OID_ARC}.2`;

/** Extensions kadsip understands; any other extension marked critical makes a certificate unusable (RFC 5280 section 4.2). */
const UNDERSTOOD = new Set(['2.5.29.14', '2.5.29.15', '2.5.29.17', '2.5.29.19', '2.5.29.35', ADDRESSES_OID, OVERLAY_OID].map((o) => encodeOid(o).toString('hex')));

// asn1js (under @peculiar/x509) cannot round-trip an OID arc above 2^53, and a UUID arc is 128
// bits: it writes such an OID truncated to "2.25". So the builder writes each kadsip extension
// under a stand-in OID of small arcs that encodes to the same number of bytes, and finish() puts
// the real OID bytes in their place and signs the result itself. Reading walks the DER (below).
const STAND_INS = new Map([ADDRESSES_OID, OVERLAY_OID].map((oid) => [standInFor(oid), oid]));
const standIn = (oid: string): string => [...STAND_INS].find(([, real]) => real === oid)![0];

/** What a certificate says, as kadsip reads it (no signature or validity checked). */
export interface CertificateFields {
  /** Subject common name, if any. */
  commonName?: string;
  /** subjectAltName URIs, as written (`sip:example.com`). */
  uris: string[];
  /** The kadsip addresses extension, if present. */
  addresses?: string[];
  /** The kadsip overlay extension, if present. */
  overlay?: string;
  /** basicConstraints cA. */
  isCa: boolean;
  /** keyUsage has digitalSignature (true when there is no keyUsage extension at all). */
  digitalSignature: boolean;
  /** keyUsage has keyCertSign. */
  keyCertSign: boolean;
  /** Critical extensions kadsip does not understand (their OIDs). */
  unknownCritical: string[];
  notBefore: number;
  notAfter: number;
}

/** Reads a DER certificate's fields (RFC 5280 section 4.1). Throws on anything that is not a well-formed certificate. */
export function readCertificateFields(der: Uint8Array): CertificateFields {
  const tbs = tbsFields(der);
  const validity = children(der, expectTag(tbs.validity, SEQUENCE), SEQUENCE);
  const extensions = readExtensions(der, tbs.extensions);
  const get = (oid: string): { critical: boolean; value: Buffer } | undefined => extensions.get(encodeOid(oid).toString('hex'));
  const addresses = get(ADDRESSES_OID);
  const overlay = get(OVERLAY_OID);
  const usage = get(KEY_USAGE);
  const usageBits = usage === undefined ? undefined : readKeyUsage(usage.value);
  const basic = get(BASIC_CONSTRAINTS);
  const san = get(SUBJECT_ALT_NAME);
  const cn = commonName(der, tbs.subject);
  return {
    ...(cn !== undefined ? { commonName: cn } : {}),
    uris: san === undefined ? [] : readUris(san.value),
    ...(addresses ? { addresses: decodeUtf8Sequence(addresses.value) } : {}),
    ...(overlay ? { overlay: decodeUtf8String(overlay.value) } : {}),
    isCa: basic !== undefined && readCa(basic.value),
    // keyUsage bits (RFC 5280 section 4.2.1.3): digitalSignature (0) and keyCertSign (5).
    digitalSignature: usageBits === undefined || (usageBits & 0x80) !== 0,
    keyCertSign: usageBits !== undefined && (usageBits & 0x04) !== 0,
    unknownCritical: [...extensions].filter(([oid, e]) => e.critical && !UNDERSTOOD.has(oid)).map(([oid]) => decodeOid(Buffer.from(oid, 'hex'))),
    notBefore: readTime(der, validity[0]),
    notAfter: readTime(der, validity[1]),
  };
}

export interface CaCertificateSpec {
  privateKey: KeyObject;
  /** Written into the CA certificate; nodes take the overlay's name from it. */
  overlay?: string;
  /** Hex serial number (positive). */
  serial: string;
  notBefore: number;
  notAfter: number;
}

/** A self-signed overlay CA certificate (DER): cA=true, keyCertSign and cRLSign. */
export async function createCaCertificate(spec: CaCertificateSpec): Promise<Buffer> {
  const x509 = await library();
  const publicKey = spkiOf(spec.privateKey);
  const name = new x509.Name([{ CN: [spec.overlay !== undefined ? `${spec.overlay} overlay CA` : 'kadsip overlay CA'] }, { O: ['kadsip'] }]);
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: spec.serial,
    subject: name,
    issuer: name,
    notBefore: new Date(spec.notBefore),
    notAfter: new Date(spec.notAfter),
    publicKey,
    signingKey: await signingKey(spec.privateKey),
    signingAlgorithm: signingAlgorithm(spec.privateKey),
    extensions: [
      new x509.BasicConstraintsExtension(true, 0, true),
      new x509.KeyUsagesExtension(x509.KeyUsageFlags.keyCertSign | x509.KeyUsageFlags.cRLSign, true),
      await x509.SubjectKeyIdentifierExtension.create(publicKey),
      ...(spec.overlay !== undefined ? [new x509.Extension(standIn(OVERLAY_OID), false, encodeUtf8String(spec.overlay))] : []),
    ],
  });
  return finish(Buffer.from(cert.rawData), spec.privateKey);
}

export interface NodeCertificateSpec {
  caKey: KeyObject;
  caDer: Uint8Array;
  publicKey: KeyObject;
  /** Subject CN. */
  name: string;
  /** SIP domains, written as subjectAltName URIs `sip:DOMAIN` (RFC 5922 section 7.1). */
  domains: string[];
  /** Canonical IP:PORT texts; empty: no addresses extension. */
  addresses: string[];
  serial: string;
  notBefore: number;
  notAfter: number;
}

/** A node certificate (DER) issued by the CA: cA=false, keyUsage digitalSignature. */
export async function createNodeCertificate(spec: NodeCertificateSpec): Promise<Buffer> {
  const x509 = await library();
  const ca = new x509.X509Certificate(spec.caDer);
  const publicKey = new Uint8Array(spec.publicKey.export({ format: 'der', type: 'spki' }));
  const extensions: X509.Extension[] = [
    new x509.BasicConstraintsExtension(false, undefined, true),
    new x509.KeyUsagesExtension(x509.KeyUsageFlags.digitalSignature, true),
    await x509.SubjectKeyIdentifierExtension.create(publicKey),
    await x509.AuthorityKeyIdentifierExtension.create(spkiOf(spec.caKey)),
  ];
  if (spec.domains.length > 0) {
    extensions.push(new x509.SubjectAlternativeNameExtension(spec.domains.map((d) => ({ type: 'url' as const, value: `sip:${d}` })), false));
  }
  if (spec.addresses.length > 0) extensions.push(new x509.Extension(standIn(ADDRESSES_OID), false, encodeUtf8Sequence(spec.addresses)));
  const cert = await x509.X509CertificateGenerator.create({
    serialNumber: spec.serial,
    subject: new x509.Name([{ CN: [spec.name] }]),
    issuer: ca.subjectName,
    notBefore: new Date(spec.notBefore),
    notAfter: new Date(spec.notAfter),
    publicKey,
    signingKey: await signingKey(spec.caKey),
    signingAlgorithm: signingAlgorithm(spec.caKey),
    extensions,
  });
  return finish(Buffer.from(cert.rawData), spec.caKey);
}

export interface CrlEntry {
  /** Hex serial number as certificate.ts normalizes it (lower case, no leading zeros). */
  serial: string;
  revokedAt: number;
}

export interface CrlSpec {
  caKey: KeyObject;
  caDer: Uint8Array;
  entries: CrlEntry[];
  thisUpdate: number;
}

/** A CRL (DER) signed by the CA, listing the entries. */
export async function createCrl(spec: CrlSpec): Promise<Buffer> {
  const x509 = await library();
  const ca = new x509.X509Certificate(spec.caDer);
  const crl = await x509.X509CrlGenerator.create({
    issuer: ca.subjectName,
    thisUpdate: new Date(spec.thisUpdate),
    signingKey: await signingKey(spec.caKey),
    signingAlgorithm: signingAlgorithm(spec.caKey),
    entries: spec.entries.map((e) => ({ serialNumber: e.serial, revocationDate: new Date(e.revokedAt) })),
  });
  return Buffer.from(crl.rawData);
}

/** What a CRL says, and the parts a verifier needs (its to-be-signed bytes and signature). */
export interface CrlFields {
  /** DER of the issuer Name. */
  issuer: Buffer;
  entries: CrlEntry[];
  thisUpdate: number;
  /** The signed part (tbsCertList, DER) and the signature, as the CA made them. */
  tbs: Buffer;
  signature: Buffer;
  /** The signature algorithm, as far as kadsip knows it. */
  algorithm: KeyAlgorithm | 'other';
}

/**
 * Reads a DER CRL (RFC 5280 section 5.1) by walking its DER (asn1-schema under @peculiar/x509
 * loses the entries of a CRL without nextUpdate). Throws on anything that is not a well-formed CRL.
 */
export function readCrl(der: Uint8Array): CrlFields {
  // CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm, signatureValue BIT STRING }
  const outer = children(der, readTlv(der, 0, der.length), 0x30);
  if (outer.length !== 3) throw new Error('not a CertificateList');
  const [tbs, algorithm, signatureValue] = outer as [Tlv, Tlv, Tlv];
  const signature = content(der, expectTag(signatureValue, 0x03));
  if (signature[0] !== 0) throw new Error('signature BIT STRING with unused bits');
  // TBSCertList ::= SEQUENCE { version INTEGER OPTIONAL, signature, issuer, thisUpdate, nextUpdate
  //   OPTIONAL, revokedCertificates SEQUENCE OF SEQUENCE { userCertificate, revocationDate, ... } OPTIONAL, [0] crlExtensions OPTIONAL }
  const fields = children(der, tbs, 0x30);
  let i = fields[0]?.tag === 0x02 ? 1 : 0;
  i++; // the inner signature AlgorithmIdentifier (the outer one is the one verified against the CA key)
  const issuer = expectTag(fields[i++], 0x30);
  const thisUpdate = readTime(der, fields[i++]);
  if (fields[i]?.tag === 0x17 || fields[i]?.tag === 0x18) i++;
  const entries: CrlEntry[] = [];
  if (fields[i]?.tag === 0x30) {
    for (const entry of children(der, fields[i]!, 0x30)) {
      const [serial, date] = children(der, expectTag(entry, 0x30), 0x30);
      entries.push({ serial: normalizeSerial(content(der, expectTag(serial, 0x02)).toString('hex')), revokedAt: readTime(der, date) });
    }
  }
  const oid = content(der, expectTag(children(der, expectTag(algorithm, 0x30), 0x30)[0], 0x06)).toString('hex');
  return {
    issuer: Buffer.from(der.subarray(issuer.at, issuer.stop)),
    entries,
    thisUpdate,
    tbs: Buffer.from(der.subarray(tbs.at, tbs.stop)),
    signature: signature.subarray(1),
    algorithm: oid === ED25519_OID ? 'ed25519' : oid === ECDSA_SHA256_OID ? 'p256' : 'other',
  };
}

/** DER of a certificate's subject Name (a CRL's issuer must equal its CA's subject). */
export function subjectNameDer(der: Uint8Array): Buffer {
  const subject = tbsFields(der).subject;
  return Buffer.from(der.subarray(subject.at, subject.stop));
}

/** A serial number's hex text in one form: lower case, no leading zeros ("0" for zero). */
export function normalizeSerial(hex: string): string {
  return hex.toLowerCase().replace(/^0+(?=.)/, '');
}

/** PEM text of DER bytes (RFC 7468), 64 characters a line. */
export function derToPem(label: 'CERTIFICATE' | 'X509 CRL', der: Uint8Array): string {
  const b64 = Buffer.from(der).toString('base64');
  return `-----BEGIN ${label}-----\n${b64.replace(/.{1,64}/g, '$&\n')}-----END ${label}-----\n`;
}

/** The DER bytes of the first PEM block with the label; throws when there is none. */
export function pemToDer(text: string, label: 'CERTIFICATE' | 'X509 CRL'): Buffer {
  const m = new RegExp(`-----BEGIN ${label}-----([A-Za-z0-9+/=\\s]*)-----END ${label}-----`).exec(text);
  if (!m) throw new Error(`no "BEGIN ${label}" PEM block`);
  const der = Buffer.from(m[1]!.replace(/\s+/g, ''), 'base64');
  if (der.length === 0) throw new Error(`empty ${label} PEM block`);
  return der;
}

function spkiOf(privateKey: KeyObject): Uint8Array {
  return new Uint8Array(createPublicKey(privateKey).export({ format: 'der', type: 'spki' }));
}

function webAlgorithm(key: KeyObject): { name: 'Ed25519' } | { name: 'ECDSA'; namedCurve: 'P-256' } {
  const algorithm = keyAlgorithm(key);
  if (algorithm === undefined) throw new TypeError('an overlay key is Ed25519 or P-256');
  return algorithm === 'ed25519' ? { name: 'Ed25519' } : { name: 'ECDSA', namedCurve: 'P-256' };
}

function signingAlgorithm(key: KeyObject): webcrypto.Algorithm | webcrypto.EcdsaParams {
  return webAlgorithm(key).name === 'Ed25519' ? { name: 'Ed25519' } : { name: 'ECDSA', hash: 'SHA-256' };
}

async function signingKey(key: KeyObject): Promise<webcrypto.CryptoKey> {
  const pkcs8 = key.export({ format: 'der', type: 'pkcs8' });
  return webcrypto.subtle.importKey('pkcs8', pkcs8, webAlgorithm(key), false, ['sign']);
}

// A minimal DER codec (ITU-T X.690, definite lengths only) for what the library cannot do: the
// kadsip extensions with their UUID OIDs, and reading CRLs.

const UTF8STRING = 0x0c;
const SEQUENCE = 0x30;
/** Content bytes of the OIDs 1.3.101.112 (Ed25519, RFC 8410) and 1.2.840.10045.4.3.2 (ecdsa-with-SHA256, RFC 5758). */
const ED25519_OID = '2b6570';
const ECDSA_SHA256_OID = '2a8648ce3d040302';

interface Tlv {
  tag: number;
  /** Where the TLV starts, where its content starts, where it ends. */
  at: number;
  start: number;
  stop: number;
}

function encodeTlv(tag: number, body: Uint8Array): Buffer {
  const n = body.length;
  const length = n < 0x80 ? [n] : n < 0x100 ? [0x81, n] : n < 0x10000 ? [0x82, n >> 8, n & 0xff] : [0x83, n >> 16, (n >> 8) & 0xff, n & 0xff];
  return Buffer.concat([Buffer.from([tag, ...length]), body]);
}

/** The content bytes of an OBJECT IDENTIFIER (arcs of any size: a UUID arc is 128 bits). */
export function encodeOid(dotted: string): Buffer {
  const arcs = dotted.split('.').map((a) => BigInt(a));
  const bytes: number[] = [];
  const first = [arcs[0]! * 40n + arcs[1]!, ...arcs.slice(2)];
  for (const arc of first) {
    const groups: number[] = [Number(arc & 0x7fn)];
    for (let v = arc >> 7n; v > 0n; v >>= 7n) groups.unshift(Number(v & 0x7fn) | 0x80);
    bytes.push(...groups);
  }
  return Buffer.from(bytes);
}

function decodeOid(bytes: Buffer): string {
  const arcs: bigint[] = [];
  let v = 0n;
  for (const b of bytes) {
    v = (v << 7n) | BigInt(b & 0x7f);
    if ((b & 0x80) === 0) {
      arcs.push(v);
      v = 0n;
    }
  }
  const first = arcs.shift() ?? 0n;
  const head = first < 80n ? [first / 40n, first % 40n] : [2n, first - 80n];
  return [...head, ...arcs].join('.');
}

/** An OID of small arcs ("kadsip" and so on in ASCII) under 2.25 whose encoding is as long as `oid`'s. */
function standInFor(oid: string): string {
  const length = encodeOid(oid).length;
  const filler = Buffer.from('kadsip-stand-in-oid-'.repeat(4)).subarray(0, length - 2);
  return `2.25.${[...filler].join('.')}.${oid.split('.').pop()}`;
}

/**
 * The library's certificate with the stand-in OIDs replaced by the real ones and signed again by
 * `key` (same algorithm, same signatureAlgorithm field: Certificate ::= SEQUENCE { tbsCertificate,
 * signatureAlgorithm, signatureValue }, RFC 5280 section 4.1).
 */
function finish(der: Buffer, key: KeyObject): Buffer {
  const [tbsTlv, algorithmTlv] = children(der, readTlv(der, 0, der.length), 0x30) as [Tlv, Tlv];
  let tbs = Buffer.from(der.subarray(tbsTlv.at, tbsTlv.stop));
  let patched = false;
  for (const [stand, real] of STAND_INS) {
    const from = encodeTlv(0x06, encodeOid(stand));
    const at = tbs.indexOf(from);
    if (at < 0) continue;
    encodeTlv(0x06, encodeOid(real)).copy(tbs, at);
    patched = true;
  }
  if (!patched) return der;
  const signature =
    keyAlgorithm(key) === 'ed25519' ? sign(null, tbs, key) : sign('sha256', tbs, { key, dsaEncoding: 'der' });
  return encodeTlv(SEQUENCE, Buffer.concat([tbs, der.subarray(algorithmTlv.at, algorithmTlv.stop), encodeTlv(0x03, Buffer.concat([Buffer.from([0]), signature]))]));
}

/** The TBSCertificate fields kadsip reads (RFC 5280 section 4.1): validity, subject, extensions. */
function tbsFields(der: Uint8Array): { validity: Tlv; subject: Tlv; extensions: Tlv | undefined } {
  const top = readTlv(der, 0, der.length);
  if (top.stop !== der.length) throw new Error('bytes after the certificate');
  const [tbs] = children(der, top, SEQUENCE);
  const fields = children(der, expectTag(tbs, SEQUENCE), SEQUENCE);
  // version [0] EXPLICIT (absent: v1), serialNumber, signature, issuer, validity, subject, ...
  const first = fields[0]?.tag === 0xa0 ? 1 : 0;
  const validity = expectTag(fields[first + 3], SEQUENCE);
  const subject = expectTag(fields[first + 4], SEQUENCE);
  return { validity, subject, extensions: fields.find((f) => f.tag === 0xa3) };
}

/** Extensions by OID (content bytes, hex), from TBSCertificate's [3] EXPLICIT SEQUENCE OF Extension. */
function readExtensions(der: Uint8Array, tagged: Tlv | undefined): Map<string, { critical: boolean; value: Buffer }> {
  const out = new Map<string, { critical: boolean; value: Buffer }>();
  if (tagged === undefined) return out;
  const [list] = children(der, tagged, 0xa3);
  for (const extension of children(der, expectTag(list, SEQUENCE), SEQUENCE)) {
    const parts = children(der, expectTag(extension, SEQUENCE), SEQUENCE);
    const oid = content(der, expectTag(parts[0], 0x06)).toString('hex');
    const critical = parts.length === 3 && parts[1]!.tag === 0x01 && der[parts[1]!.start] !== 0;
    const value = content(der, expectTag(parts[parts.length - 1], 0x04));
    if (out.has(oid)) throw new Error('an extension appears twice'); // RFC 5280 section 4.2
    out.set(oid, { critical, value });
  }
  return out;
}

const KEY_USAGE = '2.5.29.15';
const SUBJECT_ALT_NAME = '2.5.29.17';
const BASIC_CONSTRAINTS = '2.5.29.19';
const COMMON_NAME = encodeOid('2.5.4.3').toString('hex');

/** The subject's first CN (Name ::= SEQUENCE OF SET OF AttributeTypeAndValue), as text. */
function commonName(der: Uint8Array, subject: Tlv): string | undefined {
  for (const rdn of children(der, subject, SEQUENCE)) {
    for (const attribute of children(der, rdn, 0x31)) {
      const [type, value] = children(der, attribute, SEQUENCE);
      if (value === undefined || content(der, expectTag(type, 0x06)).toString('hex') !== COMMON_NAME) continue;
      // UTF8String, PrintableString, IA5String: all read as UTF-8 (the latter two are ASCII).
      if (value.tag !== 0x0c && value.tag !== 0x13 && value.tag !== 0x16) throw new Error('CN of an unsupported string type');
      return new TextDecoder('utf-8', { fatal: true }).decode(content(der, value));
    }
  }
  return undefined;
}

/** GeneralNames' uniformResourceIdentifier entries ([6] IA5String), RFC 5280 section 4.2.1.6. */
function readUris(value: Buffer): string[] {
  return children(value, readWhole(value), SEQUENCE)
    .filter((n) => n.tag === 0x86)
    .map((n) => content(value, n).toString('latin1'));
}

/** BasicConstraints ::= SEQUENCE { cA BOOLEAN DEFAULT FALSE, pathLenConstraint INTEGER OPTIONAL }. */
function readCa(value: Buffer): boolean {
  const [first] = children(value, readWhole(value), SEQUENCE);
  return first !== undefined && first.tag === 0x01 && value[first.start] !== 0;
}

/** The first octet of the KeyUsage BIT STRING (bits 0-7), 0 when empty. */
function readKeyUsage(value: Buffer): number {
  const bits = content(value, expectTag(readWhole(value), 0x03));
  return bits[1] ?? 0;
}

/** The one TLV that is the whole buffer. */
function readWhole(der: Uint8Array): Tlv {
  const tlv = readTlv(der, 0, der.length);
  if (tlv.stop !== der.length) throw new Error('bytes after the value');
  return tlv;
}

/** One TLV at `at`. Throws when it runs past `end`. */
function readTlv(der: Uint8Array, at: number, end: number): Tlv {
  if (at + 2 > end) throw new Error('truncated DER');
  const tag = der[at]!;
  let length = der[at + 1]!;
  let start = at + 2;
  if (length & 0x80) {
    const bytes = length & 0x7f;
    if (bytes === 0 || bytes > 3 || start + bytes > end) throw new Error('bad DER length');
    length = 0;
    for (let i = 0; i < bytes; i++) length = length * 256 + der[start + i]!;
    start += bytes;
  }
  if (start + length > end) throw new Error('truncated DER');
  return { tag, at, start, stop: start + length };
}

/** The TLVs inside a constructed TLV of the expected tag. */
function children(der: Uint8Array, parent: Tlv, tag: number): Tlv[] {
  expectTag(parent, tag);
  const out: Tlv[] = [];
  for (let i = parent.start; i < parent.stop; ) {
    const child = readTlv(der, i, parent.stop);
    out.push(child);
    i = child.stop;
  }
  return out;
}

function expectTag(tlv: Tlv | undefined, tag: number): Tlv {
  if (tlv === undefined || tlv.tag !== tag) throw new Error(`expected DER tag 0x${tag.toString(16)}, found ${tlv === undefined ? 'nothing' : `0x${tlv.tag.toString(16)}`}`);
  return tlv;
}

function content(der: Uint8Array, tlv: Tlv): Buffer {
  return Buffer.from(der.subarray(tlv.start, tlv.stop));
}

/** UTCTime (YYMMDDHHMMSSZ, years 1950-2049) or GeneralizedTime (YYYYMMDDHHMMSSZ), RFC 5280 section 4.1.2.5. */
function readTime(der: Uint8Array, tlv: Tlv | undefined): number {
  if (tlv === undefined || (tlv.tag !== 0x17 && tlv.tag !== 0x18)) throw new Error('expected a time');
  const text = content(der, tlv).toString('latin1');
  const m = (tlv.tag === 0x17 ? /^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/ : /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})Z$/).exec(text);
  if (!m) throw new Error(`bad time "${text}"`);
  let year = Number(m[1]);
  if (tlv.tag === 0x17) year += year < 50 ? 2000 : 1900;
  return Date.UTC(year, Number(m[2]) - 1, Number(m[3]), Number(m[4]), Number(m[5]), Number(m[6]));
}

function encodeUtf8String(text: string): Buffer {
  return encodeTlv(UTF8STRING, Buffer.from(text, 'utf8'));
}

function encodeUtf8Sequence(texts: string[]): Buffer {
  return encodeTlv(SEQUENCE, Buffer.concat(texts.map(encodeUtf8String)));
}

function decodeUtf8String(der: Uint8Array): string {
  const tlv = readTlv(der, 0, der.length);
  if (tlv.tag !== UTF8STRING || tlv.stop !== der.length) throw new Error('not a UTF8String');
  return new TextDecoder('utf-8', { fatal: true }).decode(der.subarray(tlv.start, tlv.stop));
}

function decodeUtf8Sequence(der: Uint8Array): string[] {
  const tlv = readTlv(der, 0, der.length);
  if (tlv.stop !== der.length) throw new Error('trailing bytes after the SEQUENCE');
  return children(der, tlv, SEQUENCE).map((t) => decodeUtf8String(der.subarray(t.at, t.stop)));
}
