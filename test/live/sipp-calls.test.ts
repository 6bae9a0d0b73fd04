/**
 * SIPp phones against real `kadsip start` processes (sip-scenarios/run-calls.sh and its scenarios):
 * registrations (plain and digest), calls on one node, across two nodes and across a five-node
 * overlay (INVITE/180/200/ACK/BYE with Via, Record-Route, Max-Forwards and Contact checked exactly),
 * re-INVITE through the Record-Route set, CANCEL, no answer, busy, MESSAGE, 404 for a user
 * registered nowhere, 480 with Retry-After when the only other peer is dead, `kadsip lookup` showing
 * the overlay record, and the embedded default (`kadsip start` with no flags on 127.0.0.1:5060)
 * serving two phones at once. Negative controls show the scenarios do fail on a wrong answer.
 *
 * Nodes are started in the order the tests need them and all stopped in afterAll. Nothing is
 * skipped: no sipp, no dist/, or a taken port 5060 is a failure with a message saying so.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, freePorts, REPO, requireBuilt, requireTool, run, startNode, statusOf, type RunningNode, type RunResult } from './live-helpers.js';

const SCENARIOS = join(REPO, 'sip-scenarios');
const RUNNER = join(SCENARIOS, 'run-calls.sh');

const nodes: RunningNode[] = [];
const cleanups: Array<() => void | Promise<void>> = [];
let work = '';
let dnsConfig = '';

/** The config file every node gets: DNS on loopback (an unused port; nothing here resolves names). */
async function dnsOnLoopback(): Promise<string> {
  if (!dnsConfig) {
    const dnsPort = await freePorts(1);
    dnsConfig = join(work, 'dns.json');
    writeFileSync(dnsConfig, JSON.stringify({ dns: `127.0.0.1:${dnsPort}` }));
  }
  return dnsConfig;
}

/** `kadsip start` on 127.0.0.1 with the given --config (default: DNS on loopback only). */
async function node(sipPort: number, httpPort: number, extra: string[] = [], config?: string): Promise<RunningNode> {
  const n = await startNode(sipPort, httpPort, ['--config', config ?? (await dnsOnLoopback()), ...extra]);
  nodes.push(n);
  return n;
}

function addr(n: RunningNode): string {
  return `127.0.0.1:${n.sipPort}`;
}

/** run-calls.sh with the given environment; a failing run keeps its SIPp logs under `work`. */
async function calls(args: string[], env: Record<string, string>, timeoutMs = 90_000): Promise<RunResult> {
  const out = mkdtempSync(join(work, 'calls-'));
  // Four ports a case (run-calls.sh take_ports); the default cases are 14.
  const base = await freePorts(64);
  return run('bash', [RUNNER, ...args], { env: { BASE_PORT: String(base), LOCAL_IP: '127.0.0.1', OUT_DIR: out, ...env }, timeoutMs });
}

function explain(r: RunResult, ...extra: RunningNode[]): string {
  return `exit ${r.code} ${r.signal ?? ''}\n${r.stdout}\n${r.stderr}\n${extra.map((n) => `node ${n.sipPort}: ${n.output().slice(-2000)}`).join('\n')}`;
}

/** One SIPp run of a scenario of sip-scenarios/, bounded. */
async function sipp(scenario: string, port: number, args: string[], target?: string, timeoutS = 15): Promise<RunResult> {
  const a = ['-sf', join(SCENARIOS, scenario), '-t', 'u1', '-i', '127.0.0.1', '-p', String(port), '-m', '1', '-timeout', `${timeoutS}s`, '-timeout_error', '-nostdin', '-trace_err', '-error_file', join(work, `${scenario}.${port}.errors.log`), ...args];
  if (target) a.push(target);
  return run('sipp', a, { cwd: work, timeoutMs: (timeoutS + 10) * 1000 });
}

async function lookup(target: string, via: RunningNode): Promise<RunResult> {
  return run(process.execPath, [CLI, 'lookup', target, '--via', addr(via), '--json', '--timeout', '5'], { timeoutMs: 15_000 });
}

