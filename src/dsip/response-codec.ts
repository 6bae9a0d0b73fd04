/**
 * Overlay responses <-> SIP responses (PROTOCOL.md section 3):
 *
 *   ok         200 (JOIN: the Contacts closest to the joiner, as PeerURIs with ;expires=)
 *   stored     200 echoing the stored bindings as Contacts with ;expires=
 *   value      200 with the bindings as Contacts with ;expires= (and their proofs)
 *   nodes      302 Moved Temporarily, the closest PeerURIs as Contacts, closest first
 *   not-found  404 (with the closest PeerURIs as Contacts when the overlay gives any)
 *   error      bad-request 400, too-many-bindings 403, value-too-large 413, store-full 503,
 *              loop 482, leaving 503; a refused binding proof 428/437/438/403 (ERROR_STATUS);
 *              a Warning names the reason, 503s carry Retry-After
 *
 * Every response carries the answerer's DHT-PeerID (PROTOCOL.md section 2).
 */
import { hostPort } from '../common/host-port.js';
import { DEFAULT_CONFIG } from '../overlay/constants.js';
import type { Contact } from '../overlay/contact.js';
import type { NodeId } from '../overlay/id.js';
import type { Binding, OverlayErrorReason, OverlayRequest, OverlayResponse, RpcResult } from '../overlay/messages.js';
import { parseCSeq, parseNameAddr } from '../sip/message/headers.js';
import type { SipRequest, SipResponse } from '../sip/message/message.js';
import { createResponse } from '../sip/message/response.js';
import { serializeMessage } from '../sip/message/serialize.js';
import { checkDhtPeerId, DHT_PEER_ID_HEADER, formatDhtPeerId, offerOf, readDhtPeerId, type PeerRole } from './dht-peerid.js';
import { formatContactBinding, formatWarning, readContactBindings, readUintHeader, readWarningText, type ContactBinding } from './headers.js';
import { MAX_CANDIDATES } from '../overlay/candidates.js';
import { DHT_CANDIDATE_HEADER, formatCandidate, readCandidates } from './candidate-header.js';
import { addressOf, canonicalIp, contactOf, formatPeerUri, idMatchesAddress, parsePeerUri } from './peer-uri.js';
import { DEFAULT_EXPIRES_S, proofOf, ttlToExpiresS, type Rejection } from './request-codec.js';
import { readTarget } from './target.js';
import type { PeerIdScheme } from './trust-headers.js';

/** RFC 3261 section 18.1.1: above 1300 bytes (MTU unknown) a message needs a congestion-controlled transport. */
export const MAX_UDP_BYTES = 1300;
/** Retry-After of a 503 for a full store: the store frees up as records expire (minutes). */
export const STORE_FULL_RETRY_AFTER_S = 60;
/** Retry-After of a 503 from a leaving peer: it is not coming back soon; ask someone else. */
export const LEAVING_RETRY_AFTER_S = 3600;

const ERROR_STATUS: Readonly<Record<OverlayErrorReason, number>> = {
  'bad-request': 400,
  'too-many-bindings': 403,
  'value-too-large': 413,
  'store-full': 503,
  loop: 482,
  leaving: 503,
  // A binding's proof refused (PROTOCOL.md section 11.4), in the family RFC 8224 gives a request's
  // identity: 428 nothing to check, 437 a certificate it cannot use, 438 a signature that fails,
  // and 403 for a valid proof that does not allow this.
  'proof-required': 428,
  'unknown-signer': 437,
  'bad-certificate': 437,
  'bad-signature': 438,
  'not-authorized': 403,
  replayed: 403,
  expired: 403,
  'future-dated': 403,
};

const ERROR_REASONS = new Set<string>(Object.keys(ERROR_STATUS));

export interface EncodeResponseContext {
  readonly overlay: string;
  /** The answerer. */
  readonly self: Contact;
  /** The transport the response goes out on: over UDP, lists of peers are cut to fit MAX_UDP_BYTES. */
  readonly protocol: 'udp' | 'tcp' | 'tls';
  /** The answerer's registration lifetime in its DHT-PeerID; default DEFAULT_EXPIRES_S. */
  readonly expiresS?: number;
  /** `;expires=` written on routing-state PeerURIs; default DEFAULT_EXPIRES_S. */
  readonly contactExpiresS?: number;
  /** Overrides MAX_UDP_BYTES. */
  readonly maxUdpBytes?: number;
  readonly toTag?: string;
  readonly role?: PeerRole;
  readonly stun?: string;
  readonly turn?: string;
  readonly load?: number;
  /** How this overlay makes Peer-IDs (DHT-PeerID `algorithm=`); default SHA-1 of the address. */
  readonly peerIds?: PeerIdScheme;
}

