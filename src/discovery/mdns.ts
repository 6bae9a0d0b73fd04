/**
 * `--discover lan`: finding peers on the same link by multicast DNS-SD (RFC 6762, RFC 6763;
 * docs/PROTOCOL.md section 8.2), on the `multicast-dns` package (socket, group membership, wire
 * format). A querier asks PTR `_kadsip._udp.local` and reads the SRV, TXT and A records of the
 * instances that answer; an announcer publishes the node's own instance and answers such queries.
 *
 * Binding: the socket binds 0.0.0.0:5353 (Linux delivers multicast only to sockets bound to the
 * wildcard or the group address, never to one bound to a unicast address) and joins 224.0.0.251
 * on the interface of the node's listen address only, which is also the interface it sends on: in
 * a host or namespace with several interfaces, discovery stays on the node's own link.
 * IPv4 only (mDNS over IPv6 needs ff02::fb and a scope per interface; not implemented).
 */
import makeMdns from 'multicast-dns';
import type { Answer, Question } from 'dns-packet';
import type { Logger } from 'pino';
import type { HostPort, Protocol } from '../node/config.js';
import { orderSrv, type RandomSource } from '../resolve/index.js';
import { BootstrapDiscoveryError, type Skipped } from './dns-sd.js';
import { formatTxt, parseTxt, serviceType, txtMismatch } from './service.js';

export const MDNS_PORT = 5353;
/** RFC 6762 section 10: 120 s for records naming a host (SRV, A), 75 minutes for the others. */
export const HOST_RECORD_TTL = 120;
export const OTHER_RECORD_TTL = 4500;

/** The service name on the link: `_kadsip._udp.local`. */
export function lanServiceName(protocol: Protocol): string {
  return `${serviceType(protocol)}.local`;
}

/** What a node publishes about itself on the link. */
export interface LanInstance {
  /** Instance label (RFC 6763 section 4.1.1: up to 63 bytes), e.g. `kadsip-3f9a0c12d4e5`. */
  readonly instance: string;
  /** The host name its SRV names, e.g. `kadsip-3f9a0c12d4e5.local`. */
  readonly hostName: string;
  /** Its IPv4 address on the link (the SIP listen address). */
  readonly address: string;
  readonly port: number;
  readonly overlay: string;
  readonly transports: readonly Protocol[];
  /** The peer protocol: picks `_udp` or `_tcp`. */
  readonly protocol: Protocol;
}

/** The instance and host names of a node, from its peer-ID (hex): unique without RFC 6762 probing. */
export function lanNames(peerIdHex: string): { instance: string; hostName: string } {
  const tag = peerIdHex.slice(0, 12).toLowerCase();
  return { instance: `kadsip-${tag}`, hostName: `kadsip-${tag}.local` };
}

/** PTR, SRV, TXT and A of an instance (RFC 6763 section 12.1); `goodbye` gives them TTL 0 (RFC 6762 section 10.1). */
export function instanceRecords(self: LanInstance, goodbye = false): { ptr: Answer; srv: Answer; txt: Answer; a: Answer } {
  const service = lanServiceName(self.protocol);
  const fullName = `${self.instance}.${service}`;
  const ttl = (t: number): number => (goodbye ? 0 : t);
  return {
    // Shared record: no cache-flush bit (RFC 6762 section 10.2); the others are unique to this node.
    ptr: { name: service, type: 'PTR', ttl: ttl(OTHER_RECORD_TTL), data: fullName },
    srv: { name: fullName, type: 'SRV', ttl: ttl(HOST_RECORD_TTL), flush: true, data: { priority: 0, weight: 0, port: self.port, target: self.hostName } },
    txt: { name: fullName, type: 'TXT', ttl: ttl(OTHER_RECORD_TTL), flush: true, data: formatTxt(self.overlay, self.transports) },
    a: { name: self.hostName, type: 'A', ttl: ttl(HOST_RECORD_TTL), flush: true, data: self.address },
  };
}

function lower(name: string): string {
  return (name.endsWith('.') ? name.slice(0, -1) : name).toLowerCase();
}

function txtStrings(data: unknown): (string | Uint8Array)[] {
  if (typeof data === 'string' || data instanceof Uint8Array) return [data];
  return Array.isArray(data) ? (data as (string | Uint8Array)[]) : [];
}

/**
 * The peers a set of mDNS answers names, in RFC 2782 order: PTR at the service name -> instance ->
 * SRV (port, host) + TXT (overlay check) -> A of the host. Instances with a TTL-0 record (goodbye)
 * and those of another overlay are left out.
 */
