import { describe, expect, it } from 'vitest';
import { PerSourceRateLimit } from '../../../src/sip/transport/bad-input-log.js';

describe('PerSourceRateLimit', () => {
  it('allows a source once per interval and forgets the oldest source when full', () => {
    let now = 0;
    const rl = new PerSourceRateLimit(2, 60_000, () => now);
    expect(rl.allow('a')).toBe(true);
    expect(rl.allow('a')).toBe(false);
    expect(rl.allow('b')).toBe(true);
    expect(rl.allow('c')).toBe(true); // evicts 'a'
    expect(rl.allow('a')).toBe(true);
    expect(rl.allow('c')).toBe(false);
    now = 60_000;
    expect(rl.allow('c')).toBe(true);
  });
});
