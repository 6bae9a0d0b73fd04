/**
 * What the fuzzer mutates: the RFC 4475 and RFC 5118 torture messages, the messages SIPp sends in
 * this repository's scenarios (sip-scenarios/*.xml, keywords filled in as SIPp would), and the
 * overlay RPCs and answers exactly as kadsip writes them (src/dsip's encoder: PING, JOIN, LEAVE,
 * FIND_NODE, FIND_VALUE, STORE, REMOVE, and 200/302 answers), so the dSIP codec is reached too.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeRequest, encodeResponse } from '../../src/dsip/codec.js';
import { addressOf } from '../../src/dsip/peer-uri.js';
import type { Contact } from '../../src/overlay/contact.js';
import type { OverlayRequest, OverlayResponse, RequestEnvelope } from '../../src/overlay/messages.js';
import { peerIdFromAddress, resourceId } from '../../src/overlay/peer-id.js';
import { serializeMessage, type SipRequest } from '../../src/sip/message/index.js';
import type { Rng } from './rng.js';

export interface Seed {
  /** Where it comes from: `rfc4475/badvers`, `sipp/uac-call.xml#1`, `kadsip/STORE`. */
  readonly name: string;
  readonly bytes: Buffer;
}

export interface SeedContext {
  readonly repo: string;
  /** The node under test (Request-URIs, To). */
  readonly node: { readonly host: string; readonly port: number };
  /** The address the fuzzer sends from (Via, Contact; the dSIP Peer-ID is derived from it). */
  readonly self: { readonly host: string; readonly port: number };
  readonly overlay: string;
}

function torture(dir: string, corpus: string): Seed[] {
  return readdirSync(dir)
    .filter((f) => f.endsWith('.dat'))
    .sort()
    .map((f) => ({ name: `${corpus}/${f.slice(0, -4)}`, bytes: readFileSync(join(dir, f)) }));
}

/** A SIPp <send> CDATA block as SIPp writes it: lines trimmed, CRLF, [len] computed. */
function sippMessage(block: string, ctx: SeedContext, dsip: boolean): string | null {
  const ls = block
    .split('\n')
    .map((l) => l.trim())
    .filter((l, i, all) => !(l === '' && (i === 0 || all.slice(0, i).every((x) => x.trim() === ''))));
  while (ls.length > 0 && ls[ls.length - 1] === '') ls.pop();
  if (ls.length === 0) return null;
  const blank = ls.indexOf('');
  const head = blank < 0 ? ls : ls.slice(0, blank);
  const body = blank < 0 ? '' : ls.slice(blank + 1).join('\r\n') + '\r\n';
  const lastHeaders: Record<string, string> = {
    Via: `Via: SIP/2.0/UDP ${ctx.self.host}:${ctx.self.port};branch=z9hG4bK-sipp-last;rport`,
    From: `From: <sip:sipp@${ctx.self.host}>;tag=1SIPpTag001`,
    To: `To: <sip:service@${ctx.node.host}:${ctx.node.port}>`,
    'Call-ID': `Call-ID: 1-1@${ctx.self.host}`,
    CSeq: 'CSeq: 1 INVITE',
    'Record-Route': `Record-Route: <sip:${ctx.node.host}:${ctx.node.port};lr>`,
  };
  const values: Record<string, string> = {
    local_ip: ctx.self.host,
    local_port: String(ctx.self.port),
    remote_ip: ctx.node.host,
    remote_port: String(ctx.node.port),
    // The dSIP scenarios take the overlay name as their service (-s OVERLAY).
    service: dsip ? ctx.overlay : 'service',
    domain: ctx.node.host,
    pid: '4242',
    call_number: '1',
    caller: 'sipp',
    transport: 'UDP',
    call_id: `1-4242@${ctx.self.host}`,
    branch: 'z9hG4bK-sipp-1',
    media_ip: ctx.self.host,
    media_port: '6000',
    media_ip_type: '4',
    local_ip_type: '4',
    expires: '3600',
    maxfwd: '70',
    peerid: peerIdFromAddress(ctx.self.host, ctx.self.port).toString(16).padStart(40, '0'),
    nodeid: peerIdFromAddress(ctx.node.host, ctx.node.port).toString(16).padStart(40, '0'),
    target: '0123456789abcdef0123456789abcdef01234567',
    next_url: `sip:service@${ctx.node.host}:${ctx.node.port}`,
    peer_tag_param: ';tag=4243SIPpTag01',
    contact: `<sip:service@${ctx.node.host}:${ctx.node.port}>`,
  };
  const fill = (line: string): string =>
    line
      .replace(/^\[last_([A-Za-z-]+):\]/, (_, h: string) => lastHeaders[h] ?? '')
      .replace(/\[([a-z_]+)\]/g, (all, k: string) => (k === 'len' ? all : (values[k] ?? all)))
      // Scenario variables ([$ruri], [$totag1]) hold what SIPp read from earlier messages.
      .replace(/\[\$([a-z0-9_]+)\]/g, (_, k: string) => (k.includes('uri') ? `sip:service@${ctx.node.host}:${ctx.node.port}` : k.includes('tag') ? 'tag1' : 'x'));
  // Keywords standing alone for whole header lines ([authentication], [routes]) SIPp may leave empty.
  const headLines = head.map(fill).filter((l) => l !== '' && !/^\[[a-z_]+\]$/.test(l));
  const filledBody = body === '' ? '' : body.split('\r\n').map(fill).join('\r\n');
  const len = Buffer.byteLength(filledBody, 'latin1');
  return headLines.map((l) => l.replace('[len]', String(len))).join('\r\n') + '\r\n\r\n' + filledBody;
}

