/**
 * `--listen 0.0.0.0` (or `::`): a node cannot listen on "every address", because its Peer-ID hashes
 * the one address peers see its packets come from (PROTOCOL.md section 1), its Via and
 * Record-Route name that address, and peers refuse a DHT-PeerID naming a wildcard (400). So a
 * wildcard is resolved to the host's one address of that family when it has exactly one (a
 * container or a VM with one interface), and refused with a message naming the candidates and
 * `--public` otherwise.
 */
import { networkInterfaces, type NetworkInterfaceInfo } from 'node:os';
import { ConfigError, type NodeConfig } from './config.js';

export type Interfaces = NodeJS.Dict<NetworkInterfaceInfo[]>;

export function isWildcard(host: string): boolean {
  return host === '0.0.0.0' || host === '::' || host === '0:0:0:0:0:0:0:0';
}

/**
 * The config with a concrete listen address, and the wildcard it replaced (for the log line), or a
 * ConfigError. Loopback and IPv6 link-local addresses do not count: peers on other hosts cannot
 * reach them.
 */
export function concreteListen(config: NodeConfig, interfaces: Interfaces = networkInterfaces()): { config: NodeConfig; replaced?: string } {
  const { host, port } = config.listen;
  if (!isWildcard(host)) return { config };
  const family = host === '0.0.0.0' ? 'IPv4' : 'IPv6';
  const usable = Object.values(interfaces)
    .flatMap((list) => list ?? [])
    .filter((i) => i.family === family && !i.internal && !(family === 'IPv6' && /^fe80:/i.test(i.address)))
    .map((i) => i.address);
  const unique = [...new Set(usable)];
  const hint = '--public PUBLIC_IP:PORT as well when peers reach the node at another address (behind NAT, or a container\'s port mapping)';
  if (unique.length === 1) return { config: { ...config, listen: { host: unique[0]!, port } }, replaced: host };
  if (unique.length === 0) {
    throw new ConfigError(`listen: ${host} means every address, and this host has no ${family} address other than loopback: give one with --listen IP:${port} (${hint})`);
  }
  throw new ConfigError(
    `listen: ${host} means every address, and a node needs the one its peers see (its Peer-ID hashes it); this host has ${unique.join(', ')}: give one with --listen IP:${port} (and ${hint})`,
  );
}
