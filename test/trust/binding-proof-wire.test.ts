/**
 * A binding's proof on the wire (PROTOCOL.md 11.4): Contact parameters of the STORE, REMOVE and
 * FIND_VALUE answer, written as PROTOCOL.md shows them, read back in any order and case beside
 * parameters of other extensions, refused (400) when one comes twice.
 */
import { describe, expect, it } from 'vitest';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../src/dsip/index.js';
import { readContactBindings } from '../../src/dsip/headers.js';
import type { Binding, RequestEnvelope } from '../../src/overlay/messages.js';
import { resourceId } from '../../src/overlay/peer-id.js';
import { parseMessage, serializeMessage, type SipRequest } from '../../src/sip/message/index.js';
import { ALICE, ALICE_SRC, BOB, BOB_SRC, OVERLAY } from '../dsip/helpers.js';

const KEY = resourceId('sip:alice@victim.test');
const SIGNER = 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855';
const SIG = 'ubNgsw41XWWgInYsspoXHbC9RqvOKzCkpBGp0dcqcYAQa0xWp0DVNiyDL56_fWZJuNQa7LQxBnAv6xnhVTdZAQ';
const PROOF = `aor="sip:alice@victim.test";seq=1796590800000;exp=1796594400;signer=${SIGNER};sig=${SIG}`;
const BINDING: Binding = { value: 'sip:alice@192.0.2.10:5060', ttlMs: 3_600_000, proof: PROOF };

function envelope(request: RequestEnvelope['request']): RequestEnvelope {
  return { from: ALICE, mode: 'iterative', hops: 0, request };
}

/** Through the wire's bytes: what a peer receives. */
function wire(req: SipRequest): SipRequest {
  // The transaction layer adds the Via (and its branch) on sending.
  if (!req.headers.has('via')) req.headers.prepend('Via', `SIP/2.0/UDP ${ALICE.address};branch=z9hG4bKproof;rport`);
  const parsed = parseMessage(serializeMessage(req));
  if (!parsed.ok || parsed.message.kind !== 'request') throw new Error('unparsable');
  return parsed.message;
}

describe('binding proofs as Contact parameters', () => {
  it('a STORE writes the line PROTOCOL.md shows, and the receiver reads the proof back', () => {
    const req = encodeRequest(envelope({ op: 'STORE', key: KEY, bindings: [BINDING] }), { overlay: OVERLAY, self: ALICE, to: BOB });
    expect(req.headers.getAll('contact')).toEqual([`<sip:alice@192.0.2.10:5060>;expires=3600;${PROOF}`]);
    const decoded = decodeRequest(wire(req), ALICE_SRC, { overlay: OVERLAY, self: BOB });
    expect(decoded.ok && decoded.envelope.request).toEqual({ op: 'STORE', key: KEY, bindings: [BINDING] });
  });

  it('a REMOVE carries each removal proof beside expires=0', () => {
    const removal: Binding = { value: BINDING.value, ttlMs: 0, proof: PROOF };
    const req = encodeRequest(envelope({ op: 'REMOVE', key: KEY, removals: [removal] }), { overlay: OVERLAY, self: ALICE, to: BOB });
    expect(req.headers.getAll('contact')).toEqual([`<sip:alice@192.0.2.10:5060>;expires=0;${PROOF}`]);
    const decoded = decodeRequest(wire(req), ALICE_SRC, { overlay: OVERLAY, self: BOB });
    expect(decoded.ok && decoded.envelope.request).toEqual({ op: 'REMOVE', key: KEY, removals: [removal] });
  });

  it('a FIND_VALUE answer carries the proofs of its bindings', () => {
    const req = encodeRequest(envelope({ op: 'FIND_VALUE', key: KEY }), { overlay: OVERLAY, self: ALICE, to: BOB });
    const res = encodeResponse(wire(req), { kind: 'value', bindings: [BINDING] }, { overlay: OVERLAY, self: BOB, protocol: 'udp' });
    const parsed = parseMessage(serializeMessage(res));
    if (!parsed.ok || parsed.message.kind !== 'response') throw new Error('unparsable');
    const result = decodeResponse(parsed.message, { op: 'FIND_VALUE', key: KEY }, BOB_SRC, { overlay: OVERLAY });
    expect(result.ok && result.response).toEqual({ kind: 'value', bindings: [BINDING] });
  });

  it('reads the parameters in any order and case, beside other extensions\' parameters, into the one proof text', () => {
    const req = encodeRequest(envelope({ op: 'STORE', key: KEY, bindings: [{ value: BINDING.value, ttlMs: 3_600_000 }] }), { overlay: OVERLAY, self: ALICE, to: BOB });
    req.headers.set('Contact', `<sip:alice@192.0.2.10:5060>;SIG=${SIG};x-other=1;Signer=${SIGNER};expires=3600;exp=1796594400;seq=1796590800000;aor="sip:alice@victim.test";+sip.instance="<urn:uuid:1>"`);
    const decoded = decodeRequest(wire(req), ALICE_SRC, { overlay: OVERLAY, self: BOB });
    expect(decoded.ok && decoded.envelope.request).toEqual({ op: 'STORE', key: KEY, bindings: [BINDING] });
  });

  it('refuses a Contact whose proof names a parameter twice (400)', () => {
    const req = encodeRequest(envelope({ op: 'STORE', key: KEY, bindings: [BINDING] }), { overlay: OVERLAY, self: ALICE, to: BOB });
    req.headers.set('Contact', `<sip:alice@192.0.2.10:5060>;expires=3600;${PROOF};seq=1`);
    const decoded = decodeRequest(wire(req), ALICE_SRC, { overlay: OVERLAY, self: BOB });
    expect(decoded).toMatchObject({ ok: false, status: 400, reason: 'Invalid Contact' });
    const read = readContactBindings(wire(req), 10);
    expect(!read.ok && read.error.message).toMatch(/binding proof/);
  });

  it('refuses to write a proof that is not a proof\'s parameters (a local bug)', () => {
    expect(() => encodeRequest(envelope({ op: 'STORE', key: KEY, bindings: [{ ...BINDING, proof: 'seq=1;q=0.5' }] }), { overlay: OVERLAY, self: ALICE, to: BOB })).toThrow(TypeError);
  });
});
