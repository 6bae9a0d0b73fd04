/**
 * `kadsip lookup <sip-uri | peer-ID> --via IP:PORT`: asks the overlay through a running node as a
 * one-shot client (src/node/lookup-client.ts), in the node's own overlay (learnt on first contact;
 * `--overlay NAME` makes sure it is that one). Prints what it found, which overlay answered, the
 * rounds (hops) and the time; exit 0 found, 1 not found, 2 error. In a closed overlay the client
 * needs a certificate of its CA (`--ca-cert --cert --key`), in a secret one the secret
 * (`--overlay-secret-file`), as any peer does (PROTOCOL.md 11.2, 11.3).
 */
import { lookupThrough, type ClientTrust } from '../node/lookup-client.js';
import { loadTrustMaterial, TrustMaterialError } from '../trust/material.js';
import { loadOverlaySecret, OverlaySecretError } from '../trust/overlay-secret.js';
import { idFromHex, idToHex, type NodeId } from '../overlay/id.js';
import { resourceId } from '../overlay/peer-id.js';
import { canonicalAor, parseUri } from '../sip/message/index.js';
import { addressFlag, failer } from './flags.js';

export interface LookupFlags {
  via: string;
  overlay?: string;
  timeout: string;
  json?: boolean;
  caCert?: string;
  cert?: string;
  key?: string;
  overlaySecretFile?: string;
}

/** The client's trust from its flags: a certificate of the CA, the overlay secret, or none; a string says what is wrong. */
export function clientTrustOf(flags: Pick<LookupFlags, 'caCert' | 'cert' | 'key' | 'overlaySecretFile'>): ClientTrust | undefined | string {
  const given = (['caCert', 'cert', 'key'] as const).filter((k) => flags[k] !== undefined);
  if (given.length > 0 && flags.overlaySecretFile !== undefined) return '--overlay-secret-file and --ca-cert exclude each other';
  if (given.length > 0 && given.length < 3) return 'a closed overlay needs --ca-cert, --cert and --key together';
  try {
    if (flags.caCert !== undefined && flags.cert !== undefined && flags.key !== undefined) {
      return { material: loadTrustMaterial({ caCert: flags.caCert, cert: flags.cert, key: flags.key }) };
    }
    if (flags.overlaySecretFile !== undefined) return { secret: loadOverlaySecret(flags.overlaySecretFile) };
  } catch (e) {
    if (e instanceof TrustMaterialError || e instanceof OverlaySecretError) return e.message;
    throw e;
  }
  return undefined;
}

type LookupTarget = { kind: 'value'; key: NodeId; aor: string } | { kind: 'node'; key: NodeId };

export function parseLookupTarget(text: string): LookupTarget | string {
  const id = idFromHex(text);
  if (id !== null) return { kind: 'node', key: id };
  const uri = parseUri(text);
  if (!uri.ok || !('host' in uri.value)) return `"${text}" is neither a SIP URI nor a 40-hex-digit peer-ID`;
  const aor = canonicalAor(uri.value);
  return { kind: 'value', key: resourceId(aor), aor };
}

export async function runLookup(text: string, flags: LookupFlags): Promise<number> {
  const fail = failer('lookup');
  const target = parseLookupTarget(text);
  if (typeof target === 'string') return fail(target);
  const via = addressFlag(flags.via, 'via', 5060);
  if (typeof via === 'string') return fail(via);
  const timeoutS = Number(flags.timeout);
  if (!Number.isFinite(timeoutS) || timeoutS <= 0) return fail(`--timeout "${flags.timeout}" is not a positive number`);

  const trust = clientTrustOf(flags);
  if (typeof trust === 'string') return fail(trust);

  const started = performance.now();
  const outcome = await lookupThrough(via, target, { ...(flags.overlay !== undefined ? { overlay: flags.overlay } : {}), timeoutMs: timeoutS * 1000, ...(trust ? { trust } : {}) });
  const ms = Math.round(performance.now() - started);
  if (outcome.kind === 'timeout') return fail(`no answer within ${timeoutS} s`);
  if (outcome.kind === 'via-silent') return fail(`${flags.via} did not answer (is a kadsip node listening there?)`);
  if (outcome.kind === 'via-refused') return fail(`${flags.via} refused a first contact: ${outcome.status} ${outcome.reason}`);
  if (outcome.kind === 'wrong-overlay') return fail(`${flags.via} is a node of overlay "${outcome.overlay}", not "${flags.overlay}"`);
  const result = outcome.result;
  const found = target.kind === 'value' ? result.bindings.length > 0 : result.closest[0]?.id === target.key;
  const report = {
    target: text,
    kind: target.kind === 'value' ? 'FIND_VALUE' : 'FIND_NODE',
    overlay: outcome.overlay,
    key: idToHex(target.key),
    found,
    bindings: result.bindings.map((b) => ({ uri: b.value, expires_s: Math.round(b.ttlMs / 1000) })),
    peer: target.kind === 'node' && found ? result.closest[0]!.address : undefined,
    answered_by: result.valueFrom?.address,
    hops: result.rounds,
    rpcs: result.rpcs,
    time_ms: ms,
  };
  if (flags.json) {
    process.stdout.write(JSON.stringify(report) + '\n');
  } else if (found) {
    if (target.kind === 'value') for (const b of report.bindings) process.stdout.write(`${b.uri}\texpires ${b.expires_s}s\n`);
    else process.stdout.write(`${report.peer}\n`);
    process.stdout.write(`found in overlay "${report.overlay}" in ${report.hops} hops (${report.rpcs} requests), ${ms} ms\n`);
  } else {
    process.stdout.write(`not found in overlay "${report.overlay}" after ${report.hops} hops (${report.rpcs} requests), ${ms} ms\n`);
  }
  return found ? 0 : 1;
}
