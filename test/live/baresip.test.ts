/**
 * A real softphone through kadsip: baresip (Debian `baresip-core`, headless) registers as
 * sip:alice@127.0.0.1 with node A and calls sip:bob@127.0.0.1, a SIPp phone registered with node B
 * (B bootstrapped from A), so the call crosses the overlay: A finds bob's node by FIND_VALUE and
 * both nodes record-route.
 *
 * Asserted:
 * - baresip's REGISTER gets its 200 (cons `/reginfo` shows the account OK) and node A's /status
 *   counts the AoR;
 * - the INVITE reaches bob's registered Contact with Via exactly B, A, baresip, Record-Route
 *   exactly B, A, Max-Forwards 68 and no Route left; SIPp answers 180/200 echoing Record-Route
 *   (test/live/baresip/uas.xml) and baresip reports "Call established";
 * - baresip's ACK and, after cons `/hangup`, its BYE follow the route set through both nodes (the
 *   same Via path B, A, baresip) and reach bob's Contact with no Route left; SIPp answers the BYE
 *   200 and exits 0, and the 200 gets back to baresip;
 * - the other way: a SIPp phone at B calls sip:alice@127.0.0.1; the INVITE reaches baresip's
 *   registered Contact from node A with Max-Forwards 68, baresip answers by itself
 *   (answermode=auto) with Record-Route A, B, and SIPp's ACK and BYE follow that route set
 *   (test/live/baresip/uac.xml): exit 0;
 * - cons `/quit`: baresip unregisters (node A counts no AoR any more) and exits 0 by itself.
 *
 * baresip is driven over its cons module (UDP, one command per datagram, ended by "\n"; it also
 * sends its log lines to the last client). Its account names node A as the outbound proxy
 * (`;outbound=`): without it baresip sends the INVITE for sip:bob@127.0.0.1 to 127.0.0.1:5060,
 * the host of the Request-URI, not to the registrar it registered with.
 *
 * Every wait is bounded (the whole test stays under 40 s) and every process and temp folder is
 * cleaned up. No baresip, no sipp or no dist/ is a failure with a message, never a skip
 * (scripts/install-system-deps.sh installs baresip-core and sip-tester; npm test runs it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { baresipModuleDir, freePorts, plain, REPO, requireBuilt, requireTool, run, startNode, statusOf, type RunningNode } from './live-helpers.js';

const REGISTER_XML = join(REPO, 'sip-scenarios', 'register.xml');
const UAS_XML = join(REPO, 'test', 'live', 'baresip', 'uas.xml');
const UAC_XML = join(REPO, 'test', 'live', 'baresip', 'uac.xml');
const IP = '127.0.0.1';

interface Proc {
  readonly child: ChildProcess;
  output(): string;
  /** Resolves with the exit code (null when killed by a signal). */
  readonly exited: Promise<number | null>;
  running(): boolean;
  /** SIGTERM, then SIGKILL after 3 s; resolves once it is gone. */
  stop(): Promise<void>;
}

function start(cmd: string, args: string[], cwd: string): Proc {
  const child = spawn(cmd, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let done = false;
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (e) => {
      out += `\n${String(e)}`;
      done = true;
      resolve(null);
    });
    child.once('close', (code) => {
      done = true;
      resolve(code);
    });
  });
  return {
    child,
    output: () => out,
    exited,
    running: () => !done,
    async stop() {
      if (done) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 3_000);
      await exited;
      clearTimeout(killer);
    },
  };
}

/** The promise's value, or `timedOut` after ms. */
function within<T>(p: Promise<T>, ms: number, timedOut: T): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([p, new Promise<T>((r) => (timer = setTimeout(() => r(timedOut), ms)))]).finally(() => clearTimeout(timer));
}

