import { describe, expect, it } from 'vitest';
import {
  Registrar,
  aorBecameReachable,
  aorBecameUnreachable,
  type RegistrarOptions,
} from '../../src/registrar/index.js';
import { getTo, parseMessage, tagOf } from '../../src/sip/message/index.js';
import { PHONE, contactsOf, register, registerText } from './helpers.js';

const AOR = 'sip:alice@example.com';
const T0 = 1_000_000;
const WALL = Date.UTC(2010, 10, 13, 23, 29, 0);

function makeRegistrar(opts: Partial<RegistrarOptions> = {}): Registrar {
  return new Registrar({
    domains: (h) => h === 'example.com' || h === '10.0.0.1' || h === '[2001:db8::1]',
    wallClock: () => WALL,
    ...opts,
  });
}

describe('Registrar: RFC 3261 10.3 step 1 (Request-URI domain)', () => {
  it('accepts our domain and our address, any case', () => {
    const r = makeRegistrar();
    expect(r.handle(register({ ruri: 'sip:EXAMPLE.com' }), PHONE, T0).response.status).toBe(200);
    expect(r.handle(register({ ruri: 'sip:10.0.0.1:5060', cseq: 2000 }), PHONE, T0).response.status).toBe(200);
  });

  it('answers 403 for a domain that is not ours (REGISTER is not forwarded)', () => {
    const r = makeRegistrar();
    const res = r.handle(register({ ruri: 'sip:other.org' }), PHONE, T0);
    expect(res.response.status).toBe(403);
    expect(res.response.reason).toBe('Not a domain of this registrar');
    expect(res.changes).toEqual([]);
    expect([...r.aors()]).toEqual([]);
  });

  it('answers 416 for a non-SIP Request-URI and 405 for another method', () => {
    const r = makeRegistrar();
    expect(r.handle(register({ ruri: 'tel:+15551234' }), PHONE, T0).response.status).toBe(416);
    const opt = r.handle(register({ method: 'OPTIONS' }), PHONE, T0).response;
    expect(opt.status).toBe(405);
    expect(opt.headers.get('allow')).toBe('REGISTER');
  });
});

describe('Registrar: step 2 (Require)', () => {
  it('answers 420 with Unsupported for an unknown option tag', () => {
    const r = makeRegistrar();
    const res = r.handle(register({ extra: ['Require: path, foo'] }), PHONE, T0).response;
    expect(res.status).toBe(420);
    expect(res.headers.get('unsupported')).toBe('path, foo');
  });

  it('accepts a Require tag listed as supported', () => {
    const r = makeRegistrar({ supportedExtensions: ['path'] });
    expect(r.handle(register({ extra: ['Require: path'] }), PHONE, T0).response.status).toBe(200);
  });
});

describe('Registrar: step 5 (address-of-record)', () => {
  it('404 when the To is not in our domains, has no user part or is not a SIP URI', () => {
    const r = makeRegistrar();
    expect(r.handle(register({ to: '<sip:alice@other.org>' }), PHONE, T0).response.status).toBe(404);
    expect(r.handle(register({ to: '<sip:example.com>' }), PHONE, T0).response.status).toBe(404);
    expect(r.handle(register({ to: '<tel:+15551234>' }), PHONE, T0).response.status).toBe(404);
  });

  it('404 for an unknown user when a user list is configured', () => {
    const r = makeRegistrar({ isKnownAor: (aor) => aor === AOR });
    expect(r.handle(register({ to: '<sip:mallory@example.com>' }), PHONE, T0).response.status).toBe(404);
    expect(r.handle(register(), PHONE, T0).response.status).toBe(200);
  });

  it('uses the canonical AoR: scheme and host case, port and parameters do not matter', () => {
    const r = makeRegistrar();
    const res = r.handle(register({ to: '<SIP:alice@Example.COM:5060;transport=tcp>' }), PHONE, T0);
    expect(res.aor).toBe(AOR);
    expect(r.lookup(AOR, T0)).toHaveLength(1);
  });
});

