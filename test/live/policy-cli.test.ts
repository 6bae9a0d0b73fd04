/**
 * The policy settings through the real `kadsip start` on loopback: a bad --trust stops start-up
 * (exit 2, the flag named); --no-dns-routing wins over KADSIP_DNS_ROUTING=on and a call from a
 * trusted loopback phone to another domain gets 404 (sip-scenarios/uac-reject.xml: exactly 404,
 * no Retry-After) while /status shows the settings; `--trust none` makes that same phone
 * untrusted, and without a users file its call out gets 403 Not Relaying.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, freePorts, REPO, requireBuilt, requireTool, run, startNode, type RunningNode } from './live-helpers.js';

const reject = (node: RunningNode, phonePort: number, code: number) =>
  run('sipp', ['-sf', join(REPO, 'sip-scenarios', 'uac-reject.xml'), '-i', '127.0.0.1', '-p', String(phonePort), '-m', '1', '-nostdin', '-timeout', '15s', '-timeout_error',
    '-s', 'carol', '-key', 'caller', 'alice', '-key', 'domain', 'pbx.test', '-key', 'code', String(code), '-key', 'retry', 'absent', `127.0.0.1:${node.sipPort}`], { timeoutMs: 20_000 });

describe('kadsip start with the policy settings', () => {
  let off: RunningNode | undefined;
  let none: RunningNode | undefined;
  let ports: number;

  beforeAll(async () => {
    requireBuilt();
    requireTool('sipp', 'sip-tester');
    ports = await freePorts(6);
    const saved = process.env.KADSIP_DNS_ROUTING;
    process.env.KADSIP_DNS_ROUTING = 'on';
    try {
      off = await startNode(ports, ports + 1, ['--no-dns-routing', '--trust', '127.0.0.0/8', '--trust', '10.0.0.0/8,::1']);
    } finally {
      if (saved === undefined) delete process.env.KADSIP_DNS_ROUTING;
      else process.env.KADSIP_DNS_ROUTING = saved;
    }
    none = await startNode(ports + 2, ports + 3, ['--trust', 'none']);
  }, 40_000);

  afterAll(async () => {
    await off?.stop();
    await none?.stop();
  });

  it('a bad --trust stops start-up with exit 2 and names the flag', async () => {
    const r = await run(process.execPath, [CLI, 'start', '--listen', '127.0.0.1:0', '--trust', '10.0.0.0/33'], { timeoutMs: 10_000 });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('kadsip start: --trust: "10.0.0.0/33": the prefix length must be 0-32');
  });

  it('--no-dns-routing (over KADSIP_DNS_ROUTING=on): a trusted phone calling another domain gets 404', async () => {
    const status = (await (await fetch(`http://127.0.0.1:${off!.httpPort}/status`)).json()) as { policy: { trust: string[]; dnsRouting: boolean; dnsRoutingRefusals: number } };
    expect(status.policy.trust).toEqual(['127.0.0.0/8', '10.0.0.0/8', '::1/128']);
    expect(status.policy.dnsRouting).toBe(false);
    const r = await reject(off!, ports + 4, 404);
    expect(r.code, `${r.stdout.slice(-2000)}\n${off!.output().slice(-2000)}`).toBe(0);
    // The policy's 404, not DNS's (a domain with no SIP server is 404 too): no query was made.
    const after = (await (await fetch(`http://127.0.0.1:${off!.httpPort}/status`)).json()) as { policy: { dnsRoutingRefusals: number } };
    expect(after.policy.dnsRoutingRefusals).toBe(status.policy.dnsRoutingRefusals + 1);
  });

  it('--trust none, no users file: the same loopback phone calling out gets 403 Not Relaying', async () => {
    const r = await reject(none!, ports + 5, 403);
    expect(r.code, `${r.stdout.slice(-2000)}\n${none!.output().slice(-2000)}`).toBe(0);
    const status = (await (await fetch(`http://127.0.0.1:${none!.httpPort}/status`)).json()) as { policy: { notRelaying: number } };
    expect(status.policy.notRelaying).toBe(1);
  });
});