function dhtPeerIdLine(ctx: Pick<EncodeResponseContext, 'overlay' | 'self' | 'expiresS' | 'role' | 'stun' | 'turn' | 'load' | 'peerIds'>): [string, string] {
  return [
    DHT_PEER_ID_HEADER,
    formatDhtPeerId({
      self: ctx.self,
      overlay: ctx.overlay,
      ...(ctx.peerIds ? { algorithm: ctx.peerIds.algorithm } : {}),
      expiresS: ctx.expiresS ?? DEFAULT_EXPIRES_S,
      ...(ctx.role !== undefined ? { role: ctx.role } : {}),
      ...offerOf(ctx),
    }),
  ];
}

/** Builds the SIP response to `req` (createResponse: Via, From, To+tag, Call-ID, CSeq copied). */
export function encodeResponse(req: SipRequest, response: OverlayResponse, ctx: EncodeResponseContext): SipResponse {
  const headers: Array<[string, string]> = [dhtPeerIdLine(ctx)];
  // Candidates go in before the peer list is cut to fit a UDP response, so the cut counts them.
  for (const c of (response.candidates ?? []).slice(0, MAX_CANDIDATES)) headers.push([DHT_CANDIDATE_HEADER, formatCandidate(c)]);
  let status = 200;
  let peers: readonly Contact[] = [];
  let bindings: readonly Binding[] = [];
  switch (response.kind) {
    case 'ok':
      peers = response.contacts ?? [];
      break;
    case 'stored':
    case 'value':
      bindings = response.bindings;
      break;
    case 'nodes':
      status = 302;
      peers = response.contacts;
      break;
    case 'not-found':
      status = 404;
      peers = response.contacts ?? [];
      break;
    case 'error': {
      status = ERROR_STATUS[response.reason];
      const text = response.detail !== undefined ? `${response.reason}: ${response.detail}` : response.reason;
      headers.push(['Warning', formatWarning(ctx.self.address, text)]);
      if (status === 503) {
        const after = response.reason === 'leaving' ? LEAVING_RETRY_AFTER_S : STORE_FULL_RETRY_AFTER_S;
        headers.push(['Retry-After', String(after)]);
      }
      break;
    }
  }
  const res = createResponse(req, status, { headers, ...(ctx.toTag !== undefined ? { toTag: ctx.toTag } : {}) });
  // Records go one binding per line: values may be long, and one line stays under any line limit.
  for (const b of bindings) res.headers.append('Contact', formatContactBinding({ uri: b.value, expiresS: ttlToExpiresS(b.ttlMs), ...proofOf(b) }));
  if (peers.length > 0) appendPeers(res, req, peers, ctx);
  res.headers.append('Content-Length', '0');
  return res;
}

/**
 * Routing state as one Contact line of PeerURIs, closest to the request's target first. Over UDP
 * only as many as keep the whole response under the limit (PROTOCOL.md section 3, RFC 3261
 * section 18.1.1); over TCP all of them.
 */
function appendPeers(res: SipResponse, req: SipRequest, peers: readonly Contact[], ctx: EncodeResponseContext): void {
  const target = targetIdOf(req);
  const sorted = target === undefined ? [...peers] : [...peers].sort((a, b) => compareXor(target, a.id, b.id));
  const expires = ctx.contactExpiresS ?? DEFAULT_EXPIRES_S;
  const values = sorted.map((c) => `${formatPeerUri(c)};expires=${expires}`);
  let count = values.length;
  if (ctx.protocol === 'udp') {
    const limit = ctx.maxUdpBytes ?? MAX_UDP_BYTES;
    // serializeMessage always writes Content-Length, so this is the final size without the line.
    let size = serializeMessage(res).length + 'Contact: \r\n'.length;
    count = 0;
    for (const v of values) {
      const add = Buffer.byteLength(v, 'utf8') + (count === 0 ? 0 : 2); // ", " between values
      if (size + add >= limit) break;
      size += add;
      count++;
    }
  }
  if (count > 0) res.headers.append('Contact', values.slice(0, count).join(', '));
}