describe('Registrar: bindings (steps 6-8)', () => {
  it('adds a binding with the default expiry and answers 200 listing it, with Date and a To tag', () => {
    const r = makeRegistrar();
    const { response, changes } = r.handle(register(), PHONE, T0);
    expect(response.status).toBe(200);
    expect(contactsOf(response)).toEqual(['<sip:alice@192.168.1.20:5060>;expires=3600']);
    expect(response.headers.get('date')).toBe('Sat, 13 Nov 2010 23:29:00 GMT');
    expect(tagOf(getTo(response))).toBeDefined();
    expect(changes).toHaveLength(1);
    expect(changes[0]).toMatchObject({ aor: AOR, kind: 'added', remaining: 1 });
    const [b] = r.lookup(AOR, T0);
    expect(b).toMatchObject({
      aor: AOR,
      contact: 'sip:alice@192.168.1.20:5060',
      q: 1,
      expiresAt: T0 + 3_600_000,
      callId: '843817637684230@998sdasdh09',
      cseq: 1826,
      source: PHONE,
    });
    expect(aorBecameReachable(changes)).toEqual([AOR]);
  });

  it('takes the interval from the Contact expires parameter before the Expires header', () => {
    const r = makeRegistrar();
    const res = r.handle(
      register({ contacts: ['<sip:alice@192.168.1.20>;expires=120', '<sip:alice@192.168.1.21>'], expires: '600' }),
      PHONE,
      T0,
    );
    expect(res.response.status).toBe(200);
    expect(contactsOf(res.response).sort()).toEqual([
      '<sip:alice@192.168.1.20>;expires=120',
      '<sip:alice@192.168.1.21>;expires=600',
    ]);
  });

  it('shortens an interval above the maximum', () => {
    const r = makeRegistrar({ maxExpiresS: 1800, defaultExpiresS: 900 });
    const res = r.handle(register({ expires: '86400' }), PHONE, T0);
    expect(contactsOf(res.response)).toEqual(['<sip:alice@192.168.1.20:5060>;expires=1800']);
  });

  it('treats a malformed expires parameter as the default interval (RFC 3261 20.19)', () => {
    const r = makeRegistrar();
    const res = r.handle(register({ contacts: ['<sip:alice@192.168.1.20>;expires=soon'] }), PHONE, T0);
    expect(contactsOf(res.response)).toEqual(['<sip:alice@192.168.1.20>;expires=3600']);
  });

  it('423 with Min-Expires for a non-zero interval below the minimum, and nothing changes', () => {
    const r = makeRegistrar({ minExpiresS: 60 });
    const res = r.handle(
      register({ contacts: ['<sip:alice@192.168.1.20>;expires=3600', '<sip:alice@192.168.1.21>;expires=30'] }),
      PHONE,
      T0,
    );
    expect(res.response.status).toBe(423);
    expect(res.response.reason).toBe('Interval Too Brief');
    expect(res.response.headers.get('min-expires')).toBe('60');
    expect(r.lookup(AOR, T0)).toEqual([]);
    expect(r.handle(register({ expires: '60', cseq: 2000 }), PHONE, T0).response.status).toBe(200);
  });

  it('several contacts per AoR are returned by q, highest first', () => {
    const r = makeRegistrar();
    r.handle(
      register({
        contacts: ['<sip:alice@192.168.1.20>;q=0.1', '<sip:alice@192.168.1.21>;q=0.9, <sip:alice@192.168.1.22>', '<sip:alice@192.168.1.23>;q=0.5'],
      }),
      PHONE,
      T0,
    );
    expect(r.lookup(AOR, T0).map((b) => [b.contact, b.q])).toEqual([
      ['sip:alice@192.168.1.22', 1],
      ['sip:alice@192.168.1.21', 0.9],
      ['sip:alice@192.168.1.23', 0.5],
      ['sip:alice@192.168.1.20', 0.1],
    ]);
  });

  it('400 for a malformed q value', () => {
    const r = makeRegistrar();
    expect(r.handle(register({ contacts: ['<sip:alice@192.168.1.20>;q=1.5'] }), PHONE, T0).response.status).toBe(400);
    expect(r.handle(register({ contacts: ['<sip:alice@192.168.1.20>;q=high'] }), PHONE, T0).response.status).toBe(400);
  });

  it('a second phone registering the same AoR adds to, and the 200 lists all bindings', () => {
    const r = makeRegistrar();
    r.handle(register({ contacts: ['<sip:alice@192.168.1.20>'] }), PHONE, T0);
    const other = { protocol: 'tcp' as const, host: '198.51.100.9', port: 5070 };
    const res = r.handle(
      register({ contacts: ['<sip:alice@192.168.1.30;transport=tcp>;expires=600'], callId: 'other-phone', cseq: 1 }),
      other,
      T0 + 10_000,
    );
    expect(res.response.status).toBe(200);
    expect(contactsOf(res.response).sort()).toEqual([
      '<sip:alice@192.168.1.20>;expires=3590',
      '<sip:alice@192.168.1.30;transport=tcp>;expires=600',
    ]);
    expect(res.changes.map((c) => [c.kind, c.remaining])).toEqual([['added', 2]]);
    expect(aorBecameReachable(res.changes)).toEqual([]);
    expect(r.lookup(AOR, T0 + 10_000).find((b) => b.callId === 'other-phone')?.source).toEqual(other);
  });

  it('a query (no Contact) lists the bindings and changes nothing', () => {
    const r = makeRegistrar();
    r.handle(register(), PHONE, T0);
    const res = r.handle(register({ contacts: [], cseq: 2000 }), PHONE, T0 + 1000);
    expect(res.response.status).toBe(200);
    expect(contactsOf(res.response)).toEqual(['<sip:alice@192.168.1.20:5060>;expires=3599']);
    expect(res.changes).toEqual([]);
  });

  it('echoes the Contact parameters other than expires', () => {
    const r = makeRegistrar();
    const res = r.handle(
      register({ contacts: ['<sip:alice@192.168.1.20>;q=0.7;+sip.instance="<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>";reg-id=1'] }),
      PHONE,
      T0,
    );
    expect(contactsOf(res.response)).toEqual([
      '<sip:alice@192.168.1.20>;q=0.7;+sip.instance="<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>";reg-id=1;expires=3600',
    ]);
    expect(r.lookup(AOR, T0)[0]).toMatchObject({ instanceId: '<urn:uuid:f81d4fae-7dec-11d0-a765-00a0c91e6bf6>', regId: 1 });
  });
});

