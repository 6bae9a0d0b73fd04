/**
 * SIPp as a foreign dSIP peer against two real `kadsip start` processes (sip-scenarios/):
 *  - dsip-peer.xml: PING -> 200 with DHT-PeerID; FIND_NODE for another ID -> 302 whose Contacts
 *    are all peer URIs (node B is in node A's routing table, so there is one), with DHT-PeerID;
 *    FIND_NODE for the node's own ID -> 200.
 *  - dsip-peer-bad-id.xml: the same requests with a Peer-ID that does not match SIPp's address -> 493.
 * Plus a negative control (the runner does fail when the node answers otherwise) and the 493 seen
 * from a plain UDP socket, independent of SIPp. Nothing is skipped: no sipp is a failure.
 */
import { createHash } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePorts, REPO, requireBuilt, requireTool, run, startNode, statusOf, type RunningNode } from './live-helpers.js';

const RUNNER = join(REPO, 'sip-scenarios', 'run.sh');

describe('SIPp as a foreign dSIP peer', () => {
  let a: RunningNode | undefined;
  let b: RunningNode | undefined;
  let nodeId = '';

  beforeAll(async () => {
    requireBuilt();
    requireTool('sipp', 'sip-tester');
    const base = await freePorts(4);
    a = await startNode(base, base + 1);
    b = await startNode(base + 2, base + 3, ['--bootstrap', `127.0.0.1:${base}`]);
    nodeId = (await statusOf(a)).peerId;
    // B joined through A: A reached B, so A's 302s have a peer to list.
    const deadline = Date.now() + 5_000;
    while ((await statusOf(a)).contacts < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    expect((await statusOf(a)).contacts).toBeGreaterThanOrEqual(1);
  });

  afterAll(async () => {
    await Promise.all([b?.stop(), a?.stop()]);
  });

  it('passes both scenarios (PING/FIND_NODE 302/FIND_NODE self 200; wrong peer-ID 493)', async () => {
    const local = await freePorts(2);
    const r = await run('bash', [RUNNER, `127.0.0.1:${a!.sipPort}`, 'kadsip'], {
      env: { STATUS_URL: `http://127.0.0.1:${a!.httpPort}`, LOCAL_PORT: String(local) },
      timeoutMs: 70_000,
    });
    const report = `exit ${r.code}\n${r.stdout}\n${r.stderr}\nnode A: ${a!.output()}`;
    expect(r.code, report).toBe(0);
    expect(r.stdout, report).toMatch(/^PASS dsip-peer-bad-id /m);
    expect(r.stdout, report).toMatch(/^PASS dsip-peer /m);
    expect(r.stdout).toContain(`id ${nodeId}`);
    expect(r.stdout).not.toMatch(/^FAIL/m);
  });

  it('fails when the node answers otherwise (negative control: a wrong node ID makes step (c) a 302)', async () => {
    const local = await freePorts(2);
    const wrong = (nodeId[0] === '0' ? '1' : '0') + nodeId.slice(1);
    // A failing run keeps its SIPp logs: put them where we clean up.
    const out = mkdtempSync(join(tmpdir(), 'kadsip-sipp-neg-'));
    try {
      const r = await run('bash', [RUNNER, `127.0.0.1:${a!.sipPort}`], {
        env: { NODE_ID: wrong, ONLY: 'dsip-peer', LOCAL_PORT: String(local), OUT_DIR: out },
        timeoutMs: 70_000,
      });
      expect(r.code, r.stdout + r.stderr).toBe(1);
      expect(r.stdout).toMatch(/^FAIL dsip-peer /m);
      // SIPp says why: the node answered step (c) with a 302, not the 200 due to its own ID.
      expect(r.stderr).toMatch(/unexpected message.*302/i);
    } finally {
      rmSync(out, { recursive: true, force: true });
    }
  });

  it('answers a peer request whose peer-ID does not match its source 493 with the node DHT-PeerID', async () => {
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
    try {
      const port = socket.address().port;
      const right = createHash('sha1').update('127.0.0.1').digest('hex').slice(0, 36) + port.toString(16).padStart(4, '0');
      const bad = (parseInt(right[0]!, 16) ^ 8).toString(16) + right.slice(1);
      const peer = `<sip:peer@127.0.0.1:${port};peer-ID=${bad}>`;
      const request = [
        `OPTIONS sip:127.0.0.1:${a!.sipPort} SIP/2.0`,
        `Via: SIP/2.0/UDP 127.0.0.1:${port};branch=z9hG4bK-badid-${Date.now()}`,
        'Max-Forwards: 70',
        `To: <sip:127.0.0.1:${a!.sipPort}>`,
        `From: ${peer};tag=badid`,
        `Call-ID: badid-${Date.now()}@127.0.0.1`,
        'CSeq: 1 OPTIONS',
        'Require: dht',
        'Supported: dht',
        `DHT-PeerID: ${peer};algorithm=sha1;dht=Kademlia1.0;overlay=kadsip;expires=3600`,
        'Content-Length: 0',
        '',
        '',
      ].join('\r\n');
      const reply = new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no answer within 3 s')), 3_000);
        socket.once('message', (m) => {
          clearTimeout(timer);
          resolve(m.toString('latin1'));
        });
      });
      socket.send(request, a!.sipPort, '127.0.0.1');
      const text = await reply;
      expect(text).toMatch(/^SIP\/2\.0 493 /);
      expect(text).toMatch(new RegExp(`^DHT-PeerID: <sip:peer@127\\.0\\.0\\.1:${a!.sipPort};peer-ID=${nodeId}>`, 'mi'));
    } finally {
      socket.close();
    }
  });
});
