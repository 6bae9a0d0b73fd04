/**
 * The DHT-PeerID header (PROTOCOL.md section 2, after draft-bryan-p2psip-dsip-00 section 6):
 *
 *   DHT-PeerID: <sip:peer@IP:PORT;peer-ID=HEX>;algorithm=sha1;dht=Kademlia1.0;overlay=NAME;expires=SECONDS
 *
 * plus this profile's optional `role=peer|client`, `stun=IP:PORT`, `turn=IP:PORT`, and kadsip's
 * `load=N` next to them (docs/PROTOCOL.md section 7: the clients its STUN/TURN service served in
 * the last 5 minutes, 0..65535; others ignore the unknown parameter). Reading accepts
 * the drafts' other spellings (`dht-param=` for dht; `peerId`/`pID` in the URI); writing only the
 * form above. Parsing says whether the header is well formed (else 400); checkDhtPeerId says whether
 * this overlay accepts it (else 488). Verifying the ID against the sender's address (493) is the
 * codec's job, which knows the address.
 */
import { MAX_LOAD } from '../common/load.js';
import type { Contact } from '../overlay/contact.js';
import { isToken, parseUint } from '../sip/message/chars.js';
import { MAX_UINT32, parseNameAddr } from '../sip/message/headers.js';
import type { SipMessage } from '../sip/message/message.js';
import { getParamText, type Param } from '../sip/message/params.js';
import { fail, ok, type Result } from '../sip/message/result.js';
import { addressOf, formatPeerUri, parsePeerUri, splitAddress, type PeerUri } from './peer-uri.js';

export const DHT_PEER_ID_HEADER = 'DHT-PeerID';
/** The only algorithm implemented: scheme `address`, SHA-1 (PROTOCOL.md section 1). */
export const ALGORITHM_SHA1 = 'sha1';
export const DHT_KADEMLIA = 'Kademlia1.0';
/** `overlay=*`: "any overlay", only on first contact with a bootstrap peer (PROTOCOL.md section 2). */
export const ANY_OVERLAY = '*';

export type PeerRole = 'peer' | 'client';

export interface DhtPeerId {
  readonly peer: PeerUri;
  /** Lower-cased. */
  readonly algorithm: string;
  /** As written (compared case-insensitively). */
  readonly dht: string;
  /** As written, quotes removed; `*` when anyOverlay. */
  readonly overlay: string;
  readonly anyOverlay: boolean;
  readonly expiresS?: number;
  readonly role?: PeerRole;
  /** Canonical `IP:PORT` of the STUN / TURN service this node offers. */
  readonly stun?: string;
  readonly turn?: string;
  /** The load figure of that service (src/common/load.ts). */
  readonly load?: number;
}

export interface DhtPeerIdInit {
  readonly self: Contact;
  /** How the Peer-ID was made (section 1: `sha1`; 11.3: `hmac-sha1`); default ALGORITHM_SHA1. */
  readonly algorithm?: string;
  /** Overlay name (a SIP token), or `*` on first contact with a bootstrap peer. */
  readonly overlay: string;
  readonly expiresS: number;
  readonly role?: PeerRole;
  readonly stun?: string;
  readonly turn?: string;
  /** Written only with stun= or turn=: a figure for a service nobody is offered means nothing. */
  readonly load?: number;
}

/** What a node offers for NAT traversal, as its DHT-PeerID says: `stun=`, `turn=`, `load=`. */
export type Offer = Pick<DhtPeerId, 'stun' | 'turn' | 'load'>;

/** The offer parameters of `from` that are set (a Contact, a DhtPeerId, an encoding context). */
export function offerOf(from: Offer): Offer {
  return {
    ...(from.stun !== undefined ? { stun: from.stun } : {}),
    ...(from.turn !== undefined ? { turn: from.turn } : {}),
    ...(from.load !== undefined ? { load: from.load } : {}),
  };
}

/** Writes the header value in the profile's form. Throws TypeError/RangeError on bad input (a local bug). */
export function formatDhtPeerId(init: DhtPeerIdInit): string {
  if (!isToken(init.overlay)) throw new TypeError(`overlay name must be a SIP token: ${JSON.stringify(init.overlay)}`);
  if (!Number.isInteger(init.expiresS) || init.expiresS < 0 || init.expiresS > MAX_UINT32) {
    throw new RangeError(`expires out of range: ${init.expiresS}`);
  }
  let s = `${formatPeerUri(init.self)};algorithm=${init.algorithm ?? ALGORITHM_SHA1};dht=${DHT_KADEMLIA};overlay=${init.overlay};expires=${init.expiresS}`;
  if (init.role !== undefined) s += `;role=${init.role}`;
  for (const key of ['stun', 'turn'] as const) {
    const v = init[key];
    if (v === undefined) continue;
    const a = splitAddress(v);
    if (a === null) throw new RangeError(`${key} must be IP:PORT: ${JSON.stringify(v)}`);
    s += `;${key}=${addressOf(a.host, a.port)}`;
  }
  if (init.load !== undefined && (init.stun !== undefined || init.turn !== undefined)) {
    if (!Number.isInteger(init.load) || init.load < 0 || init.load > MAX_LOAD) throw new RangeError(`load out of range: ${init.load}`);
    s += `;load=${init.load}`;
  }
  return s;
}

