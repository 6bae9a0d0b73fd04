/**
 * Request validation of RFC 3261 16.3, for a request this proxy is about to forward:
 *   1. reasonable syntax: the parser did it; the CSeq method must match the request method (8.2.2);
 *   2. URI scheme: anything but sip/sips gives 416;
 *   3. Max-Forwards 0 gives 483 (an OPTIONS to us is answered by the local handler before this);
 *   4. loop detection (loop.ts) gives 482;
 *   5. Proxy-Require with an option tag we do not support gives 420 with Unsupported;
 *   6. Proxy-Authorization: not here but in the proxy's admission hook (ProxyOptions.admission),
 *      which kadsip fills with its policy (src/policy/admission.ts: trusted networks, 407 digest
 *      challenges, no open relay), after these checks so that a malformed request gets its
 *      precise error rather than a challenge.
 */
import { parseCSeq, parseMaxForwards, parseTokenList, type SipRequest } from '../sip/message/index.js';

export interface Rejection {
  readonly status: number;
  readonly reason: string;
  readonly headers?: ReadonlyArray<readonly [string, string]>;
}

export function validateForForwarding(req: SipRequest, supported: ReadonlySet<string>, looped: () => boolean): Rejection | null {
  // Step 1 (the semantic part the parser leaves to us).
  const cseq = parseCSeq(req.headers.get('cseq') ?? '');
  if (!cseq.ok || cseq.value.method !== req.method) return { status: 400, reason: 'CSeq Method Mismatch' };
  // Step 2.
  const scheme = req.uri.scheme.toLowerCase();
  if (scheme !== 'sip' && scheme !== 'sips') return { status: 416, reason: 'Unsupported URI Scheme' };
  // Step 3: absent is fine (16.6 step 3 adds one); present and 0 must not be forwarded.
  const mf = req.headers.get('max-forwards');
  if (mf !== undefined) {
    const n = parseMaxForwards(mf);
    if (!n.ok) return { status: 400, reason: 'Invalid Max-Forwards' };
    if (n.value === 0) return { status: 483, reason: 'Too Many Hops' };
  }
  // Step 4.
  if (looped()) return { status: 482, reason: 'Loop Detected' };
  // Step 5. ACK and CANCEL are never rejected for an extension (8.2.2.3 by analogy): they cannot be.
  if (req.method !== 'ACK' && req.method !== 'CANCEL') {
    const unsupported: string[] = [];
    for (const line of req.headers.getAll('proxy-require')) {
      const tags = parseTokenList(line);
      if (!tags.ok) return { status: 400, reason: 'Invalid Proxy-Require' };
      for (const t of tags.value) if (!supported.has(t.toLowerCase())) unsupported.push(t);
    }
    if (unsupported.length > 0) return { status: 420, reason: 'Bad Extension', headers: [['Unsupported', unsupported.join(', ')]] };
  }
  return null;
}
