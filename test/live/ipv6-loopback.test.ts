/**
 * IPv6 on the loopback ::1, without root (PROTOCOL.md section 9; the testbed version with two hosts
 * on 2001:db8::/32 is test/live/ipv6.test.ts):
 *  (a) two nodes, each given its address in a non-canonical spelling (`--listen
 *      [0:0:0:0:0:0:0:1]:P`, `--public [0:0::1]:P`), hash the canonical text `::1` into their
 *      Peer-IDs, so the second joins through the first (before the fix each hashed the text it was
 *      given, and every peer answered its JOIN with 493);
 *  (b) a SIPp phone registers `bob@[0:0:0::1]` (the node's own address, spelled another way) at
 *      node A over UDP/IPv6; the overlay record is stored under the canonical AoR
 *      `sip:bob@[::1]` with the value `sip:bob@[::1]:PORT_A`, and a SIPp phone at node B calls
 *      `sip:bob@[::1]`: INVITE/200/ACK/BYE, with the RFC 5118 forms checked in SIPp's message trace
 *      (bracketed Via sent-by, Record-Route `<sip:[::1]:P;lr>`, Contact, `received=` bare);
 *  (c) a call to a name outside the overlay whose DNS records (dnsmasq on loopback) give an A and
 *      an AAAA address reaches the phone at the AAAA one (the IPv6 node cannot send to IPv4).
 */
import { readFile } from 'node:fs/promises';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveConfig } from '../../src/node/config.js';
import { KadsipNode } from '../../src/node/kadsip-node.js';
import { idToHex } from '../../src/overlay/id.js';
import { peerIdFromAddress, resourceId } from '../../src/overlay/peer-id.js';
import type { LookupResult } from '../../src/overlay/lookup.js';
import { startDnsServer, type DnsServer } from '../resolve/dns-server.js';
import { freePorts, REPO, requireTool, run, type RunResult } from './live-helpers.js';

const silent = pino({ level: 'silent' });
const NAT_SCENARIOS = join(REPO, 'test', 'live', 'nat-scenarios');
const V6_SCENARIOS = join(REPO, 'test', 'live', 'ipv6-scenarios');

let work = '';
let base = 0;
let dns: DnsServer | undefined;
const nodes: KadsipNode[] = [];

function sipp(scenario: string, port: number, args: string[], timeoutS: number): Promise<RunResult> {
  const name = scenario.split('/').pop();
  return run('sipp', ['-sf', scenario, '-t', 'u1', '-i', '::1', '-p', String(port), '-m', '1', '-nostdin', '-timeout', `${timeoutS}s`, '-timeout_error',
    '-trace_msg', '-message_file', join(work, `${name}.${port}.msg`), '-trace_err', '-error_file', join(work, `${name}.${port}.err`), ...args], { cwd: work, timeoutMs: (timeoutS + 10) * 1000 });
}

