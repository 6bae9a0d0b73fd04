/**
 * The headers of peer authentication in a closed overlay (PROTOCOL.md section 11.2), and the
 * Peer-ID scheme a codec checks identities with (section 1 and 11.3):
 *
 *   DHT-Cert: <base64 of a certificate's DER>               one line per certificate
 *   DHT-Proof: fp=<sha-256 hex>;ts=<unix seconds>;sig=<base64url signature>
 *
 * The proof is a signature, by the key of the certificate whose fingerprint it names, over the
 * bytes proofBytes() builds: the sender's (or, in a response, the responder's) Peer-ID, the overlay,
 * the request's Call-ID and CSeq, and the time. Pure functions: no keys, no clocks.
 */
import { idToHex, type NodeId } from '../overlay/id.js';
import { peerIdFromAddress } from '../overlay/peer-id.js';
import { parseUint } from '../sip/message/chars.js';
import type { SipMessage } from '../sip/message/message.js';
import { getParamText, parseParams } from '../sip/message/params.js';
import { fail, ok, type Result } from '../sip/message/result.js';

export const DHT_CERT_HEADER = 'DHT-Cert';
export const DHT_PROOF_HEADER = 'DHT-Proof';
/** Certificates one message may carry (the sender's and those of the bindings' signers): more is a 400. */
export const MAX_CERTS_PER_MESSAGE = 8;
/** Largest certificate accepted, in DER bytes (a node certificate is well under 1 KiB). */
export const MAX_CERT_BYTES = 4096;
/** Largest signature accepted, in bytes (Ed25519 and P-256 in IEEE P1363 form are 64). */
export const MAX_SIGNATURE_BYTES = 512;
/** The first line of the signed bytes: names the format, so a signature made for anything else never verifies here. */
export const PROOF_LABEL = 'kadsip-peer-proof-1';

/**
 * How Peer-IDs are made from addresses: `sha1` (PROTOCOL.md section 1, the default) or
 * `hmac-sha1` under the overlay secret (section 11.3). A codec given a scheme writes its algorithm
 * in DHT-PeerID and checks every Peer-ID it reads with idOf.
 */
export interface PeerIdScheme {
  /** The DHT-PeerID `algorithm=` value, lower case. */
  readonly algorithm: string;
  /** The Peer-ID of a canonical IP text and port. */
  idOf(ip: string, port: number): NodeId;
}

// ---------------------------------------------------------------- DHT-Cert

const BASE64_RE = /^[A-Za-z0-9+/]+={0,2}$/;
const BASE64URL_RE = /^[A-Za-z0-9_-]+$/;
const HEX64_RE = /^[0-9a-f]{64}$/;

/** The header value for one certificate. */
export function formatCert(der: Uint8Array): string {
  return Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('base64');
}

/** One header value as DER: strict base64 (Buffer's own decoder skips what it does not know). */
export function parseCert(value: string): Result<Buffer> {
  const text = value.trim();
  if (text.length === 0 || text.length % 4 !== 0 || !BASE64_RE.test(text)) return fail('DHT-Cert is not base64');
  const der = Buffer.from(text, 'base64');
  if (der.length > MAX_CERT_BYTES) return fail(`DHT-Cert exceeds ${MAX_CERT_BYTES} bytes`);
  return ok(der);
}

/** Every certificate a message carries, in order; an error when one is unreadable or there are too many. */
export function readCerts(msg: SipMessage, max: number = MAX_CERTS_PER_MESSAGE): Result<Buffer[]> {
  const lines = msg.headers.getAll(DHT_CERT_HEADER);
  if (lines.length > max) return fail(`more than ${max} DHT-Cert headers`);
  const out: Buffer[] = [];
  for (const line of lines) {
    const der = parseCert(line);
    if (!der.ok) return der;
    out.push(der.value);
  }
  return ok(out);
}

// ---------------------------------------------------------------- DHT-Proof

export interface Proof {
  /** SHA-256 of the signing certificate's DER, 64 lower-case hex digits. */
  readonly fingerprint: string;
  /** When the proof was made, Unix seconds. */
  readonly timestampS: number;
  readonly signature: Buffer;
}

export function formatProof(p: Proof): string {
  return `fp=${p.fingerprint};ts=${p.timestampS};sig=${p.signature.toString('base64url')}`;
}

/** Parses one header value. Never throws. */
export function parseProof(value: string): Result<Proof> {
  const params = parseParams(`;${value.trim()}`);
  if (!params.ok) return fail(`DHT-Proof: ${params.error.message}`);
  const fp = getParamText(params.value, 'fp');
  if (typeof fp !== 'string' || !HEX64_RE.test(fp.toLowerCase())) return fail('DHT-Proof: fp must be 64 hex digits');
  const ts = getParamText(params.value, 'ts');
  const timestampS = typeof ts === 'string' ? parseUint(ts, 2 ** 40) : null;
  if (timestampS === null) return fail('DHT-Proof: ts must be Unix seconds');
  const sig = getParamText(params.value, 'sig');
  if (typeof sig !== 'string' || !BASE64URL_RE.test(sig)) return fail('DHT-Proof: sig must be base64url');
  const signature = Buffer.from(sig, 'base64url');
  if (signature.length === 0 || signature.length > MAX_SIGNATURE_BYTES) return fail('DHT-Proof: sig length out of range');
  return ok({ fingerprint: fp.toLowerCase(), timestampS, signature });
}

/** The proof of a message: undefined when absent, an error when unreadable or repeated. */
export function readProof(msg: SipMessage): Result<Proof> | undefined {
  const lines = msg.headers.getAll(DHT_PROOF_HEADER);
  if (lines.length === 0) return undefined;
  if (lines.length > 1) return fail('more than one DHT-Proof header');
  return parseProof(lines[0] ?? '');
}

/** What a proof is about: who proves, in which overlay, for which request, when. */
export interface ProofSubject {
  /** `request`: the sender proves; `response`: the responder proves, over the request's fields. */
  readonly direction: 'request' | 'response';
  /** The prover's Peer-ID. */
  readonly peerId: NodeId;
  /** The overlay's name (compared case-insensitively, so signed in lower case). */
  readonly overlay: string;
  readonly callId: string;
  readonly cseq: number;
  /** The request's method, upper case. */
  readonly method: string;
  readonly timestampS: number;
}

/**
 * The signed bytes (PROTOCOL.md 11.2), UTF-8, one field per line, LF-separated:
 * label, direction, Peer-ID (40 hex), overlay (lower case), Call-ID, "CSeq-number METHOD", ts.
 * No field can hold a LF (a SIP header value cannot), so the lines are unambiguous; a Call-ID
 * with a CR or LF throws (a local bug, or input the SIP parser never lets through).
 */
export function proofBytes(s: ProofSubject): Buffer {
  if (/[\r\n]/.test(s.callId) || /[\r\n]/.test(s.overlay) || /[\r\n]/.test(s.method)) throw new RangeError('proof fields cannot hold CR or LF');
  return Buffer.from(
    [PROOF_LABEL, s.direction, idToHex(s.peerId), s.overlay.toLowerCase(), s.callId, `${s.cseq} ${s.method.toUpperCase()}`, String(s.timestampS)].join('\n'),
    'utf8',
  );
}

/** Section 1's default: SHA-1 of the address text, the port in the low 16 bits. */
export const SHA1_PEER_IDS: PeerIdScheme = { algorithm: 'sha1', idOf: peerIdFromAddress };