describe('Registrar: refresh and Call-ID/CSeq ordering (step 7)', () => {
  it('a refresh with a higher CSeq updates the expiry (URI compared per 19.1.4)', () => {
    const r = makeRegistrar();
    r.handle(register({ contacts: ['<sip:alice@192.168.1.20:5060;transport=udp>'], expires: '600' }), PHONE, T0);
    const res = r.handle(
      register({ contacts: ['<sip:alice@192.168.1.20:5060;TRANSPORT=UDP;ob>'], expires: '900', cseq: 1827 }),
      PHONE,
      T0 + 300_000,
    );
    expect(res.response.status).toBe(200);
    expect(res.changes.map((c) => c.kind)).toEqual(['refreshed']);
    expect(aorBecameReachable(res.changes)).toEqual([]);
    const bs = r.lookup(AOR, T0 + 300_000);
    expect(bs).toHaveLength(1);
    expect(bs[0]?.expiresAt).toBe(T0 + 300_000 + 900_000);
    expect(bs[0]?.cseq).toBe(1827);
    expect(bs[0]?.createdAt).toBe(T0);
  });

  it('contact URIs differing in user case, port or transport are distinct bindings', () => {
    const r = makeRegistrar();
    r.handle(
      register({
        contacts: ['<sip:alice@192.168.1.20>', '<sip:Alice@192.168.1.20>', '<sip:alice@192.168.1.20:5060>', '<sip:alice@192.168.1.20;transport=tcp>'],
      }),
      PHONE,
      T0,
    );
    expect(r.lookup(AOR, T0)).toHaveLength(4);
  });

  it('the same Call-ID with a CSeq not higher fails with 500 and changes nothing', () => {
    const r = makeRegistrar();
    r.handle(register({ cseq: 10, expires: '600' }), PHONE, T0);
    for (const cseq of [10, 9]) {
      const res = r.handle(register({ cseq, expires: '0' }), PHONE, T0 + 1000);
      expect(res.response.status).toBe(500);
      expect(res.response.reason).toBe('Out of order CSeq');
      expect(res.changes).toEqual([]);
    }
    expect(r.lookup(AOR, T0 + 1000)).toHaveLength(1);
  });

  it('a different Call-ID updates whatever its CSeq (a rebooted phone)', () => {
    const r = makeRegistrar();
    r.handle(register({ cseq: 10 }), PHONE, T0);
    const res = r.handle(register({ cseq: 1, callId: 'after-reboot', expires: '120' }), PHONE, T0 + 1000);
    expect(res.response.status).toBe(200);
    expect(r.lookup(AOR, T0 + 1000)[0]).toMatchObject({ callId: 'after-reboot', cseq: 1 });
  });
});

