/** Shared generators and helpers for the dSIP codec tests. */
import fc from 'fast-check';
import { addressOf, canonicalIp } from '../../src/dsip/peer-uri.js';
import type { Contact } from '../../src/overlay/contact.js';
import { ID_MAX, idToHex, type NodeId } from '../../src/overlay/id.js';
import type { Binding, OverlayRequest, RequestEnvelope } from '../../src/overlay/messages.js';
import { peerIdFromAddress } from '../../src/overlay/peer-id.js';
import { parseMessage, serializeMessage, type SipMessage, type SipRequest, type SipResponse } from '../../src/sip/message/index.js';
import { quote } from '../../src/sip/message/chars.js';
import { serializeUri } from '../../src/sip/message/uri.js';
import { uri as uriArb } from '../sip/message/arbitraries.js';

export const OVERLAY = 'chat.example.org';

export function contactAt(host: string, port: number): Contact {
  const ip = canonicalIp(host);
  if (ip === null) throw new Error(`bad host ${host}`);
  return { id: peerIdFromAddress(ip, port), address: addressOf(ip, port) };
}

export const ALICE = contactAt('192.0.2.10', 5060);
export const BOB = contactAt('198.51.100.7', 5070);
export const ALICE_SRC = { host: '192.0.2.10', port: 5060 };
export const BOB_SRC = { host: '198.51.100.7', port: 5070 };

export const anyId: fc.Arbitrary<NodeId> = fc.bigInt({ min: 0n, max: ID_MAX });
const portArb = fc.integer({ min: 1, max: 65535 });
/** An IP (v4, or v6 in any textual form fast-check writes) and port, as a socket would report them. */
export const sourceArb = fc.record({ host: fc.oneof({ weight: 3, arbitrary: fc.ipV4() }, { weight: 1, arbitrary: fc.ipV6() }), port: portArb });
/** A peer whose ID is the one of its address, as every verified Contact is. */
export const contactArb: fc.Arbitrary<Contact> = sourceArb.map((s) => contactAt(s.host, s.port));
export const contactsArb = (maxLength: number): fc.Arbitrary<Contact[]> =>
  fc.uniqueArray(contactArb, { maxLength, selector: (c) => c.address });

/** A binding value is a contact URI; lifetimes in whole seconds survive the trip through ;expires=. */
export const bindingValueArb = uriArb.map(serializeUri);
/**
 * A binding proof's text (PROTOCOL.md section 11.4), signed or MACed, as src/trust/binding-proof.ts
 * writes it; the codec carries it without reading it, so its bytes need not verify here.
 */
export const proofArb: fc.Arbitrary<string> = fc
  .record({
    aor: fc.tuple(fc.string({ unit: 'grapheme', minLength: 1, maxLength: 12 }), fc.domain()).map(([u, d]) => `sip:${u.replace(/[\r\n]/g, '')}@${d}`),
    seq: fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }),
    expiresAtS: fc.integer({ min: 0, max: 2 ** 40 }),
    signer: fc.option(fc.uint8Array({ minLength: 32, maxLength: 32 }).map((b) => Buffer.from(b).toString('hex'))),
    tag: fc.uint8Array({ minLength: 64, maxLength: 64 }).map((b) => Buffer.from(b)),
  })
  .map(({ aor, seq, expiresAtS, signer, tag }) => {
    const head = `aor=${quote(aor)};seq=${seq};exp=${expiresAtS}`;
    return signer === null ? `${head};mac=${tag.subarray(0, 32).toString('base64url')}` : `${head};signer=${signer};sig=${tag.toString('base64url')}`;
  });
export const bindingArb: fc.Arbitrary<Binding> = fc.record(
  {
    value: bindingValueArb,
    ttlMs: fc.integer({ min: 1, max: 30 * 24 * 3600 }).map((s) => s * 1000),
    proof: proofArb,
  },
  { requiredKeys: ['value', 'ttlMs'] },
);
/** A REMOVE's removal: a value, with its removal proof or without. */
export const removalArb: fc.Arbitrary<Binding> = fc.record({ value: bindingValueArb, ttlMs: fc.constant(0), proof: proofArb }, { requiredKeys: ['value', 'ttlMs'] });

