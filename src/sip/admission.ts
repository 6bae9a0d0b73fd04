/**
 * Admission control: whether a NEW request may start a server transaction, decided before any
 * state is created (TransactionLayer.setAdmission). Retransmissions, ACKs and CANCELs of
 * transactions in progress never get here or always pass; this decides only what would start new
 * work.
 *
 *  - In-dialog requests (a To tag, RFC 3261 12.2) and CANCEL (9.2: it belongs to an INVITE in
 *    progress) pass: dialogs and transactions in progress continue under overload.
 *  - Peer requests (the overlay, told by `isPeer`) draw on the overlay budget, a node-wide bucket of
 *    their own: a phone flood never takes what the overlay's maintenance and lookups need, and the
 *    overload detector does not shed them.
 *  - Every other request is a phone's (or a PBX's) new out-of-dialog request: the per-source limit
 *    (src/common/source-limiter.ts, keyed by IP address, an IPv6 /64), scaled down by the overload
 *    detector's factor (src/common/overload-detector.ts): under overload the heaviest sources
 *    are cut first and a phone's few requests a minute keep going. While overloaded, a source the
 *    table does not know is refused too (a spray of spoofed addresses that each send one request
 *    gets nothing through); with no per-source limit configured, overload sheds at random instead,
 *    with the probability 1 - factor.
 *
 * Refused: 503 Service Unavailable with Retry-After (RFC 3261 21.5.4: the server is overloaded,
 * the client may retry after that long), sent statelessly (8.2.6), so a flood makes no
 * transaction. A source that keeps sending at more than ten times its limit is dropped without an
 * answer (source-limiter.ts says why). Each source refused is logged once a minute at most.
 */
import type { Clock } from '../common/clock.js';
import type { Logger } from '../common/logger.js';
import { SourceLimiter } from '../common/source-limiter.js';
import { getTo, tagOf, type SipRequest } from './message/index.js';
import type { AdmissionVerdict } from './transaction/index.js';
import { PerSourceRateLimit } from './transport/bad-input-log.js';
import type { Endpoint } from './transport/index.js';

/** Retry-After under node-wide overload: OVERLOAD_RETRY_S plus up to as much again at random, so refused clients do not all come back in the same second (RFC 6357 section 3.3). */
export const OVERLOAD_RETRY_S = 5;
const LOG_INTERVAL_MS = 60_000;

export interface AdmissionOptions {
  /** New out-of-dialog requests per second per phone source; 0: no per-source limit. */
  readonly sourceRate: number;
  /** Sources remembered (the bound on the table). */
  readonly maxSources: number;
  /** Peer requests per second, node-wide; 0: no overlay budget. */
  readonly overlayRate: number;
  readonly isPeer: (request: SipRequest) => boolean;
  /** The overload detector's admission factor now, (0, 1]; default always 1. */
  readonly factor?: () => number;
  /**
   * Sources of the operator's trusted networks (the PBX beside the node, its own LAN; loopback by
   * default): never refused as newcomers under overload, as Kamailio configurations skip pike for
   * trusted addresses. Their per-source rate still applies. Default: none.
   */
  readonly isTrusted?: (host: string) => boolean;
  readonly clock: Pick<Clock, 'now'>;
  readonly log: Logger;
  readonly random?: () => number;
}

export interface AdmissionStats {
  /** New requests admitted (phones and peers). */
  admitted: number;
  /** 503s sent for a source over its rate. */
  rejectedSource: number;
  /** 503s sent because the node is overloaded (a source new to it, or shed at random with no per-source limit). */
  rejectedOverload: number;
  /** 503s sent to peer requests over the overlay budget. */
  rejectedOverlay: number;
  /** Requests dropped without an answer (a source past ten times its rate). */
  dropped: number;
}

/** The part of an address a source is counted by: the IP; for IPv6 its /64 (one subscriber's prefix, RFC 6177). */
export function sourceKey(host: string): string {
  if (!host.includes(':')) return host;
  const [head = '', tail] = host.split('::');
  const left = head === '' ? [] : head.split(':');
  const right = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? left : [...left, ...Array<string>(Math.max(0, 8 - left.length - right.length)).fill('0'), ...right];
  return `${groups.slice(0, 4).map((g) => g.toLowerCase().replace(/^0+(?=.)/, '')).join(':')}::/64`;
}