/** Parses one header value. Never throws; an error names what is wrong (for a 400's Warning). */
export function parseDhtPeerId(value: string): Result<DhtPeerId> {
  const na = parseNameAddr(value);
  if (!na.ok) return fail(`DHT-PeerID: ${na.error.message}`);
  const peer = parsePeerUri(na.value.uri);
  if (!peer.ok) return fail(`DHT-PeerID: ${peer.error.message}`);
  // A DHT-PeerID names the sender itself: "whoever holds this ID" makes no sense there.
  if (peer.value.anyHolder) return fail('DHT-PeerID: host 0.0.0.0 names no peer');
  const params = na.value.params;
  const text = (name: string): string | null | undefined => getParamText(params, name);

  const algorithm = text('algorithm');
  if (typeof algorithm !== 'string' || algorithm === '') return fail('DHT-PeerID: missing algorithm');
  // draft-bryan-p2psip-dsip-00 writes the DHT name as dht-param=; the profile as dht=.
  const dht = text('dht') ?? text('dht-param');
  if (typeof dht !== 'string' || dht === '') return fail('DHT-PeerID: missing dht');
  const overlay = text('overlay');
  if (typeof overlay !== 'string' || overlay === '') return fail('DHT-PeerID: missing overlay');

  const optional = readOptional(params);
  if (!optional.ok) return optional;
  return ok({
    peer: peer.value,
    algorithm: algorithm.toLowerCase(),
    dht,
    overlay,
    anyOverlay: overlay === ANY_OVERLAY,
    ...optional.value,
  });
}

type Optional = Pick<DhtPeerId, 'expiresS' | 'role' | 'stun' | 'turn' | 'load'>;

function readOptional(params: readonly Param[]): Result<Optional> {
  const out: { expiresS?: number; role?: PeerRole; stun?: string; turn?: string; load?: number } = {};
  const expires = getParamText(params, 'expires');
  if (expires !== undefined) {
    const n = expires === null ? null : parseUint(expires, MAX_UINT32);
    if (n === null) return fail('DHT-PeerID: invalid expires');
    out.expiresS = n;
  }
  const role = getParamText(params, 'role');
  if (role !== undefined) {
    const r = role?.toLowerCase();
    if (r !== 'peer' && r !== 'client') return fail('DHT-PeerID: role must be peer or client');
    out.role = r;
  }
  for (const key of ['stun', 'turn'] as const) {
    const v = getParamText(params, key);
    if (v === undefined) continue;
    const a = v === null ? null : splitAddress(v);
    if (a === null) return fail(`DHT-PeerID: ${key} must be IP:PORT`);
    out[key] = addressOf(a.host, a.port);
  }
  const load = getParamText(params, 'load');
  if (load !== undefined) {
    const n = load === null ? null : parseUint(load, MAX_LOAD);
    if (n === null) return fail(`DHT-PeerID: load must be an integer 0..${MAX_LOAD}`);
    out.load = n;
  }
  return ok(out);
}

/**
 * The DHT-PeerID of a message: undefined when absent, an error when unreadable or repeated (two
 * identities in one message cannot both be verified; RFC 3261 section 7.3.1 allows one value).
 */
export function readDhtPeerId(msg: SipMessage): Result<DhtPeerId> | undefined {
  const lines = msg.headers.getAll(DHT_PEER_ID_HEADER);
  if (lines.length === 0) return undefined;
  if (lines.length > 1) return fail('more than one DHT-PeerID header');
  return parseDhtPeerId(lines[0] ?? '');
}

export interface OverlayCheck {
  readonly overlay: string;
  /** Accept `overlay=*` (the caller is a bootstrap peer and this is a first contact). */
  readonly acceptAnyOverlay?: boolean;
  /** The Peer-ID algorithm of this overlay (section 11.3: `hmac-sha1` under the overlay secret); default ALGORITHM_SHA1. */
  readonly algorithm?: string;
}

/**
 * Whether this node takes part in the overlay the header names: null when it does, else the reason
 * for a `488 Not Acceptable Here` (PROTOCOL.md section 2: wrong overlay or dht; an algorithm we
 * cannot verify is as unusable as a wrong DHT). Overlay names compare case-insensitively, like the
 * domain names they usually are.
 */
export function checkDhtPeerId(p: DhtPeerId, check: OverlayCheck): string | null {
  if (p.algorithm !== (check.algorithm ?? ALGORITHM_SHA1)) return `unsupported algorithm ${p.algorithm}`;
  if (p.dht.toLowerCase() !== DHT_KADEMLIA.toLowerCase()) return `unsupported dht ${p.dht}`;
  if (p.anyOverlay) return check.acceptAnyOverlay === true ? null : 'overlay=* only on first contact with a bootstrap peer';
  if (p.overlay.toLowerCase() !== check.overlay.toLowerCase()) return `wrong overlay ${p.overlay}`;
  return null;
}
