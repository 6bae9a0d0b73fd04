/**
 * What goes on the wire is SIP that an independent decoder reads: dumpcap captures UDP on `lo`
 * to and from node A's port while SIPp plays a foreign dSIP peer (sip-scenarios/run.sh) and
 * `kadsip lookup` runs a FIND_NODE and a FIND_VALUE through A (node B makes the overlay two peers).
 * tshark then has to decode every packet as SIP, flag no malformed packet or error-level expert
 * info, and find the start line and the RFC 3261 8.1.1 mandatory headers in each one.
 * tshark comes from scripts/install-system-deps.sh; without it the test fails, it never skips.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, freePorts, REPO, requireBuilt, requireRoot, requireTool, run, startNode, statusOf, type RunningNode } from './live-helpers.js';

describe('wire format, decoded by tshark', () => {
  let a: RunningNode | undefined;
  let b: RunningNode | undefined;
  let dir = '';

  beforeAll(async () => {
    requireBuilt();
    requireTool('sipp', 'sip-tester');
    requireTool('tshark', 'tshark');
    requireTool('dumpcap', 'wireshark-common');
    requireRoot('capturing on lo needs root (or dumpcap with cap_net_raw)');
    dir = mkdtempSync(join(tmpdir(), 'kadsip-wire-'));
    const base = await freePorts(4);
    a = await startNode(base, base + 1);
    b = await startNode(base + 2, base + 3, ['--bootstrap', `127.0.0.1:${base}`]);
    const deadline = Date.now() + 5_000;
    while ((await statusOf(a)).contacts < 1 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  });

  afterAll(async () => {
    await Promise.all([b?.stop(), a?.stop()]);
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('every packet to or from the node is SIP that tshark decodes without error', async () => {
    const port = a!.sipPort;
    const pcap = join(dir, 'node.pcapng');
    const capture = await startCapture(['-i', 'lo', '-f', `udp port ${port}`, '-w', pcap, '-q']);

    const sipp = await run('bash', [join(REPO, 'sip-scenarios', 'run.sh'), `127.0.0.1:${port}`], {
      env: { STATUS_URL: `http://127.0.0.1:${a!.httpPort}`, LOCAL_PORT: String(await freePorts(2)) },
      timeoutMs: 70_000,
    });
    expect(sipp.code, sipp.stdout + sipp.stderr).toBe(0);
    const findNode = await run(process.execPath, [CLI, 'lookup', 'f'.repeat(40), '--via', `127.0.0.1:${port}`, '--json', '--timeout', '5'], { timeoutMs: 15_000 });
    expect([0, 1], findNode.stderr).toContain(findNode.code);
    const findValue = await run(process.execPath, [CLI, 'lookup', 'sip:alice@example.com', '--via', `127.0.0.1:${port}`, '--json', '--timeout', '5'], { timeoutMs: 15_000 });
    expect([0, 1], findValue.stderr).toContain(findValue.code);
    await new Promise((r) => setTimeout(r, 300));
    await stopCapture(capture);

    const decodeAs = ['-d', `udp.port==${port},sip`];
    const tshark = async (args: string[]): Promise<string[]> => {
      const r = await run('tshark', ['-n', '-r', pcap, ...decodeAs, ...args], { timeoutMs: 30_000 });
      expect(r.code, r.stderr).toBe(0);
      return r.stdout.split('\n').filter((l) => l.trim() !== '');
    };
    const all = await tshark(['-T', 'fields', '-e', 'frame.number']);
    // SIPp: 2 + 3 transactions; each lookup: a PING and at least one REGISTER; all answered.
    expect(all.length).toBeGreaterThanOrEqual(14);
    const sip = await tshark(['-Y', 'sip', '-T', 'fields', '-e', 'frame.number']);
    expect(sip.length).toBe(all.length);
    expect(await tshark(['-Y', '_ws.malformed || _ws.expert.severity >= error'])).toEqual([]);

    // Each packet: a start line tshark understood and the mandatory headers (RFC 3261 8.1.1, 8.2.6.2).
    const rows = await tshark([
      '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=f',
      '-e', 'sip.Method', '-e', 'sip.Status-Code', '-e', 'sip.Via', '-e', 'sip.From', '-e', 'sip.To',
      '-e', 'sip.Call-ID', '-e', 'sip.CSeq', '-e', 'sip.Content-Length',
    ]);
    const seen = new Set<string>();
    for (const row of rows) {
      const [method, status, via, from, to, callId, cseq, contentLength] = row.split('|');
      expect(method !== '' || status !== '', row).toBe(true);
      for (const v of [via, from, to, callId, cseq, contentLength]) expect(v, row).not.toBe('');
      seen.add(method !== '' ? method! : status!);
    }
    // The exchange really happened: pings, FIND_NODEs/FIND_VALUEs, and the answers the scenarios expect.
    for (const s of ['OPTIONS', 'REGISTER', '200', '302', '493']) expect([...seen], s).toContain(s);
  });
});

interface Capture {
  child: ChildProcess;
  exited: Promise<number | null>;
  stderr(): string;
}

/** dumpcap, resolved once it says it captures (it prints "Capturing on ..." on stderr). */
async function startCapture(args: string[]): Promise<Capture> {
  const child = spawn('dumpcap', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`dumpcap did not start within 10 s: ${err}`)), 10_000);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.includes('Capturing on')) {
        clearTimeout(timer);
        resolve();
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`dumpcap exited (${code}): ${err}`));
    });
  });
  return { child, exited, stderr: () => err };
}

async function stopCapture(c: Capture): Promise<void> {
  c.child.kill('SIGINT');
  const killer = setTimeout(() => c.child.kill('SIGKILL'), 5_000);
  const code = await c.exited;
  clearTimeout(killer);
  expect(code, c.stderr()).toBe(0);
}
