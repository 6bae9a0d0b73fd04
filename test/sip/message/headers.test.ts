import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  canonicalHeaderName,
  getParam,
  getParamText,
  headerKey,
  parseCSeq,
  parseContact,
  parseContentLength,
  parseExpires,
  parseMaxForwards,
  parseNameAddr,
  parseNameAddrList,
  parseParams,
  parseTokenList,
  parseVia,
  serializeCSeq,
  serializeNameAddr,
  serializeParams,
  serializeVia,
  tagOf,
  unquote,
  viaBranch,
  viaMaddr,
  viaReceived,
  viaRport,
  viaTtl,
  type NameAddr,
  type Result,
} from '../../../src/sip/message/index.js';
import { cseq, genericParam, nameAddr, via } from './arbitraries.js';

function value<T>(r: Result<T>): T {
  if (!r.ok) throw new Error(r.error.message);
  return r.value;
}

const anyString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 60 }),
  fc.array(fc.constantFrom(';', ',', '"', '<', '>', '=', ' ', 'a', 'sip:', '@', '[', ']', ':', '\\', '/', '1'), {
    maxLength: 30,
  }).map((a) => a.join('')),
);

describe('header names', () => {
  it('expands compact forms and is case-insensitive', () => {
    expect(headerKey('v')).toBe('via');
    expect(headerKey('VIA')).toBe('via');
    expect(headerKey('I')).toBe('call-id');
    expect(headerKey('X-Custom')).toBe('x-custom');
    expect(canonicalHeaderName('call-id')).toBe('Call-ID');
    expect(canonicalHeaderName('l')).toBe('Content-Length');
    expect(canonicalHeaderName('cseq')).toBe('CSeq');
    expect(canonicalHeaderName('dht-peerid')).toBe('DHT-PeerID');
    expect(canonicalHeaderName('X-cUsToM')).toBe('X-cUsToM');
    for (const c of 'abcdefijklmnorstuvxy') expect(canonicalHeaderName(c)).not.toBe(c);
  });
});

describe('generic params', () => {
  it('parses valueless, token, quoted and host values with LWS around ; and =', () => {
    const ps = value(parseParams(' ;  lr ; tag = abc;q=0.5 ;x="a;b,\\"c";received=[2001:db8::1];r2=2001:db8::1'));
    expect(ps).toEqual([
      { name: 'lr', value: null },
      { name: 'tag', value: 'abc' },
      { name: 'q', value: '0.5' },
      { name: 'x', value: '"a;b,\\"c"' },
      { name: 'received', value: '[2001:db8::1]' },
      { name: 'r2', value: '2001:db8::1' },
    ]);
    expect(getParam(ps, 'TAG')).toBe('abc');
    expect(getParamText(ps, 'x')).toBe('a;b,"c');
    expect(getParam(ps, 'lr')).toBeNull();
    expect(getParam(ps, 'nope')).toBeUndefined();
  });

  it('rejects empty names, missing values and junk', () => {
    for (const bad of [';;', ';', ';a=', ';a="x', ';a b', 'x', ';a=b c']) expect(parseParams(bad).ok, bad).toBe(false);
  });

  it('round-trips', () => {
    fc.assert(
      fc.property(fc.array(genericParam, { maxLength: 5 }), (ps) => {
        expect(value(parseParams(serializeParams(ps)))).toEqual(ps);
      }),
      { numRuns: 200 },
    );
  });

  it('never throws', () => {
    fc.assert(fc.property(anyString, (s) => void expect(typeof parseParams(s).ok).toBe('boolean')), { numRuns: 300 });
  });
});

