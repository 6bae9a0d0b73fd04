/**
 * What a REGISTER is about, read from its To (PROTOCOL.md section 3): a peer (a peer URI, possibly
 * `0.0.0.0` = whoever holds the ID) or a resource (an AoR, or the placeholder this codec writes).
 *
 * The overlay hands the codec a resource key, not the AoR it was hashed from, so requests name the
 * resource as `<sip:resource@0.0.0.0;rID=HEX>`: PROTOCOL.md section 3 allows `;rID=` on the resource
 * URI, and 0.0.0.0 says, as for peers, that the URI names an ID rather than a host.
 */
import { idFromHex, idToHex, type NodeId } from '../overlay/id.js';
import { resourceId } from '../overlay/peer-id.js';
import { fail, ok, type Result } from '../sip/message/result.js';
import { canonicalAor, getUriParam, percentDecode, type Uri } from '../sip/message/uri.js';
import { ANY_HOLDER_HOST, canonicalIp, parsePeerUri, peerIdParam, type PeerUri } from './peer-uri.js';

export const RESOURCE_USER = 'resource';

export type RegisterTarget = { readonly kind: 'peer'; readonly peer: PeerUri } | { readonly kind: 'resource'; readonly key: NodeId };

/** `<sip:resource@0.0.0.0;rID=HEX>` for a resource key. */
export function formatResourceUri(key: NodeId): string {
  return `<sip:${RESOURCE_USER}@${ANY_HOLDER_HOST};rID=${idToHex(key)}>`;
}

/**
 * The target a To URI names. A URI with a Peer-ID parameter is a peer; anything else a resource,
 * keyed by its `rID` or else by the hash of its canonical AoR (PROTOCOL.md section 1). An rID on a
 * real AoR must be that AoR's hash: a mismatch would store the binding where no lookup finds it.
 */
export function readTarget(uri: Uri): Result<RegisterTarget> {
  if (uri.kind === 'sip' && peerIdParam(uri) !== undefined) {
    const peer = parsePeerUri(uri);
    return peer.ok ? ok({ kind: 'peer', peer: peer.value }) : peer;
  }
  const rid = getUriParam(uri, 'rid');
  if (rid === undefined) return ok({ kind: 'resource', key: resourceId(canonicalAor(uri)) });
  const key = rid === null ? null : idFromHex(percentDecode(rid));
  if (key === null) return fail('rID is not 40 hex digits');
  const placeholder = uri.kind === 'sip' && canonicalIp(uri.host) === ANY_HOLDER_HOST;
  if (!placeholder && resourceId(canonicalAor(uri)) !== key) return fail('rID is not the hash of the AoR');
  return ok({ kind: 'resource', key });
}
