/**
 * Overlay requests <-> SIP REGISTER/OPTIONS (PROTOCOL.md section 3):
 *
 *   PING       OPTIONS to the peer
 *   JOIN       REGISTER, sender's PeerURI in To, From and Contact, Expires > 0
 *   LEAVE      the same with Expires: 0
 *   FIND_NODE  REGISTER, To: <sip:peer@0.0.0.0;peer-ID=T>, no Contact, no Expires
 *   STORE      REGISTER, To = resource URI, one Contact per binding with ;expires= (and its proof), Expires > 0
 *   REMOVE     the same with Expires: 0 (and ;expires=0 and the removal proof on each Contact to remove)
 *   FIND_VALUE REGISTER, To = resource URI, no Contact, no Expires
 *
 * Pure functions: no sockets, no timers. The transaction layer adds Via (and so the branch).
 */
import { MAX_CANDIDATES } from '../overlay/candidates.js';
import { DHT_CANDIDATE_HEADER, formatCandidate, readCandidates } from './candidate-header.js';
import { DEFAULT_CONFIG } from '../overlay/constants.js';
import type { Contact } from '../overlay/contact.js';
import type { NodeId } from '../overlay/id.js';
import type { Binding, OverlayRequest, RequestEnvelope } from '../overlay/messages.js';
import { MAX_UINT32, parseNameAddr } from '../sip/message/headers.js';
import { SipHeaders, type SipRequest } from '../sip/message/message.js';
import { randomTag } from '../sip/message/response.js';
import { parseUri } from '../sip/message/uri.js';
import {
  checkDhtPeerId,
  DHT_PEER_ID_HEADER,
  formatDhtPeerId,
  offerOf,
  readDhtPeerId,
  ANY_OVERLAY,
  type DhtPeerId,
  type PeerRole,
} from './dht-peerid.js';
import {
  DHT_OPTION_TAG,
  formatContactBinding,
  formatRequestDisposition,
  formatWarning,
  hasOptionTag,
  readContactBindings,
  readOptionTags,
  readRoutingMode,
  readUintHeader,
  unsupportedTags,
  type ContactBinding,
} from './headers.js';
import { addressOf, canonicalIp, formatAnyHolderUri, formatPeerUri, idMatchesAddress, parsePeerUri, splitAddress } from './peer-uri.js';
import { formatResourceUri, readTarget } from './target.js';
import type { PeerIdScheme } from './trust-headers.js';

/** RFC 3261 section 8.1.1.6: the recommended initial Max-Forwards. hops = 70 - Max-Forwards. */
export const INITIAL_MAX_FORWARDS = 70;
/** Registration lifetime written in JOIN and DHT-PeerID when the caller gives none (an hour, the bucket refresh period). */
export const DEFAULT_EXPIRES_S = 3600;
/** The draft-jiang request for STUN/TURN candidates (PROTOCOL.md section 5). */
export const CANDIDATES_WANTED_HEADER = 'DHT-Candidates-Wanted';
/** Largest DHT-Candidates-Wanted honoured; more is a 400 (PROTOCOL.md section 6: everything bounded). */
export const MAX_CANDIDATES_WANTED = 100;
/** The methods of the peer protocol, for the Allow header of a 405. */
export const PEER_METHODS = ['REGISTER', 'OPTIONS'] as const;

export interface EncodeRequestContext {
  /** This overlay's name. */
  readonly overlay: string;
  /** The sender: its ID and public (server-reflexive) address. */
  readonly self: Contact;
  /** The next hop; its ID when known (OPTIONS then names it in To). */
  readonly to: { readonly address: string; readonly id?: NodeId };
  /** First contact with a bootstrap peer: write `overlay=*` (PROTOCOL.md section 2). */
  readonly firstContact?: boolean;
  /** Registration lifetime for JOIN and DHT-PeerID; default DEFAULT_EXPIRES_S. */
  readonly expiresS?: number;
  readonly callId?: string;
  readonly cseq?: number;
  /** Overrides 70 - envelope.hops. */
  readonly maxForwards?: number;
  /** Adds DHT-Candidates-Wanted: N (PROTOCOL.md section 5). */
  readonly candidatesWanted?: number;
  readonly fromTag?: string;
  /** Optional DHT-PeerID parameters of this profile. */
  readonly role?: PeerRole;
  readonly stun?: string;
  readonly turn?: string;
  readonly load?: number;
  /** How this overlay makes Peer-IDs (DHT-PeerID `algorithm=`); default SHA-1 of the address (section 1). */
  readonly peerIds?: PeerIdScheme;
}

