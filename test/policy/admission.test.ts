/**
 * AdmissionPolicy with the real DigestAuthenticator: 407 challenges (SHA-256 before MD5, stale
 * nonces, replays), our realm's credentials consumed and others' forwarded, the cooling-off after
 * wrong passwords, REGISTER failures counted with the proxy's.
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { AdmissionPolicy, type AdmissionPolicyOptions } from '../../src/policy/admission.js';
import { AuthFailures } from '../../src/policy/auth-failures.js';
import { parseCidr, type Cidr } from '../../src/policy/cidr.js';
import type { Destination } from '../../src/policy/decide.js';
import type { AdmissionVerdict } from '../../src/proxy/types.js';
import { DigestAuthenticator } from '../../src/registrar/digest.js';
import { SILENT_LOGGER } from '../../src/common/logger.js';
import type { Endpoint } from '../../src/sip/transport/index.js';
import { parseRequest } from '../registrar/helpers.js';

const REALM = 'kadsip.test';
const RURI = 'sip:+15551234@voip.example.net';
const PHONE: Endpoint = { protocol: 'udp', host: '203.0.113.7', port: 40123 };
const LAN_PHONE: Endpoint = { protocol: 'udp', host: '10.1.2.3', port: 5062 };
const nets = (...t: string[]): Cidr[] => t.map((x) => (parseCidr(x) as { ok: true; value: Cidr }).value);

function invite(extra: string[] = [], o: { ruri?: string; toTag?: boolean } = {}) {
  return parseRequest(
    [
      `INVITE ${o.ruri ?? RURI} SIP/2.0`,
      'Via: SIP/2.0/UDP 203.0.113.7:40123;branch=z9hG4bK776asdhds;rport',
      'Max-Forwards: 70',
      `To: <${o.ruri ?? RURI}>${o.toTag ? ';tag=abc' : ''}`,
      'From: Alice <sip:alice@kadsip.test>;tag=1928301774',
      'Call-ID: a84b4c76e66710@pc33',
      'CSeq: 314159 INVITE',
      'Contact: <sip:alice@203.0.113.7:40123>',
      ...extra,
      'Content-Length: 0',
      '',
      '',
    ].join('\r\n'),
  );
}

const H = (alg: string, s: string) => createHash(alg === 'MD5' ? 'md5' : 'sha256').update(s).digest('hex');

function credentials(challenge: string, o: { password?: string; nc?: string; realm?: string; user?: string } = {}): string {
  const field = (name: string) => new RegExp(`${name}="?([^",]*)"?`).exec(challenge)?.[1] ?? '';
  const alg = field('algorithm');
  const user = o.user ?? 'alice';
  const realm = o.realm ?? field('realm');
  const nc = o.nc ?? '00000001';
  const ha1 = H(alg, `${user}:${realm}:${o.password ?? 'wonderland'}`);
  const response = H(alg, `${ha1}:${field('nonce')}:${nc}:0a4f113b:auth:${H(alg, `INVITE:${RURI}`)}`);
  return `Digest username="${user}", realm="${realm}", nonce="${field('nonce')}", uri="${RURI}", response="${response}", algorithm=${alg}, qop=auth, nc=${nc}, cnonce="0a4f113b", opaque="${field('opaque')}"`;
}

function setup(o: Partial<AdmissionPolicyOptions> & { destination?: Destination; withAuth?: boolean } = {}) {
  let now = 1_000_000;
  const auth = new DigestAuthenticator({ realm: REALM, users: new Map([['alice', 'wonderland']]), secret: Buffer.alloc(32, 7), nonceTtlMs: 300_000 });
  const policy = new AdmissionPolicy({
    trustedNetworks: nets('127.0.0.0/8', '10.0.0.0/8'),
    dnsRouting: true,
    ...(o.withAuth === false ? {} : { auth }),
    failures: new AuthFailures({ limit: 3, windowMs: 60_000, coolingOffMs: 300_000 }),
    destinationOf: () => o.destination ?? 'foreign',
    isPeer: () => false,
    now: () => now,
    log: SILENT_LOGGER,
    ...o,
  });
  const ask = (request = invite(), source = PHONE, viaOurRoute = false): AdmissionVerdict => policy.admit({ request, pre: request, source, viaOurRoute });
  return { policy, ask, advance: (ms: number) => (now += ms) };
}

function refused(v: AdmissionVerdict) {
  if (v.admit) throw new Error('admitted');
  return v;
}

const proxyChallenges = (v: AdmissionVerdict) => (refused(v).headers ?? []).filter(([n]) => n === 'Proxy-Authenticate').map(([, c]) => c);

describe('AdmissionPolicy', () => {
  it('challenges an unknown source with 407, one Proxy-Authenticate per algorithm, SHA-256 first (RFC 8760)', () => {
    const { ask, policy } = setup();
    const v = refused(ask());
    expect(v.status).toBe(407);
    const c = proxyChallenges(v);
    expect(c.map((x) => /algorithm=([\w-]+)/.exec(x)?.[1])).toEqual(['SHA-256', 'MD5']);
    expect(c[0]).toContain(`realm="${REALM}"`);
    expect(c[0]).toContain('qop="auth"');
    expect(c[0]).not.toContain('stale');
    expect(policy.stats.challenges407).toBe(1);
  });

  it('accepts the right credentials (either algorithm), consumes ours and forwards another realm\'s (RFC 3261 22.3)', () => {
    for (const index of [0, 1]) {
      const { ask, policy } = setup();
      const challenge = proxyChallenges(ask())[index]!;
      const other = 'Digest username="alice", realm="carrier.example", nonce="x", uri="sip:a@b", response="00", qop=auth, nc=00000001, cnonce="y"';
      const v = ask(invite([`Proxy-Authorization: ${credentials(challenge)}`, `Proxy-Authorization: ${other}`]));
      if (!v.admit) throw new Error(`refused ${v.status}`);
      expect(v.request?.headers.getAll('proxy-authorization')).toEqual([other]);
      expect(policy.stats.accepted.authenticated).toBe(1);
    }
  });

  it('refuses a replayed nonce-count and answers an expired nonce with stale=true', () => {
    const { ask, advance } = setup();
    const challenge = proxyChallenges(ask())[0]!;
    const good = invite([`Proxy-Authorization: ${credentials(challenge)}`]);
    expect(ask(good).admit).toBe(true);
    expect(refused(ask(good)).status).toBe(407);
    advance(300_001);
    const late = refused(ask(invite([`Proxy-Authorization: ${credentials(challenge, { nc: '00000002' })}`])));
    expect(late.status).toBe(407);
    expect(proxyChallenges(late)[0]).toContain('stale=true');
  });

  it('after the limit of wrong passwords, the source gets 403 for the cooling-off time, even with the right one', () => {
    const { ask, advance, policy } = setup();
    const challenge = proxyChallenges(ask())[0]!;
    const wrong = (nc: string) => invite([`Proxy-Authorization: ${credentials(challenge, { password: 'guess', nc })}`]);
    expect(refused(ask(wrong('00000001'))).status).toBe(407);
    expect(refused(ask(wrong('00000002'))).status).toBe(407);
    const third = refused(ask(wrong('00000003')));
    expect(third.status).toBe(403);
    expect(third.headers?.find(([n]) => n === 'Warning')?.[1]).toMatch(/^399 kadsip "too many failed authentications/);
    const right = invite([`Proxy-Authorization: ${credentials(challenge, { nc: '00000004' })}`]);
    expect(refused(ask(right)).status).toBe(403);
    // Another source is not affected, nor calls to a local phone from this one, and a trusted LAN never cools off.
    expect(refused(ask(invite(), { ...PHONE, host: '203.0.113.8' })).status).toBe(407);
    expect(policy.refuseRegister(PHONE)).toMatchObject({ admit: false, status: 403 });
    expect(policy.stats).toMatchObject({ authFailures: 3, coolingOffStarted: 1, coolingOffRefusals: 3 });
    advance(300_000);
    expect(ask(invite([`Proxy-Authorization: ${credentials(challenge, { nc: '00000005' })}`])).admit).toBe(true);
  });

  it('counts REGISTER failures reported by the registrar towards the same cooling-off', () => {
    const { ask, policy } = setup();
    policy.registerOutcome(PHONE, 401, 'no-credentials');
    policy.registerOutcome(PHONE, 401, 'stale-nonce');
    expect(policy.refuseRegister(PHONE)).toBeUndefined();
    for (let i = 0; i < 3; i++) policy.registerOutcome(PHONE, 401, 'bad-response');
    expect(policy.refuseRegister(PHONE)).toMatchObject({ admit: false, status: 403 });
    expect(refused(ask()).status).toBe(403);
    expect(policy.stats.challenges401).toBe(5);
    // A trusted network's phone that fails as often is never locked out.
    for (let i = 0; i < 5; i++) policy.registerOutcome(LAN_PHONE, 401, 'bad-response');
    expect(policy.refuseRegister(LAN_PHONE)).toBeUndefined();
  });

  it('a trusted network calls out without credentials; calls to a phone registered here pass from anyone', () => {
    expect(setup().ask(invite(), LAN_PHONE)).toEqual({ admit: true });
    expect(setup({ destination: 'registered-here' }).ask()).toEqual({ admit: true });
  });

  it('no users file: 403 Not Relaying for an untrusted source; DNS routing off: 404', () => {
    expect(refused(setup({ withAuth: false }).ask())).toMatchObject({ status: 403, reason: 'Not Relaying' });
    expect(refused(setup({ dnsRouting: false }).ask(invite(), LAN_PHONE))).toMatchObject({ status: 404 });
  });

  it('in-dialog requests that came by our Record-Route pass, others do not', () => {
    const { ask } = setup({ withAuth: false });
    expect(ask(invite([], { toTag: true }), PHONE, true).admit).toBe(true);
    expect(ask(invite([], { toTag: true }), PHONE, false).admit).toBe(false);
  });
});
