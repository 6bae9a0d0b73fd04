/**
 * Peer authentication (PROTOCOL.md 11.2) on real SIP messages built by the dSIP codec: the proof a
 * sender adds, the receiver's verdicts (428, 437, 438, 403), the responder's proof, and what a
 * known peer's later requests carry (nothing).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { decodeRequest, decodeResponse, encodeRequest, encodeResponse } from '../../src/dsip/index.js';
import { DHT_CERT_HEADER, DHT_PROOF_HEADER, formatCert, formatProof, parseProof } from '../../src/dsip/trust-headers.js';
import type { Contact } from '../../src/overlay/contact.js';
import type { OverlayRequest } from '../../src/overlay/messages.js';
import type { SipRequest } from '../../src/sip/message/index.js';
import { CertificateCache } from '../../src/trust/certificate-cache.js';
import { PeerAuth } from '../../src/trust/peer-auth.js';
import { SILENT_LOGGER } from '../../src/common/logger.js';
import { splitAddress } from '../../src/dsip/peer-uri.js';
import { contactAt } from '../dsip/helpers.js';
import { DAY, issue, makeCa, type TestCa, type TestNode } from './peer-auth-fixtures.js';

const OVERLAY = 'acme';
const A = contactAt('192.0.2.10', 5060);
const B = contactAt('198.51.100.7', 5070);
const C = contactAt('203.0.113.5', 5080);
const src = (c: Contact): { host: string; port: number } => splitAddress(c.address)!;

let ca: TestCa;
let other: TestCa;
let certA: TestNode;
let certB: TestNode;

beforeAll(async () => {
  ca = await makeCa({ overlay: OVERLAY });
  other = await makeCa({ overlay: OVERLAY });
  certA = await issue(ca, { name: 'a' });
  certB = await issue(ca, { name: 'b' });
});

function authOf(node: TestNode, self: Contact, now?: () => number): PeerAuth {
  return new PeerAuth({ cache: new CertificateCache({ anchor: ca.anchor }), own: node.identity, key: node.key, overlay: OVERLAY, self, log: SILENT_LOGGER, ...(now ? { now } : {}) });
}

let cseq = 1;
function requestFrom(from: Contact, to: Contact, op: OverlayRequest = { op: 'FIND_NODE', target: 7n }): SipRequest {
  return encodeRequest({ from, mode: 'iterative', hops: 0, request: op }, { overlay: OVERLAY, self: from, to, cseq: cseq++, callId: `call-${cseq}` });
}

/** What the receiver answers: null (admitted) or the refusal's status and Warning. */
function receive(auth: PeerAuth, request: SipRequest, from: Contact, self: Contact): { status: number; warning?: string } | null {
  const decoded = decodeRequest(request, src(from), { overlay: OVERLAY, self, acceptAnyOverlay: true });
  if (!decoded.ok) return { status: decoded.status };
  const refusal = auth.admitRequest(request, decoded);
  if (refusal === null) return null;
  const warning = refusal.headers?.find(([n]) => n === 'Warning')?.[1];
  return { status: refusal.status, ...(warning ? { warning } : {}) };
}

function replaceHeader(request: SipRequest, name: string, value: string | undefined): void {
  request.headers.remove(name);
  if (value !== undefined) request.headers.append(name, value);
}