function randomCallId(): string {
  return `${randomTag()}${randomTag()}`;
}

/** ceil(ttlMs / 1000): a binding never claims to live shorter than it does; at least 1 in a STORE. */
export function ttlToExpiresS(ttlMs: number): number {
  return Math.min(MAX_UINT32, Math.max(1, Math.ceil(ttlMs / 1000)));
}

/**
 * Builds the SIP request for an overlay RPC. Throws (RangeError/TypeError) only on local bugs: an
 * address that is not IP:PORT, a binding value that is not a URI, an empty STORE or REMOVE (on the
 * wire it would read as FIND_VALUE).
 */
export function encodeRequest(envelope: RequestEnvelope, ctx: EncodeRequestContext): SipRequest {
  const { request } = envelope;
  const target = splitAddress(ctx.to.address);
  if (target === null) throw new RangeError(`next hop is not IP:PORT: ${JSON.stringify(ctx.to.address)}`);
  const uri = parseUri(`sip:${addressOf(target.host, target.port)}`);
  if (!uri.ok) throw new RangeError(`bad next hop ${ctx.to.address}`);
  const expiresS = ctx.expiresS ?? DEFAULT_EXPIRES_S;
  const method = request.op === 'PING' ? 'OPTIONS' : 'REGISTER';
  const self = formatPeerUri(ctx.self);

  const h = new SipHeaders();
  h.append('To', toOf(request, ctx));
  h.append('From', `${self};tag=${ctx.fromTag ?? randomTag()}`);
  h.append('Call-ID', ctx.callId ?? randomCallId());
  h.append('CSeq', `${ctx.cseq ?? 1} ${method}`);
  const hops = Math.min(Math.max(envelope.hops, 0), INITIAL_MAX_FORWARDS);
  h.append('Max-Forwards', String(ctx.maxForwards ?? INITIAL_MAX_FORWARDS - hops));
  const body = bodyOf(request, self, expiresS);
  for (const c of body.contacts) h.append('Contact', c);
  if (body.expires !== undefined) h.append('Expires', String(body.expires));
  h.append('Require', DHT_OPTION_TAG);
  h.append('Supported', DHT_OPTION_TAG);
  h.append('Request-Disposition', formatRequestDisposition(envelope.mode));
  h.append(
    DHT_PEER_ID_HEADER,
    formatDhtPeerId({
      self: ctx.self,
      overlay: ctx.firstContact === true ? ANY_OVERLAY : ctx.overlay,
      ...(ctx.peerIds ? { algorithm: ctx.peerIds.algorithm } : {}),
      expiresS,
      ...(ctx.role !== undefined ? { role: ctx.role } : {}),
      ...offerOf(ctx),
    }),
  );
  const wantedCandidates = ctx.candidatesWanted ?? envelope.candidatesWanted;
  if (wantedCandidates !== undefined && wantedCandidates > 0) h.append(CANDIDATES_WANTED_HEADER, String(wantedCandidates));
  for (const c of (envelope.candidates ?? []).slice(0, MAX_CANDIDATES)) h.append(DHT_CANDIDATE_HEADER, formatCandidate(c));
  h.append('Content-Length', '0');
  return { kind: 'request', method, uri: uri.value, uriRaw: `sip:${ctx.to.address}`, version: 'SIP/2.0', headers: h, body: Buffer.alloc(0) };
}

/** A binding's proof, to spread into a Contact binding or back (PROTOCOL.md section 11.4), when it has one. */
export function proofOf(b: { readonly proof?: string | undefined }): { proof?: string } {
  return b.proof !== undefined ? { proof: b.proof } : {};
}

function toOf(request: OverlayRequest, ctx: EncodeRequestContext): string {
  switch (request.op) {
    case 'PING':
      return ctx.to.id !== undefined ? formatPeerUri({ id: ctx.to.id, address: ctx.to.address }) : `<sip:${ctx.to.address}>`;
    case 'JOIN':
    case 'LEAVE':
      return formatPeerUri(ctx.self);
    case 'FIND_NODE':
      return formatAnyHolderUri(request.target);
    case 'FIND_VALUE':
    case 'STORE':
    case 'REMOVE':
      return formatResourceUri(request.key);
  }
}

