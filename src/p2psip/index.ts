/**
 * The P2PSIP layer (PROTOCOL.md sections 2, 4-5 and 10): SIP registration and location on top of
 * an overlay it reaches only through OverlayPort. The registrar and the proxy sit above it, the
 * Kademlia core (src/overlay) below; src/node composes them.
 */
export type { FoundValues, OverlayPort, OverlayRecord } from './overlay-port.js';
export { aorRecordValue, formatAorRecord, parseAorRecord, type AorRecord } from './aor-record.js';
export { LocationService, type LocationServiceOptions } from './location-service.js';
export { PUBLICATION_TTL_MS, RENEW_AFTER_MS, Registrations } from './registrations.js';
export { OverlayOverSip, type OverlayOverSipOptions } from './overlay-over-sip.js';
export { firstContactPing, type FirstContactAnswer, type FirstContactOptions } from './first-contact.js';
export { AttachRelay, type AttachRelayOptions } from './attach-relay.js';
export { FlowKeepalive, KEEPALIVE_PING, natFlows, type FlowKeepaliveOptions } from './flow-keepalive.js';
export { MappingWatch, type Mapped, type MappingWatchOptions } from './mapping-watch.js';
