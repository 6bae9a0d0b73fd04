import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { SipHeaders, type SipResponse } from '../../src/sip/message/index.js';
import { selectBest } from '../../src/proxy/index.js';

function resp(status: number, extra: Array<[string, string]> = []): SipResponse {
  const headers = new SipHeaders([{ name: 'Via', value: 'SIP/2.0/UDP 10.0.0.2:5070;branch=z9hG4bKx' }, ...extra.map(([name, value]) => ({ name, value }))]);
  return { kind: 'response', status, reason: 'X', version: 'SIP/2.0', headers, body: Buffer.alloc(0) };
}

describe('selectBest (16.7 steps 6-7)', () => {
  it('examples: 486 > 404 > 408; 3xx beats 4xx; 415 beats 486; 6xx beats everything', () => {
    expect(selectBest([resp(404), resp(486), resp(408)])?.status).toBe(486);
    expect(selectBest([resp(486), resp(302)])?.status).toBe(302);
    expect(selectBest([resp(486), resp(415)])?.status).toBe(415);
    expect(selectBest([resp(302), resp(604), resp(401)])?.status).toBe(604);
    expect(selectBest([resp(500), resp(503)])?.status).toBe(500);
    expect(selectBest([])).toBeUndefined();
  });

  it('properties: never a 503, a 6xx whenever there is one, otherwise the lowest class', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 300, max: 699 }), { minLength: 1, maxLength: 8 }), (codes) => {
        const best = selectBest(codes.map((c) => resp(c)));
        expect(best).toBeDefined();
        expect(best!.status).not.toBe(503);
        const six = codes.some((c) => c >= 600);
        if (six) expect(best!.status).toBeGreaterThanOrEqual(600);
        else expect(Math.floor(best!.status / 100)).toBe(Math.min(...codes.map((c) => Math.floor(c / 100))));
      }),
    );
  });

  it('every challenge of every 401/407 ends up in the one chosen', () => {
    const best = selectBest([
      resp(401, [['WWW-Authenticate', 'Digest realm="a"']]),
      resp(404),
      resp(401, [['WWW-Authenticate', 'Digest realm="b"']]),
    ]);
    expect(best?.status).toBe(401);
    expect(best?.headers.getAll('www-authenticate')).toEqual(['Digest realm="a"', 'Digest realm="b"']);
  });
});