async function until(what: string, check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(() => {
  requireBuilt();
  requireTool('sipp', 'sip-tester');
  requireTool('ss', 'iproute2');
  work = mkdtempSync(join(tmpdir(), 'kadsip-sipp-calls-'));
});

afterAll(async () => {
  for (const c of cleanups.reverse()) await c();
  await Promise.all(nodes.map((n) => n.stop()));
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('SIPp phones through kadsip: registrations and calls', () => {
  let one: RunningNode;
  let pair: [RunningNode, RunningNode];
  let five: RunningNode[] = [];

  beforeAll(async () => {
    // A one-node overlay, a two-node overlay (domain example.net too) and a five-node overlay.
    const p = await freePorts(16);
    // The single node runs with T1 = 100 ms: its timers (a silent phone's 480 after 4*T1) are short.
    const fastT1 = join(work, 'fast-t1.json');
    writeFileSync(fastT1, JSON.stringify({ ...JSON.parse(readFileSync(await dnsOnLoopback(), 'utf8')), sipT1Ms: 100 }));
    const [single, first, fiveFirst] = await Promise.all([
      node(p, p + 1, [], fastT1),
      node(p + 2, p + 3, ['--domain', 'example.net']),
      node(p + 6, p + 7),
    ]);
    one = single;
    const second = await node(p + 4, p + 5, ['--domain', 'example.net', '--bootstrap', addr(first)]);
    pair = [first, second];
    five = [fiveFirst];
    for (let i = 1; i < 5; i++) five.push(await node(p + 6 + 2 * i, p + 7 + 2 * i, ['--bootstrap', addr(five[i - 1]!)]));
    // Every peer of the five-node overlay knows the others (k = 20 > 4), so the records of a
    // registration land on all of them; wait until the tables say so.
    await until('five nodes knowing each other', async () => (await Promise.all(five.map(statusOf))).every((s) => s.contacts === 4));
    await until('two nodes knowing each other', async () => (await statusOf(first)).contacts === 1 && (await statusOf(second)).contacts === 1);
  });

  // The methods beyond INVITE/BYE/MESSAGE (sip-scenarios/README.md): 100rel with PRACK, UPDATE and
  // INFO; SUBSCRIBE/NOTIFY, with the first NOTIFY after the 200 and before it; REFER with its
  // sipfrag NOTIFYs; OPTIONS to a registered user (proxied) and to an unknown one (404).
  const METHODS = ['prack', 'subscribe', 'subscribe-early', 'refer', 'options', 'options-notfound'];

  it('one node: register/unregister, call, re-INVITE, CANCEL, busy, MESSAGE, 404, silent phone 480, PRACK/UPDATE/INFO, SUBSCRIBE/NOTIFY, REFER, OPTIONS', async () => {
    const cases = ['register', 'call', 'reinvite', 'cancel', 'busy', 'message', 'notfound', 'deadphone', ...METHODS];
    const r = await calls([addr(one)], { CASES: cases.join(' '), TAG: 'one' });
    expect(r.code, explain(r, one)).toBe(0);
    for (const c of cases) expect(r.stdout).toMatch(new RegExp(`^PASS ${c} `, 'm'));
  });

  it('two nodes: callee at B, caller at A; every case crosses the overlay (two record-routing hops)', async () => {
    const [a, b] = pair;
    const r = await calls([addr(a), addr(b)], { TAG: 'two', NOANSWER_MS: '8000' });
    expect(r.code, explain(r, a, b)).toBe(0);
    expect(r.stdout).toContain('(2 hop(s))');
    for (const c of ['register', 'call', 'reinvite', 'cancel', 'noanswer', 'busy', 'message', 'notfound', ...METHODS]) expect(r.stdout).toMatch(new RegExp(`^PASS ${c} `, 'm'));
  });

  it('two nodes, an --domain domain: a call to sip:USER@example.net', async () => {
    const [a, b] = pair;
    const r = await calls([addr(a), addr(b)], { TAG: 'dom', DOMAIN: 'example.net', CASES: 'call notfound' });
    expect(r.code, explain(r, a, b)).toBe(0);
  });

  it('five nodes: callee at the 5th, caller at the 1st: call, re-INVITE, CANCEL, MESSAGE, PRACK, SUBSCRIBE, REFER, OPTIONS', async () => {
    const r = await calls([addr(five[0]!), addr(five[4]!)], { TAG: 'five', CASES: 'call reinvite cancel message busy prack subscribe refer options' });
    expect(r.code, explain(r, five[0]!, five[4]!)).toBe(0);
    expect(r.stdout).toContain('(2 hop(s))');
  });

  it('kadsip lookup through another node shows the overlay record sip:bob@127.0.0.1:PORT_OF_NODE, gone after unregister', async () => {
    const home = five[2]!;
    const port = await freePorts(1);
    const reg = await sipp('register.xml', port, ['-s', 'bob', '-key', 'domain', '127.0.0.1', '-key', 'expires', '300'], addr(home));
    expect(reg.code, reg.stdout + reg.stderr).toBe(0);
    let found: RunResult | undefined;
    await until('the record to be found', async () => {
      found = await lookup('sip:bob@127.0.0.1', five[4]!);
      return found.code === 0;
    });
    const answer = JSON.parse(found!.stdout.trim()) as { found: boolean; bindings: Array<{ uri: string; expires_s: number }>; answered_by: string };
    expect(answer.found).toBe(true);
    // The overlay holds the node, not the phone: calls go to bob's node, which knows his phone.
    expect(answer.bindings.map((b) => b.uri)).toEqual([`sip:bob@127.0.0.1:${home.sipPort}`]);
    expect(answer.bindings[0]!.expires_s).toBeGreaterThan(0);
    expect(answer.answered_by).toBe(addr(five[4]!));
    const unreg = await sipp('unregister.xml', port, ['-s', 'bob', '-key', 'domain', '127.0.0.1'], addr(home));
    expect(unreg.code, unreg.stdout + unreg.stderr).toBe(0);
    await until('the record to be removed', async () => (await lookup('sip:bob@127.0.0.1', five[4]!)).code === 1);
  });

  it('negative controls: an exact-code or exact-header check does fail on another answer', async () => {
    // A user registered nowhere gets 404; expecting 480 must fail the run.
    const ports = await freePorts(4);
    const wrongCode = await sipp('uac-reject.xml', ports, ['-s', 'nobody-neg', '-key', 'caller', 'alice', '-key', 'domain', '127.0.0.1', '-key', 'code', '480', '-key', 'retry', 'required'], addr(one));
    expect(wrongCode.code).toBe(1);
    // The called phone expecting one hop too many in Record-Route must fail (and so must the caller).
    const reg = await sipp('register.xml', ports + 2, ['-s', 'neg-rr', '-key', 'domain', '127.0.0.1', '-key', 'expires', '300'], addr(one));
    expect(reg.code).toBe(0);
    const uas = sipp('uas-answer.xml', ports + 2, ['-s', 'neg-rr', '-key', 'vias', `127.0.0.1:${one.sipPort}|127.0.0.1:${ports}|||`, '-key', 'rr', `<sip:127.0.0.1:1;lr>|<sip:127.0.0.1:${one.sipPort};lr>||`, '-key', 'maxfwd', '69', '-key', 'ruri', `sip:neg-rr@127.0.0.1:${ports + 2}`], undefined, 5);
    await new Promise((r) => setTimeout(r, 300));
    const uac = await sipp('uac-call.xml', ports, ['-s', 'neg-rr', '-key', 'caller', 'alice', '-key', 'domain', '127.0.0.1', '-key', 'contact', `sip:neg-rr@127.0.0.1:${ports + 2}`, '-key', 'rr', `<sip:127.0.0.1:${one.sipPort};lr>|||`], addr(one), 5);
    const uasResult = await uas;
    expect(uasResult.code).toBe(1);
    expect(uac.code).not.toBe(0);
    await sipp('unregister.xml', ports + 2, ['-s', 'neg-rr', '-key', 'domain', '127.0.0.1'], addr(one));
  });

  it('negative control: the subscriber expecting the NOTIFY through another node fails (the reverse Via path is checked)', async () => {
    const ports = await freePorts(4);
    const node = `127.0.0.1:${one.sipPort}`;
    const reg = await sipp('register.xml', ports + 2, ['-s', 'neg-sub', '-key', 'domain', '127.0.0.1', '-key', 'expires', '300'], addr(one));
    expect(reg.code).toBe(0);
    const common = ['-s', 'neg-sub', '-key', 'rr', `<sip:${node};lr>|||`, '-key', 'maxfwd', '69', '-key', 'early', '0'];
    const uas = sipp('uas-subscribe.xml', ports + 2, [...common, '-key', 'vias', `${node}|127.0.0.1:${ports}|||`, '-key', 'ruri', `sip:neg-sub@127.0.0.1:${ports + 2}`, '-key', 'rset', `<sip:${node};lr>`], undefined, 5);
    await new Promise((r) => setTimeout(r, 300));
    const uac = await sipp('uac-subscribe.xml', ports, [...common, '-key', 'caller', 'alice', '-key', 'domain', '127.0.0.1', '-key', 'contact', `sip:neg-sub@127.0.0.1:${ports + 2}`, '-key', 'rrr', `<sip:${node};lr>|||`, '-key', 'rvias', `127.0.0.1:1|127.0.0.1:${ports + 2}|||`], addr(one), 5);
    expect(uac.code).toBe(1);
    expect(readFileSync(join(work, `uac-subscribe.xml.${ports}.errors.log`), 'utf8')).toMatch(/FAIL uac-subscribe: NOTIFY Via path 127\.0\.0\.1:\d+\|127\.0\.0\.1:\d+\|\|\|, want 127\.0\.0\.1:1\|/);
    await uas;
    await sipp('unregister.xml', ports + 2, ['-s', 'neg-sub', '-key', 'domain', '127.0.0.1'], addr(one));
  });

  describe('the only other peer killed', () => {
    beforeAll(async () => {
      const b = pair[1];
      b.process.kill('SIGKILL');
      await new Promise<void>((r) => (b.process.exitCode !== null || b.process.signalCode !== null ? r() : b.process.once('exit', () => r())));
    });

    it('a call to an overlay domain gets 480 with Retry-After within a few seconds, never a hang', async () => {
      const a = pair[0];
      const started = Date.now();
      const r = await calls([addr(a)], { CASES: 'unavailable', DOMAIN: 'example.net', TAG: 'dead1' }, 30_000);
      expect(r.code, explain(r, a)).toBe(0);
      expect(Date.now() - started).toBeLessThan(8_000);
    });

    it('keeps answering within seconds (480 or 404) until the dead peer has left the routing table', async () => {
      const a = pair[0];
      for (let i = 0; i < 6 && (await statusOf(a)).contacts > 0; i++) {
        const port = await freePorts(1);
        const started = Date.now();
        const r = await sipp('uac-reject.xml', port, ['-s', `drop${i}`, '-key', 'caller', 'alice', '-key', 'domain', 'example.net', '-key', 'code', '480', '-key', 'retry', 'required'], addr(a), 10);
        expect(r.code === 0 || r.code === 1, `sipp exit ${r.code}`).toBe(true);
        expect(Date.now() - started).toBeLessThan(8_000);
      }
      expect((await statusOf(a)).contacts).toBe(0);
    });

    // Once the dead peer has left the routing table, an empty table must not read as "alone in the
    // overlay" (a definitive 404): a node that had peers answers 480 with Retry-After.
    it('after that, still 480 with Retry-After rather than 404', async () => {
      const a = pair[0];
      const r = await calls([addr(a)], { CASES: 'unavailable', DOMAIN: 'example.net', TAG: 'dead2' }, 30_000);
      expect(r.code, explain(r, a)).toBe(0);
    });
  });
});

/**
 * SIPp 3.6 computes MD5 digests only and answers the first challenge of a 401; kadsip offers
 * SHA-256 first, then MD5 (RFC 8760). This relay sits between SIPp and the node and only reorders
 * the WWW-Authenticate headers of responses (MD5 first); everything else passes unchanged.
 */
async function md5FirstRelay(nodePort: number): Promise<{ port: number; close: () => void }> {
  const front: Socket = createSocket('udp4');
  const back: Socket = createSocket('udp4');
  let client: { address: string; port: number } | undefined;
  const reorder = (text: string): string => {
    const end = text.indexOf('\r\n\r\n');
    if (end < 0) return text;
    const head = text.slice(0, end).split('\r\n');
    const isWww = (l: string) => /^www-authenticate\s*:/i.test(l);
    const www = head.filter(isWww);
    const md5 = (l: string) => /algorithm=("?)MD5\1(,|\s|$)/i.test(l);
    const ordered = [...www.filter(md5), ...www.filter((l) => !md5(l))];
    let i = 0;
    return head.map((l) => (isWww(l) ? ordered[i++]! : l)).join('\r\n') + text.slice(end);
  };
  front.on('message', (m, rinfo) => {
    client = { address: rinfo.address, port: rinfo.port };
    back.send(m, nodePort, '127.0.0.1');
  });
  back.on('message', (m) => {
    if (client) front.send(Buffer.from(reorder(m.toString('latin1')), 'latin1'), client.port, client.address);
  });
  await new Promise<void>((r) => back.bind(0, '127.0.0.1', () => r()));
  await new Promise<void>((r) => front.bind(0, '127.0.0.1', () => r()));
  return {
    port: front.address().port,
    close: () => {
      front.close();
      back.close();
    },
  };
}

describe('SIPp phones: digest registration (KADSIP_USERS_FILE)', () => {
  let authNode: RunningNode;
  let relay: { port: number; close: () => void };

  beforeAll(async () => {
    const users = join(work, 'users');
    writeFileSync(users, '# test users\nalice:alice-secret\ncarol:carol-secret\n');
    const config = join(work, 'auth.json');
    const dns = (JSON.parse(readFileSync(await dnsOnLoopback(), 'utf8')) as { dns: string }).dns;
    writeFileSync(config, JSON.stringify({ dns, usersFile: users }));
    const p = await freePorts(2);
    authNode = await node(p, p + 1, [], config);
    relay = await md5FirstRelay(authNode.sipPort);
    cleanups.push(() => relay.close());
  });

  it('401 with a Digest challenge, then 200 with the Contact; unregister the same way; wrong password 401 twice', async () => {
    const r = await calls([addr(authNode)], {
      CASES: 'register-auth register-auth-wrong',
      AUTH_NODE: `127.0.0.1:${relay.port}`,
      AUTH_USER: 'alice',
      AUTH_PASS: 'alice-secret',
    });
    expect(r.code, explain(r, authNode)).toBe(0);
    expect(r.stdout).toMatch(/^PASS register-auth /m);
    expect(r.stdout).toMatch(/^PASS register-auth-wrong /m);
  });

  it('without the relay SIPp cannot answer the SHA-256 challenge kadsip puts first (why the relay is there)', async () => {
    const port = await freePorts(1);
    const r = await sipp('register-auth.xml', port, ['-s', 'carol', '-key', 'domain', '127.0.0.1', '-key', 'expires', '300', '-au', 'carol', '-ap', 'carol-secret'], addr(authNode), 5);
    // 255: SIPp's fatal "createAuthHeader: authentication must use MD5 or AKAv1-MD5".
    expect(r.code).toBe(255);
  });
});

/** Is this port free for both UDP and TCP on 127.0.0.1? */
async function portFree(port: number): Promise<boolean> {
  const udp = await new Promise<boolean>((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
  if (!udp) return false;
  return await new Promise<boolean>((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

describe('the embedded default: `kadsip start` with no flags', () => {
  let child: ChildProcess | undefined;
  let out = '';

  afterAll(async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child!.once('exit', () => r()));
    child.kill('SIGTERM');
    const killer = setTimeout(() => child?.kill('SIGKILL'), 5_000);
    await exited;
    clearTimeout(killer);
  });

  it('is a one-node overlay on 127.0.0.1:5060 that two phones register with, and one calls the other', async () => {
    if (!(await portFree(5060))) {
      throw new Error('127.0.0.1:5060 (UDP or TCP) is taken on this machine: `kadsip start` with no flags needs it; stop whatever listens there (ss -lunpt "sport = :5060") and run again');
    }
    // No flags, and no KADSIP_* from the environment of the test run either.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KADSIP_')));
    child = spawn(process.execPath, [CLI, 'start'], { env, stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
    await until('the default node to join its own overlay', async () => {
      if (child!.exitCode !== null) throw new Error(`kadsip start exited ${child!.exitCode}: ${out}`);
      return /joined overlay/.test(out);
    });
    expect(out).toMatch(/"address":"127\.0\.0\.1:5060"/);
    const r = await calls(['127.0.0.1:5060'], { CASES: 'call', TAG: 'default', CALLER: 'alice', CALLEE: 'bob' });
    expect(r.code, `${r.stdout}\n${r.stderr}\n${out.slice(-3000)}`).toBe(0);
    expect(r.stdout).toContain('(1 hop(s))');
  });
});
