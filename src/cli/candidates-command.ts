/**
 * `kadsip candidates --http IP:PORT`: the STUN/TURN servers a running node received from the
 * overlay (draft-jiang; PROTOCOL.md section 5), read from its GET /status. A user behind NAT
 * configures the phone's media NAT traversal with them (baresip: `;medianat=turn;stunserver=...`).
 * One line per candidate (with its load figure when the offering peer knew it); `--turn` prints only the TURN addresses, one per line, for scripts;
 * `--json` the list as JSON. Exit 0 something printed, 1 none known, 2 error.
 */
import type { Candidate } from '../overlay/messages.js';
import { addressFlag, failer } from './flags.js';

export interface CandidatesFlags {
  http: string;
  turn?: boolean;
  json?: boolean;
  timeout?: string;
}

export async function runCandidates(flags: CandidatesFlags, out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const fail = failer('candidates');
  const at = addressFlag(flags.http, 'http', 8080);
  if (typeof at === 'string') return fail(at);
  const host = at.host.includes(':') ? `[${at.host}]` : at.host;
  const timeoutS = Number(flags.timeout ?? '5');
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) return fail(`--timeout "${flags.timeout}" is not a positive number`);
  let status: { discoveredCandidates?: Candidate[] };
  try {
    const res = await fetch(`http://${host}:${at.port}/status`, { signal: AbortSignal.timeout(timeoutS * 1000) });
    if (!res.ok) return fail(`GET /status at ${flags.http} answered ${res.status}`);
    status = (await res.json()) as typeof status;
  } catch (e) {
    return fail(`no /status at ${flags.http} (is a kadsip node running with --http there?): ${(e as Error).message}`);
  }
  if (!Array.isArray(status.discoveredCandidates)) return fail(`the node at ${flags.http} does not list its candidates (an older kadsip?)`);
  const candidates = flags.turn ? status.discoveredCandidates.filter((c) => c.turn) : status.discoveredCandidates;
  if (flags.json) out(JSON.stringify(candidates) + '\n');
  else if (flags.turn) for (const c of candidates) out(`${c.turn}\n`);
  else for (const c of candidates) out(`stun=${c.stun}${c.turn ? ` turn=${c.turn}` : ''} role=${c.role} prio=${c.priority}${c.load !== undefined ? ` load=${c.load}` : ''}\n`);
  return candidates.length > 0 ? 0 : 1;
}
