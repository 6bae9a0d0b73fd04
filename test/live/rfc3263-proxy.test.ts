/**
 * RFC 3263 end to end through the proxy: a real `kadsip start` process whose `dns` setting points
 * at dnsmasq on loopback (test/resolve/dns-server.ts), SIPp phones on 127.0.0.1 and SIPp "PBXs"
 * on other loopback addresses. The node serves the overlay domain overlay.example; pbx.test and
 * the other *.test domains are not in the overlay, so calls to them are resolved by NAPTR -> SRV
 * -> A and sent with the Request-URI unchanged.
 *
 *   pbx.test      NAPTR SIP+D2U -> _sip._udp.pbx.test: priority 10 dead.pbx.test (127.0.0.3, nothing
 *                 listens), priority 20 live.pbx.test (127.0.0.2, a SIPp UAS). The node must try the
 *                 dead one first and fail over (after 4*T1 = 2 s of silence) to the live one.
 *   alldead.test  NAPTR -> SRV, both targets dead: 480 with Retry-After once both were tried (~4 s).
 *   nosuch.test   NXDOMAIN: 404 at once (location-service.ts says why 404).
 *   sip:carol@127.0.0.2:PORT  numeric: straight there, no DNS query.
 *
 * Why 480 and not 503 or 408 when every server of a domain is unreachable: RFC 3261 16.7 step 6
 * forbids passing a 503 upstream (the caller would take this proxy for the unavailable one and
 * fail over away from it), and 408 says the request expired and carries no Retry-After; 480 with
 * Retry-After is what the issue asks for an unreachable target and what an unreachable overlay
 * already answers. Nothing is skipped: no sipp, dnsmasq or dist/ is a failure saying so.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startDnsServer, type DnsServer } from '../resolve/dns-server.js';
import { freePorts, REPO, requireBuilt, requireTool, run, startNode, type RunningNode, type RunResult } from './live-helpers.js';

const SCENARIOS = join(REPO, 'sip-scenarios');
/** The node's T1 is the default 500 ms: a silent address is left after 4*T1. */
const SILENCE_MS = 2_000;

let work = '';
let dns: DnsServer | undefined;
let node: RunningNode | undefined;
let nodeAddr = '';
let livePort = 0;
let numericPort = 0;
let phonePort = 0;

/** One bounded SIPp run of a scenario of sip-scenarios/ from `ip`:`port`. */
function sipp(scenario: string, ip: string, port: number, args: string[], target?: string, timeoutS = 20): Promise<RunResult> {
  const a = ['-sf', join(SCENARIOS, scenario), '-t', 'u1', '-i', ip, '-p', String(port), '-m', '1', '-timeout', `${timeoutS}s`, '-timeout_error', '-nostdin', '-trace_err', '-error_file', join(work, `${scenario}.${ip}.${port}.errors.log`), ...args];
  if (target) a.push(target);
  return run('sipp', a, { cwd: work, timeoutMs: (timeoutS + 10) * 1000 });
}

function explain(r: RunResult, label: string): string {
  return `${label}: exit ${r.code} ${r.signal ?? ''}\n${r.stdout.slice(-1500)}\n${r.stderr.slice(-1500)}\nnode: ${node?.output().slice(-2000) ?? ''}`;
}

/** The UAS answers one call; the UAC places it through the node; both must pass. */
async function call(opts: { callee: string; domain: string; uasIp: string; uasPort: number; ruri: string }): Promise<number> {
  const rr = `<sip:${nodeAddr};lr>`;
  const uas = sipp('uas-answer.xml', opts.uasIp, opts.uasPort, ['-s', opts.callee, '-key', 'vias', `${nodeAddr}|127.0.0.1:${phonePort}|||`, '-key', 'rr', `${rr}|||`, '-key', 'maxfwd', '69', '-key', 'ruri', opts.ruri]);
  await new Promise((r) => setTimeout(r, 300));
  const started = Date.now();
  const uac = await sipp('uac-call.xml', '127.0.0.1', phonePort, ['-s', opts.callee, '-key', 'caller', 'alice', '-key', 'domain', opts.domain, '-key', 'contact', `sip:${opts.callee}@${opts.uasIp}:${opts.uasPort}`, '-key', 'rr', `${rr}|||`], nodeAddr);
  const elapsed = Date.now() - started;
  const uasResult = await uas;
  expect(uac.code, explain(uac, 'caller')).toBe(0);
  expect(uasResult.code, explain(uasResult, 'callee')).toBe(0);
  return elapsed;
}

/** A call that must end with `code` (and Retry-After as `retry` says); returns how long it took. */
async function rejected(callee: string, domain: string, code: number, retry: 'required' | 'absent'): Promise<number> {
  const started = Date.now();
  const r = await sipp('uac-reject.xml', '127.0.0.1', phonePort, ['-s', callee, '-key', 'caller', 'alice', '-key', 'domain', domain, '-key', 'code', String(code), '-key', 'retry', retry], nodeAddr);
  const elapsed = Date.now() - started;
  expect(r.code, explain(r, `${callee}@${domain}`)).toBe(0);
  return elapsed;
}