function bodyOf(request: OverlayRequest, self: string, expiresS: number): { contacts: string[]; expires?: number } {
  switch (request.op) {
    case 'PING':
    case 'FIND_NODE':
    case 'FIND_VALUE':
      return { contacts: [] };
    case 'JOIN':
      return { contacts: [`${self};expires=${expiresS}`], expires: expiresS };
    case 'LEAVE':
      return { contacts: [`${self};expires=0`], expires: 0 };
    case 'STORE': {
      if (request.bindings.length === 0) throw new RangeError('STORE without bindings');
      const contacts = request.bindings.map((b) => ({ uri: b.value, expiresS: ttlToExpiresS(b.ttlMs), ...proofOf(b) }));
      return { contacts: contacts.map(formatContactBinding), expires: Math.max(...contacts.map((c) => c.expiresS)) };
    }
    case 'REMOVE':
      if (request.removals.length === 0) throw new RangeError('REMOVE without values');
      return { contacts: request.removals.map((b) => formatContactBinding({ uri: b.value, expiresS: 0, ...proofOf(b) })), expires: 0 };
  }
}

// ---------------------------------------------------------------- decoding

export interface DecodeLimits {
  /** Most Contacts in one request (400 beyond). */
  readonly maxContacts: number;
  /** Longest binding value in bytes (413 beyond). */
  readonly maxValueBytes: number;
}

export const DEFAULT_DECODE_LIMITS: DecodeLimits = {
  maxContacts: DEFAULT_CONFIG.maxBindingsPerRecord,
  maxValueBytes: DEFAULT_CONFIG.maxValueBytes,
};

export interface DecodeRequestContext {
  readonly overlay: string;
  readonly self: Contact;
  /** Accept `overlay=*` (this node is a bootstrap peer and takes first contacts). */
  readonly acceptAnyOverlay?: boolean;
  readonly limits?: Partial<DecodeLimits>;
  /** How this overlay makes Peer-IDs: the sender's is checked with it (section 1, 11.3); default SHA-1. */
  readonly peerIds?: PeerIdScheme;
}

/** Why a request is refused: the status, reason phrase and extra header lines of the answer. */
export interface Rejection {
  readonly ok: false;
  readonly status: number;
  readonly reason: string;
  readonly headers?: Array<[string, string]>;
}

export interface Accepted {
  readonly ok: true;
  readonly envelope: RequestEnvelope;
  /** The sender's DHT-PeerID, verified (its role/stun/turn feed the candidate table). */
  readonly peer: DhtPeerId;
  /** DHT-Candidates-Wanted, when present. */
  readonly candidatesWanted?: number;
  /** The registration lifetime a JOIN asked for. */
  readonly expiresS?: number;
}

export type DecodedRequest = Accepted | Rejection;

/**
 * Whether a request is meant for the peer protocol (it names dht in Require or Proxy-Require, or
 * carries a DHT-PeerID), so the node hands it to decodeRequest rather than to its registrar or
 * proxy role (PROTOCOL.md section 4). An OPTIONS keep-alive from a phone is not a peer request.
 */
export function isPeerRequest(req: SipRequest): boolean {
  if (req.headers.has(DHT_PEER_ID_HEADER)) return true;
  for (const header of ['require', 'proxy-require']) {
    const tags = readOptionTags(req, header);
    if (tags.ok && hasOptionTag(tags.value, DHT_OPTION_TAG)) return true;
  }
  return false;
}

/**
 * Reads a peer request, checking in RFC 3261 section 8.2 order: method (405), extensions (420, 421),
 * the DHT-PeerID (400, 488, 493), routing (400, 483), then the operation itself (400, 403, 413).
 * Every rejection names its cause in a Warning (PROTOCOL.md section 6). Never throws.
 */