describe('IPv6 on ::1: nodes peer, phones register and call (RFC 5118 forms)', () => {
  beforeAll(async () => {
    requireTool('sipp', 'sip-tester');
    work = mkdtempSync(join(tmpdir(), 'kadsip-ipv6-'));
    base = await freePorts(6);
    // phones.test has an A and an AAAA record: an IPv6 node must send to the AAAA one.
    dns = await startDnsServer({ hosts: [{ name: 'phones.test', addresses: ['127.0.0.1', '::1'] }] });
  });

  afterAll(async () => {
    for (const n of nodes.splice(0)) await n.close();
    await dns?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('two nodes given non-canonical spellings of ::1 hash "::1" and the second joins through the first', async () => {
    const [pA, pB] = [base, base + 1];
    const a = await KadsipNode.start({ config: resolveConfig({ listen: `[0:0:0:0:0:0:0:1]:${pA}`, transports: 'udp', overlay: 'v6', http: 'off', logLevel: 'silent', dns: dns!.address }), logger: silent });
    nodes.push(a);
    expect(a.self.address).toBe(`[::1]:${pA}`);
    expect(idToHex(a.self.id)).toBe(idToHex(peerIdFromAddress('::1', pA)));
    // start() resolves only once the JOIN was answered with 200.
    const b = await KadsipNode.start({
      config: resolveConfig({ listen: `[::1]:${pB}`, public: `[0:0::1]:${pB}`, bootstrap: `[0::1]:${pA}`, transports: 'udp', overlay: 'v6', http: 'off', logLevel: 'silent', dns: dns!.address }),
      logger: silent,
    });
    nodes.push(b);
    expect(b.self.address).toBe(`[::1]:${pB}`);
    expect(b.overlay.state).toBe('joined');
    expect(a.overlay.contact(b.self.id)?.address).toBe(`[::1]:${pB}`);
    expect(b.overlay.contact(a.self.id)?.address).toBe(`[::1]:${pA}`);
  });

  it('a phone registered as bob@[0:0:0::1] at node A is called as bob@[::1] through node B', async () => {
    expect(nodes).toHaveLength(2);
    const [a, b] = nodes as [KadsipNode, KadsipNode];
    const [pA, pB, bob, alice] = [base, base + 1, base + 2, base + 3];
    const reg = await sipp(join(NAT_SCENARIOS, 'register.xml'), bob, ['-s', 'bob', '-key', 'domain', '[0:0:0::1]', `[::1]:${pA}`], 10);
    expect(reg.code, reg.stdout + reg.stderr).toBe(0);

    // The record is stored under the canonical AoR, its value names node A in brackets.
    const found = await new Promise<LookupResult>((resolve) => b.overlay.findValue(resourceId('sip:bob@[::1]'), resolve));
    expect(found.bindings.map((x) => x.value)).toEqual([`sip:bob@[::1]:${pA}`]);

    const uas = sipp(join(NAT_SCENARIOS, 'uas.xml'), bob, ['-s', 'bob', '-key', 'domain', '[::1]'], 30);
    await new Promise((r) => setTimeout(r, 500));
    const uac = await sipp(join(V6_SCENARIOS, 'uac.xml'), alice, ['-s', 'bob', '-key', 'domain', '[::1]', `[::1]:${pB}`], 20);
    const callee = await uas;
    expect(uac.code, `caller: ${uac.stdout}${uac.stderr}`).toBe(0);
    expect(callee.code, `callee: ${callee.stdout}${callee.stderr}`).toBe(0);

    // What bob's phone received: the INVITE through both nodes.
    const calleeTrace = await readFile(join(work, `uas.xml.${bob}.msg`), 'utf8');
    const invite = calleeTrace.slice(calleeTrace.indexOf('INVITE sip:'));
    expect(invite).toMatch(new RegExp(`^INVITE sip:bob@\\[::1\\]:${bob} SIP/2\\.0\\r?\\n`));
    const vias = [...invite.matchAll(/^Via: (.*)$/gm)].map((m) => m[1]!.trim()).slice(0, 3);
    expect(vias[0]).toMatch(new RegExp(`^SIP/2\\.0/UDP \\[::1\\]:${pA};branch=z9hG4bK`));
    expect(vias[1]).toMatch(new RegExp(`^SIP/2\\.0/UDP \\[::1\\]:${pB};branch=z9hG4bK\\S*;rport=${pB};received=::1$`));
    expect(vias[2]).toMatch(new RegExp(`^SIP/2\\.0/UDP \\[::1\\]:${alice};branch=\\S+;rport=${alice};received=::1$`));
    const rr = [...invite.matchAll(/^Record-Route: (.*)$/gm)].map((m) => m[1]!.trim()).slice(0, 2);
    expect(rr).toEqual([`<sip:[::1]:${pA};lr>`, `<sip:[::1]:${pB};lr>`]);
    expect(invite).toMatch(new RegExp(`^Contact: <sip:alice@\\[::1\\]:${alice}>`, 'm'));

    // What alice's phone received and sent: the 200's route set, and the BYE routed by it.
    const callerTrace = await readFile(join(work, `uac.xml.${alice}.msg`), 'utf8');
    const ok = callerTrace.slice(callerTrace.indexOf('SIP/2.0 200 OK'));
    expect(ok).toMatch(new RegExp(`^Record-Route: <sip:\\[::1\\]:${pA};lr>, <sip:\\[::1\\]:${pB};lr>`, 'm'));
    expect(ok).toMatch(new RegExp(`^Contact: <sip:bob@\\[::1\\]:${bob}>`, 'm'));
    expect(callerTrace).toMatch(new RegExp(`^BYE sip:bob@\\[::1\\]:${bob} SIP/2\\.0\\r?\\nVia: [^\\n]*\\r?\\nRoute: <sip:\\[::1\\]:${pB};lr>, <sip:\\[::1\\]:${pA};lr>`, 'm'));
    expect(a.proxy.stats.forwarded + b.proxy.stats.forwarded).toBeGreaterThan(0);
  });

  it('a call to a DNS name with A and AAAA records goes to the AAAA address (RFC 3263, one family per node)', async () => {
    const [pB, dave, alice] = [base + 1, base + 4, base + 5];
    // Nothing listens at 127.0.0.1:dave; dave's phone is at [::1]:dave.
    const uas = sipp(join(NAT_SCENARIOS, 'uas.xml'), dave, ['-s', 'dave', '-key', 'domain', 'phones.test'], 30);
    await new Promise((r) => setTimeout(r, 500));
    const uac = await sipp(join(V6_SCENARIOS, 'uac.xml'), alice, ['-s', 'dave', '-key', 'domain', `phones.test:${dave}`, `[::1]:${pB}`], 20);
    const callee = await uas;
    expect(uac.code, `caller: ${uac.stdout}${uac.stderr}`).toBe(0);
    expect(callee.code, `callee: ${callee.stdout}${callee.stderr}`).toBe(0);
  });
});
