import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  DigestAuthenticator,
  Registrar,
  computeHa1,
  digestResponse,
  formatChallenge,
  parseCredentials,
  type DigestAlgorithm,
  type UserSecret,
} from '../../src/registrar/index.js';
import type { SipRequest, SipResponse } from '../../src/sip/message/index.js';
import { PHONE, register, type RegisterText } from './helpers.js';

describe('digest hash computation: RFC 7616 section 3.9.1 vectors', () => {
  const common = {
    nonce: '7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v',
    nc: '00000001',
    cnonce: 'f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ',
    qop: 'auth',
    method: 'GET',
    uri: '/dir/index.html',
  };
  it('MD5', () => {
    const ha1 = computeHa1('MD5', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    expect(digestResponse({ ...common, algorithm: 'MD5', ha1 })).toBe('8ca523f5e9506fed4657c9700eebdbec');
  });
  it('SHA-256', () => {
    const ha1 = computeHa1('SHA-256', 'Mufasa', 'http-auth@example.org', 'Circle of Life');
    expect(digestResponse({ ...common, algorithm: 'SHA-256', ha1 })).toBe(
      '753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1',
    );
  });
});

const REALM = 'example.com';
const T0 = 5_000_000;
const SECRET = Buffer.from('0123456789abcdef0123456789abcdef');
const USERS = new Map<string, UserSecret>([
  ['alice', 'wonderland'],
  ['bob', 'builder'],
]);

function authenticator(extra: Partial<ConstructorParameters<typeof DigestAuthenticator>[0]> = {}): DigestAuthenticator {
  return new DigestAuthenticator({ realm: REALM, users: USERS, secret: SECRET, ...extra });
}

function registrarWith(auth: DigestAuthenticator): Registrar {
  return new Registrar({ domains: (h) => h === 'example.com', auth, wallClock: () => 0 });
}

/** The challenge fields, read with a regex independent of the module's parser. */
function challengeOf(res: SipResponse, index = 0): { nonce: string; opaque: string; algorithm: string; stale: boolean; raw: string } {
  const raw = res.headers.getAll('www-authenticate')[index];
  if (raw === undefined) throw new Error('no WWW-Authenticate');
  const field = (name: string) => new RegExp(`${name}="?([^",]*)"?`).exec(raw)?.[1] ?? '';
  return { nonce: field('nonce'), opaque: field('opaque'), algorithm: field('algorithm'), stale: /stale=true/i.test(raw), raw };
}

const H = (alg: DigestAlgorithm, s: string) => createHash(alg === 'MD5' ? 'md5' : 'sha256').update(s).digest('hex');

interface AuthInput {
  readonly algorithm: DigestAlgorithm;
  readonly nonce: string;
  readonly opaque?: string;
  readonly user?: string;
  readonly password?: string;
  readonly nc?: string;
  readonly uri?: string;
  readonly realm?: string;
  readonly omitAlgorithm?: boolean;
}

/** An Authorization value computed from the RFC 7616 formula with node:crypto. */
function authorization(a: AuthInput): string {
  const user = a.user ?? 'alice';
  const realm = a.realm ?? REALM;
  const uri = a.uri ?? 'sip:example.com';
  const nc = a.nc ?? '00000001';
  const cnonce = '0a4f113b';
  const ha1 = H(a.algorithm, `${user}:${realm}:${a.password ?? 'wonderland'}`);
  const ha2 = H(a.algorithm, `REGISTER:${uri}`);
  const response = H(a.algorithm, `${ha1}:${a.nonce}:${nc}:${cnonce}:auth:${ha2}`);
  const alg = a.omitAlgorithm ? '' : `, algorithm=${a.algorithm}`;
  const opaque = a.opaque !== undefined ? `, opaque="${a.opaque}"` : '';
  return `Digest username="${user}", realm="${realm}", nonce="${a.nonce}", uri="${uri}", response="${response}"${alg}, qop=auth, nc=${nc}, cnonce="${cnonce}"${opaque}`;
}

function withAuth(auth: string, o: RegisterText = {}): SipRequest {
  return register({ ...o, extra: [...(o.extra ?? []), `Authorization: ${auth}`] });
}

describe('DigestAuthenticator in the registrar (RFC 3261 10.3 steps 3-4, RFC 8760)', () => {
  it('challenges with one WWW-Authenticate per algorithm, SHA-256 first, qop=auth and opaque', () => {
    const r = registrarWith(authenticator());
    const res = r.handle(register(), PHONE, T0);
    expect(res.response.status).toBe(401);
    expect(res.changes).toEqual([]);
    const values = res.response.headers.getAll('www-authenticate');
    expect(values).toHaveLength(2);
    const sha = challengeOf(res.response, 0);
    const md5 = challengeOf(res.response, 1);
    expect(sha.algorithm).toBe('SHA-256');
    expect(md5.algorithm).toBe('MD5');
    expect(sha.nonce).toBe(md5.nonce);
    expect(sha.raw).toMatch(/^Digest realm="example.com", /);
    expect(sha.raw).toContain('qop="auth"');
    expect(sha.opaque).not.toBe('');
    expect(sha.stale).toBe(false);
    expect(r.lookup('sip:alice@example.com', T0)).toEqual([]);
  });

  for (const algorithm of ['SHA-256', 'MD5'] as const) {
    it(`accepts a correct ${algorithm} response`, () => {
      const r = registrarWith(authenticator());
      const { nonce, opaque } = challengeOf(r.handle(register(), PHONE, T0).response);
      const res = r.handle(withAuth(authorization({ algorithm, nonce, opaque }), { cseq: 1827 }), PHONE, T0 + 1000);
      expect(res.response.status).toBe(200);
      expect(res.user).toBe('alice');
      expect(r.lookup('sip:alice@example.com', T0 + 1000)).toHaveLength(1);
    });
  }

  it('MD5 is the algorithm when the response names none (RFC 7616 3.3)', () => {
    const auth = authenticator();
    const r = registrarWith(auth);
    const { nonce } = challengeOf(r.handle(register(), PHONE, T0).response);
    const res = r.handle(withAuth(authorization({ algorithm: 'MD5', nonce, omitAlgorithm: true }), { cseq: 2 }), PHONE, T0);
    expect(res.response.status).toBe(200);
  });

  it('a wrong password gets a new challenge without stale', () => {
    const r = registrarWith(authenticator());
    const { nonce } = challengeOf(r.handle(register(), PHONE, T0).response);
    const res = r.handle(withAuth(authorization({ algorithm: 'SHA-256', nonce, password: 'guess' })), PHONE, T0);
    expect(res.response.status).toBe(401);
    expect(challengeOf(res.response).stale).toBe(false);
  });

  it('an expired nonce with a correct response gets stale=true', () => {
    const auth = authenticator({ nonceTtlMs: 60_000 });
    const r = registrarWith(auth);
    const { nonce } = challengeOf(r.handle(register(), PHONE, T0).response);
    const late = T0 + 60_001;
    const res = r.handle(withAuth(authorization({ algorithm: 'SHA-256', nonce })), PHONE, late);
    expect(res.response.status).toBe(401);
    const c = challengeOf(res.response);
    expect(c.stale).toBe(true);
    expect(c.nonce).not.toBe(nonce);
    // The fresh nonce works.
    expect(r.handle(withAuth(authorization({ algorithm: 'SHA-256', nonce: c.nonce }), { cseq: 1900 }), PHONE, late).response.status).toBe(200);
  });

  it('an expired nonce with a wrong response is not stale', () => {
    const auth = authenticator({ nonceTtlMs: 60_000 });
    const [ch] = auth.challenge(T0);
    const nonce = /nonce="([^"]*)"/.exec(ch ?? '')?.[1] ?? '';
    const v = auth.verify(withAuth(authorization({ algorithm: 'SHA-256', nonce, password: 'x' })), T0 + 120_000);
    expect(v).toMatchObject({ ok: false, stale: false, reason: 'bad-response' });
  });

  it('a replayed nonce-count is refused; a higher one is accepted', () => {
    const r = registrarWith(authenticator());
    const { nonce } = challengeOf(r.handle(register(), PHONE, T0).response);
    const a1 = authorization({ algorithm: 'SHA-256', nonce, nc: '00000001' });
    expect(r.handle(withAuth(a1, { cseq: 2 }), PHONE, T0).response.status).toBe(200);
    const replay = r.handle(withAuth(a1, { cseq: 3 }), PHONE, T0);
    expect(replay.response.status).toBe(401);
    const lower = authorization({ algorithm: 'SHA-256', nonce, nc: '00000003' });
    expect(r.handle(withAuth(lower, { cseq: 4 }), PHONE, T0).response.status).toBe(200);
    const back = authorization({ algorithm: 'SHA-256', nonce, nc: '00000002' });
    expect(r.handle(withAuth(back, { cseq: 5 }), PHONE, T0).response.status).toBe(401);
  });

  it('refuses alice registering bob with 403 (step 4)', () => {
    const r = registrarWith(authenticator());
    const { nonce } = challengeOf(r.handle(register(), PHONE, T0).response);
    const res = r.handle(withAuth(authorization({ algorithm: 'SHA-256', nonce }), { to: '<sip:bob@example.com>' }), PHONE, T0);
    expect(res.response.status).toBe(403);
    expect(r.lookup('sip:bob@example.com', T0)).toEqual([]);
  });

  it('an authorize hook may allow third-party registration', () => {
    const r = new Registrar({
      domains: (h) => h === 'example.com',
      auth: authenticator(),
      authorize: (user, _to, aor) => user === 'alice' && aor === 'sip:bob@example.com',
    });
    const { nonce } = challengeOf(r.handle(register(), PHONE, T0).response);
    const res = r.handle(withAuth(authorization({ algorithm: 'SHA-256', nonce }), { to: '<sip:bob@example.com>' }), PHONE, T0);
    expect(res.response.status).toBe(200);
  });

  it('unknown user, other realm, wrong digest-uri, forged nonce, missing qop: 401 not stale', () => {
    const auth = authenticator();
    const [ch] = auth.challenge(T0);
    const nonce = /nonce="([^"]*)"/.exec(ch ?? '')?.[1] ?? '';
    const req = (a: string) => withAuth(a);
    expect(auth.verify(req(authorization({ algorithm: 'SHA-256', nonce, user: 'eve' })), T0)).toMatchObject({ ok: false, stale: false, reason: 'unknown-user' });
    expect(auth.verify(req(authorization({ algorithm: 'SHA-256', nonce, realm: 'other' })), T0)).toMatchObject({ ok: false, reason: 'no-credentials' });
    expect(auth.verify(req(authorization({ algorithm: 'SHA-256', nonce, uri: 'sip:other.org' })), T0)).toMatchObject({ ok: false, reason: 'uri-mismatch' });
    const forged = `${nonce.slice(0, 40)}AAA`;
    expect(auth.verify(req(authorization({ algorithm: 'SHA-256', nonce: forged, password: 'x' })), T0)).toMatchObject({ ok: false, stale: false });
    const noQop = authorization({ algorithm: 'SHA-256', nonce }).replace(', qop=auth', '');
    expect(auth.verify(req(noQop), T0)).toMatchObject({ ok: false, stale: false, reason: 'unsupported' });
    expect(auth.verify(register(), T0)).toMatchObject({ ok: false, reason: 'no-credentials' });
  });

  it('a correct response on a nonce we did not issue (e.g. before a restart) is only stale', () => {
    const auth = authenticator();
    const v = auth.verify(withAuth(authorization({ algorithm: 'SHA-256', nonce: 'bm90LW91cnM' })), T0);
    expect(v).toMatchObject({ ok: false, stale: true, reason: 'stale-nonce' });
  });

  it('a digest-uri equal to the Request-URI under RFC 3261 19.1.4 is accepted', () => {
    const auth = authenticator();
    const nonce = /nonce="([^"]*)"/.exec(auth.challenge(T0)[0] ?? '')?.[1] ?? '';
    const v = auth.verify(withAuth(authorization({ algorithm: 'SHA-256', nonce, uri: 'sip:EXAMPLE.COM' })), T0);
    expect(v).toMatchObject({ ok: true, user: 'alice', algorithm: 'SHA-256' });
  });

  it('refuses an algorithm it did not offer', () => {
    const auth = authenticator({ algorithms: ['SHA-256'] });
    expect(auth.challenge(T0)).toHaveLength(1);
    const nonce = /nonce="([^"]*)"/.exec(auth.challenge(T0)[0] ?? '')?.[1] ?? '';
    expect(auth.verify(withAuth(authorization({ algorithm: 'MD5', nonce })), T0)).toMatchObject({ ok: false, reason: 'unsupported' });
  });

  it('a nonce no longer tracked after LRU eviction is stale, never replayable', () => {
    let salt = 0;
    const auth = authenticator({ maxTrackedNonces: 1, random: (n) => Buffer.alloc(n, ++salt) });
    const nonceAt = (t: number) => /nonce="([^"]*)"/.exec(auth.challenge(t)[0] ?? '')?.[1] ?? '';
    const a = nonceAt(T0);
    const b = nonceAt(T0 + 1);
    expect(auth.verify(withAuth(authorization({ algorithm: 'SHA-256', nonce: a })), T0 + 2).ok).toBe(true);
    expect(auth.verify(withAuth(authorization({ algorithm: 'SHA-256', nonce: b })), T0 + 2).ok).toBe(true);
    expect(auth.trackedNonces).toBe(1);
    // a was evicted: even its first nonce-count again is not accepted.
    const again = auth.verify(withAuth(authorization({ algorithm: 'SHA-256', nonce: a })), T0 + 3);
    expect(again).toMatchObject({ ok: false, stale: true });
  });

  it('a nonce from the future (clock reset) is stale', () => {
    const auth = authenticator();
    const nonce = /nonce="([^"]*)"/.exec(auth.challenge(T0)[0] ?? '')?.[1] ?? '';
    expect(auth.verify(withAuth(authorization({ algorithm: 'SHA-256', nonce })), T0 - 1)).toMatchObject({ ok: false, stale: true });
  });

  it('accepts precomputed HA1 entries and a lookup function', () => {
    const ha1 = H('SHA-256', `carol:${REALM}:s3cret`);
    const auth = authenticator({
      users: (u) => (u === 'carol' ? { ha1: [{ realm: REALM, algorithm: 'SHA-256', ha1 }] } : undefined),
    });
    const nonce = /nonce="([^"]*)"/.exec(auth.challenge(T0)[0] ?? '')?.[1] ?? '';
    const a = authorization({ algorithm: 'SHA-256', nonce, user: 'carol', password: 's3cret' });
    expect(auth.verify(withAuth(a, { to: '<sip:carol@example.com>' }), T0)).toMatchObject({ ok: true, user: 'carol' });
    // No MD5 HA1 stored: MD5 cannot work for carol.
    const m = authorization({ algorithm: 'MD5', nonce, user: 'carol', password: 's3cret', nc: '00000002' });
    expect(auth.verify(withAuth(m), T0)).toMatchObject({ ok: false, reason: 'unknown-user' });
  });
});