describe('peer authentication', () => {
  it('proves on first contact, both ways, and later requests carry neither certificate nor proof', () => {
    const a = authOf(certA, A);
    const b = authOf(certB, B);
    const req = requestFrom(A, B);
    expect(a.decorateRequest(req, B, false)).toBe(true);
    expect(req.headers.getAll(DHT_CERT_HEADER)).toEqual([formatCert(certA.der)]);
    expect(receive(b, req, A, B)).toBeNull();
    // B answers with its own proof, over A's request.
    const res = encodeResponse(req, { kind: 'nodes', contacts: [] }, { overlay: OVERLAY, self: B, protocol: 'udp' });
    b.decorateResponse(req, res);
    expect(res.headers.getAll(DHT_PROOF_HEADER)).toHaveLength(1);
    const result = a.checkResponse(req, res, B, decodeResponse(res, { op: 'FIND_NODE', target: 7n }, src(B), { overlay: OVERLAY }), true);
    expect(result.ok).toBe(true);
    // From now on: nothing to carry, and B admits A on its Peer-ID.
    const next = requestFrom(A, B);
    expect(a.decorateRequest(next, B, false)).toBe(false);
    expect(next.headers.has(DHT_CERT_HEADER)).toBe(false);
    expect(receive(b, next, A, B)).toBeNull();
    const plain = encodeResponse(next, { kind: 'ok' }, { overlay: OVERLAY, self: B, protocol: 'udp' });
    b.decorateResponse(next, plain);
    expect(plain.headers.has(DHT_PROOF_HEADER)).toBe(false);
    expect(a.checkResponse(next, plain, B, decodeResponse(plain, { op: 'FIND_NODE', target: 7n }, src(B), { overlay: OVERLAY }), false).ok).toBe(true);
  });

  it('428 for a peer it does not know that sends no proof; the forced retry is admitted', () => {
    const a = authOf(certA, A);
    const b = authOf(certB, B);
    const bare = requestFrom(A, B, { op: 'STORE', key: 5n, bindings: [{ value: 'sip:x@192.0.2.10', ttlMs: 60_000 }] });
    const verdict = receive(b, bare, A, B);
    expect(verdict?.status).toBe(428);
    expect(verdict?.warning).toMatch(/send DHT-Cert and DHT-Proof/);
    const retry = requestFrom(A, B);
    expect(a.decorateRequest(retry, B, true)).toBe(true);
    expect(receive(b, retry, A, B)).toBeNull();
  });

  it('437 for garbage, another CA, an expired certificate; each naming why', async () => {
    const b = authOf(certB, B);
    const foreign = await issue(other, { name: 'foreign' });
    const expired = await issue(ca, { name: 'old', notBefore: Date.now() - 3 * DAY, notAfter: Date.now() - DAY });
    const cases: Array<[TestNode | Buffer, RegExp]> = [
      [Buffer.from('not a certificate at all'), /malformed/],
      [foreign, /unknown-ca/],
      [expired, /expired/],
    ];
    for (const [who, why] of cases) {
      const node: TestNode = Buffer.isBuffer(who) ? { ...certA, der: who } : who;
      const auth = new PeerAuth({ cache: new CertificateCache({ anchor: Buffer.isBuffer(who) ? ca.anchor : node === foreign ? other.anchor : ca.anchor }), own: { ...node.identity, der: node.der }, key: node.key, overlay: OVERLAY, self: A, log: SILENT_LOGGER });
      const req = requestFrom(A, B);
      auth.decorateRequest(req, B, true);
      const verdict = receive(b, req, A, B);
      expect(verdict?.status).toBe(437);
      expect(verdict?.warning).toMatch(why);
    }
  });

  it('438 for a signature over other bytes, a truncated one, a stale one, or a proof replayed by another peer', () => {
    const b = authOf(certB, B);
    const tamper = (edit: (req: SipRequest) => void, from: Contact = A, auth: PeerAuth = authOf(certA, A)): { status: number; warning?: string } | null => {
      const req = requestFrom(A, B);
      auth.decorateRequest(req, B, true);
      edit(req);
      return receive(b, req, from, B);
    };
    // Other bytes: the CSeq the proof covered is not this request's.
    expect(tamper((r) => replaceHeader(r, 'CSeq', '999 REGISTER'))?.status).toBe(438);
    const cut = (r: SipRequest): void => {
      const p = parseProof(r.headers.get(DHT_PROOF_HEADER)!);
      if (!p.ok) throw new Error('proof');
      replaceHeader(r, DHT_PROOF_HEADER, formatProof({ ...p.value, signature: p.value.signature.subarray(0, 40) }));
    };
    expect(tamper(cut)?.status).toBe(438);
    expect(tamper((r) => replaceHeader(r, DHT_PROOF_HEADER, 'fp=zz;ts=1;sig=AA'))?.status).toBe(438);
    const stale = authOf(certA, A, () => Date.now() - 3_600_000);
    expect(tamper(() => undefined, A, stale)?.warning).toMatch(/s off/);
    // C copies A's certificate and proof into its own request: the proof names A's Peer-ID, not C's.
    const req = requestFrom(A, B);
    authOf(certA, A).decorateRequest(req, B, true);
    const forged = requestFrom(C, B);
    replaceHeader(forged, 'Call-ID', req.headers.get('Call-ID'));
    replaceHeader(forged, 'CSeq', req.headers.get('CSeq'));
    forged.headers.append(DHT_CERT_HEADER, req.headers.get(DHT_CERT_HEADER)!);
    forged.headers.append(DHT_PROOF_HEADER, req.headers.get(DHT_PROOF_HEADER)!);
    expect(receive(b, forged, C, B)?.status).toBe(438);
  });

  it('403 for a valid certificate that names other addresses, or another overlay', async () => {
    const b = authOf(certB, B);
    const pinned = await issue(ca, { name: 'pinned', addresses: ['192.0.2.99:5060'] });
    const req = requestFrom(A, B);
    new PeerAuth({ cache: new CertificateCache({ anchor: ca.anchor }), own: pinned.identity, key: pinned.key, overlay: OVERLAY, self: A, log: SILENT_LOGGER }).decorateRequest(req, B, true);
    const verdict = receive(b, req, A, B);
    expect(verdict?.status).toBe(403);
    expect(verdict?.warning).toMatch(/192\.0\.2\.99:5060/);
    // The same certificate from the address it names is admitted.
    const atHome = contactAt('192.0.2.99', 5060);
    const ok = requestFrom(atHome, B);
    new PeerAuth({ cache: new CertificateCache({ anchor: ca.anchor }), own: pinned.identity, key: pinned.key, overlay: OVERLAY, self: atHome, log: SILENT_LOGGER }).decorateRequest(ok, B, true);
    expect(receive(b, ok, atHome, B)).toBeNull();
    const elsewhere = await makeCa({ overlay: 'other-overlay' });
    const stranger = await issue(elsewhere);
    const auth = new PeerAuth({ cache: new CertificateCache({ anchor: elsewhere.anchor }), own: stranger.identity, key: stranger.key, overlay: 'other-overlay', self: A, log: SILENT_LOGGER });
    const r2 = requestFrom(A, B);
    auth.decorateRequest(r2, B, true);
    expect(receive(b, r2, A, B)?.status).toBe(437); // another overlay's CA is another CA
  });

  it('an answer from a responder it cannot verify is a failed RPC', () => {
    const a = authOf(certA, A);
    const req = requestFrom(A, B);
    a.decorateRequest(req, B, false);
    const res = encodeResponse(req, { kind: 'ok' }, { overlay: OVERLAY, self: B, protocol: 'udp' });
    const result = a.checkResponse(req, res, B, decodeResponse(res, { op: 'FIND_NODE', target: 7n }, src(B), { overlay: OVERLAY }), true);
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.detail).toMatch(/not authenticated/);
    // A proof by B over another request does not do either.
    const b = authOf(certB, B);
    const otherReq = requestFrom(A, B);
    a.decorateRequest(otherReq, B, true);
    const res2 = encodeResponse(req, { kind: 'ok' }, { overlay: OVERLAY, self: B, protocol: 'udp' });
    b.decorateResponse(otherReq, res2);
    expect(a.checkResponse(req, res2, B, decodeResponse(res2, { op: 'FIND_NODE', target: 7n }, src(B), { overlay: OVERLAY }), true).ok).toBe(false);
  });
});

describe('addresses a certificate names', () => {
  it('compare in canonical text (an IPv6 address written in capitals in the certificate still matches)', async () => {
    const v6 = contactAt('2001:db8::a', 5060);
    const pinned = await issue(ca, { name: 'v6', addresses: ['[2001:DB8:0::A]:5060'] });
    const b = authOf(certB, B);
    const req = requestFrom(v6, B);
    new PeerAuth({ cache: new CertificateCache({ anchor: ca.anchor }), own: pinned.identity, key: pinned.key, overlay: OVERLAY, self: v6, log: SILENT_LOGGER }).decorateRequest(req, B, true);
    expect(receive(b, req, v6, B)).toBeNull();
  });
});
