/**
 * Peer authentication over real SIP on loopback: overlay cores linked by OverlayOverSip with the
 * PeerAuth guard. Enrolled nodes join and find each other; an unenrolled peer is refused every
 * operation with its precise code and never enters a routing table; a node whose certificate
 * expired is evicted on the cache's re-check; `overlay=*` is taken on PING and JOIN only.
 */
import { randomInt } from 'node:crypto';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hostPort } from '../../src/common/host-port.js';
import { SILENT_LOGGER } from '../../src/common/logger.js';
import { realClock } from '../../src/common/real-clock.js';
import { encodeRequest } from '../../src/dsip/index.js';
import { DHT_CERT_HEADER } from '../../src/dsip/trust-headers.js';
import type { Contact } from '../../src/overlay/contact.js';
import type { OverlayRequest } from '../../src/overlay/messages.js';
import { OverlayNode } from '../../src/overlay/node.js';
import { peerIdFromAddress } from '../../src/overlay/peer-id.js';
import { SeededRandom } from '../../src/overlay/random.js';
import { OverlayOverSip } from '../../src/p2psip/overlay-over-sip.js';
import { readWarningText } from '../../src/dsip/headers.js';
import type { SipResponse } from '../../src/sip/message/index.js';
import type { TransactionLayer } from '../../src/sip/transaction/index.js';
import { CertificateCache } from '../../src/trust/certificate-cache.js';
import { PeerAuth } from '../../src/trust/peer-auth.js';
import { loopbackSipEndpoint } from '../helpers/sip-endpoint.js';
import { DAY, issue, makeCa, type TestCa, type TestNode } from './peer-auth-fixtures.js';

const OVERLAY = 'acme';
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

let ca: TestCa;
beforeAll(async () => {
  ca = await makeCa({ overlay: OVERLAY });
});

interface Peer {
  self: Contact;
  node: OverlayNode;
  transactions: TransactionLayer;
  cache?: CertificateCache;
}

/** One overlay core on its own loopback SIP endpoint; enrolled when given a certificate. */
async function peer(cert?: TestNode, protocol: 'udp' | 'tcp' = 'udp'): Promise<Peer> {
  const { transport, layer } = await loopbackSipEndpoint(cleanup);
  const local = transport.local('udp');
  const self: Contact = { id: peerIdFromAddress(local.host, local.port), address: hostPort(local.host, local.port) };
  const cache = cert ? new CertificateCache({ anchor: ca.anchor }) : undefined;
  const guard = cert && cache ? new PeerAuth({ cache, own: cert.identity, key: cert.key, overlay: OVERLAY, self, log: SILENT_LOGGER }) : undefined;
  const link = new OverlayOverSip({ transactions: layer, overlay: OVERLAY, self, protocol, log: SILENT_LOGGER, ...(guard ? { guard } : {}) });
  const node = new OverlayNode({ self, transport: link, clock: realClock, random: new SeededRandom(randomInt(2 ** 31)), config: { k: 4, rpcTimeoutMs: 2000 } });
  cache?.onDrop((p) => node.evict(p.peerId));
  layer.onRequest((request, txn) => link.serve(request, txn, node));
  cleanup.push(() => node.stop());
  return { self, node, transactions: layer, ...(cache ? { cache } : {}) };
}

function join(p: Peer, through: Peer[]): Promise<Error | null> {
  return new Promise((resolve) => p.node.join(through.map((t) => ({ address: t.self.address })), resolve));
}

/** A raw request from `from` to `to` (no guard): the answer's status and Warning. */
function raw(from: Peer, to: Peer, request: OverlayRequest, options: { anyOverlay?: boolean; certs?: Buffer[] } = {}): Promise<{ status: number; warning: string | undefined }> {
  const sip = encodeRequest({ from: from.self, mode: 'iterative', hops: 0, request }, { overlay: OVERLAY, self: from.self, to: { address: to.self.address, id: to.self.id }, ...(options.anyOverlay ? { firstContact: true } : {}) });
  for (const der of options.certs ?? []) sip.headers.append(DHT_CERT_HEADER, der.toString('base64'));
  const [host, port] = to.self.address.split(':');
  return new Promise((resolve, reject) => {
    from.transactions.sendRequest(sip, { protocol: 'udp', host: host!, port: Number(port) }, {
      onResponse: (res: SipResponse) => {
        if (res.status >= 200) resolve({ status: res.status, warning: readWarningText(res) });
      },
      onTimeout: () => reject(new Error('timeout')),
      onTransportError: (e) => reject(e),
    });
  });
}

