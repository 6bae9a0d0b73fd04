/**
 * `--bootstrap dns:DOMAIN`: the overlay's bootstrap peers from unicast DNS (docs/PROTOCOL.md
 * section 8.1), by both of:
 * - DNS-SD (RFC 6763 section 4): PTR `_kadsip._udp.DOMAIN` -> instance names; per instance SRV
 *   (target, port, priority, weight) and TXT (overlay=, transports=: section 8.3);
 * - plain SRV (RFC 2782): SRV records at the same name `_kadsip._udp.DOMAIN`.
 * Every SRV record found either way joins one RFC 2782 ordering (ascending priority, weighted
 * random within a priority: src/resolve/srv-order.ts), and each target is resolved to A (IPv4
 * node) or AAAA (IPv6 node) in that order. The project's own DNS client is used (the `dns` setting
 * picks its servers); nothing is cached here: each call asks DNS afresh, so a re-resolution after
 * every bootstrap failed sees a changed zone at once (the servers' own caches honour the TTLs).
 */
import { DnsError, orderSrv, type AddressRecord, type PtrRecord, type RandomSource, type SrvRecord, type TxtRecord } from '../resolve/index.js';
import type { HostPort, Protocol } from '../node/config.js';
import { parseTxt, serviceType, txtMismatch } from './service.js';

/** The queries DNS-SD bootstrapping needs; NodeDnsClient has them all. */
export interface DnsSdClient {
  ptr(name: string): Promise<PtrRecord[]>;
  txt(name: string): Promise<TxtRecord[]>;
  srv(name: string): Promise<SrvRecord[]>;
  a(name: string): Promise<AddressRecord[]>;
  aaaa(name: string): Promise<AddressRecord[]>;
}

export interface DnsBootstrapOptions {
  readonly dns: DnsSdClient;
  /** The node's overlay: an instance whose TXT names another is skipped. */
  readonly overlay: string;
  /** The node's peer protocol: picks `_udp` or `_tcp`. */
  readonly protocol: Protocol;
  /** The node's address family: A records for 4, AAAA for 6. */
  readonly family: 4 | 6;
  readonly random?: RandomSource;
}

/** A record found but not used, and why (logged, and named in the error when nothing is left). */
export interface Skipped {
  readonly name: string;
  readonly reason: string;
}

export interface DnsBootstrapResult {
  /** In RFC 2782 order, without duplicates. */
  readonly peers: HostPort[];
  readonly skipped: Skipped[];
}

/** Bootstrap discovery found nothing to join through: a run-time failure (exit 1), one human line. */
export class BootstrapDiscoveryError extends Error {
  override readonly name = 'BootstrapDiscoveryError';
}

/** Strips a trailing dot and lower-cases, so names from PTR data compare with names we build. */
function canonical(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}

/** Runs a query; a DnsError becomes a value so one failed query does not hide the others' answers. */
async function attempt<T>(query: () => Promise<T[]>): Promise<T[] | DnsError> {
  try {
    return await query();
  } catch (e) {
    if (e instanceof DnsError) return e;
    throw e;
  }
}

interface Found extends Pick<SrvRecord, 'priority' | 'weight' | 'port' | 'target'> {
  /** The SRV owner name: an instance (DNS-SD) or the service name (plain SRV). */
  readonly from: string;
}

export async function resolveDnsBootstraps(domain: string, opts: DnsBootstrapOptions): Promise<DnsBootstrapResult> {
  const { dns } = opts;
  const service = `${serviceType(opts.protocol)}.${canonical(domain)}`;
  const skipped: Skipped[] = [];
  const [ptrs, plain] = await Promise.all([attempt(() => dns.ptr(service)), attempt(() => dns.srv(service))]);
  if (ptrs instanceof DnsError && (plain instanceof DnsError || plain.length === 0)) {
    throw new BootstrapDiscoveryError(`dns:${domain}: ${ptrs.message}`);
  }
  if (plain instanceof DnsError && !(ptrs instanceof DnsError) && ptrs.length === 0) throw new BootstrapDiscoveryError(`dns:${domain}: ${plain.message}`);
  const found: Found[] = [];
  if (!(plain instanceof DnsError)) for (const r of plain) found.push({ ...r, from: service });
  if (!(ptrs instanceof DnsError)) {
    const instances = [...new Set(ptrs.map((p) => canonical(p.target)))];
    const perInstance = await Promise.all(
      instances.map(async (instance) => ({ instance, srv: await attempt(() => dns.srv(instance)), txt: await attempt(() => dns.txt(instance)) })),
    );
    for (const { instance, srv, txt } of perInstance) {
      if (srv instanceof DnsError) {
        skipped.push({ name: instance, reason: srv.message });
        continue;
      }
      if (srv.length === 0) {
        skipped.push({ name: instance, reason: 'no SRV record' });
        continue;
      }
      // RFC 6763 section 6.1 requires a TXT record; a missing or failed one is read as no keys.
      const strings = txt instanceof DnsError ? [] : txt.flatMap((t) => t.strings);
      const mismatch = txtMismatch(parseTxt(strings), opts.overlay, opts.protocol);
      if (mismatch !== null) {
        skipped.push({ name: instance, reason: mismatch });
        continue;
      }
      for (const r of srv) found.push({ ...r, from: instance });
    }
  }
  const peers: HostPort[] = [];
  const seen = new Set<string>();
  for (const r of orderSrv(found, opts.random)) {
    // RFC 2782: a target of "." means the service is decidedly not available there.
    if (r.target === '.' || r.target === '') {
      skipped.push({ name: r.from, reason: 'SRV target "." (service not offered)' });
      continue;
    }
    const addresses = await attempt(() => (opts.family === 6 ? dns.aaaa(r.target) : dns.a(r.target)));
    if (addresses instanceof DnsError || addresses.length === 0) {
      skipped.push({ name: r.target, reason: addresses instanceof DnsError ? addresses.message : `no ${opts.family === 6 ? 'AAAA' : 'A'} record` });
      continue;
    }
    for (const a of addresses) {
      const key = `${a.address}|${r.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      peers.push({ host: a.address, port: r.port });
    }
  }
  if (peers.length === 0) {
    const why =
      found.length === 0 && skipped.length === 0
        ? `no PTR or SRV records at ${service}`
        : `no usable peer at ${service}: ${skipped.map((s) => `${s.name}: ${s.reason}`).join('; ')}`;
    throw new BootstrapDiscoveryError(`dns:${domain}: ${why}`);
  }
  return { peers, skipped };
}
