/**
 * Phones' registrations and their shadow in the overlay (PROTOCOL.md section 4): the registrar
 * keeps the bindings here; when an AoR gains its first binding this node STOREs
 * `AoR -> sip:user@THIS_NODE` in the overlay, keeps it fresh while the phone refreshes, and
 * REMOVEs it when the last binding goes (unregister or expiry).
 */
import type { Logger } from '../common/logger.js';
import type { Clock } from '../common/clock.js';
import { splitAddress } from '../dsip/index.js';
import { hour, minute } from '../overlay/constants.js';
import { resourceId } from '../overlay/peer-id.js';
import { aorBecameReachable, aorBecameUnreachable, type BindingChange, type Registrar, type RegisterResult } from '../registrar/index.js';
import { getCallId, type SipRequest } from '../sip/message/index.js';
import type { ServerTransaction } from '../sip/transaction/index.js';
import { PerSourceRateLimit } from '../sip/transport/bad-input-log.js';
import { aorRecordValue } from './aor-record.js';
import type { OverlayPort, OverlayRecord } from './overlay-port.js';

/** Lifetime of the overlay record; renewed on a phone's refresh once half of it has gone. */
export const PUBLICATION_TTL_MS = hour;
export const RENEW_AFTER_MS = 30 * minute;

/**
 * Proves the records this node publishes in a closed or secret overlay (PROTOCOL.md 11.3, 11.4):
 * src/trust/binding-signer.ts. Without one (an open overlay) records go without proofs.
 */
export interface RecordSigner {
  /** The proof of publishing `contact` under `aor` for ttlMs from now. */
  publication(aor: string, contact: string, ttlMs: number): string;
  /** The proof of removing `contact` from `aor`. */
  removal(aor: string, contact: string): string;
}

/** "REGISTER refused" at most once a minute per source address, over at most this many sources. */
const REFUSED_LOG_INTERVAL_MS = 60_000;
const REFUSED_LOG_SOURCES = 1024;

export class Registrations {
  private readonly publishedAt = new Map<string, number>();
  /**
   * A phone (or an attacker) sending refused REGISTERs in a loop gets one log line a minute, not one
   * per request: under fuzzing, one in 50 inputs was a refused REGISTER and the log grew with them.
   */
  private readonly refusedLog: PerSourceRateLimit;
  private readonly self: { host: string; port: number };

  constructor(
    private readonly registrar: Registrar,
    private readonly overlay: Pick<OverlayPort, 'publish' | 'unpublish'>,
    /** This node's address, IP:PORT, written into the overlay records. */
    selfAddress: string,
    private readonly clock: Clock,
    private readonly log: Logger,
    private readonly onChange: (aor: string) => void,
    /**
     * False for a client behind a symmetric NAT (PROTOCOL.md section 10): no peer could reach this
     * node at any address it could publish, so its attach peer publishes its AoRs instead
     * (src/p2psip/attach-relay.ts, driven by onChange).
     */
    private readonly publishes = true,
    /** Signs each publication once (the overlay republishes the same proof) and each removal. */
    private readonly signer?: RecordSigner,
  ) {
    this.refusedLog = new PerSourceRateLimit(REFUSED_LOG_SOURCES, REFUSED_LOG_INTERVAL_MS, () => clock.now());
    const self = splitAddress(selfAddress);
    if (!self) throw new RangeError(`not an IP:PORT address: ${selfAddress}`);
    this.self = self;
  }

  /** Answers a REGISTER; the result tells the node's policy how digest authentication went. */
  handle(request: SipRequest, txn: ServerTransaction): RegisterResult {
    const result = this.registrar.handle(request, txn.source, this.clock.now());
    txn.respond(result.response);
    // A 401 without credentials is every phone's first try, not worth a line.
    if (result.response.status >= 300 && result.authFailure !== 'no-credentials' && this.refusedLog.allow(txn.source.host)) {
      this.log.info({ callId: safeCallId(request), status: result.response.status, aor: result.aor, source: txn.source.host }, 'REGISTER refused');
    }
    this.apply(result.changes);
    return result;
  }

