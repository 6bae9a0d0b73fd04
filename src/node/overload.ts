/**
 * The node's overload control, wired: the detector (src/common/overload-detector.ts) over this
 * process, the admission control (src/sip/admission.ts) in front of the transaction layer, their
 * /status fields and /metrics gauges. Kept out of kadsip-node.ts so that the composition root only
 * says where it plugs in.
 */
import { Gauge, type Registry } from 'prom-client';
import type { Logger } from 'pino';
import { OverloadDetector } from '../common/overload-detector.js';
import { realClock } from '../common/real-clock.js';
import { isPeerRequest } from '../dsip/index.js';
import { inNetworks } from '../policy/cidr.js';
import { Admission } from '../sip/admission.js';
import type { TransactionLayer } from '../sip/transaction/index.js';
import type { SipTransport } from '../sip/transport/index.js';
import type { NodeConfig } from './config.js';

/** Phone sources the per-source table remembers (about 100 bytes each): beyond, the least recently seen is forgotten. */
export const RATE_LIMIT_SOURCES = 16_384;

export interface OverloadControl {
  readonly admission: Admission;
  readonly detector: OverloadDetector;
  status(): object;
  registerMetrics(registry: Registry): void;
  stop(): void;
}

/**
 * Starts sampling and puts admission control in front of `transactions`. `depth` is the queue
 * depth signal: requests the node is working on (the proxy's live response contexts). Sources
 * being dropped are dropped before their datagrams are parsed (SipTransport.setEarlyDrop).
 */
export function startOverloadControl(config: NodeConfig, transport: SipTransport, transactions: TransactionLayer, depth: () => number, log: Logger): OverloadControl {
  const detector = new OverloadDetector({
    thresholds: { utilisation: config.overloadUtilisation, lagMs: config.overloadLagMs, depth: config.overloadDepth },
    depth,
    // One line per episode, not per refused request (those are logged once a minute per source).
    onChange: (overloaded, sample) =>
      overloaded
        ? log.warn({ ...sample, utilisation: round(sample.utilisation) }, 'overloaded: new out-of-dialog requests from phones get 503 with Retry-After')
        : log.info({ ...sample, utilisation: round(sample.utilisation) }, 'overload over'),
  });
  const admission = new Admission({
    sourceRate: config.rateLimit,
    maxSources: RATE_LIMIT_SOURCES,
    overlayRate: config.overlayRateLimit,
    isPeer: isPeerRequest,
    factor: () => detector.factor,
    isTrusted: (host) => inNetworks(host, config.trustedNetworks),
    clock: realClock,
    log,
  });
  transactions.setAdmission(admission.decide);
  transport.setEarlyDrop(admission.dropEarly);
  detector.start();
  const refused = (): number => admission.stats.rejectedSource + admission.stats.rejectedOverload + admission.stats.rejectedOverlay;
  return {
    admission,
    detector,
    status: () => {
      const d = detector.stats;
      return {
        overloaded: d.overloaded,
        admissionFactor: round(d.factor),
        loopUtilisation: round(d.sample.utilisation),
        loopDelayP99Ms: round(d.sample.lagMs),
        inProgress: d.sample.depth,
        episodes: d.episodes,
        rateLimitedSources: admission.limitedSources(),
        trackedSources: admission.trackedSources(),
        sent503: refused(),
        ...admission.stats,
        settings: { rateLimit: config.rateLimit, overlayRateLimit: config.overlayRateLimit, overloadUtilisation: config.overloadUtilisation, overloadLagMs: config.overloadLagMs, overloadDepth: config.overloadDepth },
      };
    },
    registerMetrics: (registry) => {
      const gauge = (name: string, help: string, read: () => number): void => {
        new Gauge({ name, help, registers: [registry], collect() { this.set(read()); } });
      };
      gauge('kadsip_overloaded', '1 while the overload detector sheds new out-of-dialog requests, else 0', () => (detector.overloaded ? 1 : 0));
      gauge('kadsip_admission_factor', 'What per-source rates are scaled by now (1: no overload)', () => detector.factor);
      gauge('kadsip_overload_503_sent', '503 with Retry-After sent by admission control since start (rate, overload, overlay budget)', refused);
      gauge('kadsip_overload_dropped', 'New requests dropped unanswered since start (a source past ten times its rate)', () => admission.stats.dropped);
      gauge('kadsip_rate_limited_sources', 'Sources refused or dropped in the last 10 s', () => admission.limitedSources());
      gauge('kadsip_overload_episodes', 'Overload episodes since start', () => detector.stats.episodes);
    },
    stop: () => {
      transactions.setAdmission(undefined);
      transport.setEarlyDrop(undefined);
      detector.stop();
    },
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
