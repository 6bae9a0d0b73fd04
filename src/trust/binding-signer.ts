/**
 * Signs what this node publishes in the overlay (PROTOCOL.md 11.4; the MAC of 11.3 in a secret
 * overlay): one proof per publication, which the overlay core then republishes as is until it
 * expires, and a removal proof when the node withdraws it. Sequence numbers are the signing time,
 * strictly increasing; a removal's expiry is the one of the publication it removes, so the storing
 * peers' tombstone lasts as long as a replay of that publication could.
 */
import type { KeyObject } from 'node:crypto';
import { resourceId } from '../overlay/peer-id.js';
import { macBinding, SequenceClock, signBinding, type SignedFields } from './binding-proof.js';

/** How this node proves its bindings: its certificate key, or the overlay secret's MAC key. */
export type BindingAuthority = { readonly kind: 'sig'; readonly key: KeyObject; readonly fingerprint: string } | { readonly kind: 'mac'; readonly macKey: Uint8Array };

/** Expiry of a removal proof for a publication this signer does not remember (it signed it before a restart). */
const UNKNOWN_PUBLICATION_TTL_MS = 24 * 3_600_000;
/** Publications remembered for their removal's expiry, at most (one per AoR and contact this node serves). */
const REMEMBERED_MAX = 100_000;

export class BindingSigner {
  private readonly seq = new SequenceClock();
  /** `${aor} ${contact}` -> expiry (Unix seconds) of the last publication signed. */
  private readonly published = new Map<string, number>();

  constructor(
    private readonly authority: BindingAuthority,
    private readonly now: () => number = Date.now,
  ) {}

  /** The proof of publishing `contact` under `aor` for ttlMs from now. */
  publication(aor: string, contact: string, ttlMs: number): string {
    const now = this.now();
    const expiresAtS = Math.ceil((now + ttlMs) / 1000);
    const name = `${aor} ${contact}`;
    this.published.delete(name);
    if (this.published.size >= REMEMBERED_MAX) this.published.delete(this.published.keys().next().value!);
    this.published.set(name, expiresAtS);
    return this.prove({ op: 'store', key: resourceId(aor), aor, contact, expiresAtS, seq: this.seq.next(now) });
  }

  /** The proof of removing `contact` from `aor`. */
  removal(aor: string, contact: string): string {
    const now = this.now();
    const name = `${aor} ${contact}`;
    const expiresAtS = this.published.get(name) ?? Math.ceil((now + UNKNOWN_PUBLICATION_TTL_MS) / 1000);
    this.published.delete(name);
    return this.prove({ op: 'remove', key: resourceId(aor), aor, contact, expiresAtS: Math.max(expiresAtS, Math.ceil(now / 1000) + 1), seq: this.seq.next(now) });
  }

  private prove(fields: SignedFields): string {
    return this.authority.kind === 'sig' ? signBinding(fields, this.authority.key, this.authority.fingerprint) : macBinding(fields, this.authority.macKey);
  }
}
