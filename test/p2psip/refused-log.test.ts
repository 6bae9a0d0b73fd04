/**
 * Refused requests are answered every time but logged once a minute per source (issue 12: bad
 * input must not flood the log). `npm run fuzz` found one "REGISTER refused" line for every refused
 * REGISTER, about 25 lines per 1,000 fuzz inputs, all from the same few sources.
 */
import { describe, expect, it } from 'vitest';
import type { Logger } from '../../src/common/logger.js';
import { Registrations } from '../../src/p2psip/registrations.js';
import { Registrar } from '../../src/registrar/index.js';
import type { SipResponse } from '../../src/sip/message/index.js';
import type { ServerTransaction } from '../../src/sip/transaction/index.js';
import { PHONE, register } from '../registrar/helpers.js';
import { FakeOverlayPort, ManualClock } from './fake-overlay.js';

function recordingLogger(): { log: Logger; lines: string[] } {
  const lines: string[] = [];
  const keep = (_fields: object, text?: string): void => void lines.push(text ?? '');
  return { log: { debug: () => {}, info: keep, warn: keep, error: keep }, lines };
}

describe('Registrations: "REGISTER refused" is logged once a minute per source', () => {
  it('20 refused REGISTERs from one phone: 20 answers, one line; another source gets its own; a minute later, one more', () => {
    const clock = new ManualClock();
    const { log, lines } = recordingLogger();
    const regs = new Registrations(new Registrar({ domains: (h) => h === 'overlay.example' }), new FakeOverlayPort(), '198.51.100.1:5060', clock, log, () => {});
    const send = (source: typeof PHONE, n: number): number[] => {
      const statuses: number[] = [];
      for (let i = 0; i < n; i++) {
        let answer: SipResponse | undefined;
        const txn = { source, respond: (r: SipResponse) => void (answer = r) } as unknown as ServerTransaction;
        // A domain this registrar does not serve: refused (RFC 3261 10.3 step 1).
        regs.handle(register({ ruri: 'sip:elsewhere.example', to: '<sip:bob@elsewhere.example>', from: '<sip:bob@elsewhere.example>;tag=1', cseq: i + 1, contacts: ['<sip:bob@192.0.2.9>'], expires: '3600' }), txn);
        statuses.push(answer?.status ?? 0);
      }
      return statuses;
    };
    const refused = send(PHONE, 20);
    expect(refused.every((s) => s >= 400)).toBe(true);
    expect(lines.filter((l) => l === 'REGISTER refused')).toHaveLength(1);
    send({ ...PHONE, host: '203.0.113.8' }, 5);
    expect(lines.filter((l) => l === 'REGISTER refused')).toHaveLength(2);
    clock.advance(61_000);
    send(PHONE, 5);
    expect(lines.filter((l) => l === 'REGISTER refused')).toHaveLength(3);
  });
});
