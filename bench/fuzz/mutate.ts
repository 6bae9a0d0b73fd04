/**
 * Mutations of one SIP message, as an attacker or a broken phone would send it: byte flips, header
 * duplication and deletion, truncation, huge values and parameter lists, wrong Content-Length,
 * deleted or bare CRLFs, folded lines, extreme numbers, invalid UTF-8, splices of other messages.
 * Pure: the same Rng stream gives the same bytes. Text is handled as latin1, which maps each byte
 * to one char and back, so any byte sequence survives.
 */
import type { Rng } from './rng.js';

export interface Mutated {
  readonly bytes: Buffer;
  /** The mutations applied, in order (what a saved failing input says it is). */
  readonly ops: readonly string[];
}

/** Largest UDP payload over IPv4; a datagram input is cut to this. */
export const MAX_DATAGRAM = 65_507;

const SPECIAL = ['\0', '\r', '\n', '\r\n', ':', ';', ',', '<', '>', '"', '\\', '%', '%00', '%zz', '=', '@', '[', ']', ' ', '\t', '\xff', '\xc3', '\xe2\x80', '\x7f', '/', '?', '*', '&', '\r\n ', '\r\n\r\n'];
const NUMBERS = ['0', '-1', '1', '70', '99999', '65536', '4294967295', '4294967296', '18446744073709551616', '9007199254740993', '1e3', '0x10', '00000000000000000000001', '-0', '+5', ' 5', '5 5', '', '999999999999999999999999999999', 'NaN', 'Infinity', '1.5'];
const METHODS = ['INVITE', 'ACK', 'BYE', 'CANCEL', 'REGISTER', 'OPTIONS', 'PRACK', 'SUBSCRIBE', 'NOTIFY', 'PUBLISH', 'INFO', 'REFER', 'MESSAGE', 'UPDATE', 'invite', 'FOO', '', 'SIP/2.0', 'INVITE INVITE', 'X'.repeat(300)];
const HEADERS = ['Via', 'v', 'From', 'f', 'To', 't', 'Call-ID', 'i', 'CSeq', 'Max-Forwards', 'Contact', 'm', 'Content-Length', 'l', 'Content-Type', 'c', 'Route', 'Record-Route', 'Expires', 'Require', 'Proxy-Require', 'Supported', 'Authorization', 'Proxy-Authorization', 'DHT-PeerID', 'DHT-Candidate', 'DHT-Candidates-Wanted', 'DHT-Cert', 'Request-Disposition', 'Path', 'Retry-After', 'WWW-Authenticate', 'Unsupported', 'Min-Expires'];
const VALUES = [
  '<sip:peer@127.0.0.1:5060;peer-ID=0000000000000000000000000000000000000000>',
  '<sip:peer@0.0.0.0;peer-ID=ffffffffffffffffffffffffffffffffffffffff>',
  '<sip:peer@[::1]:5060;peer-ID=zz>;algorithm=sha1;dht=Kademlia1.0;overlay=*;expires=3600',
  'SIP/2.0/UDP 127.0.0.1:5060;branch=z9hG4bK-x;rport;received=',
  'SIP/2.0/TCP [::ffff:127.0.0.1]:0;branch=',
  '<sip:x@127.0.0.1;lr>',
  'sip:',
  '<>',
  '*',
  'dht',
  'redirect;recursive;iterative',
  'Digest username="a", realm="b", nonce="", uri="sip:x", response="", algorithm=SHA-256',
  'stun=127.0.0.1:3478;turn=;priority=99999999;role=',
  '"\\',
  '<sip:a@b>;expires=-1;q=2.0',
  '1 INVITE',
  '4294967296 REGISTER',
  'application/sdp',
  'multipart/mixed;boundary=',
];

type Op = (text: string, rng: Rng, others: readonly Buffer[]) => [string, string];

