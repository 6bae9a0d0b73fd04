/**
 * TLS end to end (issue 12; README "TLS"), on loopback: two kadsip processes of a closed overlay
 * (`kadsip ca` certificates, Ed25519) peer over mutual TLS on their TLS ports, a SIPp phone calls
 * over TLS and a SIPp phone on UDP answers.
 *
 * Debian's SIPp (sip-tester 3.6.1) is built without TLS and Debian's mirror here carries no source
 * to rebuild it, so the calling SIPp speaks TCP to a local stunnel (stunnel4) in client mode, which
 * verifies the node's certificate against the overlay CA and carries the connection over TLS to
 * node A's TLS port: the node sees a real TLS phone.
 *
 * Asserted:
 * - B joins A through A's TLS port (peer transport tls, mutual TLS): both see each other, and each
 *   counts an open TLS connection;
 * - the call alice (TLS, at A) -> bob (UDP, registered at B) completes (INVITE 200 ACK BYE 200);
 *   the INVITE reaches bob with Vias B (UDP), A (TLS) and the caller's (TLS), and Record-Route
 *   B's UDP address, B's TLS address with ;transport=tls, then A's TLS address with
 *   ;transport=tls: one value per side where the transport differs (RFC 5658);
 * - sips: over a plain hop: an INVITE for sips:bob@example.net to A's UDP port gets 416; over TLS
 *   but routed on to B's UDP address it gets 480, routed to B's TLS address it goes on (RFC 5630);
 * - baresip (libre's TLS) registers alice@example.net over TLS at A, checking A's certificate
 *   against the overlay CA; a SIPp phone on UDP at B calls her: B -> A over TLS, A -> baresip over
 *   the TLS connection she registered on (RFC 5626 flow, RFC 3261 18.2.2); she answers
 *   (answermode=auto), the call ends with BYE/200 and SIPp exits 0;
 * - a node whose certificate comes from another CA cannot join (its TLS check of A fails), and one
 *   that trusts A's CA but shows a foreign certificate is refused 403 by mutual TLS: A's contacts
 *   stay at one.
 * Every wait is bounded; processes and temp folders are cleaned up. No sipp, stunnel4 or dist/ is
 * a failure with a message (scripts/install-system-deps.sh installs them).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createCa, issueCertificate } from '../../src/trust/ca.js';
import { derToPem } from '../../src/trust/x509.js';
import { mkdirSync } from 'node:fs';
import { baresipModuleDir, freePorts, plain, REPO, requireBuilt, requireTool, run, startNode, type RunningNode, type RunResult } from './live-helpers.js';

const SCENARIOS = join(REPO, 'test', 'live', 'tls-scenarios');
const REGISTER_XML = join(REPO, 'sip-scenarios', 'register.xml');
const IP = '127.0.0.1';
/** The overlay domain the certificates allow (a closed overlay publishes AoRs only of its certificates' domains). */
const DOMAIN = 'example.net';

let work: string;
let base: number;
let a: RunningNode;
let b: RunningNode;
const tlsA = () => base + 4;
const tlsB = () => base + 5;
const others: RunningNode[] = [];
let stunnel: ChildProcess | undefined;

interface Pair {
  cert: string;
  key: string;
}

async function writePki(dir: string, name: string): Promise<{ ca: string; issue(n: string): Promise<Pair> }> {
  const ca = await createCa({ overlay: 'tlstest' });
  const caPath = join(dir, `${name}-ca.pem`);
  writeFileSync(caPath, derToPem('CERTIFICATE', ca.certDer));
  return {
    ca: caPath,
    async issue(n) {
      const issued = await issueCertificate(ca, { name: n, domains: [DOMAIN] });
      const cert = join(dir, `${n}-cert.pem`);
      const key = join(dir, `${n}-key.pem`);
      writeFileSync(cert, derToPem('CERTIFICATE', issued.der));
      writeFileSync(key, issued.key.export({ format: 'pem', type: 'pkcs8' }).toString(), { mode: 0o600 });
      return { cert, key };
    },
  };
}

async function status(node: RunningNode): Promise<{ contacts: number; state: string; transport: { tlsConnections: number } }> {
  const res = await fetch(`http://${IP}:${node.httpPort}/status`, { signal: AbortSignal.timeout(2_000) });
  return (await res.json()) as { contacts: number; state: string; transport: { tlsConnections: number } };
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check().catch(() => false)) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`not within ${timeoutMs} ms: ${what}`);
}

