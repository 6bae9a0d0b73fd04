/**
 * An in-memory datagram network in virtual time. Each host gets a position and an access delay, so
 * a link's latency is fixed by its two ends (RTTs with a median near 90 ms and a tail past 300 ms,
 * like the King measurements of Internet hosts) plus a little jitter per packet; each packet is lost
 * with probability `loss`. Requests are retransmitted like a SIP non-INVITE client transaction over
 * UDP (RFC 3261 17.1.2: Timer E from T1 = 500 ms, doubling), and a server answers a retransmission
 * with its cached response, so the core sees what it would see over SIP.
 */
import type { Contact, PeerAddress } from '../overlay/contact.js';
import type { OverlayResponse, RequestEnvelope, RpcResult } from '../overlay/messages.js';
import type { Random } from '../overlay/random.js';
import type { OverlayTransport, RequestHandler } from '../overlay/transport.js';
import { logNormal } from './distributions.js';
import type { EventQueue } from './event-queue.js';

const T1_MS = 500;

interface Host {
  handler: RequestHandler;
  contact: Contact;
  x: number;
  y: number;
  accessMs: number;
}

export interface NetworkOptions {
  /** Probability that one datagram is lost. */
  loss: number;
  /** Transmissions of one request at most (1 + retransmissions). */
  maxTransmissions: number;
}

export interface NetworkStats {
  datagrams: number;
  lost: number;
  requests: number;
}

export class SimNetwork {
  private readonly hosts = new Map<string, Host>();
  readonly stats: NetworkStats = { datagrams: 0, lost: 0, requests: 0 };

  constructor(
    private readonly queue: EventQueue,
    private readonly random: Random,
    private readonly options: NetworkOptions = { loss: 0, maxTransmissions: 3 },
  ) {}

  /** Attaches a node at its contact's address; returns the transport that node sends through. */
  attach(contact: Contact, handler: RequestHandler): OverlayTransport {
    // Positions on a disc of diameter 1 (= 100 ms one way) and log-normal access delays.
    const r = Math.sqrt(this.random.next()) / 2;
    const angle = this.random.next() * 2 * Math.PI;
    this.hosts.set(contact.address, {
      handler,
      contact,
      x: r * Math.cos(angle),
      y: r * Math.sin(angle),
      accessMs: logNormal(this.random, 5, 0.8),
    });
    return { sendRequest: (to, envelope, onResult) => this.send(contact.address, to, envelope, onResult) };
  }

  /** The host disappears: packets to it are lost from now on (a crash, or the end of a leave). */
  detach(address: string): void {
    this.hosts.delete(address);
  }

  /** One-way delay between two hosts in ms, without jitter. */
  latency(a: string, b: string): number {
    const ha = this.hosts.get(a);
    const hb = this.hosts.get(b);
    if (!ha || !hb) return 0;
    return ha.accessMs + hb.accessMs + Math.hypot(ha.x - hb.x, ha.y - hb.y) * 100;
  }

  private delay(base: number): number {
    return base * (1 + 0.1 * this.random.next());
  }

  private lost(): boolean {
    this.stats.datagrams++;
    if (this.options.loss > 0 && this.random.next() < this.options.loss) {
      this.stats.lost++;
      return true;
    }
    return false;
  }

  private send(fromAddress: string, to: PeerAddress, envelope: RequestEnvelope, onResult: (r: RpcResult) => void): void {
    this.stats.requests++;
    let done = false;
    let cached: OverlayResponse | undefined;
    let handled = false;
    const base = this.latency(fromAddress, to.address) || 50;
    const deliverResponse = (response: OverlayResponse, responder: Contact, attempt: number): void => {
      if (this.lost()) {
        retransmitLater(attempt);
        return;
      }
      this.queue.schedule(this.delay(base), () => {
        if (done || !this.hosts.has(fromAddress)) return;
        done = true;
        onResult({ ok: true, from: responder, response });
      });
    };
    // Retransmissions are scheduled only where they change the outcome: after a lost request or a
    // lost response (a retransmission that would cross a response in flight changes nothing).
    const retransmitLater = (attempt: number): void => {
      if (attempt + 1 < this.options.maxTransmissions) {
        this.queue.schedule(T1_MS * 2 ** attempt, () => transmit(attempt + 1));
      }
    };
    const transmit = (attempt: number): void => {
      if (done) return;
      if (this.lost()) {
        retransmitLater(attempt);
        return;
      }
      this.queue.schedule(this.delay(base), () => {
        const host = this.hosts.get(to.address);
        if (!host) return; // nobody there: silence, as on a real network
        // The server transaction absorbs retransmissions and repeats its answer.
        if (handled) {
          if (cached) deliverResponse(cached, host.handler.self ?? host.contact, attempt);
          return;
        }
        handled = true;
        host.handler.handleRequest(envelope, (response) => {
          cached = response;
          deliverResponse(response, host.handler.self ?? host.contact, attempt);
        });
      });
    };
    transmit(0);
  }
}
