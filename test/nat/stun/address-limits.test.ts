import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { formatIp, parseIp, toTransportAddress, unmapIPv4 } from '../../../src/nat/stun/address.js';
import { LogLimiter, RequestLimiter } from '../../../src/nat/stun/limits.js';

describe('IP text <-> bytes', () => {
  it('formats IPv6 per RFC 5952, like the WHATWG URL serializer', () => {
    fc.assert(
      fc.property(fc.uint8Array({ minLength: 16, maxLength: 16 }), fc.boolean(), (bytes, sparse) => {
        if (sparse) for (let i = 0; i < 16; i++) if ((bytes[i] as number) < 160) bytes[i] = 0;
        const text = formatIp(bytes);
        expect(text).toBe(new URL(`http://[${text}]/`).hostname.slice(1, -1));
        expect(Buffer.from(parseIp(text) ?? []).equals(Buffer.from(bytes))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it('parses the usual shapes', () => {
    expect(formatIp(parseIp('::') ?? new Uint8Array())).toBe('::');
    expect(formatIp(parseIp('1::') ?? new Uint8Array())).toBe('1::');
    expect(formatIp(parseIp('::ffff:1.2.3.4') ?? new Uint8Array())).toBe('::ffff:102:304');
    expect(formatIp(parseIp('fe80::1%eth0') ?? new Uint8Array())).toBe('fe80::1');
    expect(formatIp(parseIp('10.0.0.255') ?? new Uint8Array())).toBe('10.0.0.255');
    expect(parseIp('example.com')).toBeUndefined();
    expect(parseIp('1.2.3.256')).toBeUndefined();
  });

  it('unmaps IPv4-mapped IPv6', () => {
    expect(unmapIPv4('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(unmapIPv4('::1')).toBe('::1');
    expect(unmapIPv4('127.0.0.1')).toBe('127.0.0.1');
    expect(toTransportAddress('::ffff:10.1.2.3', 9)).toEqual({ family: 'IPv4', host: '10.1.2.3', port: 9 });
    expect(toTransportAddress('not-an-ip', 9)).toBeUndefined();
  });
});

describe('per-source limiters', () => {
  it('LogLimiter allows one line per source per interval and stays bounded', () => {
    let now = 0;
    const l = new LogLimiter(3, 60_000, () => now);
    expect(l.allow('a')).toBe(true);
    expect(l.allow('a')).toBe(false);
    now = 60_000;
    expect(l.allow('a')).toBe(true);
    for (let i = 0; i < 100; i++) l.allow(`s${i}`);
    expect(l.size).toBe(3);
  });

  it('RequestLimiter allows N per second per source and stays bounded', () => {
    let now = 0;
    const l = new RequestLimiter(2, 3, () => now);
    expect([1, 2, 3, 4].map(() => l.allow('a'))).toEqual([true, true, true, false]);
    now = 1000;
    expect(l.allow('a')).toBe(true);
    for (let i = 0; i < 50; i++) l.allow(`s${i}`);
    expect(l.size).toBe(2);
  });
});