function sipp(scenario: string, port: number, transport: 'u1' | 't1', args: string[], target: string, timeoutS = 20): Promise<RunResult> {
  const name = basename(scenario, '.xml');
  const a = ['-sf', scenario, '-t', transport, '-i', IP, '-p', String(port), '-m', '1', '-timeout', `${timeoutS}s`, '-timeout_error', '-nostdin', '-trace_msg', '-message_file', join(work, `${name}.messages.log`), '-trace_err', '-error_file', join(work, `${name}.errors.log`), ...args, target];
  return run('sipp', a, { cwd: work, timeoutMs: (timeoutS + 10) * 1000 });
}

function traced(scenario: string): string {
  const file = join(work, `${scenario}.messages.log`);
  return existsSync(file) ? readFileSync(file, 'utf8') : '';
}

/** The first SIP message in a SIPp trace whose start line matches, as text. */
function message(trace: string, start: RegExp): string {
  const parts = trace.split(/\n(?=[A-Z]+ \S+ SIP\/2\.0\r?$|SIP\/2\.0 \d{3} )/m);
  return parts.find((p) => start.test(p.trimStart())) ?? '';
}

function headers(msg: string, name: string): string[] {
  return msg
    .split(/\r?\n/)
    .filter((l) => l.toLowerCase().startsWith(`${name.toLowerCase()}:`))
    .flatMap((l) => l.slice(name.length + 1).split(/,(?=\s*<)/))
    .map((v) => v.trim());
}

/** One request over UDP or TLS from a raw socket; resolves with the final status line. */
function finalStatus(request: string, to: { protocol: 'udp' | 'tls'; port: number }, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no final response')), 15_000);
    const onData = (text: string, done: () => void) => {
      const m = /^SIP\/2\.0 ([2-6]\d\d[^\r\n]*)/m.exec(text);
      if (m) {
        clearTimeout(timer);
        done();
        resolve(m[1]!);
      }
    };
    if (to.protocol === 'udp') {
      const s = createSocket('udp4');
      s.bind(0, IP, () => {
        const port = s.address().port;
        s.on('message', (d) => onData(d.toString(), () => s.close()));
        s.send(request.replace(/LOCALPORT/g, String(port)).replace(/TRANSPORT/g, 'UDP'), to.port, IP);
      });
    } else {
      let buf = '';
      const s = tls.connect({ host: IP, port: to.port, ca: readFileSync(ca), checkServerIdentity: () => undefined }, () => {
        s.write(request.replace(/LOCALPORT/g, String((s.address() as { port: number }).port)).replace(/TRANSPORT/g, 'TLS'));
      });
      s.on('error', reject);
      s.on('data', (d: Buffer) => {
        buf += d.toString();
        // Each response on its own: the 100 Trying first, the final one later.
        for (const part of buf.split(/(?=SIP\/2\.0 )/)) if (!/^SIP\/2\.0 1\d\d/.test(part)) onData(part, () => s.destroy());
      });
    }
  });
}

