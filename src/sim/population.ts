/**
 * Addresses for simulated peers, drawn as a real population would be: most peers alone on their
 * public IPv4 address at port 5060, some sharing one address (a household or a server running
 * several nodes) on different ports, so their Peer-IDs share the top 144 bits (PROTOCOL.md 3).
 */
import type { Random } from '../overlay/random.js';

export interface SimAddress {
  ip: string;
  port: number;
}

export class AddressPool {
  private readonly used = new Set<string>();
  private readonly shared: { ip: string; nextPort: number }[] = [];

  constructor(
    private readonly random: Random,
    /** Share of peers placed on an IP address that already has a peer. */
    private readonly sharedFraction = 0.1,
  ) {}

  next(): SimAddress {
    if (this.shared.length > 0 && this.random.next() < this.sharedFraction) {
      const host = this.shared[this.random.int(this.shared.length)]!;
      const port = host.nextPort;
      host.nextPort += 2;
      return { ip: host.ip, port };
    }
    for (;;) {
      // Unicast space outside 0/8, 10/8, 127/8, 224/3 and the like; the simulator never sends a packet.
      const a = 1 + this.random.int(223);
      if (a === 10 || a === 127 || a === 100 || a === 169 || a === 172 || a === 192) continue;
      const ip = `${a}.${this.random.int(256)}.${this.random.int(256)}.${1 + this.random.int(254)}`;
      if (this.used.has(ip)) continue;
      this.used.add(ip);
      if (this.shared.length < 4096) this.shared.push({ ip, nextPort: 5062 });
      return { ip, port: 5060 };
    }
  }
}