function sipp(dir: string, ctx: SeedContext): Seed[] {
  const out: Seed[] = [];
  for (const f of readdirSync(dir).filter((x) => x.endsWith('.xml')).sort()) {
    const xml = readFileSync(join(dir, f), 'latin1');
    const re = /<send\b[^>]*>\s*<!\[CDATA\[([\s\S]*?)\]\]>/g;
    let i = 0;
    for (let m = re.exec(xml); m !== null; m = re.exec(xml)) {
      const msg = sippMessage(m[1]!, ctx, f.startsWith('dsip-'));
      if (msg !== null) out.push({ name: `sipp/${f}#${i++}`, bytes: Buffer.from(msg, 'latin1') });
    }
  }
  return out;
}

/** The transaction layer's Via (RFC 3261 8.1.1.7) on a request the codec built. */
function withVia(req: SipRequest, from: { host: string; port: number }): SipRequest {
  req.headers.prepend('Via', `SIP/2.0/UDP ${addressOf(from.host, from.port)};branch=z9hG4bK-kadsip-1;rport`);
  return req;
}

function kadsip(ctx: SeedContext): Seed[] {
  const self: Contact = { id: peerIdFromAddress(ctx.self.host, ctx.self.port), address: addressOf(ctx.self.host, ctx.self.port) };
  const node: Contact = { id: peerIdFromAddress(ctx.node.host, ctx.node.port), address: addressOf(ctx.node.host, ctx.node.port) };
  const key = resourceId('sip:alice@kadsip');
  const binding = { value: `sip:alice@${ctx.self.host}:5062;transport=udp`, ttlMs: 3_600_000 };
  const requests: OverlayRequest[] = [
    { op: 'PING' },
    { op: 'JOIN' },
    { op: 'LEAVE' },
    { op: 'FIND_NODE', target: key },
    { op: 'FIND_NODE', target: node.id },
    { op: 'FIND_VALUE', key },
    { op: 'STORE', key, bindings: [binding, { value: `sip:alice@[2001:db8::1]:5060`, ttlMs: 60_000 }] },
    { op: 'REMOVE', key, removals: [{ ...binding, ttlMs: 0 }] },
  ];
  const out: Seed[] = [];
  for (const request of requests) {
    const envelope: RequestEnvelope = { from: self, mode: request.op === 'FIND_VALUE' ? 'recursive' : 'iterative', hops: 0, candidatesWanted: 2, request };
    const req = encodeRequest(envelope, { overlay: ctx.overlay, self, to: { address: node.address, id: node.id }, callId: 'kadsip-1', fromTag: 'kadsip', stun: `${ctx.self.host}:3478` });
    out.push({ name: `kadsip/${request.op}`, bytes: serializeMessage(withVia(req, ctx.self)) });
  }
  // Answers as kadsip writes them (the node drops them: no client transaction of its own matches),
  // which still runs them through the parser and the RFC 3261 18.1.2 sent-by check.
  const find = encodeRequest({ from: node, mode: 'iterative', hops: 0, request: { op: 'FIND_VALUE', key } }, { overlay: ctx.overlay, self: node, to: { address: self.address }, callId: 'kadsip-2' });
  withVia(find, ctx.node);
  const rctx = { overlay: ctx.overlay, self, protocol: 'udp' as const };
  const answers: Array<[string, OverlayResponse]> = [
    ['200-value', { kind: 'value', bindings: [binding] }],
    ['302-nodes', { kind: 'nodes', contacts: [node, self] }],
    ['404-not-found', { kind: 'not-found', contacts: [self] }],
    ['200-stored', { kind: 'stored', bindings: [binding] }],
  ];
  for (const [name, answer] of answers) out.push({ name: `kadsip/${name}`, bytes: serializeMessage(encodeResponse(find, answer, rctx)) });
  return out;
}

/** Every seed, in a fixed order (a seed's index is part of what makes a run reproducible). */
export function loadSeeds(ctx: SeedContext): Seed[] {
  const fixtures = join(ctx.repo, 'test', 'fixtures', 'sip-torture');
  return [...torture(fixtures, 'rfc4475'), ...torture(join(fixtures, 'rfc5118'), 'rfc5118'), ...sipp(join(ctx.repo, 'sip-scenarios'), ctx), ...kadsip(ctx)];
}

/**
 * Gives a seed a transaction of its own before it is mutated: a fresh top Via branch and Call-ID,
 * so the node does not take every copy of one seed for a retransmission (RFC 3261 17.2.3) and
 * skip the code behind the transaction layer.
 */
export function personalize(bytes: Buffer, tag: string): Buffer {
  const text = bytes.toString('latin1');
  const out = text
    .replace(/branch=z9hG4bK[^;,\s]*/i, `branch=z9hG4bK-fz-${tag}`)
    .replace(/^(Call-ID|i)([ \t]*:[ \t]*)(\S*)/im, (_, name: string, sep: string, v: string) => `${name}${sep}fz-${tag}-${v}`);
  return Buffer.from(out, 'latin1');
}

/**
 * The seed an input starts from: a third from each kind (torture corpus, SIPp, kadsip's dSIP), so
 * the dozen dSIP messages are not drowned by a hundred others and the overlay codec gets its share.
 */
export function pickSeed(seeds: readonly Seed[], rng: Rng): Seed {
  const kind = rng.pick(['rfc', 'sipp/', 'kadsip/']);
  const of = seeds.filter((s) => s.name.startsWith(kind));
  return rng.pick(of.length > 0 ? of : seeds);
}
