/**
 * The overlay secret's Peer-IDs (PROTOCOL.md 11.3): `algorithm=hmac-sha1`, the test vector a second
 * implementation checks itself against, the secret file's rules, and, over real SIP on loopback,
 * that nodes sharing the secret join while a peer without it (or with another) is refused.
 */
import { randomInt } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join as joinPath } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { hostPort } from '../../src/common/host-port.js';
import { SILENT_LOGGER } from '../../src/common/logger.js';
import { realClock } from '../../src/common/real-clock.js';
import { encodeRequest } from '../../src/dsip/index.js';
import { readWarningText } from '../../src/dsip/headers.js';
import type { PeerIdScheme } from '../../src/dsip/trust-headers.js';
import { idToHex } from '../../src/overlay/id.js';
import { OverlayNode } from '../../src/overlay/node.js';
import { peerIdFromAddress } from '../../src/overlay/peer-id.js';
import { SeededRandom } from '../../src/overlay/random.js';
import { OverlayOverSip } from '../../src/p2psip/overlay-over-sip.js';
import type { Contact } from '../../src/overlay/contact.js';
import type { TransactionLayer } from '../../src/sip/transaction/index.js';
import { hmacPeerIds, loadOverlaySecret, OverlaySecretError } from '../../src/trust/overlay-secret.js';
import { loopbackSipEndpoint } from '../helpers/sip-endpoint.js';

const SECRET = Buffer.from('correct horse battery staple');
const cleanup: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

describe('overlay secret Peer-IDs', () => {
  it('match the documented vectors (computed independently with Python hmac)', () => {
    const ids = hmacPeerIds(SECRET);
    expect(ids.algorithm).toBe('hmac-sha1');
    expect(idToHex(ids.idOf('192.0.2.10', 5060))).toBe('92e3193ffd012b2b478afd18d2e91de044b213c4');
    expect(idToHex(ids.idOf('2001:db8::a', 5060))).toBe('44ef5bc6d787a23805f62404cdd380ed73a113c4');
    expect(ids.idOf('192.0.2.10', 5060)).not.toBe(peerIdFromAddress('192.0.2.10', 5060));
    expect(hmacPeerIds(Buffer.from('another secret of enough bytes')).idOf('192.0.2.10', 5060)).not.toBe(ids.idOf('192.0.2.10', 5060));
  });

  it('reads the secret file without its trailing newline, and refuses a short or missing one naming the file', () => {
    const dir = mkdtempSync(joinPath(tmpdir(), 'kadsip-secret-'));
    const good = joinPath(dir, 'secret');
    writeFileSync(good, `${SECRET.toString()}\n`);
    expect(loadOverlaySecret(good).equals(SECRET)).toBe(true);
    const short = joinPath(dir, 'short');
    writeFileSync(short, 'too short\n');
    expect(() => loadOverlaySecret(short)).toThrow(new RegExp(`${short}: the overlay secret must be at least 16 bytes`));
    expect(() => loadOverlaySecret(joinPath(dir, 'nope'))).toThrow(OverlaySecretError);
  });
});

interface Peer {
  self: Contact;
  node: OverlayNode;
  transactions: TransactionLayer;
}

async function peer(ids?: PeerIdScheme): Promise<Peer> {
  const { transport, layer } = await loopbackSipEndpoint(cleanup);
  const local = transport.local('udp');
  const self: Contact = { id: (ids?.idOf ?? peerIdFromAddress)(local.host, local.port), address: hostPort(local.host, local.port) };
  const link = new OverlayOverSip({ transactions: layer, overlay: 'small', self, protocol: 'udp', log: SILENT_LOGGER, ...(ids ? { peerIds: ids } : {}) });
  const node = new OverlayNode({ self, transport: link, clock: realClock, random: new SeededRandom(randomInt(2 ** 31)), config: { k: 4, rpcTimeoutMs: 2000 } });
  layer.onRequest((request, txn) => link.serve(request, txn, node));
  cleanup.push(() => node.stop());
  return { self, node, transactions: layer };
}

function join(p: Peer, through: Peer[]): Promise<Error | null> {
  return new Promise((resolve) => p.node.join(through.map((t) => ({ address: t.self.address })), resolve));
}

function findValue(from: Peer, to: Peer, ids?: PeerIdScheme): Promise<{ status: number; warning: string | undefined }> {
  const sip = encodeRequest({ from: from.self, mode: 'iterative', hops: 0, request: { op: 'FIND_VALUE', key: 1n } }, { overlay: 'small', self: from.self, to: { address: to.self.address, id: to.self.id }, ...(ids ? { peerIds: ids } : {}) });
  const [host, port] = to.self.address.split(':');
  return new Promise((resolve, reject) => {
    from.transactions.sendRequest(sip, { protocol: 'udp', host: host!, port: Number(port) }, {
      onResponse: (res) => res.status >= 200 && resolve({ status: res.status, warning: readWarningText(res) }),
      onTimeout: () => reject(new Error('timeout')),
      onTransportError: reject,
    });
  });
}

describe('a secret overlay over SIP', () => {
  it('admits the holders of the secret and refuses a peer without it (488) or with another (493)', async () => {
    const ids = hmacPeerIds(SECRET);
    const a = await peer(ids);
    const b = await peer(ids);
    expect(await join(a, [])).toBeNull();
    expect(await join(b, [a])).toBeNull();
    expect(a.node.knows(b.self.id)).toBe(true);

    const plain = await peer();
    expect(await join(plain, [a])).not.toBeNull();
    const r1 = await findValue(plain, a);
    expect(r1.status).toBe(488);
    expect(r1.warning).toMatch(/unsupported algorithm sha1/);
    const guesser = hmacPeerIds(Buffer.from('a guess at the secret, wrong'));
    const g = await peer(guesser);
    const r2 = await findValue(g, a, guesser);
    expect(r2.status).toBe(493);
    expect(await join(g, [a])).not.toBeNull();
    expect(a.node.knows(plain.self.id) || a.node.knows(g.self.id)).toBe(false);
  });
});