/** A bucket without a key: the overlay budget. */
class Bucket {
  #tokens: number;
  #at: number;
  constructor(private readonly clock: Pick<Clock, 'now'>, private readonly rate: number) {
    this.#tokens = 2 * rate;
    this.#at = clock.now();
  }
  take(): boolean {
    const now = this.clock.now();
    this.#tokens = Math.min(2 * this.rate, this.#tokens + (Math.max(0, now - this.#at) / 1000) * this.rate);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

export class Admission {
  readonly stats: AdmissionStats = { admitted: 0, rejectedSource: 0, rejectedOverload: 0, rejectedOverlay: 0, dropped: 0 };
  readonly #opts: AdmissionOptions;
  readonly #sources: SourceLimiter;
  readonly #overlay: Bucket;
  readonly #logged: PerSourceRateLimit;
  readonly #random: () => number;

  constructor(opts: AdmissionOptions) {
    this.#opts = opts;
    this.#sources = new SourceLimiter({ rate: opts.sourceRate, maxSources: opts.maxSources, clock: opts.clock });
    this.#overlay = new Bucket(opts.clock, opts.overlayRate);
    this.#logged = new PerSourceRateLimit(Math.min(opts.maxSources, 1024), LOG_INTERVAL_MS, () => opts.clock.now());
    this.#random = opts.random ?? Math.random;
  }

  /** Sources refused or dropped in the last 10 s. */
  limitedSources(): number {
    return this.#sources.limitedSources();
  }

  /**
   * For SipTransport.setEarlyDrop: a phone source being dropped (past ten times its rate) is
   * dropped unparsed for a second, as Kamailio's pike blocks an address, in-dialog traffic and
   * responses from it included: parsing is most of a datagram's cost, and a node that parses a
   * flood it cannot answer has nothing left for its phones and the overlay.
   */
  readonly dropEarly = (host: string): boolean => {
    if (this.#opts.sourceRate <= 0 || !this.#sources.dropping(sourceKey(host))) return false;
    this.stats.dropped++;
    return true;
  };

  /** Sources in the per-source table now (bounded by maxSources). */
  trackedSources(): number {
    return this.#sources.size;
  }

  /** For TransactionLayer.setAdmission. Never throws. */
  readonly decide = (request: SipRequest, source: Endpoint): AdmissionVerdict => {
    if (request.method === 'CANCEL' || request.method === 'ACK' || inDialog(request)) return ADMIT;
    if (this.#opts.isPeer(request)) {
      if (this.#opts.overlayRate <= 0 || this.#overlay.take()) return this.#admit();
      this.stats.rejectedOverlay++;
      this.#note(source, 'overlay budget exhausted: 503', request);
      return { action: 'reject', retryAfterS: 1 };
    }
    const factor = this.#opts.factor?.() ?? 1;
    if (this.#opts.sourceRate <= 0) {
      if (factor >= 1 || this.#random() < factor) return this.#admit();
      return this.#overloaded(source, request);
    }
    const verdict = this.#sources.take(sourceKey(source.host), factor, factor >= 1 || this.#opts.isTrusted?.(source.host) === true);
    if (verdict.action === 'admit') return this.#admit();
    if (verdict.action === 'drop') {
      this.stats.dropped++;
      this.#note(source, 'source far over its rate limit: dropping', request);
      return verdict;
    }
    if (verdict.reason === 'newcomer') return this.#overloaded(source, request);
    this.stats.rejectedSource++;
    this.#note(source, 'source over its rate limit: 503', request);
    return { action: 'reject', retryAfterS: verdict.retryAfterS };
  };

  #admit(): AdmissionVerdict {
    this.stats.admitted++;
    return ADMIT;
  }

  #overloaded(source: Endpoint, request: SipRequest): AdmissionVerdict {
    this.stats.rejectedOverload++;
    this.#note(source, 'node overloaded: 503', request);
    return { action: 'reject', retryAfterS: OVERLOAD_RETRY_S + Math.floor(this.#random() * (OVERLOAD_RETRY_S + 1)) };
  }

  #note(source: Endpoint, text: string, request: SipRequest): void {
    if (this.#logged.allow(sourceKey(source.host))) this.#opts.log.warn({ source: source.host, method: request.method }, text);
  }
}

const ADMIT: AdmissionVerdict = { action: 'admit' };

/** RFC 3261 12.2: a request with a To tag belongs to a dialog. */
function inDialog(request: SipRequest): boolean {
  try {
    return tagOf(getTo(request)) !== undefined;
  } catch {
    return false;
  }
}
