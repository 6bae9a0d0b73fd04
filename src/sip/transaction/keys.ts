/**
 * Transaction identifiers. Client side (17.1.3): our own branch plus the CSeq
 * method, so a CANCEL (same branch as its INVITE, 9.1) is its own transaction.
 * Server side (17.2.3): branch + sent-by + method when the branch carries the
 * RFC 3261 magic cookie, with ACK mapped to INVITE; otherwise the RFC 2543
 * rule over Request-URI, From tag, Call-ID, CSeq number and top Via.
 */
import {
  getCallId,
  getCSeq,
  getFrom,
  getTopVia,
  randomHex,
  serializeUri,
  serializeVia,
  tagOf,
  viaBranch,
  type SipMessage,
  type SipRequest,
} from '../message/index.js';
import { normalizeHost } from '../transport/types.js';

export const MAGIC_COOKIE = 'z9hG4bK';

/** 64 random bits as hex: enough that branches of independent nodes do not collide (8.1.1.7). */
export function defaultBranchRandom(): string {
  return randomHex(8);
}

/** Client transaction key, or undefined when the response has no usable top Via branch or CSeq. */
export function clientKeyOf(message: SipMessage): string | undefined {
  try {
    const branch = viaBranch(getTopVia(message));
    if (branch === undefined) return undefined;
    return clientKey(branch, getCSeq(message).method);
  } catch {
    return undefined;
  }
}

export function clientKey(branch: string, method: string): string {
  return `${branch}|${method}`;
}

/**
 * Server transaction key of a request. `asMethod` overrides the method part:
 * 'INVITE' finds the INVITE a CANCEL targets (9.2). ACK always maps to INVITE.
 * Undefined when the request lacks the headers needed (hand-built input).
 */
export function serverKeyOf(req: SipRequest, asMethod?: string): string | undefined {
  try {
    const method = asMethod ?? (req.method === 'ACK' ? 'INVITE' : req.method);
    const top = getTopVia(req);
    const branch = viaBranch(top);
    if (branch !== undefined && branch.startsWith(MAGIC_COOKIE)) {
      return `3261|${branch}|${normalizeHost(top.host)}:${top.port ?? 5060}|${method}`;
    }
    // RFC 2543 (17.2.3): the To tag is left out because an ACK's To tag is the
    // one of our response while the INVITE usually had none; received/rport
    // are left out of the Via because we added them ourselves.
    const via = serializeVia({
      ...top,
      params: top.params.filter((p) => !['received', 'rport'].includes(p.name.toLowerCase())),
    });
    const cseq = getCSeq(req);
    return `2543|${serializeUri(req.uri)}|${tagOf(getFrom(req)) ?? ''}|${getCallId(req)}|${cseq.seq}|${method}|${via}`;
  } catch {
    return undefined;
  }
}
