/**
 * `kadsip candidates --http IP:PORT`: the STUN/TURN servers a running node received from the
 * overlay (draft-jiang; PROTOCOL.md section 5), read from its GET /status. `--via IP:PORT` asks any
 * node over SIP instead, as a newcomer does on first contact (DHT-Candidates-Wanted on a PING):
 * what that node offers, its own service first. A user behind NAT
 * configures the phone's media NAT traversal with them (baresip: `;medianat=turn;stunserver=...`).
 * One line per candidate (with its load figure when the offering peer knew it); `--turn` prints only the TURN addresses, one per line, for scripts;
 * `--json` the list as JSON. Exit 0 something printed, 1 none known, 2 error. `--via` to a node of
 * a closed overlay needs a certificate of its CA (`--ca-cert --cert --key`), of a secret one the
 * secret (`--overlay-secret-file`), as `kadsip lookup` does.
 */
import { hostForWire } from '../common/host-port.js';
import { candidatesThrough, type ClientTrust } from '../node/lookup-client.js';
import { DEFAULT_CANDIDATES_WANTED } from '../overlay/candidates.js';
import type { Candidate } from '../overlay/messages.js';
import { addressFlag, failer } from './flags.js';
import { clientTrustOf, type LookupFlags } from './lookup-command.js';

export interface CandidatesFlags {
  http?: string;
  via?: string;
  turn?: boolean;
  json?: boolean;
  timeout?: string;
  caCert?: LookupFlags['caCert'];
  cert?: LookupFlags['cert'];
  key?: LookupFlags['key'];
  overlaySecretFile?: LookupFlags['overlaySecretFile'];
}

export async function runCandidates(flags: CandidatesFlags, out: (text: string) => void = (t) => process.stdout.write(t)): Promise<number> {
  const fail = failer('candidates');
  if ((flags.http === undefined) === (flags.via === undefined)) return fail('give one of --http IP:PORT (a node of yours) or --via IP:PORT (any node, over SIP)');
  const timeoutS = Number(flags.timeout ?? '5');
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) return fail(`--timeout "${flags.timeout}" is not a positive number`);
  const trust = clientTrustOf(flags);
  if (typeof trust === 'string') return fail(trust);
  const listed = flags.via !== undefined ? await viaSip(flags.via, timeoutS, trust) : await viaStatus(flags.http!, timeoutS);
  if (typeof listed === 'string') return fail(listed);
  const candidates = flags.turn ? listed.filter((c) => c.turn) : listed;
  if (flags.json) out(JSON.stringify(candidates) + '\n');
  else if (flags.turn) for (const c of candidates) out(`${c.turn}\n`);
  else for (const c of candidates) out(`stun=${c.stun}${c.turn ? ` turn=${c.turn}` : ''} role=${c.role} prio=${c.priority}${c.load !== undefined ? ` load=${c.load}` : ''}\n`);
  return candidates.length > 0 ? 0 : 1;
}

/** What the node received from the overlay, from its GET /status. */
async function viaStatus(http: string, timeoutS: number): Promise<Candidate[] | string> {
  const at = addressFlag(http, 'http', 8080);
  if (typeof at === 'string') return at;
  const host = hostForWire(at.host);
  let status: { discoveredCandidates?: Candidate[] };
  try {
    const res = await fetch(`http://${host}:${at.port}/status`, { signal: AbortSignal.timeout(timeoutS * 1000) });
    if (!res.ok) return `GET /status at ${http} answered ${res.status}`;
    status = (await res.json()) as typeof status;
  } catch (e) {
    return `no /status at ${http} (is a kadsip node running with --http there?): ${(e as Error).message}`;
  }
  if (!Array.isArray(status.discoveredCandidates)) return `the node at ${http} does not list its candidates (an older kadsip?)`;
  return status.discoveredCandidates;
}

/** What the node offers a newcomer that asks for candidates on first contact (its own service first). */
async function viaSip(via: string, timeoutS: number, trust: ClientTrust | undefined): Promise<Candidate[] | string> {
  const at = addressFlag(via, 'via', 5060);
  if (typeof at === 'string') return at;
  const outcome = await candidatesThrough(at, { wanted: DEFAULT_CANDIDATES_WANTED, timeoutMs: timeoutS * 1000, ...(trust ? { trust } : {}) });
  if (outcome.kind === 'via-silent') return `${via} did not answer (is a kadsip node listening there?)`;
  if (outcome.kind === 'via-refused') return `${via} refused a first contact: ${outcome.status} ${outcome.reason}`;
  return outcome.candidates;
}
