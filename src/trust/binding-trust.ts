/**
 * What a node of each trust mode (PROTOCOL.md section 11) does with bindings, in one place: the
 * record policy its overlay core asks (src/overlay/record-policy.ts), the signer of what it
 * publishes, and the signers' certificates its messages carry. Open: none of them (everything is
 * believed, as before trust). Secret: MACs under the overlay secret. Closed: signatures by
 * enrolled nodes, checked against the overlay CA.
 */
import type { KeyObject } from 'node:crypto';
import type { Logger } from '../common/logger.js';
import type { Binding } from '../overlay/messages.js';
import type { RecordPolicy } from '../overlay/record-policy.js';
import { bindingMacKey } from './binding-proof.js';
import { BindingSigner } from './binding-signer.js';
import { macRecordPolicy, signedRecordPolicy, signerCertificates, type SignerAnchor, type SignerDirectory, type SignerIdentity } from './record-policy.js';

/** The node's trust mode as src/node/trust-mode.ts loads it (the parts bindings need). */
export type BindingTrustMode =
  | { readonly mode: 'open' }
  | { readonly mode: 'secret'; readonly secret: Uint8Array }
  | {
      readonly mode: 'closed';
      readonly material: { readonly own: SignerIdentity; readonly key: KeyObject; readonly anchor: SignerAnchor };
      /** The certificates peers showed (A's CertificateCache). */
      readonly cache: SignerDirectory;
    };

export interface BindingTrust {
  /** The overlay core's record policy; undefined: the open policy. */
  readonly records?: RecordPolicy;
  /** Signs this node's publications and removals; undefined: they go without proofs. */
  readonly signer?: BindingSigner;
  /** The signers' certificates a message carrying these bindings adds (DHT-Cert). */
  readonly signerCertificates?: (bindings: readonly Binding[]) => readonly Uint8Array[];
}

/** `now`: wall-clock time, which proofs and certificates are dated in (not the core's monotonic clock). */
export function bindingTrust(trust: BindingTrustMode, log: Logger, now: () => number = Date.now): BindingTrust {
  switch (trust.mode) {
    case 'open':
      return {};
    case 'secret': {
      const macKey = bindingMacKey(trust.secret);
      return { records: macRecordPolicy(macKey, { log, wallClock: now }), signer: new BindingSigner({ kind: 'mac', macKey }, now) };
    }
    case 'closed': {
      const { own, key, anchor } = trust.material;
      // This node's own certificate is a signer like any other, though no peer ever shows it to us.
      const signers: SignerDirectory = { byFingerprint: (fp) => (fp === own.fingerprint ? own : trust.cache.byFingerprint(fp)) };
      return {
        records: signedRecordPolicy(signers, anchor, { log, wallClock: now }),
        signer: new BindingSigner({ kind: 'sig', key, fingerprint: own.fingerprint }, now),
        signerCertificates: (bindings) => signerCertificates(bindings, signers, own.fingerprint),
      };
    }
  }
}
