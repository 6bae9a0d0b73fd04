/**
 * `kadsip lookup <sip-uri | peer-ID> --via IP:PORT`: a one-shot P2PSIP client (role=client, so
 * no peer keeps it in its routing table) on an ephemeral loopback-or-any port. It pings the via
 * node to learn its ID, then runs an iterative FIND_VALUE (a SIP URI) or FIND_NODE (a peer-ID)
 * from there. Prints what it found, the rounds (hops) and the time; exit 0 found, 1 not found,
 * 2 error.
 */
import { randomInt } from 'node:crypto';
import { pino } from 'pino';
import { realClock } from '../common/real-clock.js';
import { ConfigError, parseHostPort } from '../node/config.js';
import { OverlayOverSip } from '../node/overlay-over-sip.js';
import { idFromHex, idToHex, type NodeId } from '../overlay/id.js';
import type { LookupResult } from '../overlay/lookup.js';
import { OverlayNode } from '../overlay/node.js';
import { peerIdFromAddress, resourceId } from '../overlay/peer-id.js';
import { SeededRandom } from '../overlay/random.js';
import { canonicalAor, parseUri } from '../sip/message/index.js';
import { TransactionLayer } from '../sip/transaction/index.js';
import { SipTransport } from '../sip/transport/index.js';

export interface LookupFlags {
  via: string;
  overlay?: string;
  timeout: string;
  json?: boolean;
}

type Target = { kind: 'value'; key: NodeId; aor: string } | { kind: 'node'; key: NodeId };

export function parseLookupTarget(text: string): Target | string {
  const id = idFromHex(text);
  if (id !== null) return { kind: 'node', key: id };
  const uri = parseUri(text);
  if (!uri.ok || !('host' in uri.value)) return `"${text}" is neither a SIP URI nor a 40-hex-digit peer-ID`;
  const aor = canonicalAor(uri.value);
  return { kind: 'value', key: resourceId(aor), aor };
}

export async function runLookup(text: string, flags: LookupFlags): Promise<number> {
  const fail = (message: string): number => {
    process.stderr.write(`kadsip lookup: ${message}\n`);
    return 2;
  };
  const target = parseLookupTarget(text);
  if (typeof target === 'string') return fail(target);
  let via;
  try {
    via = parseHostPort(flags.via, 'via', 5060);
  } catch (e) {
    if (e instanceof ConfigError) return fail(e.message);
    throw e;
  }
  const timeoutS = Number(flags.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) return fail(`--timeout "${flags.timeout}" is not a positive number`);

  const log = pino({ level: 'silent' });
  const bindHost = via.host.startsWith('127.') ? '127.0.0.1' : via.host.includes(':') ? '::' : '0.0.0.0';
  const transport = await SipTransport.listen({ host: bindHost, port: 0, protocols: ['udp'] });
  const transactions = new TransactionLayer({ send: transport.send, local: transport.local, clock: realClock });
  transport.onMessage(transactions.receive);
  const local = transport.local('udp');
  const self = { id: peerIdFromAddress(local.host, local.port), address: `${local.host}:${local.port}` };
  const overlay = flags.overlay ?? 'kadsip';
  const node = new OverlayNode({
    self,
    transport: new OverlayOverSip({ transactions, overlay, self, protocol: 'udp', log }),
    clock: realClock,
    random: new SeededRandom(randomInt(2 ** 32)),
    config: { role: 'client' },
  });
  const started = performance.now();
  try {
    const outcome = await withTimeout(timeoutS * 1000, async () => {
      const answerer = await new Promise<unknown>((resolve) => node.ping({ address: via.host.includes(':') ? `[${via.host}]:${via.port}` : `${via.host}:${via.port}` }, resolve));
      if (!answerer) return null;
      return await new Promise<LookupResult>((resolve) =>
        target.kind === 'value' ? node.findValue(target.key, resolve) : node.findNode(target.key, resolve),
      );
    });
    const ms = Math.round(performance.now() - started);
    if (outcome === 'timeout') return fail(`no answer within ${timeoutS} s`);
    if (outcome === null) return fail(`${flags.via} did not answer the ping (is a kadsip node of overlay "${overlay}" there?)`);
    const found = target.kind === 'value'
      ? outcome.bindings.length > 0
      : outcome.closest[0]?.id === target.key;
    const report = {
      target: text,
      kind: target.kind === 'value' ? 'FIND_VALUE' : 'FIND_NODE',
      key: idToHex(target.key),
      found,
      bindings: outcome.bindings.map((b) => ({ uri: b.value, expires_s: Math.round(b.ttlMs / 1000) })),
      peer: target.kind === 'node' && found ? outcome.closest[0]!.address : undefined,
      answered_by: outcome.valueFrom?.address,
      hops: outcome.rounds,
      rpcs: outcome.rpcs,
      time_ms: ms,
    };
    if (flags.json) {
      process.stdout.write(JSON.stringify(report) + '\n');
    } else if (found) {
      if (target.kind === 'value') for (const b of report.bindings) process.stdout.write(`${b.uri}\texpires ${b.expires_s}s\n`);
      else process.stdout.write(`${report.peer}\n`);
      process.stdout.write(`found in ${report.hops} hops (${report.rpcs} requests), ${ms} ms\n`);
    } else {
      process.stdout.write(`not found after ${report.hops} hops (${report.rpcs} requests), ${ms} ms\n`);
    }
    return found ? 0 : 1;
  } finally {
    node.stop();
    transactions.close();
    await transport.close();
  }
}

async function withTimeout<T>(ms: number, run: () => Promise<T>): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), ms);
  });
  try {
    return await Promise.race([run(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
