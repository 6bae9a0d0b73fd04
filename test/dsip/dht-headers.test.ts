import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkDhtPeerId, formatDhtPeerId, parseDhtPeerId } from '../../src/dsip/dht-peerid.js';
import {
  formatContactBinding,
  formatWarning,
  hasOptionTag,
  parseRequestDisposition,
  readContactBindings,
  readRoutingMode,
  readWarningText,
  unsupportedTags,
} from '../../src/dsip/headers.js';
import { idToHex } from '../../src/overlay/id.js';
import { aliceRegister, ALICE, contactArb, parseRequestText } from './helpers.js';

const hexA = idToHex(ALICE.id);

describe('DHT-PeerID', () => {
  it('writes exactly the profile form', () => {
    expect(formatDhtPeerId({ self: ALICE, overlay: 'chat', expiresS: 600 })).toBe(
      `<sip:peer@${ALICE.address};peer-ID=${hexA}>;algorithm=sha1;dht=Kademlia1.0;overlay=chat;expires=600`,
    );
    expect(formatDhtPeerId({ self: ALICE, overlay: '*', expiresS: 0, role: 'peer', stun: '192.0.2.10:3478', turn: '[2001:DB8::1]:3478' })).toBe(
      `<sip:peer@${ALICE.address};peer-ID=${hexA}>;algorithm=sha1;dht=Kademlia1.0;overlay=*;expires=0;role=peer;stun=192.0.2.10:3478;turn=[2001:db8::1]:3478`,
    );
    expect(() => formatDhtPeerId({ self: ALICE, overlay: 'bad name', expiresS: 1 })).toThrow(TypeError);
  });

  it('round-trips, optional parameters included', () => {
    fc.assert(
      fc.property(
        contactArb,
        fc.integer({ min: 0, max: 4294967295 }),
        fc.option(fc.constantFrom('peer' as const, 'client' as const), { nil: undefined }),
        fc.option(contactArb.map((c) => c.address), { nil: undefined }),
        (self, expiresS, role, stun) => {
          const r = parseDhtPeerId(formatDhtPeerId({ self, overlay: 'ov', expiresS, ...(role ? { role } : {}), ...(stun ? { stun } : {}) }));
          expect(r.ok).toBe(true);
          if (!r.ok) return;
          expect(r.value).toMatchObject({ algorithm: 'sha1', dht: 'Kademlia1.0', overlay: 'ov', anyOverlay: false, expiresS });
          expect(r.value.peer.id).toBe(self.id);
          expect(r.value.role).toBe(role);
          expect(r.value.stun).toBe(stun);
        },
      ),
    );
  });

  it('round-trips load= next to stun=/turn= (property), and writes it only with one of them', () => {
    fc.assert(
      fc.property(contactArb, fc.option(contactArb.map((c) => c.address), { nil: undefined }), fc.integer({ min: 0, max: 65535 }), (self, stun, load) => {
        const text = formatDhtPeerId({ self, overlay: 'ov', expiresS: 60, ...(stun ? { stun } : {}), load });
        const r = parseDhtPeerId(text);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.value.load).toBe(stun ? load : undefined);
      }),
    );
    expect(() => formatDhtPeerId({ self: ALICE, overlay: 'ov', expiresS: 1, stun: '192.0.2.1:3478', load: 65536 })).toThrow(RangeError);
    expect(() => formatDhtPeerId({ self: ALICE, overlay: 'ov', expiresS: 1, stun: '192.0.2.1:3478', load: 0.5 })).toThrow(RangeError);
  });

  it('refuses a load= that is not an integer 0..65535, like any other malformed parameter, and never throws', () => {
    const base = `<sip:peer@${ALICE.address};peer-ID=${hexA}>;algorithm=sha1;dht=Kademlia1.0;overlay=chat;stun=192.0.2.1:3478`;
    for (const bad of ['-1', '65536', '1.5', 'many', '', '"7x"']) {
      const r = parseDhtPeerId(`${base};load=${bad}`);
      expect(r.ok, bad).toBe(false);
      if (!r.ok) expect(r.error.message).toMatch(/load/);
    }
    expect(parseDhtPeerId(`${base};load=007`)).toMatchObject({ ok: true, value: { load: 7 } });
    fc.assert(
      fc.property(fc.string(), (junk) => {
        const r = parseDhtPeerId(`${base};load=${junk}`);
        if (r.ok && r.value.load !== undefined) expect(r.value.load).toBeLessThanOrEqual(65535);
      }),
    );
  });

  it('reads the drafts spellings: dht-param=, peerId, pID, P@, quoted values', () => {
    for (const v of [
      `<sip:peer@${ALICE.address};peerId=${hexA}>;algorithm=sha1;dht-param=Kademlia1.0;overlay=chat`,
      `<sip:P@${ALICE.address};pID=${hexA.toUpperCase()}>;algorithm=SHA1;dht=kademlia1.0;overlay="chat";expires=60`,
      `<sip:peer@${ALICE.address};peer-ID=${hexA}> ; algorithm = sha1 ; dht = Kademlia1.0 ; overlay = chat`,
    ]) {
      const r = parseDhtPeerId(v);
      expect(r.ok, v).toBe(true);
      if (!r.ok) continue;
      expect(r.value.peer.id).toBe(ALICE.id);
      expect(checkDhtPeerId(r.value, { overlay: 'chat' }), v).toBeNull();
    }
  });

  it('flags overlay=* and leaves the decision to the caller', () => {
    const r = parseDhtPeerId(formatDhtPeerId({ self: ALICE, overlay: '*', expiresS: 60 }));
    expect(r.ok && r.value.anyOverlay).toBe(true);
    if (!r.ok) return;
    expect(checkDhtPeerId(r.value, { overlay: 'chat' })).toMatch(/first contact/);
    expect(checkDhtPeerId(r.value, { overlay: 'chat', acceptAnyOverlay: true })).toBeNull();
  });

  it('says which overlay, dht or algorithm is unacceptable', () => {
    const base = `<sip:peer@${ALICE.address};peer-ID=${hexA}>`;
    const check = (params: string) => {
      const r = parseDhtPeerId(base + params);
      if (!r.ok) throw new Error(r.error.message);
      return checkDhtPeerId(r.value, { overlay: 'chat' });
    };
    expect(check(';algorithm=sha1;dht=Kademlia1.0;overlay=other')).toMatch(/overlay/);
    expect(check(';algorithm=sha1;dht=Chord1.0;overlay=chat')).toMatch(/dht/);
    expect(check(';algorithm=hmac-sha1;dht=Kademlia1.0;overlay=chat')).toMatch(/algorithm/);
    expect(check(';algorithm=sha1;dht=Kademlia1.0;overlay=CHAT')).toBeNull();
  });

  it('refuses malformed headers with a message', () => {
    const base = `<sip:peer@${ALICE.address};peer-ID=${hexA}>`;
    for (const bad of [
      '',
      'garbage',
      `${base};dht=Kademlia1.0;overlay=chat`,
      `${base};algorithm=sha1;overlay=chat`,
      `${base};algorithm=sha1;dht=Kademlia1.0`,
      `${base};algorithm=sha1;dht=Kademlia1.0;overlay=chat;expires=soon`,
      `${base};algorithm=sha1;dht=Kademlia1.0;overlay=chat;role=boss`,
      `${base};algorithm=sha1;dht=Kademlia1.0;overlay=chat;stun=example.com:3478`,
      `<sip:peer@0.0.0.0;peer-ID=${hexA}>;algorithm=sha1;dht=Kademlia1.0;overlay=chat`,
      `<sip:peer@${ALICE.address}>;algorithm=sha1;dht=Kademlia1.0;overlay=chat`,
    ]) {
      const r = parseDhtPeerId(bad);
      expect(r.ok, bad).toBe(false);
    }
  });

  it('never throws on arbitrary strings and returns an error value', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        expect(parseDhtPeerId(s).ok).toBe(false);
        const r = parseDhtPeerId(`<sip:peer@${ALICE.address};peer-ID=${hexA}>;algorithm=sha1;dht=Kademlia1.0;overlay=chat;${s}`);
        if (!r.ok) expect(r.error.message).toMatch(/DHT-PeerID/);
      }),
    );
  });
});

