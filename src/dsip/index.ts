/** Public API of the dSIP layer: peer URIs, dSIP headers and the overlay <-> SIP codec (sans-IO). */
export * from './peer-uri.js';
export * from './dht-peerid.js';
export * from './headers.js';
export * from './target.js';
export * from './codec.js';
