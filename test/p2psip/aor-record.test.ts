/** The overlay record `sip:user@IP:PORT` (src/p2psip/aor-record.ts): written and read in one place. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { canonicalIp } from '../../src/dsip/index.js';
import { aorRecordValue, formatAorRecord, parseAorRecord } from '../../src/p2psip/aor-record.js';

const host = fc.oneof(fc.ipV4(), fc.ipV6()).map((ip) => canonicalIp(ip) ?? ip);
const record = fc.record({ user: fc.string({ unit: 'grapheme', maxLength: 20 }), host, port: fc.integer({ min: 1, max: 65535 }) });

describe('AoR record', () => {
  it('format then parse gives the record back (any user, IPv4 and IPv6)', () => {
    fc.assert(fc.property(record, (r) => {
      expect(parseAorRecord(formatAorRecord(r))).toEqual(r);
    }), { numRuns: 500 });
  });

  it('malformed input gives null, never throws', () => {
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string().map((s) => `sip:${s}`), fc.string().map((s) => `sip:u@${s}`)), (s) => {
        const r = parseAorRecord(s);
        expect(r === null || (typeof r.host === 'string' && Number.isInteger(r.port))).toBe(true);
      }),
      { numRuns: 1000 },
    );
    for (const bad of ['', 'sip:', 'sip:bob@bob.example:5060', 'sips', 'tel:+123', 'sip:bob@[::1', 'sip:bob@1.2.3.4:99999', 'http://1.2.3.4:80/']) {
      expect(parseAorRecord(bad)).toBeNull();
    }
  });

  it('the wire form: sip:user@IP:PORT, IPv6 in brackets, the user escaped; no port means 5060', () => {
    expect(aorRecordValue('sip:alice@overlay.example', { host: '192.0.2.1', port: 5060 })).toBe('sip:alice@192.0.2.1:5060');
    expect(aorRecordValue('sip:alice@overlay.example', { host: '2001:db8::1', port: 5070 })).toBe('sip:alice@[2001:db8::1]:5070');
    expect(formatAorRecord({ user: 'a b@c', host: '192.0.2.1', port: 5060 })).toBe('sip:a%20b%40c@192.0.2.1:5060');
    expect(parseAorRecord('sip:bob@192.0.2.7')).toEqual({ user: 'bob', host: '192.0.2.7', port: 5060 });
    expect(parseAorRecord('sip:bob@[2001:DB8:0::7]:5080')).toEqual({ user: 'bob', host: '2001:db8::7', port: 5080 });
  });
});