export function peersFromAnswers(
  answers: readonly Answer[],
  opts: { overlay: string; protocol: Protocol; random?: RandomSource },
): { peers: HostPort[]; skipped: Skipped[] } {
  const service = lanServiceName(opts.protocol);
  const instances = new Set<string>();
  const gone = new Set<string>();
  const srv = new Map<string, { priority: number; weight: number; port: number; target: string }>();
  const txt = new Map<string, (string | Uint8Array)[]>();
  const hosts = new Map<string, string[]>();
  for (const a of answers) {
    const name = lower(a.name);
    const ttl = 'ttl' in a ? a.ttl : undefined;
    if (a.type === 'PTR' && name === service) {
      const target = lower(a.data);
      if (ttl === 0) gone.add(target);
      else instances.add(target);
    } else if (a.type === 'SRV') {
      if (ttl === 0) gone.add(name);
      else srv.set(name, { priority: a.data.priority ?? 0, weight: a.data.weight ?? 0, port: a.data.port ?? 0, target: lower(a.data.target ?? '') });
    } else if (a.type === 'TXT') {
      if (!txt.has(name)) txt.set(name, txtStrings(a.data));
    } else if (a.type === 'A' && ttl !== 0) {
      const list = hosts.get(name) ?? [];
      if (!list.includes(a.data)) list.push(a.data);
      hosts.set(name, list);
    }
  }
  const skipped: Skipped[] = [];
  const usable: { priority: number; weight: number; port: number; target: string; from: string }[] = [];
  for (const instance of instances) {
    if (gone.has(instance)) continue;
    const s = srv.get(instance);
    if (!s) {
      skipped.push({ name: instance, reason: 'no SRV record in the answers' });
      continue;
    }
    const mismatch = txtMismatch(parseTxt(txt.get(instance) ?? []), opts.overlay, opts.protocol);
    if (mismatch !== null) {
      skipped.push({ name: instance, reason: mismatch });
      continue;
    }
    usable.push({ ...s, from: instance });
  }
  const peers: HostPort[] = [];
  const seen = new Set<string>();
  for (const s of orderSrv(usable, opts.random)) {
    const addresses = hosts.get(s.target) ?? [];
    if (addresses.length === 0) skipped.push({ name: s.from, reason: `no A record for ${s.target} in the answers` });
    for (const host of addresses) {
      const key = `${host}|${s.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      peers.push({ host, port: s.port });
    }
  }
  return { peers, skipped };
}

export interface LanSocketOptions {
  /** The node's IPv4 listen address: the interface to join the group on and send from. */
  readonly interfaceIp: string;
  /** Default 5353 (RFC 6762 section 3); tests may change it. */
  readonly port?: number;
  readonly log: Logger;
}

type Mdns = ReturnType<typeof makeMdns>;

/** Opens the mDNS socket; a bind failure is a BootstrapDiscoveryError naming the cause. */
async function openMdns(opts: LanSocketOptions): Promise<Mdns> {
  const mdns = makeMdns({ interface: opts.interfaceIp, bind: '0.0.0.0', port: opts.port ?? MDNS_PORT, reuseAddr: true, loopback: true });
  mdns.on('warning', (err: Error) => opts.log.debug({ err: err.message }, 'mDNS warning'));
  // After start-up, a socket error must not become an unhandled 'error' event that ends the node.
  mdns.on('error', (err: Error) => opts.log.warn({ err: err.message }, 'mDNS socket error'));
  await new Promise<void>((resolve, reject) => {
    mdns.once('ready', () => resolve());
    mdns.once('error', (err: Error) => reject(new BootstrapDiscoveryError(`discover lan: cannot open the mDNS socket on port ${opts.port ?? MDNS_PORT}: ${err.message}`)));
  });
  // multicast-dns joins the group on `interface` once the socket listens; a failure is a 'warning'.
  return mdns;
}

function destroy(mdns: Mdns): Promise<void> {
  return new Promise((resolve) => mdns.destroy(() => resolve()));
}

export interface LanQueryOptions extends LanSocketOptions {
  readonly overlay: string;
  readonly protocol: Protocol;
  /** How long to listen for answers, ms. Default 2000 (a second query goes out after 1 s). */
  readonly waitMs?: number;
  readonly random?: RandomSource;
}

/**
 * One-shot multicast DNS-SD query (RFC 6762 section 5.2 spacing: the second query one second after
 * the first, in case the first was lost). Returns the peers heard, in RFC 2782 order; none is not
 * an error (the caller decides: a new overlay).
 */
export async function queryLan(opts: LanQueryOptions): Promise<{ peers: HostPort[]; skipped: Skipped[] }> {
  const mdns = await openMdns(opts);
  const heard: Answer[] = [];
  mdns.on('response', (packet: { answers?: Answer[]; additionals?: Answer[] }) => {
    heard.push(...(packet.answers ?? []), ...(packet.additionals ?? []));
  });
  const question: Question = { name: lanServiceName(opts.protocol), type: 'PTR' };
  const waitMs = opts.waitMs ?? 2000;
  const timers: NodeJS.Timeout[] = [];
  try {
    mdns.query({ questions: [question] });
    await new Promise<void>((resolve) => {
      if (waitMs > 1000) timers.push(setTimeout(() => mdns.query({ questions: [question] }), 1000));
      timers.push(setTimeout(resolve, waitMs));
    });
  } finally {
    for (const t of timers) clearTimeout(t);
    await destroy(mdns);
  }
  return peersFromAnswers(heard, { overlay: opts.overlay, protocol: opts.protocol, ...(opts.random ? { random: opts.random } : {}) });
}

/** Publishes a node's instance on the link and answers queries for it until closed. */
export class LanAnnouncer {
  private readonly timers = new Set<NodeJS.Timeout>();
  private closed = false;

  private constructor(
    private readonly mdns: Mdns,
    private readonly self: LanInstance,
    private readonly log: Logger,
  ) {
    mdns.on('query', (packet: { id?: number; questions?: Question[]; answers?: Answer[] }, rinfo: { address: string; port: number }) => this.answer(packet, rinfo));
  }

  static async start(opts: LanSocketOptions & { self: LanInstance }): Promise<LanAnnouncer> {
    const mdns = await openMdns(opts);
    const announcer = new LanAnnouncer(mdns, opts.self, opts.log);
    // RFC 6762 section 8.3: announce twice, one second apart. (No probing, 8.1: the names carry
    // the peer-ID, so two nodes cannot claim the same one by accident.)
    announcer.announce();
    announcer.later(1000, () => announcer.announce());
    opts.log.info({ instance: `${opts.self.instance}.${lanServiceName(opts.self.protocol)}`, address: `${opts.self.address}:${opts.self.port}` }, 'announcing on the link (mDNS)');
    return announcer;
  }

  /** Goodbye (TTL 0, RFC 6762 section 10.1), then closes the socket. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const t of this.timers) clearTimeout(t);
    const r = instanceRecords(this.self, true);
    await new Promise<void>((resolve) => this.mdns.respond({ answers: [r.ptr, r.srv, r.txt, r.a] }, () => resolve()));
    await destroy(this.mdns);
  }

  private announce(): void {
    if (this.closed) return;
    const r = instanceRecords(this.self);
    this.mdns.respond({ answers: [r.ptr, r.srv, r.txt, r.a] });
  }

  private later(ms: number, fn: () => void): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, ms);
    this.timers.add(t);
  }

  private answer(packet: { id?: number; questions?: Question[]; answers?: Answer[] }, rinfo: { address: string; port: number }): void {
    if (this.closed) return;
    const r = instanceRecords(this.self);
    const service = lanServiceName(this.self.protocol);
    const fullName = lower(`${this.self.instance}.${service}`);
    const answers: Answer[] = [];
    const additionals: Answer[] = [];
    let shared = false;
    for (const q of packet.questions ?? []) {
      const name = lower(q.name);
      const any = (q.type as string) === 'ANY';
      if (name === service && (any || q.type === 'PTR')) {
        // RFC 6762 section 7.1: known-answer suppression.
        if ((packet.answers ?? []).some((k) => k.type === 'PTR' && lower(k.data) === fullName)) continue;
        answers.push(r.ptr);
        additionals.push(r.srv, r.txt, r.a);
        shared = true;
      } else if (name === fullName && (any || q.type === 'SRV' || q.type === 'TXT')) {
        if (any || q.type === 'SRV') answers.push(r.srv);
        if (any || q.type === 'TXT') answers.push(r.txt);
        additionals.push(r.a);
      } else if (name === lower(this.self.hostName) && (any || q.type === 'A')) {
        answers.push(r.a);
      }
    }
    if (answers.length === 0) return;
    const extra = additionals.filter((a) => !answers.includes(a));
    if (rinfo.port !== MDNS_PORT) {
      // RFC 6762 section 6.7: a legacy unicast query (not from port 5353) gets a unicast reply
      // carrying its ID and question.
      this.mdns.respond({ id: packet.id ?? 0, questions: packet.questions ?? [], answers, additionals: extra }, { port: rinfo.port, address: rinfo.address });
      return;
    }
    // RFC 6762 section 6: an answer with shared records waits 20-120 ms, so that several
    // responders on the link do not all answer at the same instant.
    const delay = shared ? 20 + Math.floor(Math.random() * 100) : 0;
    this.later(delay, () => {
      if (!this.closed) this.mdns.respond({ answers, additionals: extra });
    });
    this.log.debug({ from: `${rinfo.address}:${rinfo.port}`, questions: (packet.questions ?? []).map((q) => `${q.type} ${q.name}`) }, 'mDNS query answered');
  }
}