function sipsInvite(callId: string, extra: string[] = []): string {
  return [
    `INVITE sips:bob@${DOMAIN} SIP/2.0`,
    `Via: SIP/2.0/TRANSPORT ${IP}:LOCALPORT;branch=z9hG4bK-${callId};rport`,
    'Max-Forwards: 70',
    `From: <sips:carol@${DOMAIN}>;tag=${callId}`,
    `To: <sips:bob@${DOMAIN}>`,
    `Call-ID: ${callId}`,
    'CSeq: 1 INVITE',
    ...extra,
    `Contact: <sips:carol@${IP}:LOCALPORT>`,
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
}

let pki: Awaited<ReturnType<typeof writePki>>;
let foreign: Awaited<ReturnType<typeof writePki>>;

beforeAll(async () => {
  requireBuilt();
  requireTool('sipp', 'sip-tester');
  requireTool('stunnel4', 'stunnel4');
  work = mkdtempSync(join(tmpdir(), 'kadsip-tls-'));
  base = await freePorts(16);
  pki = await writePki(work, 'overlay');
  foreign = await writePki(work, 'foreign');
  const na = await pki.issue('node-a');
  const nb = await pki.issue('node-b');
  const tlsArgs = (p: Pair, tlsPort: number) => ['--transports', 'udp,tcp,tls', '--peer-transport', 'tls', '--tls-port', String(tlsPort), '--tls-mutual', 'on', '--ca-cert', pki.ca, '--cert', p.cert, '--key', p.key, '--domain', DOMAIN];
  a = await startNode(base, base + 1, tlsArgs(na, tlsA()), 30_000);
  b = await startNode(base + 2, base + 3, [...tlsArgs(nb, tlsB()), '--bootstrap', `${IP}:${tlsA()}`], 30_000);
}, 90_000);

afterAll(async () => {
  stunnel?.kill('SIGKILL');
  await Promise.all([a?.stop(), b?.stop(), ...others.map((n) => n.stop())]);
  if (work && process.env.KADSIP_KEEP_TLS_WORK === undefined) rmSync(work, { recursive: true, force: true });
});

describe('TLS between peers and for phones', () => {
  it('two nodes peer over mutual TLS on their TLS ports', async () => {
    await until('A and B see each other', async () => (await status(a)).contacts >= 1 && (await status(b)).contacts >= 1);
    expect((await status(a)).transport.tlsConnections).toBeGreaterThanOrEqual(1);
    expect((await status(b)).transport.tlsConnections).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it('a TLS phone (SIPp via stunnel) calls a UDP phone across the TLS overlay: Via and Record-Route show each hop', async () => {
    const bobPort = base + 6;
    const reg = await sipp(REGISTER_XML, bobPort, 'u1', ['-s', 'bob', '-key', 'domain', DOMAIN, '-key', 'expires', '300'], `${IP}:${b.sipPort}`);
    expect(reg.code, reg.stderr).toBe(0);
    // stunnel: TCP from SIPp on 127.0.0.1:base+7, TLS to A's TLS port, A's certificate checked against the overlay CA.
    const conf = join(work, 'stunnel.conf');
    writeFileSync(conf, ['foreground = yes', 'pid =', 'debug = 4', '[sip]', 'client = yes', `accept = ${IP}:${base + 7}`, `connect = ${IP}:${tlsA()}`, `CAfile = ${pki.ca}`, 'verifyChain = yes', ''].join('\n'));
    let stunnelOut = '';
    stunnel = spawn('stunnel4', [conf], { stdio: ['ignore', 'pipe', 'pipe'] });
    stunnel.stderr!.on('data', (d: Buffer) => (stunnelOut += d.toString()));
    stunnel.stdout!.on('data', (d: Buffer) => (stunnelOut += d.toString()));
    await until('stunnel listens', async () => /Configuration successful|bound to|accepting/i.test(stunnelOut), 10_000).catch(() => undefined);
    const uas = sipp(join(SCENARIOS, 'uas.xml'), bobPort, 'u1', ['-s', 'bob'], `${IP}:${b.sipPort}`, 25);
    const uac = await sipp(join(SCENARIOS, 'uac.xml'), base + 8, 't1', ['-s', 'bob', '-key', 'caller', 'alice', '-key', 'domain', DOMAIN, '-key', 'via_transport', 'TLS'], `${IP}:${base + 7}`, 20);
    const answered = await uas;
    expect(uac.code, `${uac.stderr}\n${traced('uac')}\n${stunnelOut}\n${a.output().slice(-2000)}`).toBe(0);
    expect(answered.code, answered.stderr).toBe(0);
    const invite = message(traced('uas'), /^INVITE /);
    const vias = headers(invite, 'Via').map((v) => v.split(';')[0]);
    expect(vias.slice(0, 2)).toEqual([`SIP/2.0/UDP ${IP}:${b.sipPort}`, `SIP/2.0/TLS ${IP}:${tlsA()}`]);
    expect(vias[2]).toMatch(/^SIP\/2\.0\/TLS /);
    expect(headers(invite, 'Record-Route')).toEqual([
      `<sip:${IP}:${b.sipPort};lr>`,
      `<sip:${IP}:${tlsB()};transport=tls;lr>`,
      `<sip:${IP}:${tlsA()};transport=tls;lr>`,
    ]);
    // The BYE followed the route set back through both nodes.
    expect(message(traced('uas'), /^BYE /)).toMatch(/^BYE sip:bob@/);
  }, 90_000);

  it('sips: is refused over a plain hop (416) and where the next hop is not TLS (480)', async () => {
    expect(await finalStatus(sipsInvite('sips-udp'), { protocol: 'udp', port: a.sipPort }, pki.ca)).toMatch(/^416 /);
    // Over TLS to A, but routed on to B's UDP address: no TLS hop, so 480 rather than a downgrade.
    const routed = sipsInvite('sips-tls', [`Route: <sip:${IP}:${b.sipPort};lr>`]);
    expect(await finalStatus(routed, { protocol: 'tls', port: tlsA() }, pki.ca)).toMatch(/^480 /);
    // The same Route over TLS (B's TLS port) is a TLS hop: the request goes on (B answers it).
    const tlsRouted = sipsInvite('sips-tls-ok', [`Route: <sip:${IP}:${tlsB()};transport=tls;lr>`]);
    expect(await finalStatus(tlsRouted, { protocol: 'tls', port: tlsA() }, pki.ca)).not.toMatch(/^480 /);
  }, 40_000);

  it('baresip registers over TLS and is called over its TLS registration flow', async () => {
    requireTool('baresip', 'baresip-core');
    const dir = join(work, 'baresip');
    mkdirSync(dir);
    const phonePort = base + 12;
    writeFileSync(
      join(dir, 'config'),
      [
        `sip_listen ${IP}:${phonePort}`,
        `net_interface ${IP}`,
        `sip_cafile ${pki.ca}`,
        'audio_source aubridge,nil',
        'audio_player aubridge,nil',
        'audio_alert aubridge,nil',
        `module_path ${baresipModuleDir('g711.so')}`,
        'module g711.so',
        'module aubridge.so',
        'module_app account.so',
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'accounts'), `<sip:alice@${DOMAIN};transport=tls>;regint=60;answermode=auto;audio_codecs=PCMU;outbound="sip:${IP}:${tlsA()};transport=tls"\n`);
    let out = '';
    const phone = spawn('baresip', ['-s', '-f', dir, '-t', '40'], { cwd: work, stdio: ['ignore', 'pipe', 'pipe'] });
    phone.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    phone.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    try {
      const explain = () => `--- baresip:\n${plain(out).slice(-5000)}\n--- A:\n${a.output().slice(-1500)}`;
      await until('baresip registered over TLS (200 to its REGISTER)', async () => /SIP\/2\.0 200 OK\r?\n(?:[^\r\n]+\r?\n)*?CSeq: \d+ REGISTER/.test(out), 15_000).catch((e: Error) => {
        throw new Error(`${e.message}\n${explain()}`);
      });
      // Its REGISTER went out over TLS: the Via baresip wrote says so.
      expect(plain(out)).toMatch(/REGISTER sip:example\.net;transport=tls SIP\/2\.0[\s\S]*?Via: SIP\/2\.0\/TLS /i);
      const call = await sipp(join(SCENARIOS, 'uac.xml'), base + 13, 'u1', ['-s', 'alice', '-key', 'caller', 'bob', '-key', 'domain', DOMAIN, '-key', 'via_transport', 'UDP'], `${IP}:${b.sipPort}`, 20);
      expect(call.code, `${call.stderr}\n${traced('uac').slice(-3000)}\n${explain()}`).toBe(0);
      // The INVITE reached baresip over TLS from A, with A's TLS address on top of the Via.
      expect(plain(out)).toMatch(new RegExp(`INVITE sip:[^\\s]+;transport=tls SIP/2\\.0[\\s\\S]*?Via: SIP/2\\.0/TLS ${IP.replace(/\./g, '\\.')}:${tlsA()};`, 'i'));
    } finally {
      phone.kill('SIGKILL');
    }
  }, 90_000);

  it('peers with a certificate of another CA are refused', async () => {
    // Its own CA only: A's certificate fails its check, nothing reaches A.
    const f = await foreign.issue('stranger');
    const strangerArgs = ['--transports', 'udp,tcp,tls', '--peer-transport', 'tls', '--tls-port', String(base + 10), '--tls-mutual', 'on', '--ca-cert', foreign.ca, '--cert', f.cert, '--key', f.key, '--bootstrap', `${IP}:${tlsA()}`];
    const stranger = await run(process.execPath, [join(REPO, 'dist', 'cli', 'main.js'), 'start', '--listen', `${IP}:${base + 9}`, '--log-level', 'warn', ...strangerArgs], { timeoutMs: 20_000 });
    expect(stranger.code).not.toBe(0);
    // Trusting A's CA but showing a foreign certificate: the handshake works, mutual TLS answers 403.
    const cheat = await run(
      process.execPath,
      [join(REPO, 'dist', 'cli', 'main.js'), 'start', '--listen', `${IP}:${base + 11}`, '--log-level', 'warn', '--transports', 'udp,tls', '--peer-transport', 'tls', '--tls-port', String(base + 10), '--tls-cert', f.cert, '--tls-key', f.key, '--tls-ca', pki.ca, '--bootstrap', `${IP}:${tlsA()}`],
      { timeoutMs: 20_000 },
    );
    expect(cheat.code).not.toBe(0);
    expect(`${cheat.stdout}${cheat.stderr}`).toMatch(/403/);
    expect((await status(a)).contacts).toBe(1);
  }, 60_000);
});
