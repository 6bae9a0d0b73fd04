/**
 * What a NATed user reads to configure the phone (issue 5): a node that asked for candidates lists
 * them, with their TURN address, in GET /status (`discoveredCandidates`), and `kadsip candidates`
 * prints them from there. On loopback: the willing peer listens on 127.0.0.2 because candidates
 * are unique by IP and a peer never offers an asker its own IP (the asker is on 127.0.0.1).
 */
import { pino } from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { runCandidates } from '../../src/cli/candidates-command.js';
import { resolveConfig } from '../../src/node/config.js';
import { KadsipNode } from '../../src/node/kadsip-node.js';

const silent = pino({ level: 'silent' });
const cleanup: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanup.splice(0).reverse()) await c();
});

async function startNode(extra: Record<string, string>): Promise<KadsipNode> {
  const config = resolveConfig({ listen: '127.0.0.1:0', transports: 'udp', overlay: 'candidates-test', logLevel: 'silent', ...extra });
  const node = await KadsipNode.start({ config, logger: silent });
  cleanup.push(() => node.close());
  return node;
}

async function candidates(flags: { http: string; turn?: boolean; json?: boolean }): Promise<{ code: number; out: string }> {
  let out = '';
  const code = await runCandidates(flags, (t) => (out += t));
  return { code, out };
}

describe('discovered STUN/TURN candidates: /status and `kadsip candidates`', () => {
  it('lists the willing peer with its turn= address', async () => {
    const willing = await startNode({ listen: '127.0.0.2:0', stun: '127.0.0.2:0', turn: '127.0.0.2:3478' });
    const asker = await startNode({ bootstrap: willing.self.address, candidatesWanted: '5', http: '127.0.0.1:0' });
    const http = `127.0.0.1:${asker.httpAddress!.port}`;

    const status = (await (await fetch(`http://${http}/status`)).json()) as Record<string, unknown>;
    // (objectContaining: a candidate may carry more, its load figures say.)
    const offered = expect.objectContaining({ stun: willing.self.stun, turn: '127.0.0.2:3478', role: 'peer', priority: 2 });
    expect(status.candidates).toBe(1);
    expect(status.discoveredCandidates).toEqual([offered]);
    // The willing node shows what it advertises itself.
    expect(willing.status()).toMatchObject({ stun: willing.self.stun, turn: '127.0.0.2:3478', discoveredCandidates: [] });

    const lines = await candidates({ http });
    expect(lines.code).toBe(0);
    expect(lines.out).toMatch(new RegExp(`^stun=${willing.self.stun} turn=127\\.0\\.0\\.2:3478 role=peer prio=2( load=\\d+)?\n$`));
    expect(await candidates({ http, turn: true })).toEqual({ code: 0, out: '127.0.0.2:3478\n' });
    const json = await candidates({ http, json: true });
    expect(json.code).toBe(0);
    expect(JSON.parse(json.out)).toEqual([offered]);
  });

  it('exits 1 when the node knows no TURN server, 2 when nothing answers', async () => {
    const stunOnly = await startNode({ listen: '127.0.0.2:0', stun: '127.0.0.2:0' });
    const asker = await startNode({ bootstrap: stunOnly.self.address, candidatesWanted: '5', http: '127.0.0.1:0' });
    const http = `127.0.0.1:${asker.httpAddress!.port}`;
    expect((await candidates({ http })).code).toBe(0);
    expect(await candidates({ http, turn: true })).toEqual({ code: 1, out: '' });
    await asker.close();
    expect((await candidates({ http })).code).toBe(2);
  });
});
