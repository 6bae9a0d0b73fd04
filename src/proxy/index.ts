/** Public API of the stateful proxy core (RFC 3261 section 16). */
export { StatefulProxy, defaultLocalHandler, DEFAULT_MAX_BRANCHES, DEFAULT_MAX_CONTEXTS, DEFAULT_RESOLVE_TIMEOUT_MS } from './proxy.js';
export { selectBest } from './response-select.js';
export type {
  ProxyTarget,
  TargetResolver,
  ResolveFailure,
  SelfAddress,
  AddressFacing,
  LocalHandler,
  Admission,
  AdmissionRequest,
  AdmissionVerdict,
  ProxyTimers,
  ProxyLimits,
  ProxyOptions,
  ProxyStats,
} from './types.js';
