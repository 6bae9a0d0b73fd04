/**
 * Keeps the NAT mappings of phones' UDP flows open from the node's side (issue 9), so that a
 * phone behind a NAT that forgets a UDP mapping after 20 s stays reachable for the whole of a
 * 300 s registration without re-registering faster.
 *
 * Which flows: every UDP binding that the location service reaches over the flow it registered
 * on rather than at its Contact (src/registrar/flow.ts needsFlowRouting: NAT detected, or the phone
 * asked for it with `;ob`/reg-id). A binding reached at its Contact needs no help from us, and a
 * TCP flow is the phone's to keep (RFC 5626 section 4.4.1: CRLFCRLF over the connection, which
 * the transport answers with CRLF, section 3.5.1).
 *
 * What is sent: a datagram of four bytes, CRLF CRLF, from the node's SIP socket to the flow's
 * source address, every `intervalMs`. Why not OPTIONS (RFC 3261 section 11): an OPTIONS ping is a
 * client transaction per phone per interval (state, retransmissions, Timer F) and a phone whose
 * SIP stack maps it to a new "call" may treat it as unexpected (SIPp in UAS mode does, and fails
 * its scenario); why not STUN (RFC 5626 section 4.4.1 for UDP): that is the UA's keep-alive
 * towards its server, and a phone that did not ask for it has no STUN server on its SIP port. A
 * lone CRLF datagram is what RFC 5626 section 3.5.1 and 4.4.1 call a keep-alive, every SIP
 * stack discards it as an empty message (RFC 3261 section 7.5 lets a receiver ignore CRLFs before
 * a start line), and it is Kamailio nathelper's and OpenSIPS' default NAT ping. Inbound traffic
 * refreshes the mapping in NATs that refresh on inbound packets (Linux conntrack does, and
 * RFC 4787 REQ-6 allows it); a NAT that refreshes on outbound packets only needs the phone's own
 * keep-alives (`;ob`, RFC 5626), which the node answers (STUN on the SIP port, CRLF pong on TCP).
 *
 * Every flow gets one datagram per interval; the flows are spread over the interval in slices so
 * that ten thousand phones do not get their pings in one burst.
 */
import type { Clock, TimerHandle } from '../common/clock.js';
import type { RegistrarBinding } from '../registrar/index.js';
import { needsFlowRouting, type FlowOpen } from '../registrar/index.js';
import type { Endpoint } from '../sip/transport/index.js';

/** RFC 5626 section 3.5.1's "ping": CRLF CRLF. */
export const KEEPALIVE_PING = Buffer.from('\r\n\r\n');

/** How many slices an interval is cut into; each slice pings the flows whose turn it is. */
const SLICES = 10;

export interface FlowKeepaliveOptions {
  clock: Clock;
  /** Period per flow, ms (> 0). */
  intervalMs: number;
  /** The flows to keep open now (recomputed at every slice; duplicates are pinged once). */
  flows: () => Iterable<Endpoint>;
  /** Sends one ping to a flow. */
  send: (to: Endpoint) => void;
}

export class FlowKeepalive {
  private timer: TimerHandle | undefined;
  private slice = 0;
  /** Pings sent since start. */
  sent = 0;

  constructor(private readonly options: FlowKeepaliveOptions) {
    if (!(options.intervalMs > 0)) throw new RangeError('intervalMs must be > 0');
  }

  start(): void {
    if (this.timer) return;
    this.schedule();
  }

  stop(): void {
    this.timer?.cancel();
    this.timer = undefined;
  }

  private schedule(): void {
    this.timer = this.options.clock.setTimer(this.options.intervalMs / SLICES, () => {
      this.tick();
      if (this.timer) this.schedule();
    });
  }

  /** One slice: pings the flows that hash into it, so each flow is pinged once per interval. */
  tick(): void {
    const slice = this.slice;
    this.slice = (this.slice + 1) % SLICES;
    const seen = new Set<string>();
    for (const flow of this.options.flows()) {
      if (flow.protocol !== 'udp') continue;
      const key = `${flow.host}|${flow.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      if (sliceOf(key) !== slice) continue;
      this.options.send(flow);
      this.sent++;
    }
  }
}

/** The UDP flows of bindings that are reached over their flow (needsFlowRouting). */
export function* natFlows(bindings: Iterable<RegistrarBinding>, flowOpen?: FlowOpen): Generator<Endpoint> {
  for (const b of bindings) {
    if (b.source.protocol === 'udp' && needsFlowRouting(b, flowOpen)) yield b.source;
  }
}

/** A stable slice for a flow (FNV-1a of its address), so its pings come at a steady period. */
function sliceOf(key: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < key.length; i++) {
    h ^= key.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % SLICES;
}
