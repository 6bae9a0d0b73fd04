/**
 * Interop: what serializeMessage writes must be readable by another SIP
 * implementation, here the npm "sip" package's parser.
 */
import fc from 'fast-check';
import sip from 'sip';
import { describe, expect, it } from 'vitest';
import { getCSeq, serializeMessage } from '../../../src/sip/message/index.js';
import { requestArb, responseArb } from './message-arbitraries.js';

// sip.js unescapes %XX in methods and header names, so keep "%" out of
// methods here; our side keeps escapes as written, which is a separate test.
const noPercent = <T extends { headers: { get(n: string): string | undefined } }>(m: T) =>
  !(m.headers.get('cseq') ?? '').includes('%');

describe('interop with npm sip', () => {
  it('npm sip parses our requests and responses with the same start line, Call-ID and CSeq', () => {
    fc.assert(
      fc.property(fc.oneof(requestArb, responseArb).filter(noPercent), (m) => {
        const wire = serializeMessage(m);
        const theirs = sip.parse(wire);
        expect(theirs).toBeDefined();
        if (!theirs) return;
        if (m.kind === 'request') expect(theirs.method).toBe(m.method);
        else expect(theirs.status).toBe(m.status);
        // sip.js reads the bytes as latin1; Call-IDs are ASCII words.
        expect(theirs.headers['call-id']).toBe(m.headers.get('call-id'));
        const cseq = getCSeq(m);
        expect(theirs.headers.cseq).toEqual({ seq: cseq.seq, method: cseq.method });
        expect(Number(theirs.headers['content-length'])).toBe(m.body.length);
      }),
      { numRuns: 200 },
    );
  });
});