  /** Called every second or so: bindings that lapsed leave the overlay too. */
  tick(): void {
    this.apply(this.registrar.expire(this.clock.now()));
  }

  /**
   * Publishes every AoR that has a binding now, whatever was published before: a node that rejoined
   * under a new Peer-ID and address (its NAT mapping changed, PROTOCOL.md section 10) builds a new
   * Registrations over its new overlay core and calls this. Returns the AoRs published.
   */
  republishAll(): string[] {
    if (!this.publishes) return [];
    const now = this.clock.now();
    const aors = [...this.registrar.aors()].filter((aor) => this.registrar.lookup(aor, now).length > 0);
    for (const aor of aors) {
      this.publishedAt.set(aor, now);
      this.publish(aor);
    }
    return aors;
  }

  /**
   * After a rejoin under a new address (PROTOCOL.md section 10.4), on the Registrations built for
   * it: publishes every AoR with a binding under the new address and REMOVEs the records that name
   * `previous`'s address (any peer may REMOVE a value, section 3). Returns the AoRs.
   */
  takeOver(previous: Registrations): string[] {
    const aors = this.republishAll();
    for (const aor of aors) {
      const stale = previous.recordValue(aor);
      if (stale !== this.recordValue(aor)) this.overlay.unpublish(resourceId(aor), [stale], () => undefined, this.removalProofs(aor, stale));
    }
    return aors;
  }

  /** The overlay record this node stores for an AoR it serves. */
  recordValue(aor: string): string {
    return aorRecordValue(aor, this.self);
  }

  /** The record this node publishes for an AoR it serves, with its proof when the overlay wants one. */
  record(aor: string, ttlMs: number = PUBLICATION_TTL_MS): OverlayRecord {
    const value = this.recordValue(aor);
    return this.signer ? { value, ttlMs, proof: this.signer.publication(aor, value, ttlMs) } : { value, ttlMs };
  }

  /** The removal proof of `value` (default: this node's record) for unpublish, when the overlay wants one. */
  removalProofs(aor: string, value: string = this.recordValue(aor)): ReadonlyMap<string, string> | undefined {
    return this.signer ? new Map([[value, this.signer.removal(aor, value)]]) : undefined;
  }

  private publish(aor: string): void {
    this.overlay.publish(resourceId(aor), [this.record(aor)], (storedAt) => {
      this.log.info({ aor, storedAt }, 'registration published in the overlay');
    });
  }

  private apply(changes: readonly BindingChange[]): void {
    if (changes.length === 0) return;
    if (!this.publishes) {
      for (const aor of new Set(changes.map((c) => c.aor))) this.onChange(aor);
      return;
    }
    const now = this.clock.now();
    const gone = new Set(aorBecameUnreachable(changes));
    const renew = new Set(aorBecameReachable(changes));
    for (const change of changes) {
      this.onChange(change.aor);
      if ((change.kind === 'added' || change.kind === 'refreshed') && !gone.has(change.aor)) {
        const at = this.publishedAt.get(change.aor);
        if (at === undefined || now - at >= RENEW_AFTER_MS) renew.add(change.aor);
      }
    }
    for (const aor of renew) {
      this.publishedAt.set(aor, now);
      this.publish(aor);
    }
    for (const aor of gone) {
      this.publishedAt.delete(aor);
      this.overlay.unpublish(
        resourceId(aor),
        [this.recordValue(aor)],
        (removedAt) => this.log.info({ aor, removedAt }, 'registration removed from the overlay'),
        this.removalProofs(aor),
      );
    }
  }
}

function safeCallId(request: SipRequest): string | undefined {
  try {
    return getCallId(request);
  } catch {
    return undefined;
  }
}
