/**
 * Overload on real processes (issue 12, "Overload"): `kadsip start` nodes on loopback, a bounded
 * raw-UDP flood of new INVITEs and REGISTERs from 50 source addresses (127.0.0.10-59) while a SIPp
 * caller holds a call through the node, and `kadsip lookup` (FIND_VALUE through the node).
 *
 *  - per-source limit (--rate-limit 5: bursts of 10): every flooding source gets 503 with
 *    Retry-After once past its burst, nothing goes unanswered, the held call's BYE (sent from a
 *    flooding address, after the flood) passes and the call completes, FIND_VALUE through the node succeeds, the node's RSS stays bounded, and
 *    /status and /metrics show what happened;
 *  - the detector (a node told that any event-loop utilisation is overload,
 *    --overload-utilisation 0.0001, so it is overloaded from its first sample): /status and
 *    /metrics say so, a new phone source gets 503 with Retry-After 5-10, and FIND_VALUE through
 *    that node still succeeds (the overlay has its own budget).
 * No timing assertions: waits are bounded polls; counts are what the limits make deterministic.
 */
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO, freePorts, requireBuilt, requireTool, run, startNode, type RunningNode } from './live-helpers.js';

const DOMAIN = 'flood.example';
const SOURCES = 50;
const PER_SOURCE = 40;
const BENCH_SIP = join(REPO, 'bench', 'sip');

const nodes: RunningNode[] = [];
let work = '';

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface OverloadStatus {
  overloaded: boolean;
  admissionFactor: number;
  sent503: number;
  rejectedSource: number;
  rejectedOverload: number;
  rateLimitedSources: number;
  dropped: number;
}
async function overloadOf(n: RunningNode): Promise<OverloadStatus> {
  const res = await fetch(`http://127.0.0.1:${n.httpPort}/status`, { signal: AbortSignal.timeout(5_000) });
  return ((await res.json()) as { overload: OverloadStatus }).overload;
}
async function statusOf(n: RunningNode): Promise<{ proxy: { statelessForwarded: number } }> {
  const res = await fetch(`http://127.0.0.1:${n.httpPort}/status`, { signal: AbortSignal.timeout(5_000) });
  return (await res.json()) as { proxy: { statelessForwarded: number } };
}
async function metric(n: RunningNode, name: string): Promise<number> {
  const res = await fetch(`http://127.0.0.1:${n.httpPort}/metrics`, { signal: AbortSignal.timeout(5_000) });
  const line = (await res.text()).split('\n').find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`metric ${name} missing`);
  return Number(line.split(' ')[1]);
}

/** One SIPp run of a bench/sip scenario, bounded. */
function sipp(scenario: string, port: number, args: string[], target?: string, timeoutS = 30, ip = '127.0.0.1') {
  const a = ['-sf', join(BENCH_SIP, scenario), '-t', 'u1', '-i', ip, '-p', String(port), '-m', '1', '-timeout', `${timeoutS}s`, '-timeout_error', '-nostdin', '-trace_err', '-error_file', join(work, `${scenario}.${port}.errors.log`), ...args];
  if (target) a.push(target);
  return run('sipp', a, { cwd: work, timeoutMs: (timeoutS + 10) * 1000 });
}

function usersFile(user: string): string {
  const file = join(work, `${user}.csv`);
  writeFileSync(file, `SEQUENTIAL\n${user};\n`);
  return file;
}

interface Answer {
  status: number;
  retryAfter: string | undefined;
}
/**
 * The flood: from each source address, PER_SOURCE new requests at once (INVITE and REGISTER in
 * turn, each its own Call-ID and branch), a source after the other; every final answer is kept by
 * Call-ID, and the INVITEs' final answers are ACKed (RFC 3261 17.1.1.3) so the node stops resending.
 */
