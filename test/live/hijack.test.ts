/**
 * The hijack of issue 11, in a closed overlay on the multi-host testbed (real `kadsip start`
 * processes enrolled with `kadsip ca`, SIPp phones):
 *
 *   a  192.0.2.10     node A, may publish victim.test; alice's phone registers here
 *   c  198.51.100.10  node C, honest (may publish honest.test)
 *   e  203.0.113.10   node E, enrolled but for attacker.test only; mallory registers alice at it
 *   l  192.0.2.11     node L, patched to lie (hijack/liar-node.mjs): it serves forged alice bindings
 *   b  198.51.100.11  node B, a client attached to L (it asks L); the caller's phone calls alice through it
 *
 * E cannot publish alice (every holder answers 403 not-authorized), nor remove her binding (its
 * removal proof is refused, and one without a proof is 428), nor can a peer without a certificate
 * store at all (428); L's forged bindings reach B, which drops them (logged once per signer); the
 * INVITE reaches alice's phone and nothing reaches the addresses the forgeries name.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO, requireTool, run } from './live-helpers.js';
import { logLines, registrationPublished, until, type NsProc } from './netns-helpers.js';
import { requireTestbed, Testbed, type Host } from './testbed.js';

const DOMAIN = 'victim.test';
const AOR = `sip:alice@${DOMAIN}`;
const SCENARIOS = join(REPO, 'test', 'live', 'nat-scenarios');
const LIAR = join(REPO, 'test', 'live', 'hijack', 'liar-node.mjs');
const ATTACKER = join(REPO, 'test', 'live', 'hijack', 'attacker.mjs');
const TAG = randomBytes(3).toString('hex');

let tb: Testbed;
let work = '';
const hosts: Record<'a' | 'b' | 'c' | 'e' | 'l', Host> = {} as Record<'a' | 'b' | 'c' | 'e' | 'l', Host>;
const nodes: Partial<Record<'a' | 'b' | 'c' | 'e' | 'l', NsProc>> = {};
/** Each node's start flags of its enrollment (--ca-cert, --cert, --key). */
let trust: Record<'a' | 'b' | 'c' | 'e' | 'l', string[]>;