export const requestArb: fc.Arbitrary<OverlayRequest> = fc.oneof(
  fc.constant({ op: 'PING' as const }),
  fc.constant({ op: 'JOIN' as const }),
  fc.constant({ op: 'LEAVE' as const }),
  anyId.map((target) => ({ op: 'FIND_NODE' as const, target })),
  anyId.map((key) => ({ op: 'FIND_VALUE' as const, key })),
  fc.record({ op: fc.constant('STORE' as const), key: anyId, bindings: fc.array(bindingArb, { minLength: 1, maxLength: 6 }) }),
  fc.record({ op: fc.constant('REMOVE' as const), key: anyId, removals: fc.array(removalArb, { minLength: 1, maxLength: 6 }) }),
);

/** An envelope from the peer at `source`: its ID is the one the receiver will recompute. */
export const envelopeArb = (source: { host: string; port: number }): fc.Arbitrary<RequestEnvelope> =>
  fc
    .record({
      mode: fc.constantFrom('iterative' as const, 'recursive' as const),
      hops: fc.integer({ min: 0, max: 70 }),
      request: requestArb,
    })
    .map(({ mode, hops, request }) => ({
      from: contactAt(source.host, source.port),
      mode,
      // Max-Forwards 0 on a recursive request is a 483, not a round trip.
      hops: mode === 'recursive' ? Math.min(hops, 69) : hops,
      request,
    }));

/** What the wire carries: serialise and parse back (adding the Via the transaction layer would). */
export function overTheWire(msg: SipRequest): SipRequest;
export function overTheWire(msg: SipResponse): SipResponse;
export function overTheWire(msg: SipMessage): SipMessage {
  if (msg.kind === 'request' && !msg.headers.has('via')) msg.headers.prepend('Via', 'SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKtest1');
  const parsed = parseMessage(serializeMessage(msg));
  if (!parsed.ok) throw new Error(`unparsable: ${parsed.error.reason} ${parsed.error.warning ?? ''}`);
  if (parsed.message.kind !== msg.kind) throw new Error('kind changed');
  return parsed.message;
}

export function parseRequestText(lines: string[]): SipRequest {
  const parsed = parseMessage(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`));
  if (!parsed.ok || parsed.message.kind !== 'request') throw new Error(`unparsable test request: ${JSON.stringify(parsed)}`);
  return parsed.message;
}

export function parseResponseText(lines: string[]): SipResponse {
  const parsed = parseMessage(Buffer.from(`${lines.join('\r\n')}\r\n\r\n`));
  if (!parsed.ok || parsed.message.kind !== 'response') throw new Error('unparsable test response');
  return parsed.message;
}

export const hex = (c: Contact): string => idToHex(c.id);

/** The profile's DHT-PeerID for a contact, with overridable parameters. */
export function dhtPeerIdOf(c: Contact, params = `;algorithm=sha1;dht=Kademlia1.0;overlay=${OVERLAY};expires=3600`): string {
  return `<sip:peer@${c.address};peer-ID=${hex(c)}>${params}`;
}

/**
 * A well-formed peer REGISTER from ALICE, as text lines; `edit` replaces or removes (value null)
 * header lines by name, and `extra` appends some.
 */
export function aliceRegister(
  opts: { method?: string; edit?: Record<string, string | null>; extra?: string[] } = {},
): string[] {
  const method = opts.method ?? 'REGISTER';
  const headers: Array<[string, string]> = [
    ['Via', 'SIP/2.0/UDP 192.0.2.10:5060;branch=z9hG4bKabc'],
    ['To', `<sip:peer@0.0.0.0;peer-ID=${hex(BOB)}>`],
    ['From', `<sip:peer@${ALICE.address};peer-ID=${hex(ALICE)}>;tag=1`],
    ['Call-ID', 'c1@192.0.2.10'],
    ['CSeq', `1 ${method}`],
    ['Max-Forwards', '70'],
    ['Require', 'dht'],
    ['Supported', 'dht'],
    ['DHT-PeerID', dhtPeerIdOf(ALICE)],
    ['Content-Length', '0'],
  ];
  const lines = [`${method} sip:${BOB.address} SIP/2.0`];
  const edits = opts.edit ?? {};
  for (const [name, value] of headers) {
    if (name in edits) {
      const v = edits[name];
      if (v !== null && v !== undefined) lines.push(`${name}: ${v}`);
    } else {
      lines.push(`${name}: ${value}`);
    }
  }
  for (const [name, v] of Object.entries(edits)) {
    if (v !== null && !headers.some(([n]) => n === name)) lines.push(`${name}: ${v}`);
  }
  lines.push(...(opts.extra ?? []));
  return lines;
}