async function flood(target: number): Promise<{ sent: number; answers: Map<string, Answer>; bySource: Map<string, Answer[]> }> {
  const answers = new Map<string, Answer>();
  const bySource = new Map<string, Answer[]>();
  const sockets: Socket[] = [];
  let sent = 0;
  try {
    for (let s = 0; s < SOURCES; s++) {
      const host = `127.0.0.${10 + s}`;
      const socket = createSocket('udp4');
      sockets.push(socket);
      await new Promise<void>((resolve, reject) => {
        socket.once('error', reject);
        socket.bind(0, host, () => resolve());
      });
      const port = socket.address().port;
      const mine: Answer[] = [];
      bySource.set(host, mine);
      socket.on('message', (data) => {
        const text = data.toString('latin1');
        const status = Number(/^SIP\/2\.0 (\d{3})/.exec(text)?.[1] ?? 0);
        const callId = /\r\nCall-ID: *([^\r\n]+)/i.exec(text)?.[1]?.trim();
        if (status < 200 || callId === undefined || answers.has(callId)) return;
        const answer = { status, retryAfter: /\r\nRetry-After: *(\d+)/i.exec(text)?.[1] };
        answers.set(callId, answer);
        mine.push(answer);
        if (/\r\nCSeq: *1 INVITE/i.test(text)) {
          const header = (name: string): string => new RegExp(`\\r\\n(${name}: *[^\\r\\n]+)`, 'i').exec(text)?.[1] ?? '';
          const ack = [`ACK sip:nobody@${DOMAIN} SIP/2.0`, header('Via').replace(/;received=[^;\r\n]*|;rport=\d+/g, ''), 'Max-Forwards: 70', header('From'), header('To'), header('Call-ID'), 'CSeq: 1 ACK', 'Content-Length: 0', '', ''].join('\r\n');
          socket.send(ack, target, '127.0.0.1');
        }
      });
      for (let i = 0; i < PER_SOURCE; i++) {
        const invite = i % 2 === 0;
        const callId = `flood-${s}-${i}@${host}`;
        const user = invite ? 'nobody' : `flood${s}`;
        const msg = [
          `${invite ? 'INVITE' : 'REGISTER'} sip:${invite ? `nobody@${DOMAIN}` : DOMAIN} SIP/2.0`,
          `Via: SIP/2.0/UDP ${host}:${port};branch=z9hG4bK-flood-${s}-${i};rport`,
          'Max-Forwards: 70',
          `From: <sip:${user}@${DOMAIN}>;tag=f${s}x${i}`,
          `To: <sip:${invite ? 'nobody' : user}@${DOMAIN}>`,
          `Call-ID: ${callId}`,
          `CSeq: 1 ${invite ? 'INVITE' : 'REGISTER'}`,
          `Contact: <sip:${user}@${host}:${port}>`,
          ...(invite ? [] : ['Expires: 60']),
          'Content-Length: 0',
          '',
          '',
        ].join('\r\n');
        socket.send(msg, target, '127.0.0.1');
        sent++;
      }
      // This source's answers before the next source starts: the node's socket buffer is not the test.
      await until(`answers to ${host}`, async () => mine.length >= PER_SOURCE, 15_000).catch(() => undefined);
    }
    return { sent, answers, bySource };
  } finally {
    for (const s of sockets) s.close();
  }
}

/** New REGISTERs from host every 40 ms until stop() (at most 1,000): five times a rate of 5/s, under the ten times past which a source is dropped; counts the 503s. */
async function pester(host: string, target: number, stop: () => boolean): Promise<{ refused: number }> {
  const socket = createSocket('udp4');
  await new Promise<void>((resolve) => socket.bind(0, host, () => resolve()));
  const port = socket.address().port;
  let refused = 0;
  socket.on('message', (d) => {
    if (d.toString('latin1').startsWith('SIP/2.0 503 ')) refused++;
  });
  for (let i = 0; i < 1000 && !stop(); i++) {
    const msg = [`REGISTER sip:${DOMAIN} SIP/2.0`, `Via: SIP/2.0/UDP ${host}:${port};branch=z9hG4bK-pester-${i};rport`, 'Max-Forwards: 70', `From: <sip:pest@${DOMAIN}>;tag=p${i}`, `To: <sip:pest@${DOMAIN}>`, `Call-ID: pester-${i}@${host}`, 'CSeq: 1 REGISTER', `Contact: <sip:pest@${host}:${port}>`, 'Content-Length: 0', '', ''].join('\r\n');
    socket.send(msg, target, '127.0.0.1');
    await new Promise((r) => setTimeout(r, 40));
  }
  await new Promise((r) => setTimeout(r, 200));
  socket.close();
  return { refused };
}