describe('Request-Disposition', () => {
  it('maps proxy to recursive and redirect to iterative, ignoring other directives', () => {
    expect(parseRequestDisposition('proxy')).toEqual({ ok: true, value: 'recursive' });
    expect(parseRequestDisposition('Redirect')).toEqual({ ok: true, value: 'iterative' });
    expect(parseRequestDisposition('fork, proxy, recurse, x-unknown')).toEqual({ ok: true, value: 'recursive' });
    expect(parseRequestDisposition('no-fork, queue')).toEqual({ ok: true, value: undefined });
    expect(parseRequestDisposition('proxy, redirect').ok).toBe(false);
    expect(parseRequestDisposition('proxy;x').ok).toBe(false);
  });

  it('reads the compact form d and defaults to redirect', () => {
    expect(readRoutingMode(parseRequestText(aliceRegister({ extra: ['d: proxy'] })))).toEqual({ ok: true, value: 'recursive' });
    expect(readRoutingMode(parseRequestText(aliceRegister()))).toEqual({ ok: true, value: 'iterative' });
  });

  it('never throws on arbitrary strings and returns an error value', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const r = parseRequestDisposition(s);
        if (r.ok) expect([undefined, 'iterative', 'recursive']).toContain(r.value);
        else expect(r.error.message).toMatch(/Request-Disposition/);
      }),
    );
    expect(parseRequestDisposition('{}').ok).toBe(false);
  });
});

