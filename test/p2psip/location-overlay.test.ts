/**
 * The overlay path of the location service (src/p2psip/location-service.ts, PROTOCOL.md section 4)
 * over a fake overlay port and a real registrar: registrar first, then FIND_VALUE; an overlay hit
 * sends the request to the callee's peer with its Request-URI unchanged; nobody has it: [] (404);
 * the overlay out of reach: 480 with Retry-After; short positive and negative caches.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { resourceId } from '../../src/overlay/peer-id.js';
import { formatAorRecord } from '../../src/p2psip/aor-record.js';
import { LocationService } from '../../src/p2psip/location-service.js';
import { Registrar } from '../../src/registrar/index.js';
import type { Rfc3263Resolver } from '../../src/resolve/index.js';
import { createRequest } from '../../src/sip/message/index.js';
import { PHONE, register } from '../registrar/helpers.js';
import { FakeOverlayPort, ManualClock } from './fake-overlay.js';

const SELF = { host: '198.51.100.1', port: 5060 };
const BOB = 'sip:bob@overlay.example';
const bobPeer = { host: '198.51.100.9', port: 5070 };

let overlay: FakeOverlayPort;
let clock: ManualClock;
let registrar: Registrar;
let ls: LocationService;

beforeEach(() => {
  overlay = new FakeOverlayPort();
  clock = new ManualClock();
  registrar = new Registrar({ domains: (h) => h === 'overlay.example' });
  ls = new LocationService({
    registrar,
    overlay,
    isOverlayHost: (h) => h === 'overlay.example',
    self: SELF,
    dns: { resolve: () => Promise.reject(new Error('no DNS for an overlay host')) } as unknown as Rfc3263Resolver,
    clock,
    peerProtocol: 'udp',
    positiveCacheMs: 5000,
    negativeCacheMs: 2000,
  });
});

const invite = (uri: string) => createRequest({ method: 'INVITE', uri, from: '<sip:alice@overlay.example>;tag=a', to: `<${uri}>`, callId: 'lo-1', cseq: 1 });

describe('LocationService: overlay domains', () => {
  it('a phone registered here is found in the registrar, without asking the overlay', async () => {
    registrar.handle(register({ ruri: 'sip:overlay.example', to: `<${BOB}>`, from: `<${BOB}>;tag=1`, contacts: ['<sip:bob@192.0.2.20:5062>'], expires: '3600' }), PHONE, clock.now());
    const targets = await ls.resolve(invite(BOB));
    expect(targets).toEqual([{ uri: 'sip:bob@192.0.2.20:5062', destination: expect.objectContaining({ port: expect.any(Number) }), q: expect.anything() }]);
    expect(overlay.lookups).toBe(0);
  });

  it('an overlay hit sends the request to the callee peer, Request-URI unchanged', async () => {
    overlay.hold(resourceId(BOB), formatAorRecord({ user: 'bob', ...bobPeer }));
    expect(await ls.resolve(invite(BOB))).toEqual([{ uri: BOB, destination: { protocol: 'udp', ...bobPeer } }]);
    expect(overlay.lookups).toBe(1);
  });

  it('nobody has the AoR: no target (404)', async () => {
    expect(await ls.resolve(invite(BOB))).toEqual([]);
  });

  it('no peer answers after the node had peers: 480 with Retry-After', async () => {
    overlay.peersAnswer = false;
    expect(await ls.resolve(invite(BOB))).toEqual({ status: 480, reason: 'Temporarily Unavailable', retryAfterS: 5 });
    // Still 480 once the dead peers are gone from the table: the node had peers, the overlay is out of reach.
    overlay.peers = false;
    clock.advance(10_000);
    expect(await ls.resolve(invite('sip:carol@overlay.example'))).toEqual({ status: 480, reason: 'Temporarily Unavailable', retryAfterS: 5 });
  });

  it('a node that never had a peer is an overlay of one: an unknown user is 404, not 480', async () => {
    overlay.peers = false;
    overlay.peersAnswer = false;
    expect(await ls.resolve(invite(BOB))).toEqual([]);
  });

  it('a record naming this node itself (stale, from before a restart) is skipped; garbage records too', async () => {
    overlay.hold(resourceId(BOB), formatAorRecord({ user: 'bob', ...SELF }), 'not a uri', 'sip:bob@bob.example', formatAorRecord({ user: 'bob', ...bobPeer }));
    expect(await ls.resolve(invite(BOB))).toEqual([{ uri: BOB, destination: { protocol: 'udp', ...bobPeer } }]);
  });

  it('answers are cached briefly: a hit for the positive TTL, a miss for the negative one; invalidate forgets', async () => {
    overlay.hold(resourceId(BOB), formatAorRecord({ user: 'bob', ...bobPeer }));
    await ls.resolve(invite(BOB));
    clock.advance(4999);
    await ls.resolve(invite(BOB));
    expect(overlay.lookups).toBe(1);
    clock.advance(1);
    await ls.resolve(invite(BOB));
    expect(overlay.lookups).toBe(2);
    ls.invalidate(BOB);
    await ls.resolve(invite(BOB));
    expect(overlay.lookups).toBe(3);

    const carol = 'sip:carol@overlay.example';
    await ls.resolve(invite(carol));
    clock.advance(1999);
    expect(await ls.resolve(invite(carol))).toEqual([]);
    expect(overlay.lookups).toBe(4);
    clock.advance(1);
    overlay.hold(resourceId(carol), formatAorRecord({ user: 'carol', ...bobPeer }));
    expect(await ls.resolve(invite(carol))).toEqual([{ uri: carol, destination: { protocol: 'udp', ...bobPeer } }]);
    expect(overlay.lookups).toBe(5);
  });

  it('a client attached to a peer (symmetric NAT) sends what it has not registered to that peer, without a lookup', async () => {
    const attach = { protocol: 'udp' as const, host: '198.51.100.5', port: 5060 };
    const client = new LocationService({
      registrar,
      overlay,
      isOverlayHost: (h) => h === 'overlay.example',
      self: SELF,
      dns: {} as Rfc3263Resolver,
      clock,
      peerProtocol: 'udp',
      attachPeer: () => attach,
    });
    expect(await client.resolve(invite(BOB))).toEqual([{ uri: BOB, destination: attach }]);
    expect(overlay.lookups).toBe(0);
  });
});
