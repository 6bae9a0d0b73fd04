/**
 * The RFC 4475 torture corpus (and RFC 5118's IPv6 messages) against live kadsip nodes, over UDP
 * and TCP, in a fresh network namespace with only loopback: the corpus names hosts like 192.0.2.x,
 * and a node that tried to forward must reach nothing. test/live/torture-runner.mjs does the
 * sending inside the namespace and prints one JSON line per message and transport; this file
 * checks those lines against INDEX.tsv and the corpus README ("How a test should use it"):
 *
 *  - the node answers a phone-style OPTIONS with 200 after every message (never crashed or stuck);
 *  - the codes INDEX.tsv names: 400 badinv01/scalar02/mismatch01/multi01/insuf (and clerr over
 *    UDP), 505 badvers, 501 or 400 mismatch02, 416 unkscm/novelsc, 420 bext01 with Unsupported
 *    listing the Proxy-Require tags (the node proxies it), a 4xx for ncl/mcl01 and over TCP the node closes the connection;
 *  - zeromf (OPTIONS, Max-Forwards 0, for a user at example.com): the proxy owes 483; RFC 3261 16.3
 *    item 3 also lets an element answer an OPTIONS with Max-Forwards 0 itself (section 11): 483,
 *    404 or 200 are accepted;
 *  - responses (unreason, noreason, scalarlg, bigcode, bcast) get no reply and are not forwarded;
 *  - valid messages never get a 400 (dblreq over TCP: only the REGISTER's answer counts, the
 *    trailing octets are a broken second message there); may-be-liberal ones get a 400 or another
 *    final answer; every other request gets a final answer over UDP;
 *  - over TCP, clerr (Content-Length 9999) and baddn (no empty line after the headers) are
 *    incomplete messages: the node waits for more (no answer, connection kept) rather than guess;
 *  - the corpus names hosts like example.com; inside the namespace the node can resolve none of
 *    them (no DNS, no route), so it answers 503/404 instead of forwarding: it never sends a request
 *    anywhere, and the only replies that do
 *    not answer the message at hand are retransmitted final responses to earlier INVITEs (Timer G:
 *    nobody ACKs them).
 * Needs root (unshare --net); without it the test fails with a message, it does not skip.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { REPO, requireBuilt, requireRoot, requireTool, run } from './live-helpers.js';

interface Reply {
  status: number;
  reason: string;
  cseq?: string;
  unsupported?: string;
  warning?: string;
}

interface Result {
  corpus: string;
  name: string;
  verdict: string;
  transport: 'udp' | 'tcp';
  replies: Reply[];
  stray: Reply[];
  requests: string[];
  closedByNode: boolean;
  alive: boolean;
  probe: number | null;
  nodeOutput?: string;
  error?: string;
}

interface Entry {
  corpus: string;
  name: string;
  verdict: string;
  expected: string;
}

function index(dir: string, corpus: string): Entry[] {
  return readFileSync(join(dir, 'INDEX.tsv'), 'utf8')
    .split('\n')
    .slice(1)
    .filter((l) => l.trim() !== '')
    .map((l) => {
      const [name = '', , verdict = '', expected = ''] = l.split('\t');
      return { corpus, name, verdict, expected };
    });
}

const FIXTURES = join(REPO, 'test', 'fixtures', 'sip-torture');
const ENTRIES = [...index(FIXTURES, 'rfc4475'), ...index(join(FIXTURES, 'rfc5118'), 'rfc5118')];

const RESPONSES = ['unreason', 'noreason', 'scalarlg', 'bigcode', 'bcast'];
const LIBERAL = ['ltgtruri', 'lwsruri', 'lwsstart', 'trws', 'escruri', 'baddate', 'quotbal', 'regbadct', 'badaspec', 'baddn', 'badbranch', 'ipv6-bad'];
/** Named codes, both transports unless the entry says otherwise. */
const EXPECTED: Record<string, { codes: number[]; transports?: Array<'udp' | 'tcp'> }> = {
  badinv01: { codes: [400] },
  scalar02: { codes: [400] },
  mismatch01: { codes: [400] },
  multi01: { codes: [400] },
  insuf: { codes: [400] },
  clerr: { codes: [400], transports: ['udp'] },
  badvers: { codes: [505] },
  mismatch02: { codes: [501, 400] },
  unkscm: { codes: [416] },
  novelsc: { codes: [416] },
  bext01: { codes: [420] },
  zeromf: { codes: [483, 404, 200] },
};
/** Framing errors: a 4xx, and over TCP the node closes the connection. */
const CLOSE_ON_TCP = ['ncl', 'mcl01'];
/** Incomplete on a stream: over TCP the node keeps waiting for the rest. */
const INCOMPLETE_ON_TCP = ['clerr', 'baddn'];

const finals = (r: Result): Reply[] => r.replies.filter((x) => x.status >= 200);
const show = (r: Result): string => JSON.stringify({ ...r, nodeOutput: r.nodeOutput?.slice(-1500) });