async function kadsip(args: string[]): Promise<void> {
  const r = await run(process.execPath, [CLI, ...args], { timeoutMs: 30_000 });
  if (r.code !== 0) throw new Error(`kadsip ${args.join(' ')}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
}

/** A node certificate of the overlay CA for `name`, allowed to publish `domain`: its start flags. */
async function enroll(name: string, domain: string): Promise<string[]> {
  const out = join(work, name);
  await kadsip(['ca', 'issue', '--ca', join(work, 'ca'), '--name', name, '--domain', domain, '--out', out]);
  return ['--ca-cert', join(work, 'ca', 'ca-cert.pem'), '--cert', join(out, 'node-cert.pem'), '--key', join(out, 'node-key.pem')];
}

/** SIPp in `host` with one of the NAT tests' scenarios (or a path), for the domain victim.test. */
function sipp(host: Host, scenario: string, args: string[], timeoutS: number): NsProc {
  const file = scenario.includes('/') ? scenario : join(SCENARIOS, scenario);
  return tb.sipp(host, file, ['-key', 'domain', DOMAIN, ...args], { timeoutS, errorFile: `/tmp/kadsip-hijack-${TAG}-${file.split('/').pop()!}.err` });
}

async function joined(host: Host): Promise<void> {
  await until(`the node on ${host.name} to join`, 30_000, async () => {
    const r = await tb.http(host, '/status');
    return r.ok && (JSON.parse(r.body) as { state: string }).state === 'joined' ? true : undefined;
  });
}

const logsOf = (...names: Array<keyof typeof nodes>): string => names.map((n) => `--- node ${n}:\n${nodes[n]?.output().slice(-4000)}`).join('\n');

describe('the hijack of issue 11, in a closed overlay', () => {
  beforeAll(async () => {
    requireTestbed();
    requireTool('sipp', 'sip-tester');
    work = mkdtempSync(join(tmpdir(), 'kadsip-hijack-'));
    await kadsip(['ca', 'init', '--out', join(work, 'ca'), '--overlay', 'victim']);
    trust = {
      a: await enroll('a', DOMAIN),
      b: await enroll('b', 'caller.test'),
      c: await enroll('c', 'honest.test'),
      e: await enroll('e', 'attacker.test'),
      l: await enroll('l', 'liar.test'),
    };
    tb = await Testbed.create();
    hosts.a = await tb.addHost('a', '192.0.2.10', { delayMs: 5 });
    hosts.c = await tb.addHost('c', '198.51.100.10', { delayMs: 5 });
    hosts.e = await tb.addHost('e', '203.0.113.10', { delayMs: 5 });
    hosts.l = await tb.addHost('l', '192.0.2.11', { delayMs: 5 });
    hosts.b = await tb.addHost('b', '198.51.100.11', { delayMs: 5 });

    nodes.a = tb.startNode(hosts.a, trust.a, { domain: DOMAIN });
    await tb.healthy(hosts.a, nodes.a);
    const boot = ['--bootstrap', `${hosts.a.ip}:5060`];
    nodes.c = tb.startNode(hosts.c, [...trust.c, ...boot]);
    nodes.e = tb.startNode(hosts.e, [...trust.e, ...boot], { domain: DOMAIN });
    const liarArgs = ['start', '--listen', `${hosts.l.ip}:5060`, '--http', '127.0.0.1:8080', '--log-level', 'info', ...trust.l, ...boot];
    nodes.l = tb.spawn(hosts.l, process.execPath, [LIAR, ...liarArgs], {
      env: { LIAR_AOR: AOR, LIAR_CONTACTS: `sip:alice@${hosts.l.ip}:5090,sip:alice@${hosts.l.ip}:5091` },
    });
    for (const n of ['c', 'e', 'l'] as const) await tb.healthy(hosts[n], nodes[n]!);
    for (const n of ['a', 'c', 'e', 'l'] as const) await joined(hosts[n]);
  }, 120_000);

  afterAll(async () => {
    await tb?.destroy();
    if (work) rmSync(work, { recursive: true, force: true });
    await run('sh', ['-c', `rm -f /tmp/kadsip-hijack-${TAG}-*`], { timeoutMs: 2_000 });
  }, 30_000);

  it('alice registers at A, which publishes her binding signed by its certificate', async () => {
    const reg = sipp(hosts.a, 'register.xml', ['-p', '5070', '-s', 'alice', `${hosts.a.ip}:5060`], 15);
    expect(await reg.exit, reg.output()).toBe(0);
    await until('alice to be published', 15_000, () => (registrationPublished(nodes.a!, 'alice') ? true : undefined));
    const published = logLines(nodes.a!).find((l) => l.msg === 'registration published in the overlay');
    // A itself, C, E and L: a genuine binding is admitted by every holder, the liar and the attacker too.
    expect(Number(published!.storedAt), logsOf('a')).toBe(4);
  }, 30_000);

  it('E, enrolled but not for victim.test, cannot publish alice: every holder refuses with 403 not-authorized', async () => {
    const reg = sipp(hosts.e, 'register.xml', ['-p', '5070', '-s', 'alice', `${hosts.e.ip}:5060`], 15);
    expect(await reg.exit, reg.output()).toBe(0);
    const published = await until('E to report its publication', 15_000, () => logLines(nodes.e!).find((l) => l.msg === 'registration published in the overlay'));
    expect(Number(published.storedAt), logsOf('e')).toBe(0);
    for (const n of ['a', 'c', 'l'] as const) {
      const refused = await until(`node ${n} to refuse E's STORE`, 10_000, () =>
        logLines(nodes[n]!).find((l) => l.msg === 'STORE refused' && String(l.reason).startsWith('not-authorized')),
      );
      expect(String(refused.reason)).toContain(`may not publish AoRs of ${DOMAIN}`);
    }
  }, 30_000);

  it('by hand: no certificate is 428 (JOIN, STORE), a REMOVE of her binding without a removal proof 428, signed by E 403, a STORE signed by E 403; bad proofs their own codes', async () => {
    const [caCert, cert, key] = [trust.e[1]!, trust.e[3]!, trust.e[5]!];
    const r = await tb.run(hosts.e, process.execPath, [ATTACKER, caCert, cert, key, `${hosts.e.ip}:5062`, `${hosts.a.ip}:5060`, AOR, `sip:alice@${hosts.a.ip}:5060`, `sip:alice@${hosts.e.ip}:5062`], 30_000);
    expect(r.code, r.stderr + r.stdout).toBe(0);
    const answers = Object.fromEntries(
      r.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { case: string; status: number; warning: string })
        .map((a) => [a.case, a]),
    );
    expect(answers['unenrolled-join']).toMatchObject({ status: 428 });
    expect(answers['unenrolled-store']).toMatchObject({ status: 428 });
    expect(answers['unenrolled-store']!.warning).toMatch(/^peer-auth: /);
    expect(answers['unproven-remove']).toMatchObject({ status: 428 });
    expect(answers['unproven-remove']!.warning).toMatch(/^proof-required: /);
    expect(answers['signed-remove']).toMatchObject({ status: 403 });
    expect(answers['signed-remove']!.warning).toMatch(/^not-authorized: .*may not publish AoRs of victim\.test/);
    expect(answers['signed-store']).toMatchObject({ status: 403 });
    expect(answers['signed-store']!.warning).toMatch(/^not-authorized: /);
    // Bad input, each its own answer: a binding signed in the future, a signature over other bytes, a truncated one.
    expect(answers['future-dated']).toMatchObject({ status: 403 });
    expect(answers['future-dated']!.warning).toMatch(/^future-dated: /);
    expect(answers['other-bytes']).toMatchObject({ status: 438 });
    expect(answers['other-bytes']!.warning).toMatch(/^bad-signature: /);
    expect(answers.truncated).toMatchObject({ status: 400 });
    expect(answers.truncated!.warning).toBe('bad-request: proof sig is 48 bytes, not 64');
  }, 40_000);

  it('a REMOVE by E (mallory unregisters) leaves alice\'s binding; L serves forgeries, B drops them, and the INVITE reaches only alice', async () => {
    const unreg = sipp(hosts.e, join(REPO, 'sip-scenarios', 'unregister.xml'), ['-p', '5070', '-s', 'alice', `${hosts.e.ip}:5060`], 15);
    expect(await unreg.exit, unreg.output()).toBe(0);
    const removed = await until('E to report its removal', 15_000, () => logLines(nodes.e!).find((l) => l.msg === 'registration removed from the overlay'));
    expect(Number(removed.removedAt), logsOf('e')).toBe(0);
    const refused = await until('A to refuse E\'s REMOVE', 10_000, () => logLines(nodes.a!).find((l) => l.msg === 'REMOVE refused' && l.peer === `${hosts.e.ip}:5060`));
    expect(String(refused.reason)).toMatch(/^not-authorized: /);

    nodes.b = tb.startNode(hosts.b, [...trust.b, '--role', 'client', '--bootstrap', `${hosts.l.ip}:5060`], { domain: DOMAIN });
    await tb.healthy(hosts.b, nodes.b);
    await joined(hosts.b);

    // Whatever a forgery or E's record would send an INVITE to.
    const traps = [await tb.udpProbe(hosts.l, 5090), await tb.udpProbe(hosts.l, 5091), await tb.udpProbe(hosts.e, 5070)];
    const uas = sipp(hosts.a, 'uas.xml', ['-p', '5070', '-s', 'alice'], 40);
    await new Promise((r) => setTimeout(r, 500)); // SIPp binds its socket
    const uac = sipp(hosts.b, 'uac.xml', ['-p', '5071', '-s', 'alice', `${hosts.b.ip}:5060`], 30);
    const [uacCode, uasCode] = await Promise.all([uac.exit, uas.exit]);
    const logs = (): string => `UAC:\n${uac.output()}\nUAS:\n${uas.output()}\n${logsOf('b', 'l', 'a')}`;
    expect(uacCode, logs()).toBe(0);
    expect(uasCode, logs()).toBe(0);
    for (const t of traps) expect(t.received(), logs()).toEqual([]);

    // B got L's forgeries and dropped them, once per signer: the moved proof (A's signature) and the unsigned one.
    const dropped = logLines(nodes.b).filter((l) => String(l.msg).startsWith('fetched binding dropped'));
    expect(dropped.map((l) => l.reason).sort(), logs()).toEqual(['bad-signature', 'proof-required']);
    expect(dropped.map((l) => l.value).sort()).toEqual([`sip:alice@${hosts.l.ip}:5090`, `sip:alice@${hosts.l.ip}:5091`]);
    // B never spoke to A: A's certificate came with L's answer (DHT-Cert of the signer), beside L's own.
    const status = await tb.status<{ trust: { certificates: number; authenticatedPeers: number } }>(hosts.b);
    expect(status.trust).toMatchObject({ certificates: 2, authenticatedPeers: 1 });
  }, 90_000);
});