beforeAll(async () => {
  requireBuilt();
  requireTool('sipp', 'sip-tester');
  work = mkdtempSync(join(tmpdir(), 'kadsip-rfc3263-proxy-'));
  const p = await freePorts(8);
  const sipPort = p;
  const httpPort = p + 1;
  livePort = p + 2;
  numericPort = p + 3;
  phonePort = p + 4;
  const deadPort = p + 5;
  dns = await startDnsServer({
    naptr: [
      { name: 'pbx.test', order: 10, preference: 10, flags: 's', service: 'SIP+D2U', replacement: '_sip._udp.pbx.test' },
      { name: 'alldead.test', order: 10, preference: 10, flags: 's', service: 'SIP+D2U', replacement: '_sip._udp.alldead.test' },
    ],
    srv: [
      { name: '_sip._udp.pbx.test', target: 'dead.pbx.test', port: deadPort, priority: 10, weight: 0 },
      { name: '_sip._udp.pbx.test', target: 'live.pbx.test', port: livePort, priority: 20, weight: 0 },
      { name: '_sip._udp.alldead.test', target: 'one.alldead.test', port: deadPort, priority: 10, weight: 0 },
      { name: '_sip._udp.alldead.test', target: 'two.alldead.test', port: deadPort + 1, priority: 20, weight: 0 },
    ],
    hosts: [
      { name: 'dead.pbx.test', addresses: ['127.0.0.3'] },
      { name: 'live.pbx.test', addresses: ['127.0.0.2'] },
      { name: 'one.alldead.test', addresses: ['127.0.0.4'] },
      { name: 'two.alldead.test', addresses: ['127.0.0.5'] },
    ],
  });
  const config = join(work, 'node.json');
  writeFileSync(config, JSON.stringify({ dns: dns.address }));
  node = await startNode(sipPort, httpPort, ['--config', config, '--domain', 'overlay.example']);
  nodeAddr = `127.0.0.1:${sipPort}`;
  // The calling phone is registered at the node (in the overlay domain), as a phone would be.
  const reg = await sipp('register.xml', '127.0.0.1', phonePort, ['-s', 'alice', '-key', 'domain', 'overlay.example', '-key', 'expires', '300'], nodeAddr, 10);
  expect(reg.code, explain(reg, 'register alice')).toBe(0);
});

afterAll(async () => {
  await node?.stop();
  await dns?.stop();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('kadsip proxy: non-overlay domains by RFC 3263 against dnsmasq', () => {
  it('sip:bob@pbx.test: NAPTR, SRV, A; the dead priority-10 server is left after 4*T1, the call completes at the other', async () => {
    const before = dns!.queries().length;
    const elapsed = await call({ callee: 'bob', domain: 'pbx.test', uasIp: '127.0.0.2', uasPort: livePort, ruri: 'sip:bob@pbx.test' });
    // The INVITE waited for the dead server first (without failover it would never arrive; without
    // the priority order it would arrive at once).
    expect(elapsed).toBeGreaterThanOrEqual(SILENCE_MS - 100);
    expect(elapsed).toBeLessThan(SILENCE_MS + 4_000);
    const asked = dns!.queries().slice(before).map((q) => `${q.type} ${q.name}`);
    expect(asked).toEqual(expect.arrayContaining(['NAPTR pbx.test', 'SRV _sip._udp.pbx.test', 'A dead.pbx.test', 'A live.pbx.test']));
  });

  it('every SRV target of alldead.test dead: 480 with Retry-After once both were tried, within seconds', async () => {
    const elapsed = await rejected('bob', 'alldead.test', 480, 'required');
    expect(elapsed).toBeGreaterThanOrEqual(2 * SILENCE_MS - 100);
    expect(elapsed).toBeLessThan(2 * SILENCE_MS + 3_000);
  });

  it('nosuch.test does not exist (NXDOMAIN): 404 without Retry-After, at once', async () => {
    const before = dns!.queries().length;
    const elapsed = await rejected('bob', 'nosuch.test', 404, 'absent');
    expect(elapsed).toBeLessThan(3_000);
    expect(dns!.queries().slice(before).map((q) => q.name)).toContain('nosuch.test');
  });

  it('sip:carol@127.0.0.2:PORT (numeric, not an overlay address): straight there, no DNS query', async () => {
    const before = dns!.queries().length;
    const target = `127.0.0.2:${numericPort}`;
    const elapsed = await call({ callee: 'carol', domain: target, uasIp: '127.0.0.2', uasPort: numericPort, ruri: `sip:carol@${target}` });
    expect(elapsed).toBeLessThan(SILENCE_MS);
    expect(dns!.queries().slice(before)).toEqual([]);
  });

  it('negative control: a callee expecting the Request-URI rewritten to its Contact fails the call', async () => {
    const rr = `<sip:${nodeAddr};lr>`;
    const uas = sipp('uas-answer.xml', '127.0.0.2', livePort, ['-s', 'bob', '-key', 'vias', `${nodeAddr}|127.0.0.1:${phonePort}|||`, '-key', 'rr', `${rr}|||`, '-key', 'maxfwd', '69', '-key', 'ruri', `sip:bob@127.0.0.2:${livePort}`], undefined, 8);
    await new Promise((r) => setTimeout(r, 300));
    const uac = await sipp('uac-call.xml', '127.0.0.1', phonePort, ['-s', 'bob', '-key', 'caller', 'alice', '-key', 'domain', 'pbx.test', '-key', 'contact', `sip:bob@127.0.0.2:${livePort}`, '-key', 'rr', `${rr}|||`], nodeAddr, 8);
    expect((await uas).code).toBe(1);
    expect(uac.code).not.toBe(0);
  });
});