function compareXor(target: NodeId, a: NodeId, b: NodeId): number {
  const da = a ^ target;
  const db = b ^ target;
  return da < db ? -1 : da > db ? 1 : 0;
}

/** The ID a REGISTER is about (target peer, joiner, resource key); undefined for OPTIONS. */
function targetIdOf(req: SipRequest): NodeId | undefined {
  if (req.method !== 'REGISTER') return undefined;
  const to = parseNameAddr(req.headers.get('to') ?? '');
  if (!to.ok) return undefined;
  const t = readTarget(to.value.uri);
  if (!t.ok) return undefined;
  return t.value.kind === 'peer' ? t.value.peer.id : t.value.key;
}

/** The answer to a request decodeRequest refused, with the answerer's DHT-PeerID. */
export function encodeRejection(
  req: SipRequest,
  rejection: Pick<Rejection, 'status' | 'reason' | 'headers'>,
  ctx: Pick<EncodeResponseContext, 'overlay' | 'self' | 'expiresS' | 'toTag' | 'role' | 'stun' | 'turn' | 'load' | 'peerIds'>,
): SipResponse {
  const res = createResponse(req, rejection.status, {
    reason: rejection.reason,
    headers: [...(rejection.headers ?? []), dhtPeerIdLine(ctx)],
    ...(ctx.toTag !== undefined ? { toTag: ctx.toTag } : {}),
  });
  res.headers.append('Content-Length', '0');
  return res;
}

// ---------------------------------------------------------------- decoding

export interface DecodeResponseContext {
  readonly overlay: string;
  /** Most Contacts read from one response; the rest are ignored. Default: maxBindingsPerRecord (32). */
  readonly maxContacts?: number;
  /** How this overlay makes Peer-IDs: the answerer's and the Contacts' are checked with it; default SHA-1. */
  readonly peerIds?: PeerIdScheme;
}

type Failure = Extract<RpcResult, { ok: false }>;

function rejected(detail: string): Failure {
  return { ok: false, reason: 'rejected', detail };
}

/**
 * Reads the answer to `request` received from `source`. The answerer's DHT-PeerID must name the
 * overlay and match the address the response came from (PROTOCOL.md section 1); PeerURIs in
 * Contacts must match their own addresses, and those that do not are dropped (a peer never
 * redirects to one it has not reached, so a mismatch is a forgery or a mistake). Never throws.
 */
export function decodeResponse(
  res: SipResponse,
  request: OverlayRequest,
  source: { readonly host: string; readonly port: number },
  ctx: DecodeResponseContext,
): RpcResult {
  const what = `${res.status} ${res.reason}`;
  if (res.status < 200) return rejected(`provisional ${what}`);
  const expectMethod = request.op === 'PING' ? 'OPTIONS' : 'REGISTER';
  const cseq = parseCSeq(res.headers.get('cseq') ?? '');
  if (cseq.ok && cseq.value.method !== expectMethod) return rejected(`${what} answers ${cseq.value.method}, not ${expectMethod}`);

  const dht = readDhtPeerId(res);
  if (dht === undefined) return rejected(`${what} without DHT-PeerID`);
  if (!dht.ok) return rejected(`${what}: ${dht.error.message}`);
  const unacceptable = checkDhtPeerId(dht.value, { overlay: ctx.overlay, ...(ctx.peerIds ? { algorithm: ctx.peerIds.algorithm } : {}) });
  if (unacceptable !== null) return rejected(`${what}: ${unacceptable}`);
  const ip = canonicalIp(source.host);
  if (ip === null || !idMatchesAddress(dht.value.peer.id, ip, source.port, ctx.peerIds)) {
    return rejected(`${what}: answerer's peer-ID does not match its address ${hostPort(source.host, source.port)}`);
  }
  const from: Contact = {
    id: dht.value.peer.id,
    address: addressOf(ip, source.port),
    ...offerOf(dht.value),
  };
  const response = responseOf(res, request, ctx.maxContacts ?? DEFAULT_CONFIG.maxBindingsPerRecord, ctx.peerIds);
  if ('ok' in response) return response;
  const candidates = readCandidates(res, MAX_CANDIDATES);
  return { ok: true, from, response: candidates.length > 0 ? { ...response, candidates } : response };
}

