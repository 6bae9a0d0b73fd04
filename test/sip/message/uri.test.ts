import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalAor,
  getUriParam,
  percentDecode,
  percentDecodeBytes,
  parseUri,
  serializeUri,
  type Uri,
} from '../../../src/sip/message/index.js';
import { uri } from './arbitraries.js';

function mustParse(s: string): Uri {
  const r = parseUri(s);
  if (!r.ok) throw new Error(`${s}: ${r.error.message}`);
  return r.value;
}

describe('parseUri', () => {
  it('parses every part of a SIP URI', () => {
    const u = mustParse('sips:alice:secret@Example.COM:5061;transport=tcp;lr?subject=hi&priority=urgent');
    expect(u).toEqual({
      kind: 'sip',
      scheme: 'sips',
      user: 'alice',
      password: 'secret',
      host: 'Example.COM',
      hostKind: 'domain',
      port: 5061,
      params: [
        { name: 'transport', value: 'tcp' },
        { name: 'lr', value: null },
      ],
      headers: [
        { name: 'subject', value: 'hi' },
        { name: 'priority', value: 'urgent' },
      ],
    });
  });

  it('handles IPv4 and bracketed IPv6 hosts (RFC 5118)', () => {
    expect(mustParse('sip:[2001:db8::10]:5070')).toMatchObject({ host: '[2001:db8::10]', port: 5070, hostKind: 'ipv6' });
    expect(mustParse('sip:[2001:db8::10:5070]')).toMatchObject({ host: '[2001:db8::10:5070]', port: null });
    expect(mustParse('sip:u@[2001:db8:::192.0.2.1]')).toMatchObject({ hostKind: 'ipv6' });
    expect(mustParse('sip:192.0.2.1:5060')).toMatchObject({ host: '192.0.2.1', hostKind: 'ipv4', port: 5060 });
    expect(parseUri('sip:2001:db8::10').ok).toBe(false);
    expect(parseUri('sip:[2001:db8::10').ok).toBe(false);
    expect(parseUri('sip:256.1.1.1').ok).toBe(false);
  });

  it('keeps escapes as written and allows ; and ? in the user part', () => {
    expect(mustParse('sip:user;par=u%40example.net@example.com')).toMatchObject({
      user: 'user;par=u%40example.net',
      host: 'example.com',
      params: [],
    });
    const u = mustParse('sip:cal%6Cer@host;%6C%72;n%61me=v%61lue%25%34%31');
    expect(u).toMatchObject({ user: 'cal%6Cer' });
    expect(getUriParam(u, 'lr')).toBeNull();
    expect(getUriParam(u, 'NAME')).toBe('v%61lue%25%34%31');
    expect(getUriParam(u, 'maddr')).toBeUndefined();
  });

  it('treats other schemes as opaque absolute URIs', () => {
    expect(mustParse('tel:+1-201-555-0123;phone-context=x')).toEqual({
      kind: 'absolute',
      scheme: 'tel',
      opaque: '+1-201-555-0123;phone-context=x',
    });
    expect(mustParse('soap.beep://192.0.2.103:3002')).toMatchObject({ kind: 'absolute', scheme: 'soap.beep' });
  });

  it('rejects malformed URIs with a typed error', () => {
    for (const bad of ['', 'sip', ':x', '<sip:a@b>', 'sip:', 'sip:a@', 'sip:a@b:99999', 'sip:a@b:x', 'sip:a b@c',
      'sip:a%zz@b', 'sip:a@b;=x', 'sip:a@b;x=', 'sip:a@b?x', 'sip:@b', 'sip:a@b c', 'tel:', '1x:y']) {
      const r = parseUri(bad);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.error.message).toBeTypeOf('string');
    }
  });
});

describe('percentDecode and canonicalAor', () => {
  it('decodes escapes, NUL included', () => {
    expect(percentDecode('I%20have%20spaces')).toBe('I have spaces');
    expect(percentDecode('null-%00-null')).toBe('null-\u0000-null');
    expect(percentDecode('caf%C3%A9')).toBe('café');
    expect(percentDecodeBytes('%FF%00a')).toEqual(Buffer.from([0xff, 0, 0x61]));
    // Invalid UTF-8 is not decoded lossily.
    expect(percentDecode('a%ff%41')).toBe('a%FFA');
  });

  it('builds scheme:user@host with only the replica parameter', () => {
    expect(canonicalAor(mustParse('SIP:%41lice@Example.COM:5070;transport=udp?x=y'))).toBe('sip:Alice@example.com');
    expect(canonicalAor(mustParse('sips:bob@EXAMPLE.org;Replica=2;lr'))).toBe('sips:bob@example.org;replica=2');
    expect(canonicalAor(mustParse('sip:example.com'))).toBe('sip:example.com');
    expect(canonicalAor(mustParse('sip:u@[2001:DB8::1]'))).toBe('sip:u@[2001:db8::1]');
    expect(canonicalAor(mustParse('TEL:+123'))).toBe('tel:+123');
  });
});

describe('URI properties', () => {
  it('serialise → parse gives back the same URI', () => {
    fc.assert(
      fc.property(uri, (u) => {
        expect(mustParse(serializeUri(u))).toEqual(u);
      }),
      { numRuns: 300 },
    );
  });

  it('never throws on arbitrary input', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.stringMatching(/^sips?:[@:;?=&%\[\]a-z0-9.]*$/)), (s) => {
        const r = parseUri(s);
        expect(typeof r.ok).toBe('boolean');
        if (r.ok) expect(parseUri(serializeUri(r.value))).toEqual(r);
      }),
      { numRuns: 300 },
    );
  });
});