describe('a closed overlay over SIP', () => {
  it('enrolled nodes join and know each other; an unenrolled peer is refused everything and listed nowhere', async () => {
    const a = await peer(await issue(ca, { name: 'a' }));
    const b = await peer(await issue(ca, { name: 'b' }));
    const c = await peer(await issue(ca, { name: 'c' }));
    expect(await join(a, [])).toBeNull();
    expect(await join(b, [a])).toBeNull();
    expect(await join(c, [a])).toBeNull();
    for (let i = 0; i < 50 && !(a.node.knows(b.self.id) && a.node.knows(c.self.id)); i++) await new Promise((r) => setTimeout(r, 50));
    expect(a.node.knows(b.self.id) && a.node.knows(c.self.id)).toBe(true);
    expect(c.node.knows(b.self.id) || b.node.knows(c.self.id)).toBe(true);
    // A lookup across them works as in the open overlay.
    const found = await new Promise<Contact[]>((resolve) => b.node.findNode(c.self.id, (r) => resolve(r.closest)));
    expect(found.map((x) => x.id)).toContain(c.self.id);

    const foreign = await peer();
    const refused = await join(foreign, [a]);
    expect(refused?.message).toMatch(/no bootstrap peer admitted/);
    for (const op of [
      { op: 'JOIN' },
      { op: 'PING' },
      { op: 'FIND_NODE', target: 1n },
      { op: 'FIND_VALUE', key: 1n },
      { op: 'STORE', key: 1n, bindings: [{ value: 'sip:alice@127.0.0.1', ttlMs: 60_000 }] },
      { op: 'REMOVE', key: 1n, removals: [{ value: 'sip:alice@127.0.0.1', ttlMs: 0 }], values: ['sip:alice@127.0.0.1'] },
    ] as OverlayRequest[]) {
      const answer = await raw(foreign, b, op);
      expect(answer.status, op.op).toBe(428);
      expect(answer.warning).toMatch(/^peer-auth: no certificate known/);
    }
    // Garbage in DHT-Cert, another CA's certificate: 437.
    expect((await raw(foreign, b, { op: 'FIND_VALUE', key: 1n }, { certs: [Buffer.from('garbage')] })).status).toBe(437);
    const other = await makeCa({ overlay: OVERLAY });
    const stranger = await issue(other);
    const r = await raw(foreign, b, { op: 'FIND_VALUE', key: 1n }, { certs: [stranger.der] });
    expect(r.status).toBe(437);
    expect(r.warning).toMatch(/unknown-ca/);
    for (const p of [a, b, c]) expect(p.node.knows(foreign.self.id)).toBe(false);
    expect(a.node.view().rpc.requestsHandled).toBeGreaterThan(0);
  });

  it('works over TCP as over UDP (the Peer-ID is checked against the Via port there)', async () => {
    const a = await peer(await issue(ca, { name: 'a' }), 'tcp');
    const b = await peer(await issue(ca, { name: 'b' }), 'tcp');
    expect(await join(a, [])).toBeNull();
    expect(await join(b, [a])).toBeNull();
    // a admits b once its own ping to b is answered (ping-before-admit): a bounded wait.
    for (let i = 0; i < 50 && !a.node.knows(b.self.id); i++) await new Promise((r) => setTimeout(r, 50));
    expect(a.node.knows(b.self.id) && b.node.knows(a.self.id)).toBe(true);
    expect(a.cache!.peer(b.self.id, Date.now())?.identity.name).toBe('b');
  });

  it('evicts a member whose certificate expired, on the re-check', async () => {
    const a = await peer(await issue(ca, { name: 'a' }));
    const b = await peer(await issue(ca, { name: 'b', notAfter: Date.now() + DAY }));
    expect(await join(a, [])).toBeNull();
    expect(await join(b, [a])).toBeNull();
    for (let i = 0; i < 50 && !a.node.knows(b.self.id); i++) await new Promise((r) => setTimeout(r, 50));
    expect(a.node.knows(b.self.id)).toBe(true);
    expect(a.cache!.recheck(Date.now()).length).toBe(0);
    expect(a.node.knows(b.self.id)).toBe(true);
    const dropped = a.cache!.recheck(Date.now() + 2 * DAY);
    expect(dropped.map((p) => p.identity.name)).toEqual(['b']);
    expect(a.node.knows(b.self.id)).toBe(false);
  });

  it('takes overlay=* on first contact (PING, JOIN) only, also in an open overlay', async () => {
    const a = await peer();
    const x = await peer();
    expect(await join(a, [])).toBeNull();
    expect((await raw(x, a, { op: 'PING' }, { anyOverlay: true })).status).toBe(200);
    for (const op of [{ op: 'FIND_NODE', target: 1n }, { op: 'FIND_VALUE', key: 1n }, { op: 'STORE', key: 1n, bindings: [{ value: 'sip:alice@127.0.0.1', ttlMs: 60_000 }] }] as OverlayRequest[]) {
      const answer = await raw(x, a, op, { anyOverlay: true });
      expect(answer.status, op.op).toBe(488);
      expect(answer.warning).toMatch(/overlay=\* only on first contact/);
    }
    expect((await raw(x, a, { op: 'JOIN' }, { anyOverlay: true })).status).toBe(200);
  });
});