describe('Authorization header parser', () => {
  it('reads quoted and bare values, case-insensitive names, escapes', () => {
    const r = parseCredentials('Digest  USERNAME="a\\"b", realm="r", nc=00000001 ,qop=auth, uri="sip:x@y;a=b,c"');
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.value.scheme).toBe('Digest');
    expect(Object.fromEntries(r.value.params)).toEqual({ username: 'a"b', realm: 'r', nc: '00000001', qop: 'auth', uri: 'sip:x@y;a=b,c' });
  });

  it('rejects duplicates, unterminated quotes and garbage', () => {
    expect(parseCredentials('Digest a=1, a=2').ok).toBe(false);
    expect(parseCredentials('Digest a="x').ok).toBe(false);
    expect(parseCredentials('Digest a').ok).toBe(false);
    expect(parseCredentials('').ok).toBe(false);
    expect(parseCredentials('Digest a=1 b=2').ok).toBe(false);
  });

  it('reads back what formatChallenge writes', () => {
    fc.assert(
      fc.property(fc.string(), fc.string(), fc.boolean(), (realm, nonce, stale) => {
        const clean = (s: string) => s.replace(/[\r\n]/g, '');
        const v = formatChallenge({ realm: clean(realm), nonce: clean(nonce), opaque: 'o', algorithm: 'SHA-256', stale });
        const r = parseCredentials(v);
        expect(r.ok).toBe(true);
        if (!r.ok) return;
        expect(r.value.params.get('realm')).toBe(clean(realm));
        expect(r.value.params.get('nonce')).toBe(clean(nonce));
        expect(r.value.params.get('stale')).toBe(stale ? 'true' : undefined);
      }),
    );
  });

  it('never throws on arbitrary input', () => {
    const piece = fc.oneof(
      fc.string(),
      fc.constantFrom('Digest ', '"', '\\', ',', '=', ' ', 'username', 'nonce="', 'qop=auth', '\t'),
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 20 }), (parts) => {
        const r = parseCredentials(parts.join(''));
        expect(typeof r.ok).toBe('boolean');
      }),
      { numRuns: 2000 },
    );
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => void parseCredentials(s)));
  });

  it('verify never throws on an arbitrary Authorization value', () => {
    const auth = authenticator();
    const base = register();
    fc.assert(
      fc.property(fc.string({ unit: 'binary' }), fc.string(), (junk, nonce) => {
        const req = { ...base, headers: base.headers.clone() };
        req.headers.append('Authorization', junk.replace(/[\r\n]/g, ''));
        req.headers.append('Authorization', `Digest realm="${REALM}", username="alice", nonce="${nonce.replace(/["\\\r\n]/g, '')}", uri="sip:example.com", response="00", qop=auth, nc=00000001, cnonce="x"`);
        const v = auth.verify(req, T0);
        expect(v.ok).toBe(false);
      }),
    );
  });
});
