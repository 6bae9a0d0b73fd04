/**
 * RFC 4475 (and RFC 5118) torture messages, each parsed as one UDP datagram.
 * Expectations follow test/fixtures/sip-torture/INDEX.tsv and its README.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import {
  checkRequestSemantics,
  createErrorResponse,
  getContacts,
  getCSeq,
  getTo,
  getVias,
  parseMessage,
  percentDecode,
  serializeMessage,
  serializeUri,
  type ParseResult,
  type SipRequest,
} from '../../../src/sip/message/index.js';

const ROOT = new URL('../../fixtures/sip-torture/', import.meta.url);
const read = (rel: string) => readFileSync(new URL(rel, ROOT));

interface Row {
  readonly file: string;
  readonly name: string;
  readonly verdict: string;
}

function index(dir: string): Row[] {
  return read(`${dir}INDEX.tsv`)
    .toString('utf8')
    .trim()
    .split('\n')
    .slice(1)
    .map((l) => l.split('\t'))
    .map(([name = '', , verdict = '']) => ({ file: `${dir}${name}.dat`, name, verdict }));
}

const ROWS = [...index(''), ...index('rfc5118/')];
const parse = (name: string): ParseResult => {
  const row = ROWS.find((r) => r.name === name);
  if (!row) throw new Error(`no fixture ${name}`);
  return parseMessage(read(row.file));
};
const request = (name: string): SipRequest => {
  const r = parse(name);
  if (!r.ok || r.message.kind !== 'request') throw new Error(`${name} did not parse as a request`);
  return r.message;
};

/** Named reply codes from INDEX.tsv that belong to the syntax layer. */
const EXPECTED_STATUS: Record<string, number> = {
  badinv01: 400,
  scalar02: 400,
  mismatch01: 400,
  multi01: 400,
  insuf: 400,
  clerr: 400,
  badvers: 505,
  'ipv6-bad': 400,
};
/** "Respond with an error", code not pinned. */
const SOME_ERROR = new Set(['ncl', 'mcl01']);
/** Invalid responses: dropped, never answered. */
const BAD_RESPONSES = new Set(['scalarlg', 'bigcode']);
/** Semantic errors: parse fine here; checkRequestSemantics gives the code. */
const SEMANTIC = new Set(['unkscm', 'novelsc', 'bext01', 'zeromf', 'mismatch02']);
/** The RFC lets the receiver reject (400) or be liberal. */
const LIBERAL = new Set(['ltgtruri', 'lwsruri', 'lwsstart', 'trws', 'escruri', 'baddate', 'quotbal', 'regbadct', 'badaspec', 'baddn', 'badbranch']);
const RESPONSES = new Set(['unreason', 'noreason', 'bcast']);

describe('torture corpus integrity', () => {
  it('matches SHA256SUMS byte for byte (catches CRLF conversion)', () => {
    const sums = read('SHA256SUMS').toString('utf8').trim().split('\n');
    expect(sums.length).toBeGreaterThanOrEqual(60);
    for (const line of sums) {
      const m = /^([0-9a-f]{64}) {2}(.+)$/.exec(line);
      expect(m, line).not.toBeNull();
      const [, sum, file] = m!;
      expect(createHash('sha256').update(read(file!)).digest('hex'), file).toBe(sum);
    }
  });

  it('indexes 49 RFC 4475 and 12 RFC 5118 messages', () => {
    expect(index('')).toHaveLength(49);
    expect(index('rfc5118/')).toHaveLength(12);
  });
});

describe('RFC 4475 / RFC 5118 messages over UDP', () => {
  for (const row of ROWS) {
    it(`${row.name} (${row.verdict})`, () => {
      const r = parseMessage(read(row.file));
      if (!r.ok) expect(r.error.code).not.toBe('internal');
      const status = EXPECTED_STATUS[row.name];
      if (status !== undefined) {
        expect(r.ok ? 'ok' : r.error.status).toBe(status);
        if (!r.ok) {
          expect(r.error.canReply).toBe(true);
          expect(createErrorResponse(r.error)?.status).toBe(status);
        }
      } else if (SOME_ERROR.has(row.name)) {
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.error.canReply).toBe(true);
      } else if (BAD_RESPONSES.has(row.name)) {
        expect(r.ok).toBe(false);
        if (!r.ok) expect(r.error.canReply).toBe(false);
      } else if (LIBERAL.has(row.name)) {
        if (!r.ok) {
          expect(r.error.status).toBe(400);
          expect(r.error.canReply).toBe(true);
        } else {
          // Accepted liberally: what we would forward must be clean.
          expect(r.message.kind).toBe('request');
          const line = serializeMessage(r.message).toString('latin1').split('\r\n')[0]!;
          expect(line).toMatch(/^\S+ \S+ SIP\/2\.0$/);
          expect(line).not.toMatch(/[<>]/);
          if (r.message.kind === 'request') expect(serializeUri(r.message.uri)).not.toContain('?');
        }
      } else {
        // valid, valid-but-unusual and semantic ones parse at this layer.
        if (!r.ok) throw new Error(`${row.name}: ${r.error.status} ${r.error.reason} (${r.error.warning ?? ''})`);
        expect(r.message.kind).toBe(RESPONSES.has(row.name) ? 'response' : 'request');
        // What we would forward parses again to the same message.
        const again = parseMessage(serializeMessage(r.message));
        expect(again.ok).toBe(true);
        if (again.ok) {
          expect(again.message.headers.get('call-id')).toBe(r.message.headers.get('call-id'));
          expect(again.message.body).toEqual(r.message.body);
        }
      }
    });
  }
});

