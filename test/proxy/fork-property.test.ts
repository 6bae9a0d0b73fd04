import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { answer, FakeResolver, flush, setupProxy, target, UAC, uacRequest, UAS1, UAS2 } from './helpers.js';

describe('StatefulProxy: any order of finals from two forks', () => {
  it('upstream gets every 2xx, or else exactly one best final; the context always ends', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom(180, 0),
        fc.integer({ min: 200, max: 699 }),
        fc.integer({ min: 200, max: 699 }),
        fc.boolean(),
        async (prov, s1, s2, firstIsOne) => {
          const p = setupProxy({ resolver: new FakeResolver([target(UAS1), target(UAS2)]) });
          p.deliver(uacRequest('INVITE'), UAC);
          await flush();
          const inv1 = p.sentTo(UAS1, 'INVITE')[0]!;
          const inv2 = p.sentTo(UAS2, 'INVITE')[0]!;
          if (prov) {
            p.deliver(answer(inv1, prov, { toTag: 'one' }), UAS1);
            p.deliver(answer(inv2, prov, { toTag: 'two' }), UAS2);
          }
          const steps: Array<[typeof inv1, number, typeof UAS1, string]> = [
            [inv1, s1, UAS1, 'one'],
            [inv2, s2, UAS2, 'two'],
          ];
          if (!firstIsOne) steps.reverse();
          for (const [inv, s, from, tag] of steps) p.deliver(answer(inv, s, { toTag: tag }), from);
          const finals = p.responsesTo(UAC).filter((r) => r.status >= 200).map((r) => r.status);
          const codes = steps.map(([, s]) => s);
          const oks = codes.filter((s) => s < 300);
          if (oks.length > 0) expect(finals).toEqual(oks);
          else {
            expect(finals).toHaveLength(1);
            expect(finals[0]).not.toBe(503);
            if (codes.some((c) => c >= 600)) expect(finals[0]).toBeGreaterThanOrEqual(600);
          }
          expect(p.proxy.stats.contexts).toBe(0);
        },
      ),
      { numRuns: 60 },
    );
  });
});