describe('RFC 4475 / RFC 5118 torture messages against a live node (network namespace, loopback only)', () => {
  let results: Result[] = [];
  let summary: { lanes: Array<{ transport: string; results: number; crashes: number; restarts: number; nodeOutput: string }> } | undefined;
  const get = (name: string, transport: 'udp' | 'tcp'): Result => {
    const r = results.find((x) => x.name === name && x.transport === transport);
    if (!r) throw new Error(`no ${transport} result for ${name}`);
    return r;
  };

  beforeAll(async () => {
    requireBuilt();
    requireRoot('the torture test needs root: it runs the node in a fresh network namespace (unshare --net)');
    requireTool('unshare', 'util-linux');
    requireTool('ip', 'iproute2');
    const r = await run(
      'unshare',
      ['--net', '--fork', 'sh', '-c', `ip link set lo up && exec "${process.execPath}" test/live/torture-runner.mjs`],
      { timeoutMs: 55_000 },
    );
    const lines = r.stdout.split('\n').filter((l) => l.trim() !== '');
    const parsed = lines.map((l) => JSON.parse(l) as Result & { summary?: boolean });
    results = parsed.filter((p) => p.summary !== true);
    summary = parsed.find((p) => p.summary === true) as typeof summary;
    if (r.code !== 0 || summary === undefined) {
      throw new Error(`torture runner failed (exit ${r.code}, signal ${r.signal}): ${r.stderr}\n${r.stdout.slice(-3000)}`);
    }
  }, 60_000);

  it('ran every indexed message over UDP and TCP', () => {
    for (const e of ENTRIES) for (const t of ['udp', 'tcp'] as const) expect(() => get(e.name, t)).not.toThrow();
    expect(results.length).toBe(ENTRIES.length * 2);
  });

  it('the node survives every message and still answers OPTIONS 200', () => {
    const dead = results.filter((r) => !r.alive);
    expect(dead.map(show)).toEqual([]);
    for (const lane of summary!.lanes) expect(lane.crashes, lane.nodeOutput).toBe(0);
  });

  it('answers with the code INDEX.tsv names', () => {
    for (const [name, want] of Object.entries(EXPECTED)) {
      for (const t of want.transports ?? (['udp', 'tcp'] as const)) {
        const r = get(name, t);
        const f = finals(r);
        expect(f.length, show(r)).toBe(1);
        expect(want.codes, show(r)).toContain(f[0]!.status);
      }
    }
  });

  it('bext01: 420 with Unsupported listing the Proxy-Require option tags', () => {
    // Its Request-URI (sip:user@example.com) is not this node, so the node acts as a proxy, which
    // checks Proxy-Require, not Require (RFC 3261 16.3 step 5; Require is the UAS's, 8.2.2.3).
    for (const t of ['udp', 'tcp'] as const) {
      const r = finals(get('bext01', t))[0]!;
      expect(r.status).toBe(420);
      expect(r.unsupported ?? '').toMatch(/\bnoProxiesSupportThis\b/);
      expect(r.unsupported ?? '').toMatch(/\bnorDoAnyProxiesSupportThis\b/);
    }
  });

  it('framing errors (ncl, mcl01): a 4xx; over TCP the node then closes the connection', () => {
    for (const name of CLOSE_ON_TCP) {
      for (const t of ['udp', 'tcp'] as const) {
        const r = get(name, t);
        const f = finals(r);
        expect(f.length, show(r)).toBe(1);
        expect(f[0]!.status, show(r)).toBeGreaterThanOrEqual(400);
        expect(f[0]!.status, show(r)).toBeLessThan(500);
        if (t === 'tcp') expect(r.closedByNode, show(r)).toBe(true);
      }
    }
  });

  it('incomplete on a stream (clerr, baddn over TCP): no guess, the node waits for the rest', () => {
    for (const name of INCOMPLETE_ON_TCP) {
      const r = get(name, 'tcp');
      expect(r.replies, show(r)).toEqual([]);
      expect(r.closedByNode, show(r)).toBe(false);
    }
  });

  it('responses get no reply', () => {
    for (const name of RESPONSES) {
      for (const t of ['udp', 'tcp'] as const) {
        const r = get(name, t);
        expect(r.replies, show(r)).toEqual([]);
        expect(r.requests, show(r)).toEqual([]);
      }
    }
  });

  it('valid messages never get a 400', () => {
    for (const e of ENTRIES.filter((x) => x.verdict === 'valid' && !RESPONSES.includes(x.name))) {
      for (const t of ['udp', 'tcp'] as const) {
        const r = get(e.name, t);
        // dblreq over TCP: the trailing octets become a second (broken) message; judge the REGISTER's answer.
        const f = e.name === 'dblreq' && t === 'tcp' ? finals(r).filter((x) => /REGISTER$/.test(x.cseq ?? '')) : finals(r);
        expect(f.length, show(r)).toBeGreaterThanOrEqual(1);
        expect(f.map((x) => x.status), show(r)).not.toContain(400);
      }
    }
  });

  it('dblreq over UDP: the REGISTER is answered once, the trailing INVITE octets ignored', () => {
    const r = get('dblreq', 'udp');
    expect(finals(r).length, show(r)).toBe(1);
    expect(finals(r)[0]!.cseq, show(r)).toMatch(/REGISTER$/);
  });

  it('may-be-liberal messages get a 400 or another final answer', () => {
    for (const name of LIBERAL) {
      for (const t of ['udp', 'tcp'] as const) {
        if (t === 'tcp' && INCOMPLETE_ON_TCP.includes(name)) continue;
        const r = get(name, t);
        expect(finals(r).length, show(r)).toBe(1);
      }
    }
  });

  it('every request gets exactly one final answer over UDP', () => {
    for (const e of ENTRIES.filter((x) => !RESPONSES.includes(x.name))) {
      const r = get(e.name, 'udp');
      expect(finals(r).length, show(r)).toBe(1);
    }
  });

  it('nothing is forwarded, and the only unrelated replies are INVITE retransmissions', () => {
    for (const r of results) {
      expect(r.requests, show(r)).toEqual([]);
      for (const s of r.stray) expect(s.cseq ?? '', show(r)).toMatch(/INVITE$/);
    }
  });
});