describe('details the RFCs call out', () => {
  it('wsinv: LWS everywhere, unknown headers kept', () => {
    const m = request('wsinv');
    expect(getCSeq(m)).toEqual({ seq: 9, method: 'INVITE' });
    expect(getVias(m).map((v) => v.host)).toEqual(['192.0.2.2', 'spindle.example.com', '192.168.255.111']);
    expect(m.headers.get('UnknownHeaderWithUnusualValue')).toBe(';;,,;;,;');
    expect(m.headers.get('NewFangledHeader')).toBe('newfangled value continued newfangled value');
    expect(m.body.length).toBe(150);
  });

  it('escnull: two distinct contacts, users not truncated at %00', () => {
    const c = getContacts(request('escnull'));
    expect(c?.star).toBe(false);
    if (c && !c.star) {
      const users = c.values.map((v) => (v.uri.kind === 'sip' ? percentDecode(v.uri.user ?? '') : ''));
      expect(users).toEqual(['\0', '\0\0']);
    }
  });

  it('esc02: escaped method and header name are not unescaped', () => {
    const m = request('esc02');
    expect(m.method).toBe('RE%47IST%45R');
    expect(m.headers.getAll('contact')).toHaveLength(2);
    expect(m.headers.get('C%6Fntact')).toBe('<sip:alias2@host2.example.com>');
  });

  it('semiuri, intmeth: user parts with ; ? and friends', () => {
    expect(request('semiuri').uri).toMatchObject({ user: 'user;par=u%40example.net', host: 'example.com' });
    expect(request('intmeth').uri).toMatchObject({ host: 'example.com', password: "&it+has=1,weird!*pas$wo~d_too.(doesn't-it)" });
  });

  it('dblreq, mpart01, inv2543: datagram framing', () => {
    expect(request('dblreq').body.length).toBe(0);
    const mp = request('mpart01').body;
    expect(mp.length).toBe(553);
    expect(mp.includes(0)).toBe(true);
    expect(request('inv2543').body.toString('latin1')).toMatch(/^v=0\r\n/);
  });

  it('cparam01/02: contact-param vs url-param', () => {
    const c1 = getContacts(request('cparam01'));
    const c2 = getContacts(request('cparam02'));
    expect(c1 && !c1.star && c1.values[0]?.params).toEqual([{ name: 'unknownparam', value: null }]);
    expect(c2 && !c2.star && c2.values[0]?.uri).toMatchObject({ params: [{ name: 'unknownparam', value: null }] });
  });

  it('RFC 5118: IPv6 hosts and ports', () => {
    expect(request('port-ambiguous').uri).toMatchObject({ host: '[2001:db8::10:5070]', port: null });
    expect(request('port-unambiguous').uri).toMatchObject({ host: '[2001:db8::10]', port: 5070 });
    expect(getVias(request('ipv4-mapped-ipv6'))[0]).toMatchObject({ host: '[::ffff:192.0.2.10]', port: 19823 });
    expect(getTo(request('ipv6-bug-abnf-3-colons')).uri).toMatchObject({ host: '[2001:db8:::192.0.2.1]' });
  });

  it('responses: UTF-8 and empty reason phrases', () => {
    const u = parse('unreason');
    expect(u.ok && u.message.kind === 'response' && u.message.reason).toContain('2**3');
    const n = parse('noreason');
    expect(n.ok && n.message.kind === 'response' && n.message.reason).toBe('');
  });
});

describe('checkRequestSemantics', () => {
  const proxy = { supportedExtensions: ['path', 'outbound'], forwarding: true };
  const uas = { supportedExtensions: ['path'], forwarding: false };

  it('416 for unknown Request-URI schemes (unkscm, novelsc)', () => {
    expect(checkRequestSemantics(request('unkscm'), proxy)).toMatchObject({ status: 416 });
    expect(checkRequestSemantics(request('novelsc'), proxy)).toMatchObject({ status: 416 });
    expect(checkRequestSemantics(request('novelsc'), { ...proxy, supportedSchemes: ['sip', 'SOAP.BEEP'] })).toBeNull();
  });

  it('420 with the unsupported option tags (bext01)', () => {
    expect(checkRequestSemantics(request('bext01'), proxy)).toEqual({
      status: 420,
      reason: 'Bad Extension',
      unsupported: ['noProxiesSupportThis', 'norDoAnyProxiesSupportThis'],
    });
    expect(checkRequestSemantics(request('bext01'), uas)).toMatchObject({
      status: 420,
      unsupported: ['nothingSupportsThis', 'nothingSupportsThisEither'],
    });
  });

  it('483 for Max-Forwards 0 only when forwarding (zeromf)', () => {
    expect(checkRequestSemantics(request('zeromf'), proxy)).toMatchObject({ status: 483 });
    expect(checkRequestSemantics(request('zeromf'), uas)).toBeNull();
  });

  it('mismatch02: 501 for a method we do not implement, else 400 for the CSeq mismatch', () => {
    const m = request('mismatch02');
    expect(checkRequestSemantics(m, { ...uas, implementedMethods: ['INVITE', 'ACK', 'BYE', 'OPTIONS'] })).toMatchObject({ status: 501 });
    expect(checkRequestSemantics(m, proxy)).toMatchObject({ status: 400 });
  });

  it('ordinary requests pass', () => {
    for (const name of ['wsinv', 'esc01', 'longreq', 'transports', 'regaut01', 'inv2543', 'ipv6-good']) {
      expect(checkRequestSemantics(request(name), proxy), name).toBeNull();
    }
  });
});
