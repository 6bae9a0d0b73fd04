/** The overlay core's public surface: pure Kademlia, no SIP, no sockets, no timers of its own. */
export * from './constants.js';
export * from './id.js';
export * from './peer-id.js';
export * from './random.js';
export type * from '../common/clock.js';
export type * from './contact.js';
export type * from './messages.js';
export type * from './transport.js';
export { RoutingTable, type ObserveResult } from './routing-table.js';
export { OPEN_RECORD_POLICY, type RecordPolicy, type PolicyVerdict } from './record-policy.js';
export { RecordStore, type StoredBinding, type RecordStoreLimits, type PutResult } from './record-store.js';
export { Lookup, type LookupKind, type LookupResult, type Query } from './lookup.js';
export { OverlayNode, type NodeState, type OverlayEvent, type OverlayNodeOptions, type PublishResult, type NodeStats, type OverlayView } from './node.js';