describe('Via', () => {
  it('parses LWS-heavy multi-value lines (RFC 4475 wsinv)', () => {
    const vs = value(
      parseVia('SIP  / 2.0  / TCP     spindle.example.com   ; branch  =   z9hG4bK9ikj8  , SIP  /    2.0   / UDP  192.168.255.111   ; branch= z9hG4bK30239'),
    );
    expect(vs).toHaveLength(2);
    expect(vs[0]).toMatchObject({ protocolName: 'SIP', protocolVersion: '2.0', transport: 'TCP', host: 'spindle.example.com', port: null });
    expect(viaBranch(vs[0]!)).toBe('z9hG4bK9ikj8');
    expect(vs[1]).toMatchObject({ transport: 'UDP', host: '192.168.255.111' });
  });

  it('extracts branch, received, rport, maddr, ttl; IPv6 sent-by', () => {
    const [v] = value(parseVia('SIP/2.0/UDP [2001:db8::9:1]:6050;branch=z9hG4bKx;received=2001:db8::9:255;rport;maddr=224.2.0.1;ttl=16'));
    expect(v).toMatchObject({ host: '[2001:db8::9:1]', port: 6050 });
    expect(viaReceived(v!)).toBe('2001:db8::9:255');
    expect(viaRport(v!)).toBe(true);
    expect(viaMaddr(v!)).toBe('224.2.0.1');
    expect(viaTtl(v!)).toBe(16);
    const [w] = value(parseVia('SIP/2.0/UDP h;rport=5062;received=[2001:db8::9:255]'));
    expect(viaRport(w!)).toBe(5062);
    expect(viaBranch(w!)).toBeUndefined();
  });

  it('rejects malformed values (RFC 4475 badinv01 and friends)', () => {
    for (const bad of [
      'SIP/2.0/UDP 192.0.2.15;;,;,,',
      'SIP/2.0/UDP',
      'SIP/2.0 host',
      'SIP/2.0/UDPhost',
      'SIP/2.0/UDP host:99999',
      'SIP/2.0/UDP host;ttl=256',
      'SIP/2.0/UDP host;rport=x',
      'SIP/2.0/UDP host;branch',
      'SIP/2.0/UDP host;received=not_an_ip!',
      'SIP/2.0/UDP [::1',
      'SIP/2.0/UDP a,',
      '',
    ]) {
      expect(parseVia(bad).ok, bad).toBe(false);
    }
  });

  it('round-trips', () => {
    fc.assert(
      fc.property(fc.array(via, { minLength: 1, maxLength: 3 }), (vs) => {
        expect(value(parseVia(vs.map(serializeVia).join(', ')))).toEqual(vs);
      }),
      { numRuns: 200 },
    );
  });

  it('never throws', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, anyString.map((s) => `SIP/2.0/UDP ${s}`)), (s) => {
        expect(typeof parseVia(s).ok).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });
});

