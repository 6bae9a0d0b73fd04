/**
 * Who may store, replace and remove a binding, and which fetched bindings to believe. The P2PSIP
 * charter requires that data stored in the overlay be authenticated by whoever stored it; the core
 * knows nothing of certificates or signatures, so a binding's `proof` is opaque here and the policy
 * a node is built with reads it: src/trust for a SIP node (signatures chained to the overlay's CA,
 * or MACs under the overlay secret), the simulator's own for runs with hostile nodes, and the open
 * policy (believe everything) for an open overlay.
 */
import type { NodeId } from './id.js';
import type { Binding, OverlayErrorReason } from './messages.js';

export type PolicyVerdict = { readonly ok: true } | { readonly ok: false; readonly reason: OverlayErrorReason; readonly detail?: string };

export interface RecordPolicy {
  /**
   * At a storing peer, before a STORE changes anything (all or nothing): may these bindings be
   * stored under `key`? `held` is what is stored under `key` now (with its proofs), for the
   * replace-only-by-the-same-signer and replay rules.
   */
  admitStore(key: NodeId, bindings: readonly Binding[], held: readonly Binding[], now: number): PolicyVerdict;
  /** At a storing peer, before a REMOVE: `removals` name the values to remove, each with its removal proof. */
  admitRemove(key: NodeId, removals: readonly Binding[], held: readonly Binding[], now: number): PolicyVerdict;
  /** At a fetching node: whether a binding an answer carried is genuine (false: it is dropped, never used). */
  acceptFetched(key: NodeId, binding: Binding, now: number): boolean;
}

const ADMITTED: PolicyVerdict = { ok: true };

/**
 * The bindings of `key` the policy believes at `now`: all of them under the open policy (without
 * asking it), else those acceptFetched passes. What a node holds was admitted when stored, but a
 * proof can expire or its signer be revoked since, so a holder judges what it serves, hands over
 * and uses itself as it judges what it fetches.
 */
export function believed(records: RecordPolicy, key: NodeId, bindings: readonly Binding[], now: number): Binding[] {
  return records === OPEN_RECORD_POLICY ? [...bindings] : bindings.filter((b) => records.acceptFetched(key, b, now));
}

/** An open overlay (the embedded default): every binding is believed, as before there was trust. */
export const OPEN_RECORD_POLICY: RecordPolicy = {
  admitStore: () => ADMITTED,
  admitRemove: () => ADMITTED,
  acceptFetched: () => true,
};