export function decodeRequest(
  req: SipRequest,
  source: { readonly host: string; readonly port: number },
  ctx: DecodeRequestContext,
): DecodedRequest {
  const limits: DecodeLimits = { ...DEFAULT_DECODE_LIMITS, ...ctx.limits };
  const reject = (status: number, reason: string, warning?: string, extra: Array<[string, string]> = []): Rejection => ({
    ok: false,
    status,
    reason,
    headers: [...extra, ...(warning !== undefined ? [['Warning', formatWarning(ctx.self.address, warning)] as [string, string]] : [])],
  });

  // RFC 3261 section 8.2.1: a method the UAS does not implement gets 405 with Allow.
  if (req.method !== 'REGISTER' && req.method !== 'OPTIONS') {
    return reject(405, 'Method Not Allowed', `the peer protocol uses ${PEER_METHODS.join(' and ')}`, [['Allow', PEER_METHODS.join(', ')]]);
  }

  // RFC 3261 section 8.2.2.3: unknown option tags in Require get 420 listing them in Unsupported.
  // Proxy-Require is checked too: in recursive mode this node is a proxy (RFC 3261 section 16.3).
  const require = readOptionTags(req, 'require');
  const proxyRequire = readOptionTags(req, 'proxy-require');
  if (!require.ok) return reject(400, 'Invalid Require', require.error.message);
  if (!proxyRequire.ok) return reject(400, 'Invalid Proxy-Require', proxyRequire.error.message);
  const unknown = unsupportedTags([...require.value, ...proxyRequire.value]);
  if (unknown.length > 0) return reject(420, 'Bad Extension', undefined, [['Unsupported', unknown.join(', ')]]);
  // PROTOCOL.md section 2: a request for the overlay not marked as a peer request gets 421 with
  // Require: dht (RFC 3261 section 21.4.16), telling a SIP element what it would need.
  if (!hasOptionTag(require.value, DHT_OPTION_TAG)) {
    return reject(421, 'Extension Required', 'peer requests carry Require: dht', [['Require', DHT_OPTION_TAG]]);
  }

  const dhtPeerId = readDhtPeerId(req);
  if (dhtPeerId === undefined) return reject(400, 'Missing DHT-PeerID', 'no DHT-PeerID header');
  if (!dhtPeerId.ok) return reject(400, 'Invalid DHT-PeerID', dhtPeerId.error.message);
  const peer = dhtPeerId.value;
  const unacceptable = checkDhtPeerId(peer, { overlay: ctx.overlay, ...(ctx.acceptAnyOverlay !== undefined ? { acceptAnyOverlay: ctx.acceptAnyOverlay } : {}), ...(ctx.peerIds ? { algorithm: ctx.peerIds.algorithm } : {}) });
  if (unacceptable !== null) return reject(488, 'Not Acceptable Here', unacceptable);

  // PROTOCOL.md section 1: recompute the ID from the address the request came from.
  const sourceIp = canonicalIp(source.host);
  if (sourceIp === null || !Number.isInteger(source.port) || source.port < 0 || source.port > 0xffff) {
    return reject(400, 'Bad Request', 'unusable source address');
  }
  if (!idMatchesAddress(peer.peer.id, sourceIp, source.port, ctx.peerIds)) {
    return reject(493, 'Undecipherable', `peer-ID does not match source ${addressOf(sourceIp, source.port)}`);
  }
  const from: Contact = {
    id: peer.peer.id,
    address: addressOf(sourceIp, source.port),
    ...offerOf(peer),
  };

  const mode = readRoutingMode(req);
  if (!mode.ok) return reject(400, 'Invalid Request-Disposition', mode.error.message);
  const maxForwards = readUintHeader(req, 'max-forwards', 255);
  if (!maxForwards.ok) return reject(400, 'Invalid Max-Forwards', maxForwards.error.message);
  const mf = maxForwards.value ?? INITIAL_MAX_FORWARDS;
  // RFC 3261 section 16.3 step 2: a request that must be forwarded with Max-Forwards 0 gets 483.
  // Only recursive requests are forwarded; an iterative one is answered here whatever its count.
  if (mf === 0 && mode.value === 'recursive') return reject(483, 'Too Many Hops', 'Max-Forwards reached 0');
  const hops = Math.max(0, INITIAL_MAX_FORWARDS - mf);

  const wanted = readUintHeader(req, CANDIDATES_WANTED_HEADER, MAX_CANDIDATES_WANTED);
  if (!wanted.ok) return reject(400, 'Invalid DHT-Candidates-Wanted', wanted.error.message);

  const op = req.method === 'OPTIONS' ? ok({ request: { op: 'PING' } as OverlayRequest }) : registerOp(req, from, limits);
  if (!op.ok) return reject(op.status, op.reason, op.warning);
  const carried = readCandidates(req, MAX_CANDIDATES);
  return {
    ok: true,
    envelope: {
      from,
      mode: mode.value,
      hops,
      request: op.request,
      ...(peer.role === 'client' ? { role: 'client' as const } : {}),
      ...(wanted.value !== undefined && wanted.value > 0 ? { candidatesWanted: wanted.value } : {}),
      ...(carried.length > 0 ? { candidates: carried } : {}),
    },
    peer,
    ...(wanted.value !== undefined ? { candidatesWanted: wanted.value } : {}),
    ...(op.expiresS !== undefined ? { expiresS: op.expiresS } : {}),
  };
}

type OpResult =
  | { ok: true; request: OverlayRequest; expiresS?: number }
  | { ok: false; status: number; reason: string; warning: string };

function ok(r: { request: OverlayRequest; expiresS?: number }): OpResult {
  return { ok: true, ...r };
}

function no(status: number, reason: string, warning: string): OpResult {
  return { ok: false, status, reason, warning };
}