async function until(what: string, check: () => Promise<boolean> | boolean, timeoutMs: number, explain: () => string = () => ''): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}\n${explain()}`);
}

/** baresip's cons module: one command per datagram; everything it sends back (replies and log lines) is kept. */
class Cons {
  private text = '';
  private readonly socket: Socket = createSocket('udp4');
  constructor(private readonly port: number) {
    this.socket.on('message', (m) => (this.text += m.toString('utf8')));
    this.socket.on('error', () => {});
  }
  async open(): Promise<void> {
    await new Promise<void>((r) => this.socket.bind(0, IP, () => r()));
  }
  send(command: string): void {
    this.socket.send(`${command}\n`, this.port, IP);
  }
  /** Everything received so far, without colour codes. */
  received(): string {
    return plain(this.text);
  }
  close(): void {
    try {
      this.socket.close();
    } catch {
      // already closed
    }
  }
}

async function registeredAors(node: RunningNode): Promise<number> {
  return ((await statusOf(node)) as unknown as { registeredAors: number }).registeredAors;
}

describe('baresip, a real softphone, through two kadsip nodes', () => {
  const nodes: RunningNode[] = [];
  const procs: Proc[] = [];
  let cons: Cons | undefined;
  let work = '';
  let moduleDir = '';

  beforeAll(() => {
    requireBuilt();
    requireTool('sipp', 'sip-tester');
    requireTool('baresip', 'baresip-core');
    moduleDir = baresipModuleDir('cons.so');
    work = mkdtempSync(join(tmpdir(), 'kadsip-baresip-'));
  });

  afterAll(async () => {
    cons?.close();
    await Promise.all(procs.map((p) => p.stop()));
    await Promise.all(nodes.map((n) => n.stop()));
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('registers at node A, calls a SIPp phone registered at node B (answered, hung up), is called back, unregisters on /quit', async () => {
    // Ports: A sip/http, B sip/http, bob (SIPp UAS), baresip SIP (+1 for its TLS listener), cons,
    // DNS, bob again (SIPp UAC, calling alice).
    const p = await freePorts(10);
    const [aPort, aHttp, bPort, bHttp, bobPort, phonePort, , consPort, dnsPort, callerPort] = Array.from({ length: 10 }, (_, i) => p + i) as [number, number, number, number, number, number, number, number, number, number];
    // DNS on an unused loopback port: nothing here resolves names, and nothing may leave the machine.
    const config = join(work, 'node.json');
    writeFileSync(config, JSON.stringify({ dns: `${IP}:${dnsPort}` }));

    const a = await startNode(aPort, aHttp, ['--config', config], 8_000);
    nodes.push(a);
    const b = await startNode(bPort, bHttp, ['--config', config, '--bootstrap', `${IP}:${aPort}`], 8_000);
    nodes.push(b);
    await until('A and B to know each other', async () => (await statusOf(a)).contacts === 1 && (await statusOf(b)).contacts === 1, 5_000);

    const nodesLog = () => `node A: ${a.output().slice(-1500)}\nnode B: ${b.output().slice(-1500)}`;

    // bob: a SIPp phone registered at B, then answering on the port it registered.
    const reg = await run('sipp', ['-sf', REGISTER_XML, '-t', 'u1', '-i', IP, '-p', String(bobPort), '-m', '1', '-timeout', '5s', '-timeout_error', '-nostdin', '-s', 'bob', '-key', 'domain', IP, '-key', 'expires', '300', `${IP}:${bPort}`], { cwd: work, timeoutMs: 8_000 });
    expect(reg.code, `bob's REGISTER at B: ${reg.stdout}\n${reg.stderr}`).toBe(0);
    const uasErrors = join(work, 'uas.errors.log');
    const uas = start(
      'sipp',
      [
        '-sf', UAS_XML, '-t', 'u1', '-i', IP, '-p', String(bobPort), '-m', '1', '-timeout', '25s', '-timeout_error', '-nostdin',
        '-trace_err', '-error_file', uasErrors, '-s', 'bob',
        '-key', 'vias', `${IP}:${bPort}|${IP}:${aPort}|${IP}:${phonePort}||`,
        '-key', 'rr', `<sip:${IP}:${bPort};lr>|<sip:${IP}:${aPort};lr>||`,
        '-key', 'maxfwd', '68',
      ],
      work,
    );
    procs.push(uas);

    // alice: baresip with its own config folder, no audio device (aubridge), driven over cons.
    const dir = join(work, 'baresip');
    mkdirSync(dir);
    writeFileSync(
      join(dir, 'config'),
      [
        `sip_listen ${IP}:${phonePort}`,
        `net_interface ${IP}`,
        'audio_source aubridge,nil',
        'audio_player aubridge,nil',
        'audio_alert aubridge,nil',
        `module_path ${moduleDir}`,
        'module g711.so',
        'module aubridge.so',
        'module cons.so',
        'module_app account.so',
        'module_app menu.so',
        `cons_listen ${IP}:${consPort}`,
        '',
      ].join('\n'),
    );
    writeFileSync(join(dir, 'accounts'), `<sip:alice@${IP}:${aPort}>;regint=60;answermode=auto;audio_codecs=PCMU;outbound="sip:${IP}:${aPort}"\n`);
    // -s: SIP trace on stdout (shown when something fails); -t: baresip quits by itself at the latest then.
    const phone = start('baresip', ['-s', '-f', dir, '-t', '35'], work);
    procs.push(phone);
    cons = new Cons(consPort);
    await cons.open();

    const explain = () => {
      const errors = existsSync(uasErrors) ? readFileSync(uasErrors, 'utf8').slice(-2000) : '(no SIPp error log)';
      return `--- cons:\n${cons!.received().slice(-3000)}\n--- baresip:\n${plain(phone.output()).slice(-6000)}\n--- SIPp bob:\n${uas.output().slice(-1500)}\n${errors}\n${nodesLog()}`;
    };

    // Registered: baresip says so on /reginfo, node A counts the AoR.
    const registered = /sip:alice@127\.0\.0\.1:\d+\s+OK\b/;
    await until(
      'baresip to show alice registered (cons /reginfo)',
      () => {
        if (!phone.running()) throw new Error(`baresip exited early\n${explain()}`);
        if (registered.test(cons!.received())) return true;
        cons!.send('/reginfo');
        return false;
      },
      8_000,
      explain,
    );
    expect(await registeredAors(a), explain()).toBe(1);

    // The call: established as far as baresip is concerned.
    cons.send('/dial sip:bob@127.0.0.1');
    await until('baresip to report the call established', () => /Call established: sip:bob@127\.0\.0\.1/.test(cons!.received()) || /Call established/.test(phone.output()), 8_000, explain);
    expect(uas.running(), `SIPp bob ended before the hang-up\n${explain()}`).toBe(true);

    // Hang up: the BYE goes back through A and B; bob answers 200 and its scenario ends, exit 0.
    cons.send('/hangup');
    const uasCode = await within<number | null | 'timeout'>(uas.exited, 8_000, 'timeout');
    expect(uasCode, `SIPp bob's exit after the hang-up\n${explain()}`).toBe(0);
    // ... and the 200 reaches baresip back through B and A (its SIP trace shows it).
    await until('baresip to receive the 200 to its BYE', () => /SIP\/2\.0 200 OK\r?\n(?:[^\r\n]+\r?\n)*?CSeq: \d+ BYE/.test(phone.output()), 3_000, explain);

    // The other way: bob (SIPp, through B) calls alice; baresip answers by itself (answermode=auto).
    const established = () => (cons!.received().match(/Call established: sip:bob@127\.0\.0\.1/g) ?? []).length;
    const before = established();
    const uacErrors = join(work, 'uac.errors.log');
    const uac = await run(
      'sipp',
      [
        '-sf', UAC_XML, '-t', 'u1', '-i', IP, '-p', String(callerPort), '-m', '1', '-timeout', '8s', '-timeout_error', '-nostdin',
        '-trace_err', '-error_file', uacErrors, '-s', 'bob',
        '-key', 'callee', 'alice', '-key', 'domain', IP,
        '-key', 'rr', `<sip:${IP}:${aPort};lr><sip:${IP}:${bPort};lr>`,
        '-key', 'phone_port', String(phonePort),
        `${IP}:${bPort}`,
      ],
      { cwd: work, timeoutMs: 12_000 },
    );
    const uacLog = () => `--- SIPp bob calling:\n${uac.stdout.slice(-1500)}\n${uac.stderr}\n${existsSync(uacErrors) ? readFileSync(uacErrors, 'utf8').slice(-2000) : ''}`;
    expect(uac.code, `SIPp bob calling alice\n${uacLog()}\n${explain()}`).toBe(0);
    // The INVITE reached baresip from node A, at the Contact it registered, two hops down.
    const invite = new RegExp(`UDP 127\\.0\\.0\\.1:${aPort} -> 127\\.0\\.0\\.1:${phonePort}\\r?\\nINVITE sip:alice[^@ ]*@127\\.0\\.0\\.1:${phonePort} SIP/2\\.0\\r?\\n(?:[^\\r\\n]+\\r?\\n)*?Max-Forwards: 68\\r?\\n`);
    expect(plain(phone.output()), explain()).toMatch(invite);
    await until('baresip to report the incoming call established', () => established() > before, 3_000, explain);

    // Quit: baresip unregisters at A and exits by itself.
    cons.send('/quit');
    const phoneCode = await within<number | null | 'timeout'>(phone.exited, 8_000, 'timeout');
    expect(phoneCode, `baresip's exit after /quit\n${explain()}`).toBe(0);
    await until('node A to drop alice after the un-REGISTER', async () => (await registeredAors(a)) === 0, 3_000, explain);
  }, 40_000);
});
