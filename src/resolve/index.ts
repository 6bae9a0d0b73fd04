/** Public API of the RFC 3263 resolver used for domains outside the overlay. */
export {
  NodeDnsClient,
  DnsError,
  type DnsClient,
  type DnsFailure,
  type DnsRrType,
  type NaptrRecord,
  type SrvRecord,
  type AddressRecord,
  type PtrRecord,
  type TxtRecord,
  type NodeDnsClientOptions,
} from './dns-client.js';
export { CachingDnsClient, type DnsCacheOptions, type DnsCacheStats } from './dns-cache.js';
export { orderSrv, type RandomSource } from './srv-order.js';
export {
  Rfc3263Resolver,
  Rfc3263Error,
  SIP_DEFAULT_PORT,
  type Rfc3263ErrorCode,
  type Rfc3263ResolverOptions,
  type ServerTarget,
  type TargetSource,
} from './rfc3263.js';
