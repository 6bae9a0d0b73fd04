import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { BindingStore, aorBecameReachable, aorBecameUnreachable, type RegistrarBinding } from '../../src/registrar/index.js';
import { parseUri, type Uri } from '../../src/sip/message/index.js';
import { PHONE } from './helpers.js';

function u(s: string): Uri {
  const r = parseUri(s);
  if (!r.ok) throw new Error(s);
  return r.value;
}

function binding(aor: string, contact: string, expiresAt: number, q = 1): RegistrarBinding {
  return {
    aor,
    contact,
    contactUri: u(contact),
    params: [],
    q,
    expiresAt,
    callId: 'c',
    cseq: 1,
    source: PHONE,
    createdAt: 0,
    updatedAt: 0,
  };
}

describe('BindingStore', () => {
  it('replaces a binding with an equal Contact URI in place and keeps registration order for equal q', () => {
    const s = new BindingStore();
    s.put(binding('sip:a@x', 'sip:a@1.1.1.1', 100));
    s.put(binding('sip:a@x', 'sip:a@2.2.2.2', 100, 0.5));
    s.put(binding('sip:a@x', 'sip:a@3.3.3.3', 100));
    const c = s.put(binding('sip:a@x', 'sip:a@1.1.1.1;foo', 200));
    expect(c.kind).toBe('refreshed');
    expect(s.bindingCount).toBe(3);
    expect(s.lookup('sip:a@x', 0).map((b) => b.contact)).toEqual(['sip:a@1.1.1.1;foo', 'sip:a@3.3.3.3', 'sip:a@2.2.2.2']);
  });

  it('enforces the bounds', () => {
    const s = new BindingStore({ maxAors: 1, maxBindingsPerAor: 1 });
    s.put(binding('sip:a@x', 'sip:a@1.1.1.1', 100));
    expect(() => s.put(binding('sip:a@x', 'sip:a@2.2.2.2', 100))).toThrow(RangeError);
    expect(() => s.put(binding('sip:b@x', 'sip:b@2.2.2.2', 100))).toThrow(RangeError);
    expect(() => s.apply('sip:a@x', [binding('sip:a@x', 'sip:a@2.2.2.2', 100)], [])).toThrow(RangeError);
    expect(s.bindingCount).toBe(1);
  });

  it('reachability helpers see net transitions only', () => {
    const s = new BindingStore();
    const b1 = binding('sip:a@x', 'sip:a@1.1.1.1', 100);
    const changes = [s.put(b1), s.put(binding('sip:b@x', 'sip:b@1.1.1.1', 100))];
    expect(aorBecameReachable(changes).sort()).toEqual(['sip:a@x', 'sip:b@x']);
    const more = [s.put(binding('sip:a@x', 'sip:a@2.2.2.2', 100))];
    expect(aorBecameReachable(more)).toEqual([]);
    const gone = s.expire(100);
    expect(aorBecameUnreachable(gone).sort()).toEqual(['sip:a@x', 'sip:b@x']);
  });

  it('expire() agrees with a model under random puts, refreshes and removals (heap compaction included)', () => {
    const op = fc.oneof(
      fc.record({ t: fc.constant('put' as const), aor: fc.integer({ min: 0, max: 3 }), c: fc.integer({ min: 0, max: 3 }), exp: fc.integer({ min: 1, max: 50 }) }),
      fc.record({ t: fc.constant('remove' as const), aor: fc.integer({ min: 0, max: 3 }), c: fc.integer({ min: 0, max: 3 }) }),
      fc.record({ t: fc.constant('tick' as const), dt: fc.integer({ min: 0, max: 20 }) }),
    );
    fc.assert(
      fc.property(fc.array(op, { maxLength: 300 }), (ops) => {
        const s = new BindingStore();
        const model = new Map<string, number>(); // "aor|contact" -> expiresAt
        let now = 0;
        for (const o of ops) {
          if (o.t === 'put') {
            const aor = `sip:u${o.aor}@x`;
            s.put(binding(aor, `sip:u@10.0.0.${o.c}`, now + o.exp));
            model.set(`${aor}|sip:u@10.0.0.${o.c}`, now + o.exp);
          } else if (o.t === 'remove') {
            const aor = `sip:u${o.aor}@x`;
            const b = s.find(aor, u(`sip:u@10.0.0.${o.c}`));
            if (b) s.remove(b);
            model.delete(`${aor}|sip:u@10.0.0.${o.c}`);
          } else {
            now += o.dt;
            const got = s.expire(now).map((c) => `${c.aor}|${c.binding.contact}`).sort();
            const want = [...model].filter(([, e]) => e <= now).map(([k]) => k).sort();
            for (const k of want) model.delete(k);
            expect(got).toEqual(want);
          }
          expect(s.bindingCount).toBe(model.size);
        }
      }),
    );
  });

  it('many refreshes of one binding keep the expiry queue bounded', () => {
    const s = new BindingStore();
    for (let i = 0; i < 10_000; i++) s.put(binding('sip:a@x', 'sip:a@1.1.1.1', 1_000_000 + i));
    expect(s.expire(1_000_000 + 9_998)).toEqual([]);
    expect(s.expire(1_000_000 + 9_999).map((c) => c.kind)).toEqual(['expired']);
  });
});
