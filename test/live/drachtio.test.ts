/**
 * The drachtio-srf plugin against the real drachtio-server (the C++ daemon drachtio-srf apps
 * connect to), built from the vendored source by scripts/build-drachtio.sh into a cache outside
 * the repo (the first run builds it: about 13 minutes on 2 cores). On loopback: drachtio-server
 * with examples/drachtio-app/drachtio.conf.xml (its ports swapped for free ones), the example app
 * connected to it, and a native kadsip node, one overlay. SIPp phones: alice registers through
 * drachtio-server (to the app, which challenges her: kadsip's digest), bob at the native node; calls both ways with Via, Record-Route
 * (drachtio's and the node's), Max-Forwards and Request-URI checked exactly; `kadsip lookup` finds
 * the app's record; a drachtio-server restart and an app restart lose no registration in the
 * overlay (after an app restart the phones' calls resume when they re-register).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, freePorts, REPO, requireBuilt, requireTool, run, startNode, type RunningNode, type RunResult } from './live-helpers.js';

const SCENARIOS = join(REPO, 'sip-scenarios');
const EXAMPLE = join(REPO, 'examples', 'drachtio-app');
/** A digest registration that stays (sip-scenarios/register-auth.xml unregisters at its end). */
const REGISTER_AUTH_STAY = join(REPO, 'test', 'live', 'drachtio-scenarios', 'register-auth-stay.xml');

let work = '';
let drachtioBin = '';
const children: ChildProcess[] = [];
let native: RunningNode | undefined;

