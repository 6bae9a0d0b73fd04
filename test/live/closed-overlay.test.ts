/**
 * A closed overlay (PROTOCOL.md 11.2) of real `kadsip start` processes on 127.0.0.1, enrolled with
 * `kadsip ca init` / `kadsip ca issue`: the nodes join, and SIPp phones register and call across
 * them exactly as in the open overlay (sip-scenarios/run-calls.sh). A foreign peer (a SIP stack of
 * its own speaking the wire profile, no certificate of the CA) is refused JOIN, STORE, REMOVE,
 * FIND_VALUE with 428; a garbage certificate, another CA's, a signature over other bytes and a
 * truncated signature get 437/438; the nodes stay joined and never list it. A node without trust
 * settings says once that its overlay is open, and /status reports the mode.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createHash, createPrivateKey } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hostPort } from '../../src/common/host-port.js';
import { SILENT_LOGGER } from '../../src/common/logger.js';
import { encodeRequest } from '../../src/dsip/index.js';
import { readWarningText } from '../../src/dsip/headers.js';
import { DHT_CERT_HEADER, DHT_PROOF_HEADER, formatProof, parseProof } from '../../src/dsip/trust-headers.js';
import type { Contact } from '../../src/overlay/contact.js';
import type { OverlayRequest } from '../../src/overlay/messages.js';
import { peerIdFromAddress } from '../../src/overlay/peer-id.js';
import type { SipRequest } from '../../src/sip/message/index.js';
import type { TransactionLayer } from '../../src/sip/transaction/index.js';
import { TrustAnchor } from '../../src/trust/certificate.js';
import { CertificateCache } from '../../src/trust/certificate-cache.js';
import { PeerAuth } from '../../src/trust/peer-auth.js';
import { pemToDer } from '../../src/trust/x509.js';
import { loadTrustMaterial } from '../../src/trust/material.js';
import { lookupThrough } from '../../src/node/lookup-client.js';
import { idFromHex } from '../../src/overlay/id.js';
import { loopbackSipEndpoint } from '../helpers/sip-endpoint.js';
import { CLI, freePorts, REPO, requireBuilt, requireTool, run, startNode, type RunningNode } from './live-helpers.js';

const nodes: RunningNode[] = [];
const cleanup: Array<() => Promise<void> | void> = [];
let work = '';

interface Enrolled {
  cert: string;
  key: string;
}

async function kadsip(args: string[]): Promise<void> {
  const r = await run(process.execPath, [CLI, ...args], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`kadsip ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
}

async function enroll(ca: string, name: string): Promise<Enrolled> {
  const out = join(work, name);
  await kadsip(['ca', 'issue', '--ca', ca, '--name', name, '--domain', 'example.net', '--out', out]);
  return { cert: join(out, 'node-cert.pem'), key: join(out, 'node-key.pem') };
}

interface Status {
  contacts: number;
  state: string;
  trust: { mode: string; authenticatedPeers?: number; name?: string; refused?: Record<string, number> };
  overlay: string;
}

async function status(n: RunningNode): Promise<Status> {
  const res = await fetch(`http://127.0.0.1:${n.httpPort}/status`, { signal: AbortSignal.timeout(2_000) });
  return (await res.json()) as Status;
}

let caDir = '';
const members: RunningNode[] = [];

beforeAll(async () => {
  requireBuilt();
  requireTool('sipp', 'sip-tester');
  work = mkdtempSync(join(tmpdir(), 'kadsip-closed-'));
  caDir = join(work, 'ca');
  await kadsip(['ca', 'init', '--out', caDir, '--overlay', 'acme']);
  const ports = await freePorts(6);
  let first: RunningNode | undefined;
  for (const [i, name] of ['a', 'b', 'c'].entries()) {
    const id = await enroll(caDir, name);
    const trust = ['--ca-cert', join(caDir, 'ca-cert.pem'), '--cert', id.cert, '--key', id.key, '--crl', join(caDir, 'crl.pem'), '--domain', 'example.net'];
    const boot = first ? ['--bootstrap', `127.0.0.1:${first.sipPort}`] : [];
    const n = await startNode(ports + 2 * i, ports + 2 * i + 1, [...trust, ...boot, '--log-level', 'info']);
    nodes.push(n);
    members.push(n);
    first ??= n;
  }
}, 90_000);

afterAll(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
  await Promise.all(nodes.map((n) => n.stop()));
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('closed overlay, live', () => {
  it('enrolled nodes join each other under the CA\'s overlay name', async () => {
    const deadline = Date.now() + 10_000;
    for (;;) {
      const all = await Promise.all(members.map(status));
      if (all.every((s) => s.contacts === 2) || Date.now() > deadline) {
        for (const s of all) {
          expect(s.state).toBe('joined');
          expect(s.overlay).toBe('acme');
          expect(s.trust.mode).toBe('closed');
          expect(s.contacts).toBe(2);
          expect(s.trust.authenticatedPeers).toBeGreaterThanOrEqual(2);
        }
        // Every first contact carried its proof (the NAT check's PING too): nobody was asked for one.
        for (const m of members) expect(m.output()).not.toMatch(/peer asked to authenticate|peer authentication failed/);
        break;
      }
      await new Promise((r) => setTimeout(r, 200));
    }
  });

  it('phones register and call across the closed overlay as in the open one', async () => {
    const out = mkdtempSync(join(work, 'calls-'));
    const base = await freePorts(64);
    const [a, , c] = members;
    const r = await run('bash', [join(REPO, 'sip-scenarios', 'run-calls.sh'), `127.0.0.1:${a!.sipPort}`, `127.0.0.1:${c!.sipPort}`], {
      env: { BASE_PORT: String(base), LOCAL_IP: '127.0.0.1', OUT_DIR: out, TAG: 'closed', DOMAIN: 'example.net', CASES: 'register call reinvite cancel message notfound options' },
      timeoutMs: 90_000,
    });
    expect(r.code, `${r.stdout}\n${r.stderr}\n${a!.output().slice(-3000)}`).toBe(0);
    expect(r.stdout).toMatch(/PASS call/);
  }, 120_000);

  describe('a foreign peer', () => {
    let foreign: { self: Contact; transactions: TransactionLayer };
    let b: RunningNode;
    beforeAll(async () => {
      b = members[1]!;
      const { transport, layer } = await loopbackSipEndpoint(cleanup);
      const local = transport.local('udp');
      foreign = { self: { id: peerIdFromAddress(local.host, local.port), address: hostPort(local.host, local.port) }, transactions: layer };
    });

    function request(op: OverlayRequest): SipRequest {
      return encodeRequest({ from: foreign.self, mode: 'iterative', hops: 0, request: op }, { overlay: 'acme', self: foreign.self, to: { address: `127.0.0.1:${b.sipPort}` } });
    }

    function send(sip: SipRequest): Promise<{ status: number; warning: string | undefined }> {
      return new Promise((resolve, reject) => {
        foreign.transactions.sendRequest(sip, { protocol: 'udp', host: '127.0.0.1', port: b.sipPort }, {
          onResponse: (res) => res.status >= 200 && resolve({ status: res.status, warning: readWarningText(res) }),
          onTimeout: () => reject(new Error('no answer')),
          onTransportError: reject,
        });
      });
    }

    /** A request carrying the certificate and proof of `who` (a CA's node), as PeerAuth makes them. */
    function proved(op: OverlayRequest, who: { certPem: string; keyPem: string; caPem: string }): SipRequest {
      const anchor = new TrustAnchor(pemToDer(who.caPem, 'CERTIFICATE'));
      const verdict = anchor.verify(pemToDer(who.certPem, 'CERTIFICATE'), Date.now());
      if (!verdict.ok) throw new Error(verdict.detail);
      const auth = new PeerAuth({ cache: new CertificateCache({ anchor }), own: verdict.identity, key: createPrivateKey(who.keyPem), overlay: 'acme', self: foreign.self, log: SILENT_LOGGER });
      const sip = request(op);
      auth.decorateRequest(sip, { address: `127.0.0.1:${b.sipPort}` }, true);
      return sip;
    }

    const value = (): string => `sip:alice@${foreign.self.address}`;
    const aliceKey = (): bigint => peerIdFromAddress('127.0.0.1', 1); // any key: nothing may be stored at all

    it('is refused JOIN, STORE, REMOVE, FIND_VALUE, FIND_NODE and PING with 428, and listed nowhere', async () => {
      const ops: OverlayRequest[] = [
        { op: 'JOIN' },
        { op: 'STORE', key: aliceKey(), bindings: [{ value: value(), ttlMs: 300_000 }] },
        { op: 'REMOVE', key: aliceKey(), removals: [{ value: value(), ttlMs: 0 }] },
        { op: 'FIND_VALUE', key: aliceKey() },
        { op: 'FIND_NODE', target: aliceKey() },
        { op: 'PING' },
      ];
      for (const op of ops) {
        const r = await send(request(op));
        expect(r.status, op.op).toBe(428);
        expect(r.warning).toMatch(/peer-auth: no certificate known/);
      }
    });

    it('SIPp as the unenrolled peer (no kadsip code on its side) gets the same 428s', async () => {
      const port = await freePorts(1);
      const peerid = createHash('sha1').update('127.0.0.1').digest('hex').slice(0, 36) + port.toString(16).padStart(4, '0');
      const out = mkdtempSync(join(work, 'sipp-'));
      const r = await run('timeout', ['30', 'sipp', `127.0.0.1:${b.sipPort}`, '-sf', join(REPO, 'sip-scenarios', 'dsip-peer-unenrolled.xml'), '-t', 'u1', '-i', '127.0.0.1', '-p', String(port), '-m', '1', '-timeout', '15s', '-timeout_error', '-nostdin', '-trace_err', '-error_file', join(out, 'errors.log'), '-s', 'acme', '-key', 'peerid', peerid, '-key', 'domain', 'example.net', '-key', 'target', 'ab'.repeat(20)], { cwd: out, timeoutMs: 40_000 });
      const errors = (() => {
        try {
          return readFileSync(join(out, 'errors.log'), 'utf8');
        } catch {
          return '';
        }
      })();
      expect(r.code, `${r.stdout}\n${r.stderr}\n${errors}`).toBe(0);
    }, 60_000);

    it('gets 437 for a garbage certificate and for one of another CA, 438 for a signature over other bytes or a truncated one', async () => {
      const garbage = request({ op: 'FIND_VALUE', key: aliceKey() });
      garbage.headers.append(DHT_CERT_HEADER, Buffer.from('this is no certificate').toString('base64'));
      garbage.headers.append(DHT_PROOF_HEADER, formatProof({ fingerprint: 'a'.repeat(64), timestampS: Math.floor(Date.now() / 1000), signature: Buffer.alloc(64) }));
      const g = await send(garbage);
      expect(g.status).toBe(437);
      expect(g.warning).toMatch(/malformed/);

      const otherCa = join(work, 'other-ca');
      await kadsip(['ca', 'init', '--out', otherCa, '--overlay', 'acme']);
      await kadsip(['ca', 'issue', '--ca', otherCa, '--name', 'mallory', '--out', join(work, 'mallory')]);
      const mallory = { certPem: readFileSync(join(work, 'mallory', 'node-cert.pem'), 'utf8'), keyPem: readFileSync(join(work, 'mallory', 'node-key.pem'), 'utf8'), caPem: readFileSync(join(otherCa, 'ca-cert.pem'), 'utf8') };
      const o = await send(proved({ op: 'JOIN' }, mallory));
      expect(o.status).toBe(437);
      expect(o.warning).toMatch(/unknown-ca/);

      // An enrolled certificate whose key signs other bytes (the proof is moved to another request).
      const eve = await enroll(caDir, 'eve');
      const eveFiles = { certPem: readFileSync(eve.cert, 'utf8'), keyPem: readFileSync(eve.key, 'utf8'), caPem: readFileSync(join(caDir, 'ca-cert.pem'), 'utf8') };
      const donor = proved({ op: 'PING' }, eveFiles);
      const moved = request({ op: 'STORE', key: aliceKey(), bindings: [{ value: value(), ttlMs: 300_000 }] });
      moved.headers.append(DHT_CERT_HEADER, donor.headers.get(DHT_CERT_HEADER)!);
      moved.headers.append(DHT_PROOF_HEADER, donor.headers.get(DHT_PROOF_HEADER)!);
      const m = await send(moved);
      expect(m.status).toBe(438);
      expect(m.warning).toMatch(/does not verify/);

      const cut = proved({ op: 'FIND_VALUE', key: aliceKey() }, eveFiles);
      const p = parseProof(cut.headers.get(DHT_PROOF_HEADER)!);
      if (!p.ok) throw new Error('proof');
      cut.headers.remove(DHT_PROOF_HEADER);
      cut.headers.append(DHT_PROOF_HEADER, formatProof({ ...p.value, signature: p.value.signature.subarray(0, 32) }));
      expect((await send(cut)).status).toBe(438);
    }, 60_000);

    it('leaves the members unaffected: still joined, the foreign peer in no routing table; /status and /metrics count the refusals', async () => {
      for (const s of await Promise.all(members.map(status))) {
        expect(s.state).toBe('joined');
        expect(s.contacts).toBe(2);
      }
      const refused = (await status(b)).trust.refused!;
      expect(refused['428']).toBeGreaterThanOrEqual(6);
      expect(refused['437']).toBeGreaterThanOrEqual(2);
      expect(refused['438']).toBeGreaterThanOrEqual(2);
      const metrics = await (await fetch(`http://127.0.0.1:${b.httpPort}/metrics`)).text();
      expect(metrics).toMatch(/^kadsip_authenticated_peers 2$/m);
      expect(metrics).toMatch(/^kadsip_peer_requests_refused [1-9]/m);
    });
  });

  it('a one-shot lookup client with a certificate of the CA finds a member; without one it is refused 428', async () => {
    const tool = await enroll(caDir, 'tool');
    const material = loadTrustMaterial({ caCert: join(caDir, 'ca-cert.pem'), cert: tool.cert, key: tool.key });
    const [a, , c] = members;
    const target = idFromHex(((await fetch(`http://127.0.0.1:${c!.httpPort}/status`).then((r) => r.json())) as { peerId: string }).peerId)!;
    const via = { host: '127.0.0.1', port: a!.sipPort };
    const found = await lookupThrough(via, { kind: 'node', key: target }, { timeoutMs: 8000, trust: { material } });
    expect(found.kind).toBe('answered');
    if (found.kind === 'answered') {
      expect(found.overlay).toBe('acme');
      expect(found.result.closest.map((x) => x.id)).toContain(target);
    }
    const refused = await lookupThrough(via, { kind: 'node', key: target }, { timeoutMs: 8000 });
    expect(refused).toEqual({ kind: 'via-refused', status: 428, reason: 'Use Identity Header' });
    // The same from the command line: kadsip lookup with the tool's certificate.
    const hex = target.toString(16).padStart(40, '0');
    const cli = await run(process.execPath, [CLI, 'lookup', hex, '--via', `127.0.0.1:${a!.sipPort}`, '--ca-cert', join(caDir, 'ca-cert.pem'), '--cert', tool.cert, '--key', tool.key, '--json'], { timeoutMs: 20_000 });
    expect(cli.code, cli.stderr).toBe(0);
    expect(cli.stdout).toMatch(/"overlay":"acme"/);
    const bare = await run(process.execPath, [CLI, 'lookup', hex, '--via', `127.0.0.1:${a!.sipPort}`], { timeoutMs: 20_000 });
    expect(bare.code).toBe(2);
    expect(bare.stderr).toMatch(/428/);
    // kadsip candidates --via: with the certificate the node answers (it offers none: exit 1), without it refuses (exit 2).
    const cand = await run(process.execPath, [CLI, 'candidates', '--via', `127.0.0.1:${a!.sipPort}`, '--ca-cert', join(caDir, 'ca-cert.pem'), '--cert', tool.cert, '--key', tool.key], { timeoutMs: 20_000 });
    expect(cand.code, cand.stderr).toBe(1);
    const candBare = await run(process.execPath, [CLI, 'candidates', '--via', `127.0.0.1:${a!.sipPort}`], { timeoutMs: 20_000 });
    expect(candBare.code).toBe(2);
    expect(candBare.stderr).toMatch(/refused a first contact: 428/);
  });

  it('a revoked member loses its membership when the nodes reload the CRL', async () => {
    const d = await enroll(caDir, 'd');
    const ports = await freePorts(2);
    const dNode = await startNode(ports, ports + 1, ['--ca-cert', join(caDir, 'ca-cert.pem'), '--cert', d.cert, '--key', d.key, '--crl', join(caDir, 'crl.pem'), '--domain', 'example.net', '--bootstrap', `127.0.0.1:${members[0]!.sipPort}`, '--log-level', 'info']);
    nodes.push(dNode);
    const contactsOf = async (): Promise<number[]> => (await Promise.all(members.map(status))).map((s) => s.contacts);
    const until = async (want: (c: number[]) => boolean, ms: number): Promise<number[]> => {
      const deadline = Date.now() + ms;
      let c = await contactsOf();
      while (!want(c) && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 250));
        c = await contactsOf();
      }
      return c;
    };
    expect(await until((c) => c[0] === 3, 10_000)).toContain(3);
    await kadsip(['ca', 'revoke', '--ca', caDir, '--cert', d.cert]);
    // Each node polls its CRL file (every 2 s), re-checks its members and evicts d.
    expect(await until((c) => c.every((n) => n === 2), 15_000)).toEqual([2, 2, 2]);
    expect(members[0]!.output()).toMatch(/"name":"d","reason":"revoked".*peer membership ended/);
    // d keeps trying (refresh, pings): it is refused, and stays out.
    await new Promise((r) => setTimeout(r, 1500));
    expect(await contactsOf()).toEqual([2, 2, 2]);
  }, 40_000);

  it('an open node says so once and reports the mode', async () => {
    const [sip] = [await freePorts(2)];
    const open = await startNode(sip, sip + 1, ['--log-level', 'info']);
    nodes.push(open);
    expect((await status(open)).trust.mode).toBe('open');
    expect(open.output().match(/open overlay: any peer may join and store/g)?.length).toBe(1);
  });
});