beforeAll(() => {
  requireBuilt();
  requireTool('sipp', 'sip-tester');
  work = mkdtempSync(join(tmpdir(), 'kadsip-overload-'));
});

afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('a flood from 50 sources against per-source limits', () => {
  it('gets 503 with Retry-After past each source\'s burst while a held call completes, its BYE passes and FIND_VALUE through the node works', async () => {
    const [sipA, sipB, uasPort, uacPort] = [await freePorts(2), await freePorts(2), await freePorts(1), await freePorts(1)];
    const a = await startNode(sipA!, sipA! + 1, ['--domain', DOMAIN, '--rate-limit', '5']);
    nodes.push(a);
    const b = await startNode(sipB!, sipB! + 1, ['--domain', DOMAIN, '--bootstrap', `127.0.0.1:${sipA}`]);
    nodes.push(b);
    // The callee registers at A; a SIPp UAS answers for it.
    const reg = await sipp('register.xml', uasPort!, ['-inf', usersFile('callee'), '-key', 'domain', DOMAIN, '-key', 'expires', '300'], `127.0.0.1:${sipA}`);
    expect(reg.code, reg.stdout + reg.stderr).toBe(0);
    const rssBefore = await metric(a, 'kadsip_process_process_resident_memory_bytes');
    const uas = sipp('uas.xml', uasPort!, ['-s', 'callee'], undefined, 60);
    await new Promise((r) => setTimeout(r, 300)); // the UAS binds its port (a failed bind fails the call below)
    // The caller holds the call 3 s after the ACK: the flood runs while the dialog is in progress.
    // It calls from the first flooding address, so its BYE comes from a source far over its limit.
    const uac = sipp('uac.xml', uacPort!, ['-key', 'domain', DOMAIN, '-key', 'caller', 'caller', '-key', 'callee', 'callee', '-d', '3000'], `127.0.0.1:${sipA}`, 60, '127.0.0.10');
    // The call is up once A has forwarded its ACK (the ACK of a 2xx goes through the proxy statelessly).
    await until('the call to be answered and ACKed', async () => (await statusOf(a)).proxy.statelessForwarded >= 1, 30_000);

    // Until the call ends, the caller's address keeps sending new REGISTERs far over its rate
    // (bounded: at most 1,000, 25/s), so its BYE arrives while that source is refused.
    let callOver = false;
    const pestered = pester('127.0.0.10', sipA!, () => callOver);
    void uac.then(() => (callOver = true));
    const { sent, answers, bySource } = await flood(sipA!);
    const lookup = await run(process.execPath, [CLI, 'lookup', `sip:callee@${DOMAIN}`, '--via', `127.0.0.1:${sipA}`, '--json', '--timeout', '10'], { timeoutMs: 20_000 });
    const [uacResult, uasResult] = await Promise.all([uac, uas]);
    callOver = true;
    expect((await pestered).refused).toBeGreaterThan(0);

    // Every flood request was answered; each source got 503 with Retry-After once past its burst.
    expect(sent).toBe(SOURCES * PER_SOURCE);
    expect(answers.size).toBe(sent);
    for (const [host, list] of bySource) {
      const refused = list.filter((x) => x.status === 503);
      // 10 fit the burst; more pass only as the bucket refills (5/s) while the node works through them.
      expect(refused.length, host).toBeGreaterThanOrEqual(1);
      for (const r of refused) expect(Number(r.retryAfter), host).toBeGreaterThanOrEqual(1);
    }
    // The call held through the flood completed: ACK, the BYE after the flood, its 200.
    expect(uacResult.code, `${uacResult.stdout}${uacResult.stderr}\n${a.output().slice(-2000)}`).toBe(0);
    expect(uasResult.code, uasResult.stdout + uasResult.stderr).toBe(0);
    // FIND_VALUE through the flooded node found the callee's record.
    expect(lookup.code, lookup.stdout + lookup.stderr).toBe(0);
    expect(lookup.stdout).toContain(`127.0.0.1:${sipA}`);

    const st = await overloadOf(a);
    expect(st.rejectedSource).toBeGreaterThanOrEqual(SOURCES);
    expect(st.sent503).toBeGreaterThanOrEqual(st.rejectedSource);
    expect(st.rateLimitedSources).toBeGreaterThanOrEqual(1);
    expect(typeof st.overloaded).toBe('boolean');
    expect(await metric(a, 'kadsip_overload_503_sent')).toBeGreaterThanOrEqual(st.rejectedSource);
    expect(await metric(a, 'kadsip_overloaded')).toBeGreaterThanOrEqual(0);
    // Memory: the refused made no state; a generous bound over the node before the flood.
    const rssAfter = await metric(a, 'kadsip_process_process_resident_memory_bytes');
    expect(rssAfter).toBeLessThan(rssBefore + 64 * 1024 * 1024);
  }, 180_000);
});

