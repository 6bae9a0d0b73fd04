/**
 * `DHT-Candidate: <stun:IP:PORT>;role=peer|client;prio=P[;turn="turn:IP:PORT"][;load=N]` (PROTOCOL.md
 * section 5), one STUN/TURN server candidate per header line. `load=N` is kadsip's
 * (docs/PROTOCOL.md section 7): the figure the candidate advertised in its DHT-PeerID as the
 * offering peer last heard it, 0..65535; other implementations ignore it as an unknown parameter.
 *
 * PROTOCOL.md writes the TURN address as `;turn=<turn:IP:PORT>`, which is no valid SIP
 * generic-param value (RFC 3261 section 25.1 allows a token, a host or a quoted string), so a strict
 * parser would refuse the whole header: kadsip writes it quoted and reads either form.
 */
import { MAX_LOAD } from '../common/load.js';
import type { Candidate } from '../overlay/messages.js';
import { parseUint } from '../sip/message/chars.js';
import type { SipMessage } from '../sip/message/index.js';
import { canonicalIp, splitAddress, addressOf } from './peer-uri.js';

export const DHT_CANDIDATE_HEADER = 'DHT-Candidate';

export function formatCandidate(c: Candidate): string {
  return `<stun:${c.stun}>;role=${c.role};prio=${c.priority}${c.turn ? `;turn="turn:${c.turn}"` : ''}${validLoad(c.load) ? `;load=${c.load}` : ''}`;
}

function validLoad(load: number | undefined): load is number {
  return load !== undefined && Number.isInteger(load) && load >= 0 && load <= MAX_LOAD;
}

/** One header value, or null when it is not a candidate this profile can use (never throws). */
export function parseCandidate(value: string): Candidate | null {
  const m = /^\s*<stun:([^>]+)>((?:\s*;\s*[^;]*)*)$/i.exec(value);
  if (!m) return null;
  const stun = normalAddress(m[1]!);
  if (!stun) return null;
  let role: Candidate['role'] = 'peer';
  let priority = 1;
  let turn: string | undefined;
  let load: number | undefined;
  for (const part of m[2]!.split(';').map((p) => p.trim()).filter((p) => p.length > 0)) {
    const eq = part.indexOf('=');
    const name = (eq < 0 ? part : part.slice(0, eq)).trim().toLowerCase();
    const raw = eq < 0 ? '' : part.slice(eq + 1).trim();
    if (name === 'role') {
      if (raw !== 'peer' && raw !== 'client') return null;
      role = raw;
    } else if (name === 'prio') {
      if (!/^\d{1,3}$/.test(raw)) return null;
      priority = Number(raw);
    } else if (name === 'turn') {
      const inner = /^(?:"turn:([^"]+)"|<turn:([^>]+)>)$/i.exec(raw);
      const address = inner ? normalAddress(inner[1] ?? inner[2] ?? '') : null;
      if (!address) return null;
      turn = address;
    } else if (name === 'load') {
      const n = parseUint(raw, MAX_LOAD);
      if (n === null) return null;
      load = n;
    }
  }
  return { stun, role, priority, ...(turn ? { turn } : {}), ...(load !== undefined ? { load } : {}) };
}

/** Every usable candidate of a message, at most `max`; unusable lines are skipped. */
export function readCandidates(msg: SipMessage, max: number): Candidate[] {
  const out: Candidate[] = [];
  for (const line of msg.headers.getAll(DHT_CANDIDATE_HEADER.toLowerCase())) {
    for (const value of line.split(/,(?=\s*<)/)) {
      if (out.length >= max) return out;
      const c = parseCandidate(value);
      if (c) out.push(c);
    }
  }
  return out;
}

function normalAddress(text: string): string | null {
  const a = splitAddress(text.trim());
  if (!a || a.port === 0) return null;
  const ip = canonicalIp(a.host);
  return ip === null ? null : addressOf(ip, a.port);
}