/** REGISTER: what it is about (To), whether it adds or removes (Contact, Expires). */
function registerOp(req: SipRequest, sender: Contact, limits: DecodeLimits): OpResult {
  const to = parseNameAddr(req.headers.get('to') ?? '');
  if (!to.ok) return no(400, 'Invalid To', to.error.message);
  const target = readTarget(to.value.uri);
  if (!target.ok) return no(400, 'Invalid To', target.error.message);
  const expires = readUintHeader(req, 'expires');
  if (!expires.ok) return no(400, 'Invalid Expires', expires.error.message);
  // Too many Contacts is a 400, as parseMessage answers for the same bound, so the sender sees
  // the same code whichever layer counts first (PROTOCOL.md section 6: Contacts per message bounded).
  const contacts = readContactBindings(req, limits.maxContacts);
  if (!contacts.ok) {
    const tooMany = contacts.error.message.startsWith('too many');
    return no(400, tooMany ? 'Too Many Contacts' : 'Invalid Contact', contacts.error.message);
  }
  const c = contacts.value;

  if (target.value.kind === 'peer') {
    const peer = target.value.peer;
    // No Contact: a query for the holder of the ID. An Expires there means nothing (RFC 3261
    // section 10.2.3 fetch) and is ignored.
    if (c === undefined) return ok({ request: { op: 'FIND_NODE', target: peer.id } });
    if (peer.anyHolder) return no(400, 'Bad Request', 'a REGISTER for 0.0.0.0 carries no Contact');
    // JOIN/LEAVE register the sender itself: RFC 3261 section 10.3 step 5 answers a registration
    // for someone else with 403. The sender is the peer its verified DHT-PeerID names.
    if (peer.id !== sender.id) return no(403, 'Forbidden', 'JOIN/LEAVE To must be the sender');
    if (c.star) {
      // RFC 3261 section 10.3 step 6: "*" only with Expires: 0.
      if (expires.value !== 0) return no(400, 'Invalid Contact', 'Contact "*" needs Expires: 0');
      return ok({ request: { op: 'LEAVE' } });
    }
    const [only, ...rest] = c.bindings;
    if (only === undefined || rest.length > 0) return no(400, 'Invalid Contact', 'JOIN/LEAVE carries exactly one Contact');
    const contactPeer = parsePeerUri(only.uri);
    if (!contactPeer.ok) return no(400, 'Invalid Contact', `JOIN Contact: ${contactPeer.error.message}`);
    if (contactPeer.value.id !== sender.id) return no(403, 'Forbidden', 'JOIN/LEAVE Contact must be the sender');
    // RFC 3261 section 10.2.1.1: a Contact's expires parameter overrides the Expires header.
    const e = only.expiresS ?? expires.value;
    if (e === undefined) return no(400, 'Invalid Expires', 'JOIN needs Expires');
    return e === 0 ? ok({ request: { op: 'LEAVE' } }) : ok({ request: { op: 'JOIN' }, expiresS: e });
  }

  const key = target.value.key;
  if (c === undefined) return ok({ request: { op: 'FIND_VALUE', key } });
  if (c.star) return no(400, 'Invalid Contact', 'REMOVE lists the bindings it removes; "*" is not allowed');
  return storeOrRemove(key, c.bindings, expires.value, limits);
}

function storeOrRemove(key: NodeId, bindings: readonly ContactBinding[], headerExpires: number | undefined, limits: DecodeLimits): OpResult {
  const stored: Binding[] = [];
  const removed: Binding[] = [];
  for (const b of bindings) {
    // PROTOCOL.md section 6 bounds value sizes; the store's own refusal is 413 too (value-too-large).
    if (Buffer.byteLength(b.uri, 'utf8') > limits.maxValueBytes) {
      return no(413, 'Request Entity Too Large', `a binding exceeds ${limits.maxValueBytes} bytes`);
    }
    const e = b.expiresS ?? headerExpires;
    if (e === undefined) return no(400, 'Invalid Expires', 'STORE/REMOVE needs Expires');
    if (e === 0) removed.push({ value: b.uri, ttlMs: 0, ...proofOf(b) });
    else stored.push({ value: b.uri, ttlMs: e * 1000, ...proofOf(b) });
  }
  // One REGISTER is one operation: adding and removing at once has no overlay meaning.
  if (stored.length > 0 && removed.length > 0) return no(400, 'Invalid Expires', 'STORE and REMOVE mixed in one REGISTER');
  return removed.length > 0 ? ok({ request: { op: 'REMOVE', key, removals: removed } }) : ok({ request: { op: 'STORE', key, bindings: stored } });
}