describe('a node its detector finds overloaded', () => {
  it('answers a new phone source 503 with Retry-After 5-10, shows it in /status and /metrics, and still serves FIND_VALUE', async () => {
    const [sipA, sipC, phonePort] = [await freePorts(2), await freePorts(2), await freePorts(1)];
    const a = await startNode(sipA!, sipA! + 1, ['--domain', DOMAIN]);
    nodes.push(a);
    // Any event-loop utilisation at all is overload for this node: it is overloaded from its first sample.
    // Only 127.0.0.1 trusted: the newcomer below (127.0.0.77) is an untrusted source, which is what
    // overload sheds (trusted networks are never refused as newcomers).
    const c = await startNode(sipC!, sipC! + 1, ['--domain', DOMAIN, '--bootstrap', `127.0.0.1:${sipA}`, '--overload-utilisation', '0.0001', '--trust', '127.0.0.1/32']);
    nodes.push(c);
    // Someone to look up: registered at A.
    const reg = await sipp('register.xml', phonePort!, ['-inf', usersFile('dave'), '-key', 'domain', DOMAIN, '-key', 'expires', '300'], `127.0.0.1:${sipA}`);
    expect(reg.code, reg.stdout + reg.stderr).toBe(0);
    await until('node C to say it is overloaded', async () => (await overloadOf(c)).overloaded, 20_000);
    expect(await metric(c, 'kadsip_overloaded')).toBe(1);
    expect(await metric(c, 'kadsip_admission_factor')).toBeLessThan(1);

    // A REGISTER from a source C has never seen.
    const socket = createSocket('udp4');
    await new Promise<void>((resolve) => socket.bind(0, '127.0.0.77', () => resolve()));
    const answer = new Promise<string>((resolve) => socket.once('message', (d) => resolve(d.toString('latin1'))));
    const port = socket.address().port;
    socket.send(
      [`REGISTER sip:${DOMAIN} SIP/2.0`, `Via: SIP/2.0/UDP 127.0.0.77:${port};branch=z9hG4bK-newcomer;rport`, 'Max-Forwards: 70', `From: <sip:erin@${DOMAIN}>;tag=e1`, `To: <sip:erin@${DOMAIN}>`, 'Call-ID: newcomer@127.0.0.77', 'CSeq: 1 REGISTER', `Contact: <sip:erin@127.0.0.77:${port}>`, 'Content-Length: 0', '', ''].join('\r\n'),
      sipC!,
      '127.0.0.1',
    );
    const text = await Promise.race([answer, new Promise<string>((r) => setTimeout(() => r('(no answer in 10 s)'), 10_000))]);
    socket.close();
    expect(text).toMatch(/^SIP\/2\.0 503 /);
    const retryAfter = Number(/\r\nRetry-After: *(\d+)/i.exec(text)?.[1]);
    expect(retryAfter).toBeGreaterThanOrEqual(5);
    expect(retryAfter).toBeLessThanOrEqual(10);
    expect((await overloadOf(c)).rejectedOverload).toBeGreaterThanOrEqual(1);

    // The overlay is not shed: FIND_VALUE through C finds dave (registered at A).
    const lookup = await run(process.execPath, [CLI, 'lookup', `sip:dave@${DOMAIN}`, '--via', `127.0.0.1:${sipC}`, '--json', '--timeout', '10'], { timeoutMs: 20_000 });
    expect(lookup.code, lookup.stdout + lookup.stderr).toBe(0);
    expect(lookup.stdout).toContain(`127.0.0.1:${sipA}`);
  }, 120_000);
});