function responseOf(res: SipResponse, request: OverlayRequest, max: number, scheme: PeerIdScheme | undefined): OverlayResponse | Failure {
  const what = `${res.status} ${res.reason}`;
  const contacts = readContactBindings(res, max, 'truncate');
  if (!contacts.ok) return rejected(`${what}: ${contacts.error.message}`);
  const list = contacts.value === undefined || contacts.value.star ? [] : contacts.value.bindings;
  const lookup = request.op === 'FIND_NODE' || request.op === 'FIND_VALUE';

  if (res.status >= 200 && res.status < 300) {
    switch (request.op) {
      case 'STORE':
        return { kind: 'stored', bindings: bindingsOf(res, list) };
      case 'FIND_VALUE':
        // A 200 to FIND_VALUE is a hit; without Contacts it is a hit on nothing, which the lookup
        // treats like a miss.
        return { kind: 'value', bindings: bindingsOf(res, list) };
      case 'JOIN':
      case 'FIND_NODE': {
        // JOIN: the peers closest to the joiner. FIND_NODE: the answerer is the target.
        const peers = peersOf(list, scheme);
        return peers.length > 0 ? { kind: 'ok', contacts: peers } : { kind: 'ok' };
      }
      default:
        return { kind: 'ok' };
    }
  }
  if (res.status >= 300 && res.status < 400) {
    return lookup ? { kind: 'nodes', contacts: peersOf(list, scheme) } : rejected(`${what} to ${request.op}`);
  }
  if (res.status === 404 && lookup) {
    const peers = peersOf(list, scheme);
    return peers.length > 0 ? { kind: 'not-found', contacts: peers } : { kind: 'not-found' };
  }
  if (res.status === 408 || res.status === 504) return { ok: false, reason: 'timeout', detail: what };
  return errorOf(res, request) ?? rejected(what);
}

/** An overlay error: the Warning's reason token when it has one, else the status's usual meaning. */
function errorOf(res: SipResponse, request: OverlayRequest): OverlayResponse | undefined {
  const text = readWarningText(res);
  const m = text === undefined ? null : /^([a-z-]+)(?:: ([\s\S]*))?$/.exec(text);
  const token = m?.[1];
  if (token !== undefined && ERROR_REASONS.has(token) && ERROR_STATUS[token as OverlayErrorReason] === res.status) {
    const detail = m?.[2];
    return { kind: 'error', reason: token as OverlayErrorReason, ...(detail !== undefined ? { detail } : {}) };
  }
  const detail = text !== undefined ? { detail: text } : {};
  switch (res.status) {
    case 400:
      return { kind: 'error', reason: 'bad-request', ...detail };
    case 413:
      return { kind: 'error', reason: 'value-too-large', ...detail };
    case 482:
    case 483:
      return { kind: 'error', reason: 'loop', ...detail };
    case 403:
      return request.op === 'STORE' ? { kind: 'error', reason: 'too-many-bindings', ...detail } : undefined;
    case 503:
      return request.op === 'STORE' ? { kind: 'error', reason: 'store-full', ...detail } : undefined;
    default:
      return undefined;
  }
}

/** Bindings from Contacts; a binding's lifetime is its ;expires=, else the Expires header, else it is dropped. */
function bindingsOf(res: SipResponse, list: readonly ContactBinding[]): Binding[] {
  const header = readUintHeader(res, 'expires');
  const fallback = header.ok ? header.value : undefined;
  const out: Binding[] = [];
  for (const b of list) {
    const e = b.expiresS ?? fallback;
    if (e !== undefined) out.push({ value: b.uri, ttlMs: e * 1000, ...proofOf(b) });
  }
  return out;
}

/** Verified, distinct peers from Contacts: PeerURIs whose ID is the one of their own address. */
function peersOf(list: readonly ContactBinding[], scheme: PeerIdScheme | undefined): Contact[] {
  const seen = new Set<NodeId>();
  const out: Contact[] = [];
  for (const b of list) {
    const p = parsePeerUri(b.uri);
    if (!p.ok || p.value.anyHolder || seen.has(p.value.id)) continue;
    if (!idMatchesAddress(p.value.id, p.value.host, p.value.port, scheme)) continue;
    seen.add(p.value.id);
    out.push(contactOf(p.value));
  }
  return out;
}
