/**
 * A secret overlay (PROTOCOL.md 11.3) of real `kadsip start` processes on 127.0.0.1, all given one
 * `--overlay-secret-file`: phones register and call across it as in the open overlay, the records
 * going into the overlay MACed under the secret; a peer that has the secret's Peer-IDs but stores
 * a binding without a MAC gets 428, one MACed under another secret 438, and neither is stored.
 */
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readWarningText } from '../../src/dsip/headers.js';
import { encodeRequest } from '../../src/dsip/index.js';
import type { Contact } from '../../src/overlay/contact.js';
import type { OverlayRequest } from '../../src/overlay/messages.js';
import { resourceId } from '../../src/overlay/peer-id.js';
import { parseMessage, serializeMessage, type SipResponse } from '../../src/sip/message/index.js';
import { bindingMacKey } from '../../src/trust/binding-proof.js';
import { BindingSigner } from '../../src/trust/binding-signer.js';
import { hmacPeerIds } from '../../src/trust/overlay-secret.js';
import { freePorts, REPO, requireBuilt, requireTool, run, startNode, type RunningNode } from './live-helpers.js';

const SECRET = 'the secret of this overlay, 32+ bytes long';
const nodes: RunningNode[] = [];
let work = '';
let sock: Socket;
let self: Contact;
const scheme = hmacPeerIds(Buffer.from(SECRET));

beforeAll(async () => {
  requireBuilt();
  requireTool('sipp', 'sip-tester');
  work = mkdtempSync(join(tmpdir(), 'kadsip-secret-'));
  const secretFile = join(work, 'secret');
  writeFileSync(secretFile, `${SECRET}\n`, { mode: 0o600 });
  const ports = await freePorts(6);
  for (let i = 0; i < 3; i++) {
    const boot = i > 0 ? ['--bootstrap', `127.0.0.1:${ports}`] : [];
    nodes.push(await startNode(ports + 2 * i, ports + 2 * i + 1, ['--overlay', 'hush', '--overlay-secret-file', secretFile, '--domain', 'example.net', '--log-level', 'info', ...boot]));
  }
  sock = createSocket('udp4');
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const port = sock.address().port;
  self = { id: scheme.idOf('127.0.0.1', port), address: `127.0.0.1:${port}` };
}, 60_000);

afterAll(async () => {
  sock?.close();
  await Promise.all(nodes.map((n) => n.stop()));
  if (work) rmSync(work, { recursive: true, force: true });
});

/** One peer request from our socket (a Peer-ID under the secret) to the first node; its final answer. */
function send(request: OverlayRequest): Promise<SipResponse | null> {
  const to = `127.0.0.1:${nodes[0]!.sipPort}`;
  const sip = encodeRequest({ from: self, mode: 'iterative', hops: 0, request }, { overlay: 'hush', self, to: { address: to }, peerIds: scheme });
  const branch = `z9hG4bKsecret${Math.random().toString(36).slice(2)}`;
  sip.headers.prepend('Via', `SIP/2.0/UDP ${self.address};branch=${branch};rport`);
  return new Promise((resolve) => {
    const timer = setTimeout(() => done(null), 3000);
    const onMessage = (bytes: Buffer): void => {
      const parsed = parseMessage(bytes);
      if (parsed.ok && parsed.message.kind === 'response' && parsed.message.status >= 200 && (parsed.message.headers.get('via') ?? '').includes(branch)) done(parsed.message);
    };
    function done(r: SipResponse | null): void {
      clearTimeout(timer);
      sock.off('message', onMessage);
      resolve(r);
    }
    sock.on('message', onMessage);
    sock.send(serializeMessage(sip), nodes[0]!.sipPort, '127.0.0.1');
  });
}

describe('secret overlay, live', () => {
  it('phones register and call across it as in the open one, their records MACed', async () => {
    const out = mkdtempSync(join(work, 'calls-'));
    const base = await freePorts(32);
    const [a, , c] = nodes;
    const r = await run('bash', [join(REPO, 'sip-scenarios', 'run-calls.sh'), `127.0.0.1:${a!.sipPort}`, `127.0.0.1:${c!.sipPort}`], {
      env: { BASE_PORT: String(base), LOCAL_IP: '127.0.0.1', OUT_DIR: out, TAG: 'secret', DOMAIN: 'example.net', CASES: 'register call message notfound' },
      timeoutMs: 90_000,
    });
    expect(r.code, `${r.stdout}\n${r.stderr}\n${c!.output().slice(-3000)}`).toBe(0);
    expect(r.stdout).toMatch(/PASS call/);
    // Nobody refused a record: every node MACs what it publishes under the one secret.
    for (const n of nodes) expect(n.output()).not.toContain('STORE refused');
  }, 120_000);

  it('a binding without a MAC gets 428 proof-required, one MACed under another secret 438 bad-signature', async () => {
    const aor = 'sip:mallory@example.net';
    const key = resourceId(aor);
    const value = `sip:mallory@${self.address}`;
    const bare = await send({ op: 'STORE', key, bindings: [{ value, ttlMs: 600_000 }] });
    expect(bare?.status).toBe(428);
    expect(readWarningText(bare!)).toMatch(/^proof-required: /);
    const guess = new BindingSigner({ kind: 'mac', macKey: bindingMacKey(Buffer.from('a guess at the secret, long enough')) });
    const forged = await send({ op: 'STORE', key, bindings: [{ value, ttlMs: 600_000, proof: guess.publication(aor, value, 600_000) }] });
    expect(forged?.status).toBe(438);
    expect(readWarningText(forged!)).toMatch(/^bad-signature: /);
    // With the secret's MAC the same STORE is taken: the refusals were about the proof alone.
    const right = new BindingSigner({ kind: 'mac', macKey: bindingMacKey(Buffer.from(SECRET)) });
    const good = await send({ op: 'STORE', key, bindings: [{ value, ttlMs: 600_000, proof: right.publication(aor, value, 600_000) }] });
    expect(good?.status).toBe(200);
  });
});