describe('Registrar: removal', () => {
  it('expires=0 removes one binding and leaves the others', () => {
    const r = makeRegistrar();
    r.handle(register({ contacts: ['<sip:alice@192.168.1.20>', '<sip:alice@192.168.1.21>'] }), PHONE, T0);
    const res = r.handle(register({ contacts: ['<sip:alice@192.168.1.20>;expires=0'], cseq: 1827 }), PHONE, T0 + 1000);
    expect(res.response.status).toBe(200);
    expect(res.changes.map((c) => [c.kind, c.binding.contact, c.remaining])).toEqual([['removed', 'sip:alice@192.168.1.20', 1]]);
    expect(contactsOf(res.response)).toEqual(['<sip:alice@192.168.1.21>;expires=3599']);
    expect(aorBecameUnreachable(res.changes)).toEqual([]);
  });

  it('removing the last binding makes the AoR unreachable and the 200 lists none', () => {
    const r = makeRegistrar();
    r.handle(register(), PHONE, T0);
    const res = r.handle(register({ expires: '0', cseq: 1827 }), PHONE, T0 + 1000);
    expect(res.response.status).toBe(200);
    expect(contactsOf(res.response)).toEqual([]);
    expect(aorBecameUnreachable(res.changes)).toEqual([AOR]);
    expect([...r.aors()]).toEqual([]);
  });

  it('expires=0 for an unknown contact is a no-op 200', () => {
    const r = makeRegistrar();
    const res = r.handle(register({ expires: '0' }), PHONE, T0);
    expect(res.response.status).toBe(200);
    expect(res.changes).toEqual([]);
  });

  it('replacing a contact in one REGISTER adds before it removes (no unreachable blip)', () => {
    const r = makeRegistrar();
    r.handle(register({ contacts: ['<sip:alice@192.168.1.20>'] }), PHONE, T0);
    const res = r.handle(
      register({ contacts: ['<sip:alice@192.168.1.20>;expires=0', '<sip:alice@192.168.1.99>'], cseq: 1827 }),
      PHONE,
      T0,
    );
    expect(res.changes.map((c) => [c.kind, c.remaining])).toEqual([['added', 2], ['removed', 1]]);
    expect(aorBecameReachable(res.changes)).toEqual([]);
    expect(aorBecameUnreachable(res.changes)).toEqual([]);
  });

  it('"Contact: *" with Expires: 0 removes every binding', () => {
    const r = makeRegistrar();
    r.handle(register({ contacts: ['<sip:alice@192.168.1.20>', '<sip:alice@192.168.1.21>'] }), PHONE, T0);
    r.handle(register({ contacts: ['<sip:alice@192.168.1.22>'], callId: 'other', cseq: 1 }), PHONE, T0);
    const res = r.handle(register({ contacts: ['*'], expires: '0', cseq: 1827 }), PHONE, T0 + 1000);
    expect(res.response.status).toBe(200);
    expect(contactsOf(res.response)).toEqual([]);
    expect(res.changes.map((c) => c.kind)).toEqual(['removed', 'removed', 'removed']);
    expect(aorBecameUnreachable(res.changes)).toEqual([AOR]);
  });

  it('"Contact: *" is 400 with a non-zero or absent Expires, or with another Contact', () => {
    const r = makeRegistrar();
    r.handle(register(), PHONE, T0);
    for (const o of [{ contacts: ['*'], expires: '3600' }, { contacts: ['*'] }]) {
      const res = r.handle(register({ ...o, cseq: 1900 }), PHONE, T0);
      expect(res.response.status).toBe(400);
    }
    expect(r.lookup(AOR, T0)).toHaveLength(1);
    // "*" beside another Contact never reaches the registrar: parseMessage answers 400 itself.
    const mixed = parseMessage(Buffer.from(registerText({ contacts: ['*', '<sip:alice@192.168.1.20>'], expires: '0' })));
    expect(mixed.ok ? 200 : mixed.error.status).toBe(400);
  });

  it('"Contact: *" is 400 on a hand-built request that also has another Contact line', () => {
    const r = makeRegistrar();
    r.handle(register(), PHONE, T0);
    const req = register({ contacts: ['*'], expires: '0', cseq: 1900 });
    req.headers.append('Contact', '<sip:alice@192.168.1.20>');
    expect(r.handle(req, PHONE, T0).response.status).toBe(400);
    expect(r.lookup(AOR, T0)).toHaveLength(1);
  });

  it('"Contact: *" with the same Call-ID and a CSeq not higher fails (step 7)', () => {
    const r = makeRegistrar();
    r.handle(register({ cseq: 5 }), PHONE, T0);
    const res = r.handle(register({ contacts: ['*'], expires: '0', cseq: 5 }), PHONE, T0);
    expect(res.response.status).toBe(500);
    expect(r.lookup(AOR, T0)).toHaveLength(1);
  });
});