describe('option tags, Contact bindings, Warning', () => {
  it('finds dht and lists unknown tags once', () => {
    expect(hasOptionTag(['100rel', 'DHT'], 'dht')).toBe(true);
    expect(unsupportedTags(['dht', 'foo', 'bar', 'foo'])).toEqual(['foo', 'bar']);
  });

  it('writes and reads bindings with expires and q', () => {
    const line = formatContactBinding({ uri: 'sip:alice@192.0.2.1:5060;transport=tcp', expiresS: 60, q: 0.5 });
    expect(line).toBe('<sip:alice@192.0.2.1:5060;transport=tcp>;expires=60;q=0.5');
    const req = parseRequestText(aliceRegister({ extra: [`Contact: ${line}`, 'Contact: <sip:bob@example.com>, sip:carol@example.com;q=1.000'] }));
    expect(readContactBindings(req, 10)).toEqual({
      ok: true,
      value: {
        star: false,
        bindings: [
          { uri: 'sip:alice@192.0.2.1:5060;transport=tcp', expiresS: 60, q: 0.5 },
          { uri: 'sip:bob@example.com' },
          { uri: 'sip:carol@example.com', q: 1 },
        ],
      },
    });
    expect(readContactBindings(req, 2).ok).toBe(false);
    expect(readContactBindings(req, 2, 'truncate')).toMatchObject({ ok: true, value: { bindings: [{}, {}] } });
    const badQ = parseRequestText(aliceRegister({ extra: ['Contact: <sip:a@b>;q=1.5'] }));
    expect(readContactBindings(badQ, 10).ok).toBe(false);
  });

  it('round-trips Warning text', () => {
    const req = parseRequestText(aliceRegister({ extra: [`Warning: ${formatWarning('192.0.2.1:5060', 'say "no" \\ now')}`] }));
    expect(readWarningText(req)).toBe('say "no" \\ now');
  });
});