const lines = (t: string): string[] => t.split('\r\n');
/** Index of the empty line ending the header section, or -1. */
function headEnd(ls: string[]): number {
  return ls.indexOf('');
}
/** Indices of header lines (after the start line, before the empty line). */
function headerIndices(ls: string[]): number[] {
  const end = headEnd(ls);
  const last = end < 0 ? ls.length : end;
  const out: number[] = [];
  for (let i = 1; i < last; i++) out.push(i);
  return out;
}
function hugeSize(rng: Rng): number {
  return rng.pick([256, 1024, 4096, 8192, 16_384, 32_000, 65_000, 70_000]);
}

const OPS: Record<string, Op> = {
  duplicateHeader: (t, rng) => {
    const ls = lines(t);
    const hs = headerIndices(ls);
    if (hs.length === 0) return [t, 'duplicateHeader none'];
    const i = rng.pick(hs);
    const n = rng.chance(0.1) ? rng.range(100, 2000) : rng.range(1, 5);
    ls.splice(i, 0, ...Array<string>(n).fill(ls[i]!));
    return [ls.join('\r\n'), `duplicateHeader ${ls[i]!.split(':')[0]} x${n}`];
  },
  flip: (t, rng) => {
    const n = rng.range(1, 8);
    const b = Buffer.from(t, 'latin1');
    for (let i = 0; i < n && b.length > 0; i++) {
      const at = rng.int(b.length);
      b[at] = rng.chance(0.5) ? b[at]! ^ (1 << rng.int(8)) : rng.int(256);
    }
    return [b.toString('latin1'), `flip x${n}`];
  },
  insert: (t, rng) => {
    const at = rng.int(t.length + 1);
    const s = rng.pick(SPECIAL);
    return [t.slice(0, at) + s + t.slice(at), `insert ${JSON.stringify(s)} @${at}`];
  },
  truncate: (t, rng) => {
    const at = rng.int(t.length + 1);
    return [t.slice(0, at), `truncate @${at}`];
  },
  deleteHeader: (t, rng) => {
    const ls = lines(t);
    const hs = headerIndices(ls);
    if (hs.length === 0) return [t, 'deleteHeader none'];
    const i = rng.pick(hs);
    const name = ls[i]!.split(':')[0];
    ls.splice(i, 1);
    return [ls.join('\r\n'), `deleteHeader ${name}`];
  },
  swapLines: (t, rng) => {
    const ls = lines(t);
    const end = headEnd(ls);
    const last = end < 0 ? ls.length : end;
    if (last < 2) return [t, 'swapLines none'];
    const a = rng.int(last);
    const b = rng.int(last);
    [ls[a], ls[b]] = [ls[b]!, ls[a]!];
    return [ls.join('\r\n'), `swapLines ${a},${b}`];
  },
  hugeValue: (t, rng) => {
    const ls = lines(t);
    const hs = headerIndices(ls);
    const n = hugeSize(rng);
    const fill = rng.pick(['a', '0', ';x=y', ',', ' ', '%41', '<sip:a@b>,', '\\"', 'f']);
    const i = hs.length > 0 && rng.chance(0.85) ? rng.pick(hs) : 0;
    ls[i] = ls[i] + fill.repeat(Math.ceil(n / fill.length)).slice(0, n);
    return [ls.join('\r\n'), `hugeValue line ${i} +${n} ${JSON.stringify(fill)}`];
  },
  manyParams: (t, rng) => {
    const ls = lines(t);
    const hs = headerIndices(ls);
    if (hs.length === 0) return [t, 'manyParams none'];
    const i = rng.pick(hs);
    const n = rng.pick([10, 100, 1000, 5000]);
    const p = rng.pick([';a=b', ';lr', ';branch=z9hG4bK1', ';peer-ID=00', ';expires=1', ';received=1.2.3.4', ';rport', ',<sip:x@y>']);
    ls[i] = ls[i] + p.repeat(n);
    return [ls.join('\r\n'), `manyParams line ${i} ${JSON.stringify(p)} x${n}`];
  },
  manyHeaders: (t, rng) => {
    const ls = lines(t);
    const n = rng.pick([50, 500, 3000]);
    const name = rng.pick(HEADERS);
    const value = rng.pick(VALUES);
    ls.splice(1, 0, ...Array<string>(n).fill(`${name}: ${value}`));
    return [ls.join('\r\n'), `manyHeaders ${name} x${n}`];
  },
  contentLength: (t, rng) => {
    const v = rng.pick([...NUMBERS, String(rng.int(70_000)), String(rng.range(1, 50))]);
    const re = /^(Content-Length|l)[ \t]*:.*$/im;
    if (re.test(t) && rng.chance(0.8)) return [t.replace(re, `Content-Length: ${v}`), `contentLength ${JSON.stringify(v)}`];
    const ls = lines(t);
    ls.splice(1, 0, `Content-Length: ${v}`);
    return [ls.join('\r\n'), `contentLength added ${JSON.stringify(v)}`];
  },
  crlf: (t, rng) => {
    const at: number[] = [];
    for (let i = t.indexOf('\r\n'); i >= 0 && at.length < 200; i = t.indexOf('\r\n', i + 2)) at.push(i);
    if (at.length === 0) return [t, 'crlf none'];
    const i = rng.pick(at);
    const by = rng.pick(['', '\n', '\r', ' ', '\r\n\r\n', '\n\r', '\r\r\n']);
    return [t.slice(0, i) + by + t.slice(i + 2), `crlf @${i} -> ${JSON.stringify(by)}`];
  },
  fold: (t, rng) => {
    const ls = lines(t);
    const hs = headerIndices(ls);
    if (hs.length === 0) return [t, 'fold none'];
    const i = rng.pick(hs);
    const at = rng.int(ls[i]!.length + 1);
    ls[i] = ls[i]!.slice(0, at) + rng.pick(['\r\n ', '\r\n\t', '\r\n  \r\n ']) + ls[i]!.slice(at);
    return [ls.join('\r\n'), `fold line ${i} @${at}`];
  },
  number: (t, rng) => {
    const runs: Array<[number, number]> = [];
    const re = /\d+/g;
    for (let m = re.exec(t); m !== null && runs.length < 500; m = re.exec(t)) runs.push([m.index, m[0].length]);
    if (runs.length === 0) return [t, 'number none'];
    const [at, len] = rng.pick(runs);
    const v = rng.pick(NUMBERS);
    return [t.slice(0, at) + v + t.slice(at + len), `number @${at} ${JSON.stringify(v)}`];
  },
  method: (t, rng) => {
    const m = rng.pick(METHODS);
    const sp = t.indexOf(' ');
    if (sp < 0) return [m + ' ' + t, `method ${m}`];
    return [m + t.slice(sp), `method ${JSON.stringify(m.slice(0, 20))}`];
  },
  headerValue: (t, rng) => {
    const ls = lines(t);
    const hs = headerIndices(ls);
    const name = rng.pick(HEADERS);
    const value = rng.pick(VALUES);
    const line = `${name}:${rng.pick(['', ' ', '\t', '   '])}${value}`;
    if (hs.length > 0 && rng.chance(0.5)) ls[rng.pick(hs)] = line;
    else ls.splice(1 + rng.int(Math.max(1, hs.length)), 0, line);
    return [ls.join('\r\n'), `headerValue ${name}: ${value.slice(0, 40)}`];
  },
  emptyValue: (t, rng) => {
    const ls = lines(t);
    const hs = headerIndices(ls);
    if (hs.length === 0) return [t, 'emptyValue none'];
    const i = rng.pick(hs);
    const c = ls[i]!.indexOf(':');
    ls[i] = c >= 0 ? ls[i]!.slice(0, c + 1) : '';
    return [ls.join('\r\n'), `emptyValue line ${i}`];
  },
  utf8: (t, rng) => {
    const at = rng.int(t.length + 1);
    const s = rng.pick(['\xc3\x28', '\xa0\xa1', '\xe2\x28\xa1', '\xf0\x28\x8c\xbc', '\xf8\xa1\xa1\xa1\xa1', '\xed\xa0\x80', '\xef\xbb\xbf', '\xc0\xaf']);
    return [t.slice(0, at) + s + t.slice(at), `utf8 @${at}`];
  },
  splice: (t, rng, others) => {
    if (others.length === 0) return [t, 'splice none'];
    const o = rng.pick(others).toString('latin1');
    const from = rng.int(o.length + 1);
    const piece = o.slice(from, from + rng.range(1, 400));
    const at = rng.int(t.length + 1);
    return [t.slice(0, at) + piece + t.slice(at), `splice ${piece.length} @${at}`];
  },
  peerId: (t, rng) => {
    const re = /(peer-ID|pID)=([0-9a-fA-F]*)/g;
    const hits: Array<[number, number]> = [];
    for (let m = re.exec(t); m !== null; m = re.exec(t)) hits.push([m.index + m[1]!.length + 1, m[2]!.length]);
    const v = rng.pick(['', '0', 'f'.repeat(39), 'f'.repeat(41), 'g'.repeat(40), 'F'.repeat(40), '0'.repeat(40), '%30'.repeat(40), '0'.repeat(4096)]);
    if (hits.length === 0) return [t, 'peerId none'];
    const [at, len] = rng.pick(hits);
    return [t.slice(0, at) + v + t.slice(at + len), `peerId @${at} len ${v.length}`];
  },
};