describe('Registrar: expiry', () => {
  it('expire(now) removes lapsed bindings and reports them; lookup ignores them before that', () => {
    const r = makeRegistrar();
    r.handle(register({ contacts: ['<sip:alice@192.168.1.20>;expires=60', '<sip:alice@192.168.1.21>;expires=120'] }), PHONE, T0);
    r.handle(register({ to: '<sip:bob@example.com>', contacts: ['<sip:bob@192.168.1.40>'], expires: '300', callId: 'b' }), PHONE, T0);
    expect(r.expire(T0 + 59_999)).toEqual([]);
    expect(r.lookup(AOR, T0 + 60_000).map((b) => b.contact)).toEqual(['sip:alice@192.168.1.21']);
    const first = r.expire(T0 + 60_000);
    expect(first.map((c) => [c.kind, c.binding.contact, c.remaining])).toEqual([['expired', 'sip:alice@192.168.1.20', 1]]);
    const rest = r.expire(T0 + 1_000_000);
    expect(rest.map((c) => c.binding.contact)).toEqual(['sip:alice@192.168.1.21', 'sip:bob@192.168.1.40']);
    expect(aorBecameUnreachable(rest).sort()).toEqual([AOR, 'sip:bob@example.com']);
    expect([...r.aors()]).toEqual([]);
  });

  it('a refreshed binding is not expired at its old time', () => {
    const r = makeRegistrar();
    r.handle(register({ expires: '60' }), PHONE, T0);
    r.handle(register({ expires: '600', cseq: 1827 }), PHONE, T0 + 50_000);
    expect(r.expire(T0 + 61_000)).toEqual([]);
    expect(r.expire(T0 + 650_000).map((c) => c.kind)).toEqual(['expired']);
  });

  it('handle() sweeps the AoR first: the expired binding appears as an expired change', () => {
    const r = makeRegistrar();
    r.handle(register({ contacts: ['<sip:alice@192.168.1.20>'], expires: '60' }), PHONE, T0);
    const res = r.handle(register({ contacts: ['<sip:alice@192.168.1.21>'], cseq: 1827 }), PHONE, T0 + 61_000);
    expect(res.changes.map((c) => [c.kind, c.remaining])).toEqual([['expired', 0], ['added', 1]]);
    expect(aorBecameReachable(res.changes)).toEqual([]);
    expect(aorBecameUnreachable(res.changes)).toEqual([]);
    expect(contactsOf(res.response)).toEqual(['<sip:alice@192.168.1.21>;expires=3600']);
  });
});

describe('Registrar: bounds', () => {
  it('403 beyond maxBindingsPerAor, counting removals in the same request', () => {
    const r = makeRegistrar({ maxBindingsPerAor: 2 });
    r.handle(register({ contacts: ['<sip:alice@192.168.1.20>', '<sip:alice@192.168.1.21>'] }), PHONE, T0);
    const res = r.handle(register({ contacts: ['<sip:alice@192.168.1.22>'], cseq: 1827 }), PHONE, T0);
    expect(res.response.status).toBe(403);
    expect(res.response.reason).toBe('Too many registrations');
    const swap = r.handle(
      register({ contacts: ['<sip:alice@192.168.1.22>', '<sip:alice@192.168.1.20>;expires=0'], cseq: 1828 }),
      PHONE,
      T0,
    );
    expect(swap.response.status).toBe(200);
    expect(r.lookup(AOR, T0)).toHaveLength(2);
  });

  it('503 with Retry-After when maxAors AoRs are registered; room is made by expiry', () => {
    const r = makeRegistrar({ maxAors: 1 });
    r.handle(register({ expires: '60' }), PHONE, T0);
    const bob = () => register({ to: '<sip:bob@example.com>', contacts: ['<sip:bob@192.168.1.40>'], callId: 'b' });
    const full = r.handle(bob(), PHONE, T0);
    expect(full.response.status).toBe(503);
    expect(full.response.headers.get('retry-after')).toBe('300');
    const later = r.handle(bob(), PHONE, T0 + 60_000);
    expect(later.response.status).toBe(200);
    expect(later.changes.map((c) => [c.aor, c.kind])).toEqual([
      [AOR, 'expired'],
      ['sip:bob@example.com', 'added'],
    ]);
  });
});

describe('Registrar: hand-built requests', () => {
  it('400 when a header the registrar needs is missing', () => {
    const r = makeRegistrar();
    const req = register();
    req.headers.remove('to');
    expect(r.handle(req, PHONE, T0).response.status).toBe(400);
    const req2 = register();
    req2.headers.set('Contact', '<sip:alice@192.168.1.20');
    const res = r.handle(req2, PHONE, T0);
    expect(res.response.status).toBe(400);
    expect(res.response.reason).toBe('Invalid Contact header');
  });
});
