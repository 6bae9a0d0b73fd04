/**
 * Request checks that are about meaning, not syntax, and so depend on what
 * the receiving element supports and whether it forwards the request
 * (RFC 3261 sections 8.2.2, 16.3). A syntactically valid request can still
 * owe one of these answers.
 */
import { parseCSeq, parseMaxForwards, parseTokenList } from './headers.js';
import type { SipRequest } from './message.js';

export interface SemanticsOptions {
  /** Option tags we support; others in Require/Proxy-Require give 420. */
  readonly supportedExtensions: Iterable<string>;
  /**
   * True when acting as a proxy that will forward the request: then
   * Max-Forwards 0 gives 483 and Proxy-Require is checked. False when acting
   * as the UAS: then Require is checked (RFC 3261 sections 16.3 and 8.2.2.3).
   */
  readonly forwarding?: boolean;
  /** Request-URI schemes we can handle (case-insensitive). Default sip and sips. */
  readonly supportedSchemes?: Iterable<string>;
  /**
   * Methods we implement. When given, any other method gives 501
   * (RFC 4475 mismatch02). Leave unset in a proxy, which forwards unknown
   * methods.
   */
  readonly implementedMethods?: Iterable<string>;
}

export type SemanticStatus = 400 | 416 | 420 | 483 | 501;

export interface SemanticProblem {
  readonly status: SemanticStatus;
  readonly reason: string;
  /** For 420: the option tags to list in an Unsupported header. */
  readonly unsupported?: readonly string[];
}

/** The error response a request owes, or null when it may proceed. */
export function checkRequestSemantics(req: SipRequest, opts: SemanticsOptions): SemanticProblem | null {
  if (opts.implementedMethods !== undefined && !new Set(opts.implementedMethods).has(req.method)) {
    return { status: 501, reason: 'Not Implemented' };
  }
  const cseq = parseCSeq(req.headers.get('cseq') ?? '');
  if (!cseq.ok || cseq.value.method !== req.method) {
    return { status: 400, reason: 'CSeq method does not match request method' };
  }
  const schemes = new Set([...(opts.supportedSchemes ?? ['sip', 'sips'])].map((s) => s.toLowerCase()));
  if (!schemes.has(req.uri.scheme.toLowerCase())) {
    return { status: 416, reason: 'Unsupported URI Scheme' };
  }
  if (opts.forwarding) {
    const mf = req.headers.get('max-forwards');
    if (mf !== undefined) {
      const n = parseMaxForwards(mf);
      if (n.ok && n.value === 0) return { status: 483, reason: 'Too Many Hops' };
    }
  }
  const supported = new Set([...opts.supportedExtensions].map((s) => s.toLowerCase()));
  const header = opts.forwarding ? 'proxy-require' : 'require';
  const unsupported: string[] = [];
  for (const line of req.headers.getAll(header)) {
    const tags = parseTokenList(line);
    if (!tags.ok) return { status: 400, reason: `Invalid ${opts.forwarding ? 'Proxy-Require' : 'Require'} header` };
    for (const t of tags.value) if (!supported.has(t.toLowerCase())) unsupported.push(t);
  }
  // ACK and CANCEL must not be rejected for Require (RFC 3261 section 8.2.2.3).
  if (unsupported.length > 0 && req.method !== 'ACK' && req.method !== 'CANCEL') {
    return { status: 420, reason: 'Bad Extension', unsupported };
  }
  return null;
}