interface Spawned {
  child: ChildProcess;
  output(): string;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

function spawnLogged(cmd: string, args: string[], env: NodeJS.ProcessEnv = {}): Spawned {
  const child = spawn(cmd, args, { cwd: REPO, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  children.push(child);
  let out = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
  const exit = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  return {
    child,
    output: () => out,
    async stop(signal = 'SIGTERM') {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill(signal);
      const killer = setTimeout(() => child.kill('SIGKILL'), 5_000);
      await exit;
      clearTimeout(killer);
    },
  };
}

async function until(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host: '127.0.0.1', port }, () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

async function sipp(scenario: string, port: number, args: string[], target?: string, timeoutS = 15): Promise<RunResult> {
  const a = ['-sf', scenario.startsWith('/') ? scenario : join(SCENARIOS, scenario), '-t', 'u1', '-i', '127.0.0.1', '-p', String(port), '-m', '1', '-timeout', `${timeoutS}s`, '-timeout_error', '-nostdin', '-trace_err', '-error_file', join(work, `${basename(scenario)}.${port}.errors.log`), ...args];
  if (target) a.push(target);
  return run('sipp', a, { cwd: work, timeoutMs: (timeoutS + 10) * 1000 });
}

function errorsOf(scenario: string, port: number): string {
  try {
    return readFileSync(join(work, `${basename(scenario)}.${port}.errors.log`), 'utf8').slice(-2000);
  } catch {
    return '';
  }
}

async function lookup(target: string, via: string): Promise<{ found: boolean; bindings: Array<{ uri: string }> }> {
  const r = await run(process.execPath, [CLI, 'lookup', target, '--via', via, '--json', '--timeout', '5'], { timeoutMs: 15_000 });
  return JSON.parse(r.stdout.trim().split('\n').pop() ?? '{}') as { found: boolean; bindings: Array<{ uri: string }> };
}

beforeAll(async () => {
  requireBuilt();
  requireTool('sipp', 'sip-tester');
  work = mkdtempSync(join(tmpdir(), 'kadsip-drachtio-'));
  // Builds drachtio-server when the cache lacks it (once per machine), and prints the binary's path.
  const build = await run('bash', [join(REPO, 'scripts', 'build-drachtio.sh')], { timeoutMs: 40 * 60_000 });
  if (build.code !== 0) throw new Error(`drachtio-server is needed and scripts/build-drachtio.sh failed (exit ${build.code}):\n${build.stderr.slice(-3000)}`);
  drachtioBin = build.stdout.trim().split('\n').pop() ?? '';
}, 45 * 60_000);

afterAll(async () => {
  await native?.stop();
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('drachtio-server + the kadsip/drachtio example app + a native kadsip node', () => {
  let ports: number;
  let drachtio: Spawned;
  let app: Spawned;
  let adminPort: number;
  let drachtioSip: number;
  let appOverlay: number;
  let nativeSip: number;
  let alicePort: number;
  let bobPort: number;

  const startApp = async (): Promise<Spawned> => {
    const started = spawnLogged(process.execPath, [join(EXAMPLE, 'app.js')], {
      KADSIP_LISTEN: `127.0.0.1:${appOverlay}`,
      KADSIP_BOOTSTRAP: `127.0.0.1:${nativeSip}`,
      KADSIP_DOMAIN: 'example.com',
      SIP_ADDRESS: `127.0.0.1:${drachtioSip}`,
      DRACHTIO_PORT: String(adminPort),
      DRACHTIO_SECRET: 'cymru',
      // kadsip's digest authentication in the app; MD5 alone, since SIPp 3.6 answers only the first challenge and knows only MD5.
      KADSIP_USERS_FILE: join(work, 'users'),
      KADSIP_DIGEST_ALGORITHMS: 'MD5',
    });
    await until('the app connected to drachtio-server', () => started.output().includes('connected to drachtio-server'), 20_000).catch((e: Error) => {
      throw new Error(`${e.message}\napp: ${started.output().slice(-2000)}\ndrachtio: ${drachtio.output().slice(-2000)}`);
    });
    return started;
  };

  beforeAll(async () => {
    ports = await freePorts(10);
    [adminPort, drachtioSip, appOverlay, nativeSip, alicePort, bobPort] = [ports, ports + 1, ports + 2, ports + 3, ports + 5, ports + 6];
    // The example's configuration, on this run's ports.
    const conf = readFileSync(join(EXAMPLE, 'drachtio.conf.xml'), 'utf8').replaceAll('9022', String(adminPort)).replaceAll('127.0.0.1:5090', `127.0.0.1:${drachtioSip}`);
    expect(conf).toContain(`port="${adminPort}"`);
    writeFileSync(join(work, 'drachtio.conf.xml'), conf);
    writeFileSync(join(work, 'users'), 'alice:alice-secret\ncarol:carol-secret\n');
    drachtio = spawnLogged(drachtioBin, ['-f', join(work, 'drachtio.conf.xml')]);
    await until('drachtio-server admin port', () => tcpOpen(adminPort), 15_000).catch((e: Error) => {
      throw new Error(`${e.message}\n${drachtio.output().slice(-2000)}`);
    });
    const dns = join(work, 'dns.json');
    writeFileSync(dns, JSON.stringify({ dns: `127.0.0.1:${ports + 9}` }));
    native = await startNode(nativeSip, ports + 4, ['--domain', 'example.com', '--config', dns]);
    app = await startApp();
  }, 60_000);

  afterAll(async () => {
    await app?.stop();
    await drachtio?.stop();
  });

  /** alice registers through drachtio-server with her password (the app challenges: digest MD5). */
  const aliceRegisters = async (): Promise<void> => {
    const a = await sipp(REGISTER_AUTH_STAY, alicePort, ['-s', 'alice', '-key', 'domain', 'example.com', '-key', 'expires', '300', '-au', 'alice', '-ap', 'alice-secret'], `127.0.0.1:${drachtioSip}`);
    expect(a.code, `${errorsOf(REGISTER_AUTH_STAY, alicePort)}\n${app.output().slice(-2000)}`).toBe(0);
  };

  it('a wrong password through drachtio-server is challenged again (401 twice) and registers nothing', async () => {
    const r = await sipp('register-auth-wrong.xml', alicePort, ['-s', 'carol', '-key', 'domain', 'example.com', '-key', 'expires', '300', '-au', 'carol', '-ap', 'wrong'], `127.0.0.1:${drachtioSip}`);
    expect(r.code, errorsOf('register-auth-wrong.xml', alicePort)).toBe(0);
    expect((await lookup('sip:carol@example.com', `127.0.0.1:${nativeSip}`)).found).toBe(false);
  }, 30_000);

  it('digest through drachtio-server: 401, 200 with the binding, and the unregistration challenged too', async () => {
    const r = await sipp('register-auth.xml', alicePort, ['-s', 'carol', '-key', 'domain', 'example.com', '-key', 'expires', '300', '-au', 'carol', '-ap', 'carol-secret'], `127.0.0.1:${drachtioSip}`);
    expect(r.code, `${errorsOf('register-auth.xml', alicePort)}\n${app.output().slice(-2000)}`).toBe(0);
  }, 30_000);

  it('alice registers through drachtio-server (to the app, digest), bob at the native node; kadsip lookup finds the app record', async () => {
    await aliceRegisters();
    const b = await sipp('register.xml', bobPort, ['-s', 'bob', '-key', 'domain', 'example.com', '-key', 'expires', '300'], `127.0.0.1:${nativeSip}`);
    expect(b.code, errorsOf('register.xml', bobPort)).toBe(0);
    // The record names drachtio-server: calls for alice from any node come back through it.
    let found = await lookup('sip:alice@example.com', `127.0.0.1:${nativeSip}`);
    await until('the app published alice', async () => (found = await lookup('sip:alice@example.com', `127.0.0.1:${nativeSip}`)).found);
    expect(found.bindings.map((x) => x.uri)).toEqual([`sip:alice@127.0.0.1:${drachtioSip}`]);
  }, 60_000);

  it('alice (through drachtio and the app) calls bob (native node): drachtio and the node both record-route', async () => {
    const rr = `<sip:127.0.0.1:${nativeSip};lr>|<sip:127.0.0.1:${drachtioSip};lr>||`;
    const uas = sipp('uas-answer.xml', bobPort, ['-s', 'bob', '-key', 'vias', `127.0.0.1:${nativeSip}|127.0.0.1:${drachtioSip}|127.0.0.1:${alicePort}||`, '-key', 'rr', rr, '-key', 'maxfwd', '68', '-key', 'ruri', `sip:bob@127.0.0.1:${bobPort}`]);
    await new Promise((r) => setTimeout(r, 300));
    const uac = await sipp('uac-call.xml', alicePort, ['-s', 'bob', '-key', 'caller', 'alice', '-key', 'domain', 'example.com', '-key', 'contact', `sip:bob@127.0.0.1:${bobPort}`, '-key', 'rr', rr], `127.0.0.1:${drachtioSip}`);
    const callee = await uas;
    expect(uac.code, `${errorsOf('uac-call.xml', alicePort)}\n${app.output().slice(-2000)}`).toBe(0);
    expect(callee.code, errorsOf('uas-answer.xml', bobPort)).toBe(0);
  }, 60_000);

  /** bob (native node) calls alice (registered through drachtio and the app); both SIPp exit codes. */
  const bobCallsAlice = async (): Promise<void> => {
    const rr = `<sip:127.0.0.1:${drachtioSip};lr>|<sip:127.0.0.1:${nativeSip};lr>||`;
    // drachtio-server keeps the Request-URI (it rewrites only a URI naming itself): alice sees the AoR.
    const uas = sipp('uas-answer.xml', alicePort, ['-s', 'alice', '-key', 'vias', `127.0.0.1:${drachtioSip}|127.0.0.1:${nativeSip}|127.0.0.1:${bobPort}||`, '-key', 'rr', rr, '-key', 'maxfwd', '68', '-key', 'ruri', 'sip:alice@example.com']);
    await new Promise((r) => setTimeout(r, 300));
    const uac = await sipp('uac-call.xml', bobPort, ['-s', 'alice', '-key', 'caller', 'bob', '-key', 'domain', 'example.com', '-key', 'contact', `sip:alice@127.0.0.1:${alicePort}`, '-key', 'rr', rr], `127.0.0.1:${nativeSip}`);
    const callee = await uas;
    expect(uac.code, `${errorsOf('uac-call.xml', bobPort)}\n${app.output().slice(-2000)}`).toBe(0);
    expect(callee.code, errorsOf('uas-answer.xml', alicePort)).toBe(0);
  };

  it('bob (native node) calls alice: the overlay record leads to drachtio-server, the app to her phone', bobCallsAlice, 60_000);

  it('OPTIONS from alice to bob goes through drachtio and the overlay to his phone, whose 200 comes back', async () => {
    const uas = sipp('uas-options.xml', bobPort, ['-s', 'bob', '-key', 'vias', `127.0.0.1:${nativeSip}|127.0.0.1:${drachtioSip}|127.0.0.1:${alicePort}||`, '-key', 'maxfwd', '68']);
    await new Promise((r) => setTimeout(r, 300));
    const uac = await sipp('uac-options.xml', alicePort, ['-s', 'bob', '-key', 'caller', 'alice', '-key', 'domain', 'example.com', '-key', 'code', '200'], `127.0.0.1:${drachtioSip}`);
    const callee = await uas;
    expect(uac.code, `${errorsOf('uac-options.xml', alicePort)}\n${app.output().slice(-2000)}`).toBe(0);
    expect(callee.code, errorsOf('uas-options.xml', bobPort)).toBe(0);
  }, 60_000);

  it('a user registered nowhere: 404 from the app through drachtio-server', async () => {
    const r = await sipp('uac-reject.xml', alicePort, ['-s', 'nobody', '-key', 'caller', 'alice', '-key', 'domain', 'example.com', '-key', 'code', '404', '-key', 'retry', 'absent'], `127.0.0.1:${drachtioSip}`);
    expect(r.code, errorsOf('uac-reject.xml', alicePort)).toBe(0);
  }, 30_000);

  it('a drachtio-server restart loses nothing: the record stays in the overlay, the app reconnects and still has the binding', async () => {
    const connects = (): number => app.output().split('connected to drachtio-server').length - 1;
    const before = connects();
    await drachtio.stop('SIGTERM');
    const whileDown = await lookup('sip:alice@example.com', `127.0.0.1:${nativeSip}`);
    expect(whileDown.bindings.map((x) => x.uri)).toEqual([`sip:alice@127.0.0.1:${drachtioSip}`]);
    drachtio = spawnLogged(drachtioBin, ['-f', join(work, 'drachtio.conf.xml')]);
    // drachtio-srf reconnects on its own.
    await until('the app reconnected to drachtio-server', () => connects() > before, 30_000).catch((e: Error) => {
      throw new Error(`${e.message}\napp: ${app.output().slice(-2000)}\ndrachtio: ${drachtio.output().slice(-2000)}`);
    });
    await bobCallsAlice();
  }, 90_000);

  it('an app restart loses no registration in the overlay: the record lives on other peers until it expires', async () => {
    await app.stop('SIGTERM');
    const whileDown = await lookup('sip:alice@example.com', `127.0.0.1:${nativeSip}`);
    expect(whileDown.found).toBe(true);
    expect(whileDown.bindings.map((x) => x.uri)).toEqual([`sip:alice@127.0.0.1:${drachtioSip}`]);
    app = await startApp();
    const after = await lookup('sip:alice@example.com', `127.0.0.1:${appOverlay}`);
    expect(after.bindings.map((x) => x.uri)).toEqual([`sip:alice@127.0.0.1:${drachtioSip}`]);
    // The bindings themselves were in the app's memory: once alice refreshes her registration, calls reach her again.
    await aliceRegisters();
    await bobCallsAlice();
  }, 90_000);
});
