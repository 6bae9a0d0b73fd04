import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  addressOf,
  canonicalIp,
  contactOf,
  formatAnyHolderUri,
  formatPeerUri,
  idMatchesAddress,
  parsePeerUri,
  splitAddress,
} from '../../src/dsip/peer-uri.js';
import { formatResourceUri, readTarget } from '../../src/dsip/target.js';
import { idToHex } from '../../src/overlay/id.js';
import { peerIdFromAddress, resourceId } from '../../src/overlay/peer-id.js';
import { parseUri } from '../../src/sip/message/uri.js';
import { anyId, contactArb, contactAt } from './helpers.js';

const ID = 'ab'.repeat(20);

describe('addresses', () => {
  it('writes IPv4 and IPv6 addresses in one canonical form', () => {
    expect(addressOf('10.0.0.1', 5060)).toBe('10.0.0.1:5060');
    expect(addressOf('010.000.000.001', 5060)).toBe('10.0.0.1:5060');
    expect(addressOf('2001:DB8:0:0::1', 5070)).toBe('[2001:db8::1]:5070');
    expect(addressOf('[2001:db8::1]', 5070)).toBe('[2001:db8::1]:5070');
    expect(() => addressOf('example.com', 5060)).toThrow(RangeError);
    expect(() => addressOf('10.0.0.1', 70000)).toThrow(RangeError);
  });

  it('splits addresses and refuses anything but IP:PORT', () => {
    expect(splitAddress('10.0.0.1:5060')).toEqual({ host: '10.0.0.1', port: 5060 });
    expect(splitAddress('[::1]:5060')).toEqual({ host: '::1', port: 5060 });
    for (const bad of ['10.0.0.1', '::1:5060', 'example.com:5060', '10.0.0.1:99999', '[::1]', '10.0.0.1:50a', '']) {
      expect(splitAddress(bad)).toBeNull();
    }
  });

  it('round-trips every IP and port', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 }), (ip, port) => {
        const a = addressOf(ip, port);
        const s = splitAddress(a);
        expect(s).not.toBeNull();
        expect(addressOf(s!.host, s!.port)).toBe(a);
        expect(canonicalIp(s!.host)).toBe(s!.host);
      }),
    );
  });

  it('never throws on arbitrary text', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        splitAddress(s);
        canonicalIp(s);
      }),
    );
  });
});

describe('peer URIs', () => {
  it('writes the long form with 40 lowercase hex digits', () => {
    const c = contactAt('10.0.0.1', 5060);
    expect(formatPeerUri(c)).toBe(`<sip:peer@10.0.0.1:5060;peer-ID=${idToHex(c.id)}>`);
    expect(formatPeerUri(contactAt('2001:db8::1', 5070))).toMatch(/^<sip:peer@\[2001:db8::1\]:5070;peer-ID=[0-9a-f]{40}>$/);
    expect(formatAnyHolderUri(1n)).toBe(`<sip:peer@0.0.0.0;peer-ID=${'0'.repeat(39)}1>`);
  });

  it('reads the long form and the short forms P@ and pID=, and peerId=', () => {
    const want = { host: '10.0.0.1', port: 5060, id: BigInt('0x' + ID), anyHolder: false };
    expect(parsePeerUri(`<sip:peer@10.0.0.1:5060;peer-ID=${ID}>`)).toEqual({ ok: true, value: want });
    expect(parsePeerUri(`sip:P@10.0.0.1:5060;pID=${ID.toUpperCase()}`)).toEqual({ ok: true, value: want });
    expect(parsePeerUri(`<sip:peer@10.0.0.1:5060;peerId=${ID}>;expires=60`)).toEqual({ ok: true, value: want });
    // No port: 5060 (RFC 3261 section 19.1.2).
    expect(parsePeerUri(`sip:peer@10.0.0.1;peer-ID=${ID}`)).toEqual({ ok: true, value: want });
  });

  it('reads 0.0.0.0 as "whoever holds this ID"', () => {
    const r = parsePeerUri(`<sip:peer@0.0.0.0;peer-ID=${ID}>`);
    expect(r.ok && r.value.anyHolder).toBe(true);
  });

  it('refuses what is not a peer URI', () => {
    for (const bad of [
      `sip:alice@10.0.0.1;peer-ID=${ID}`,
      `sip:peer@example.com;peer-ID=${ID}`,
      'sip:peer@10.0.0.1',
      'sip:peer@10.0.0.1;peer-ID=abc',
      `tel:+1234;peer-ID=${ID}`,
      `<sip:peer@10.0.0.1;peer-ID=${ID}`,
    ]) {
      expect(parsePeerUri(bad).ok, bad).toBe(false);
    }
  });

  it('round-trips every contact, and verifies IDs against addresses', () => {
    fc.assert(
      fc.property(contactArb, anyId, (c, other) => {
        const r = parsePeerUri(formatPeerUri(c));
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(contactOf(r.value)).toEqual(c);
        expect(idMatchesAddress(r.value.id, r.value.host, r.value.port)).toBe(true);
        if (other !== c.id) expect(idMatchesAddress(other, r.value.host, r.value.port)).toBe(false);
      }),
    );
  });

  it('hashes the canonical text of an address, whatever form it was written in', () => {
    expect(idMatchesAddress(peerIdFromAddress('2001:db8::1', 5060), '[2001:0DB8:0000::1]', 5060)).toBe(true);
    expect(idMatchesAddress(peerIdFromAddress('10.0.0.1', 5060), '010.0.0.1', 5060)).toBe(true);
    // A dual-stack socket reports an IPv4 peer as ::ffff:a.b.c.d.
    expect(canonicalIp('::ffff:192.0.2.10')).toBe('192.0.2.10');
    expect(addressOf('[::FFFF:c000:20a]', 5060)).toBe('192.0.2.10:5060');
  });

  it('never throws on arbitrary strings and returns an error value', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const r = parsePeerUri(s);
        if (r.ok) expect(r.value.id).toBeTypeOf('bigint');
        else expect(r.error.message).toBeTypeOf('string');
      }),
    );
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(parsePeerUri(`<sip:peer@${s}>`).ok).toBe(false);
        expect(parsePeerUri(`sip:peer@10.0.0.1;peer-ID=${s}`).ok).toBe(/^[0-9a-fA-F]{40}$/.test(s));
      }),
    );
  });
});

describe('request targets (To)', () => {
  const to = (s: string) => {
    const u = parseUri(s);
    if (!u.ok) throw new Error(s);
    return readTarget(u.value);
  };

  it('reads peers, the resource placeholder and real AoRs', () => {
    expect(to(`sip:peer@0.0.0.0;peer-ID=${ID}`)).toMatchObject({ ok: true, value: { kind: 'peer', peer: { anyHolder: true } } });
    const key = 12345n;
    expect(to(formatResourceUri(key).slice(1, -1))).toEqual({ ok: true, value: { kind: 'resource', key } });
    const aor = resourceId('sip:Alice@example.com');
    expect(to('sip:Alice@EXAMPLE.com:5060;transport=tcp')).toEqual({ ok: true, value: { kind: 'resource', key: aor } });
    expect(to(`sip:Alice@example.com;rID=${idToHex(aor)}`)).toEqual({ ok: true, value: { kind: 'resource', key: aor } });
  });

  it('refuses an rID that is not the hash of the AoR it sits on', () => {
    expect(to(`sip:Alice@example.com;rID=${ID}`).ok).toBe(false);
    expect(to('sip:resource@0.0.0.0;rID=xyz').ok).toBe(false);
  });
});