/** Op names and weights: small local damage most often, huge inputs now and then. */
const WEIGHTS: Array<[string, number]> = [
  ['flip', 10],
  ['insert', 8],
  ['truncate', 4],
  ['duplicateHeader', 6],
  ['deleteHeader', 6],
  ['swapLines', 2],
  ['hugeValue', 2],
  ['manyParams', 2],
  ['manyHeaders', 1],
  ['contentLength', 6],
  ['crlf', 5],
  ['fold', 3],
  ['number', 8],
  ['method', 3],
  ['headerValue', 8],
  ['emptyValue', 4],
  ['utf8', 3],
  ['splice', 3],
  ['peerId', 4],
];
const TOTAL = WEIGHTS.reduce((s, [, w]) => s + w, 0);

function pickOp(rng: Rng): string {
  let r = rng.int(TOTAL);
  for (const [name, w] of WEIGHTS) {
    if (r < w) return name;
    r -= w;
  }
  return WEIGHTS[0]![0];
}

/** Rewrites Content-Length to the body's real length (so a stream frames it and the parser sees the damage). */
export function fixContentLength(bytes: Buffer): Buffer {
  const t = bytes.toString('latin1');
  const end = t.indexOf('\r\n\r\n');
  if (end < 0) return bytes;
  const body = t.length - end - 4;
  const head = t.slice(0, end);
  const re = /^(Content-Length|l)[ \t]*:.*$/gim;
  const fixed = re.test(head) ? head.replace(re, `Content-Length: ${body}`) : `${head}\r\nContent-Length: ${body}`;
  return Buffer.from(fixed + t.slice(end), 'latin1');
}

/**
 * 1-4 mutations of `seed` (one in 20 inputs is the seed unchanged: valid traffic among the
 * garbage keeps transactions, registrations and the overlay code busy). `maxBytes` cuts the result.
 */
export function mutate(seed: Buffer, rng: Rng, others: readonly Buffer[], maxBytes: number): Mutated {
  if (rng.chance(0.05)) return { bytes: seed.subarray(0, maxBytes), ops: ['none'] };
  let text = seed.toString('latin1');
  const ops: string[] = [];
  const n = rng.chance(0.6) ? 1 : rng.range(2, 4);
  for (let i = 0; i < n; i++) {
    const name = pickOp(rng);
    const [next, what] = OPS[name]!(text, rng, others);
    text = next.length > maxBytes * 2 ? next.slice(0, maxBytes * 2) : next;
    ops.push(what);
  }
  const bytes = Buffer.from(text, 'latin1');
  return { bytes: bytes.length > maxBytes ? bytes.subarray(0, maxBytes) : bytes, ops };
}