describe('name-addr', () => {
  it('parses quoted, token and missing display names', () => {
    const a = value(parseNameAddr('"J Rosenberg \\\\\\""       <sip:jdrosen@example.com> ; tag = 98asjd8'));
    expect(a.displayName).toBe('"J Rosenberg \\\\\\""');
    expect(unquote(a.displayName!)).toBe('J Rosenberg \\"');
    expect(tagOf(a)).toBe('98asjd8');
    expect(value(parseNameAddr('caller<sip:caller@example.com>;tag=323')).displayName).toBe('caller');
    expect(value(parseNameAddr('A. Bell <sip:a.g.bell@example.com>;tag=x')).displayName).toBe('A. Bell');
    expect(value(parseNameAddr('<sip:a@b>')).displayName).toBeNull();
  });

  it('gives params after a bare addr-spec to the header, inside <> to the URI (RFC 4475 cparam01/02)', () => {
    const bare = value(parseNameAddr('sip:+19725552222@gw1.example.net;unknownparam'));
    expect(bare.params).toEqual([{ name: 'unknownparam', value: null }]);
    expect(bare.uri).toMatchObject({ params: [] });
    const angled = value(parseNameAddr('<sip:+19725552222@gw1.example.net;unknownparam>'));
    expect(angled.params).toEqual([]);
    expect(angled.uri).toMatchObject({ params: [{ name: 'unknownparam', value: null }] });
  });

  it('accepts any absolute URI scheme (RFC 4475 unksm2)', () => {
    expect(value(parseNameAddr('isbn:2983792873')).uri).toMatchObject({ kind: 'absolute', scheme: 'isbn' });
    expect(value(parseNameAddr('<http://www.example.com>;tag=3')).uri).toMatchObject({ kind: 'absolute', scheme: 'http' });
  });

  it('splits lists on commas outside quotes and <>', () => {
    const list = value(parseNameAddrList('"Doe, John" <sip:a@b;x=1>, <sip:c,x@d?h=1>, sip:e@f;q=0.5'));
    expect(list.map((n) => n.displayName)).toEqual(['"Doe, John"', null, null]);
    expect(list[2]!.params).toEqual([{ name: 'q', value: '0.5' }]);
  });

  it('handles Contact *', () => {
    expect(value(parseContact(' * '))).toEqual({ star: true });
    expect(value(parseContact('<sip:a@b>'))).toMatchObject({ star: false });
    expect(parseContact('*, <sip:a@b>').ok).toBe(false);
  });

  it('rejects malformed addresses', () => {
    for (const bad of [
      '"Mr. J. User <sip:j.user@example.com>',
      '"Watson, Thomas" < sip:t.watson@example.org >',
      'Bell, Alexander <sip:a.g.bell@example.com>;tag=43',
      '"Joe" <sip:joe@example.org>;;;;',
      'sip:user@example.com?Route=%3Csip:sip.example.com%3E',
      '<sip:a@b',
      '<sip:a@b> junk',
      '"x" sip:a@b',
      '',
      '<>',
    ]) {
      expect(parseNameAddr(bad).ok, bad).toBe(false);
    }
    expect(parseNameAddrList('<sip:a@b>,,<sip:c@d>').ok).toBe(false);
  });

  it('round-trips (adding <> only where the grammar needs them)', () => {
    fc.assert(
      fc.property(nameAddr, (na) => {
        const s = serializeNameAddr(na);
        const back = value(parseNameAddr(s));
        const expected: NameAddr = { ...na, angle: s.includes('<') };
        expect(back).toEqual(expected);
        expect(serializeNameAddr(back)).toBe(s);
      }),
      { numRuns: 300 },
    );
  });

  it('round-trips lists', () => {
    fc.assert(
      fc.property(fc.array(nameAddr, { minLength: 1, maxLength: 4 }), (list) => {
        const s = list.map(serializeNameAddr).join(', ');
        expect(value(parseNameAddrList(s)).map(serializeNameAddr).join(', ')).toBe(s);
      }),
      { numRuns: 150 },
    );
  });

  it('never throws', () => {
    fc.assert(
      fc.property(anyString, (s) => {
        expect(typeof parseNameAddr(s).ok).toBe('boolean');
        expect(typeof parseNameAddrList(s).ok).toBe('boolean');
        expect(typeof parseContact(s).ok).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });
});

describe('CSeq and scalars', () => {
  it('parses CSeq with leading zeros and LWS, bounded to 2**32-1', () => {
    expect(value(parseCSeq('0009   INVITE'))).toEqual({ seq: 9, method: 'INVITE' });
    expect(value(parseCSeq('4294967295 REGISTER'))).toEqual({ seq: 4294967295, method: 'REGISTER' });
    for (const bad of ['4294967296 REGISTER', '36893488147419103232 REGISTER', '1', 'INVITE', '-1 INVITE', '1 IN VITE', '1 A@B'])
      expect(parseCSeq(bad).ok, bad).toBe(false);
  });

  it('bounds Max-Forwards, Content-Length and Expires', () => {
    expect(value(parseMaxForwards('0068'))).toBe(68);
    expect(parseMaxForwards('256').ok).toBe(false);
    expect(parseMaxForwards('300').ok).toBe(false);
    expect(value(parseContentLength(' 150 '))).toBe(150);
    expect(parseContentLength('-999').ok).toBe(false);
    expect(parseContentLength('1e3').ok).toBe(false);
    expect(value(parseExpires('4294967295'))).toBe(4294967295);
    expect(parseExpires('1'.padEnd(100, '0')).ok).toBe(false);
    expect(value(parseTokenList('a, b ,c'))).toEqual(['a', 'b', 'c']);
    expect(parseTokenList('a,,b').ok).toBe(false);
  });

  it('CSeq round-trips', () => {
    fc.assert(fc.property(cseq, (c) => void expect(value(parseCSeq(serializeCSeq(c)))).toEqual(c)), { numRuns: 200 });
  });

  it('scalar parsers agree with a BigInt reference and never throw', () => {
    fc.assert(
      fc.property(fc.oneof(anyString, fc.bigInt({ min: 0n, max: 10n ** 25n }).map(String)), (s) => {
        const t = s.replace(/^[ \t]+|[ \t]+$/g, '');
        const ref = /^[0-9]+$/.test(t) ? BigInt(t) : null;
        const mf = parseMaxForwards(s);
        expect(mf.ok).toBe(ref !== null && ref <= 255n);
        const cl = parseContentLength(s);
        expect(cl.ok).toBe(ref !== null && ref <= 4294967295n);
        if (cl.ok) expect(BigInt(cl.value)).toBe(ref);
        expect(typeof parseCSeq(s).ok).toBe('boolean');
      }),
      { numRuns: 300 },
    );
  });
});
