/**
 * Notices that a NATed node's public mapping changed (issue 9; PROTOCOL.md section 10.4): the NAT
 * rebooted or flushed its table, or its public address changed. Every `intervalMs` it sends a STUN
 * Binding (RFC 8489) from the SIP socket to a STUN server, the first of `servers()` that answers
 * (at most `maxTries` per round); a mapped address other than the node's current one is checked
 * once more at once (a second answer, from the next server when there is one), and only then
 * reported. The Binding also refreshes the node's own mapping, so it doubles as the node's
 * keep-alive towards the NAT.
 *
 * The caller decides what a change means (KadsipNode rejoins under the Peer-ID of the new
 * address) and tells the watch the new current address through `current()`.
 */
import type { Socket } from 'node:dgram';
import type { Logger } from '../common/logger.js';
import { splitAddress } from '../dsip/index.js';
import { stunBinding } from '../nat/stun/index.js';

export interface Mapped {
  host: string;
  port: number;
}

export interface MappingWatchOptions {
  socket: Socket;
  /** STUN servers, IP:PORT, in the order to try. */
  servers: () => readonly string[];
  /** The address the node now believes it is reached at. */
  current: () => Mapped;
  intervalMs: number;
  onChange: (mapped: Mapped, server: string) => void;
  log: Logger;
  /** Bound per Binding; default 2000 ms. */
  timeoutMs?: number;
  /** Servers tried per round at most; default 3. */
  maxTries?: number;
}

export class MappingWatch {
  private readonly timer: NodeJS.Timeout;
  private running = false;
  private stopped = false;

  constructor(private readonly options: MappingWatchOptions) {
    this.timer = setInterval(() => void this.check(), options.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    this.stopped = true;
    clearInterval(this.timer);
  }

  /** One round (the timer calls it; tests may too). Resolves when it is done; never throws. */
  async check(): Promise<void> {
    if (this.running || this.stopped) return;
    this.running = true;
    try {
      const first = await this.ask(0);
      if (!first || this.stopped) return;
      const current = this.options.current();
      if (same(first.mapped, current)) return;
      // Confirm before acting: a rejoin is costly, and one odd answer should not cause one.
      const second = await this.ask(first.index + 1, first.index);
      if (!second || this.stopped || !same(second.mapped, first.mapped)) return;
      this.options.onChange(first.mapped, first.server);
    } finally {
      this.running = false;
    }
  }

  /** A Binding to the first server from `start` (wrapping round) that answers. */
  private async ask(start: number, avoid?: number): Promise<{ mapped: Mapped; server: string; index: number } | null> {
    const servers = this.options.servers();
    const tries = Math.min(servers.length, this.options.maxTries ?? 3);
    for (let i = 0; i < tries; i++) {
      const index = (start + i) % servers.length;
      if (index === avoid && servers.length > 1) continue;
      const server = servers[index]!;
      const endpoint = splitAddress(server);
      if (!endpoint) continue;
      try {
        const result = await stunBinding(endpoint, { socket: this.options.socket, timeoutMs: this.options.timeoutMs ?? 2000, rto: 250 });
        return { mapped: { host: result.mapped.host, port: result.mapped.port }, server, index };
      } catch {
        this.options.log.debug({ server }, 'STUN server did not answer the mapping check');
      }
    }
    return null;
  }
}

function same(a: Mapped, b: Mapped): boolean {
  return a.host === b.host && a.port === b.port;
}
