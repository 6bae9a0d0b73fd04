/** fast-check generators for valid SIP syntax, shared by the property tests. */
import fc from 'fast-check';
import { classifyHost } from '../../../src/sip/message/host.js';
import { quote } from '../../../src/sip/message/chars.js';
import type { AbsoluteUri, SipUri, Uri } from '../../../src/sip/message/uri.js';
import type { Param } from '../../../src/sip/message/params.js';
import type { NameAddr, Via } from '../../../src/sip/message/headers.js';

const chars = (set: string) => fc.constantFrom(...set.split(''));
const hexEscape = fc
  .integer({ min: 0, max: 255 })
  .map((n) => `%${n.toString(16).padStart(2, '0')}`)
  .chain((e) => fc.constantFrom(e, e.toUpperCase()));

const ALNUM = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
const UNRESERVED = `${ALNUM}-_.!~*'()`;
const TOKEN_CHARS = `${ALNUM}-.!%*_+\`'~`;

function escapedString(set: string, minLength: number, maxLength: number): fc.Arbitrary<string> {
  return fc
    .array(fc.oneof({ weight: 5, arbitrary: chars(set) }, { weight: 1, arbitrary: hexEscape }), { minLength, maxLength })
    .map((a) => a.join(''));
}

export const token = fc.array(chars(TOKEN_CHARS), { minLength: 1, maxLength: 12 }).map((a) => a.join(''));

export const userPart = escapedString(`${UNRESERVED}&=+$,;?/`, 1, 12);
export const password = escapedString(`${UNRESERVED}&=+$,`, 0, 8);
const paramText = escapedString(`${UNRESERVED}[]/:&+$`, 1, 10);
const hname = escapedString(`${UNRESERVED}[]/?:+$`, 1, 8);
const hvalue = escapedString(`${UNRESERVED}[]/?:+$`, 0, 8);

const label = fc
  .tuple(chars('abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'), fc.array(chars(`${ALNUM}-`), { maxLength: 8 }))
  .map(([a, b]) => a + b.join(''));
export const domain = fc.array(label, { minLength: 1, maxLength: 4 }).map((a) => a.join('.'));
export const ipv4 = fc.ipV4();
export const ipv6Ref = fc.ipV6().map((a) => `[${a}]`);
export const host = fc.oneof(domain, ipv4, ipv6Ref);
export const port = fc.option(fc.integer({ min: 0, max: 65535 }), { nil: null });

export const uriParam = fc.record({ name: paramText, value: fc.option(paramText, { nil: null }) });

export const sipUri: fc.Arbitrary<SipUri> = fc
  .record({
    scheme: fc.constantFrom('sip', 'sips', 'SIP', 'Sips'),
    userinfo: fc.option(fc.tuple(userPart, fc.option(password, { nil: null })), { nil: null }),
    host,
    port,
    params: fc.array(uriParam, { maxLength: 4 }),
    headers: fc.array(fc.record({ name: hname, value: hvalue }), { maxLength: 3 }),
  })
  .map((r) => ({
    kind: 'sip' as const,
    scheme: r.scheme,
    user: r.userinfo ? r.userinfo[0] : null,
    password: r.userinfo ? r.userinfo[1] : null,
    host: r.host,
    hostKind: classifyHost(r.host) ?? 'domain',
    port: r.port,
    params: r.params,
    headers: r.headers,
  }));

export const absoluteUri: fc.Arbitrary<AbsoluteUri> = fc.record({
  kind: fc.constant('absolute' as const),
  scheme: fc.constantFrom('tel', 'urn', 'http', 'x-foo.bar+baz'),
  opaque: escapedString(`${UNRESERVED};/?:@&=+$,`, 1, 16),
});

export const uri: fc.Arbitrary<Uri> = fc.oneof({ weight: 4, arbitrary: sipUri }, { weight: 1, arbitrary: absoluteUri });

/** Free text without CR/LF, including non-ASCII. */
export const text = fc.string({ unit: 'grapheme', maxLength: 20 }).map((s) => s.replace(/[\r\n]/g, ''));

export const genericParam: fc.Arbitrary<Param> = fc.record({
  name: token,
  value: fc.option(fc.oneof(token, text.map(quote), ipv6Ref, fc.ipV6()), { nil: null }),
});

const RESERVED_VIA = new Set(['branch', 'received', 'maddr', 'ttl', 'rport']);

export const via: fc.Arbitrary<Via> = fc
  .record({
    protocolName: fc.constantFrom('SIP', 'sip'),
    protocolVersion: fc.constantFrom('2.0', '3.1'),
    transport: fc.oneof(fc.constantFrom('UDP', 'TCP', 'TLS', 'SCTP', 'WS', 'WSS'), token),
    host,
    port,
    branch: token.map((t) => `z9hG4bK${t}`),
    extra: fc.array(genericParam.filter((p) => !RESERVED_VIA.has(p.name.toLowerCase())), { maxLength: 3 }),
    rport: fc.option(fc.option(fc.integer({ min: 0, max: 65535 }), { nil: null }), { nil: undefined }),
    received: fc.option(fc.oneof(ipv4, ipv6Ref), { nil: undefined }),
  })
  .map((r) => {
    const params: Param[] = [{ name: 'branch', value: r.branch }, ...r.extra];
    if (r.rport !== undefined) params.push({ name: 'rport', value: r.rport === null ? null : String(r.rport) });
    if (r.received !== undefined) params.push({ name: 'received', value: r.received });
    return {
      protocolName: r.protocolName,
      protocolVersion: r.protocolVersion,
      transport: r.transport,
      host: r.host,
      port: r.port,
      params,
    };
  });

export const displayName = fc.option(
  fc.oneof(text.map(quote), fc.array(token, { minLength: 1, maxLength: 3 }).map((a) => a.join(' '))),
  { nil: null },
);

export const nameAddr: fc.Arbitrary<NameAddr> = fc.record({
  displayName,
  uri,
  angle: fc.boolean(),
  params: fc.array(genericParam, { maxLength: 3 }),
});

export const cseq = fc.record({ seq: fc.integer({ min: 0, max: 4294967295 }), method: token });

/** Call-ID: word [ "@" word ]. */
const WORD_CHARS = `${TOKEN_CHARS}()<>:\\"/[]?{}`;
export const callId = fc
  .tuple(fc.array(chars(WORD_CHARS), { minLength: 1, maxLength: 16 }), fc.option(domain, { nil: null }))
  .map(([w, d]) => (d === null ? w.join('') : `${w.join('')}@${d}`));

export const method = fc.oneof(
  fc.constantFrom('INVITE', 'ACK', 'BYE', 'CANCEL', 'OPTIONS', 'REGISTER', 'MESSAGE', 'SUBSCRIBE', 'NOTIFY'),
  token,
);

/** Values for extension headers: trimmed text without CR/LF. */
export const extensionValue = text.map((s) => s.replace(/^[ \t]+|[ \t]+$/g, ''));
