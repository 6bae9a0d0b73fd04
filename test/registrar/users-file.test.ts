import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { loadUsersFile, parseUsersFile } from '../../src/registrar/index.js';

const MD5 = '939e7578ed9e3c518a452acee763bce9';
const SHA = '3ba6cd94661c5ef34598040e868d13c8f9b6bb6e1e1fc4f2e5a6ae2a1c0e1a0b';

describe('users file', () => {
  it('reads passwords and HA1 entries, skipping comments and blank lines', () => {
    const r = parseUsersFile(
      ['# users', '', 'alice:wonder:land', '  bob:pw  ', `carol:example.com:${MD5}`, `carol:example.com:${SHA.toUpperCase()}`, '\r'].join('\n'),
    );
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.users.get('alice')).toBe('wonder:land');
    expect(r.users.get('bob')).toBe('pw');
    expect(r.users.get('carol')).toEqual({
      ha1: [
        { realm: 'example.com', algorithm: 'MD5', ha1: MD5 },
        { realm: 'example.com', algorithm: 'SHA-256', ha1: SHA },
      ],
    });
  });

  it('a CRLF file reads the same', () => {
    const r = parseUsersFile('alice:pw\r\nbob:pw2\r\n');
    expect(r.ok && [...r.users.entries()]).toEqual([['alice', 'pw'], ['bob', 'pw2']]);
  });

  it('names the line of a bad entry', () => {
    expect(parseUsersFile('# c\nalice:pw\nnocolon')).toMatchObject({ ok: false, line: 3 });
    expect(parseUsersFile(':pw')).toMatchObject({ ok: false, line: 1, error: 'empty user name' });
    expect(parseUsersFile('alice:')).toMatchObject({ ok: false, line: 1 });
    expect(parseUsersFile('alice:a\n\nalice:b')).toMatchObject({ ok: false, line: 3 });
    expect(parseUsersFile(`alice:r:${MD5}\nalice:r:${MD5}`)).toMatchObject({ ok: false, line: 2 });
    expect(parseUsersFile(`alice:pw\nalice:r:${MD5}`)).toMatchObject({ ok: false, line: 2 });
    expect(parseUsersFile(`alice::${MD5}`)).toMatchObject({ ok: false, line: 1 });
    expect(parseUsersFile('al ice:pw')).toMatchObject({ ok: false, line: 1 });
  });

  it('loadUsersFile reads a file and throws an error naming file and line', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'kadsip-users-'));
    try {
      const good = join(dir, 'users');
      await writeFile(good, 'alice:pw\n');
      expect((await loadUsersFile(good)).get('alice')).toBe('pw');
      const bad = join(dir, 'bad');
      await writeFile(bad, 'alice:pw\n\nbroken\n');
      await expect(loadUsersFile(bad)).rejects.toThrow(`${bad}:3: expected user:password or user:realm:ha1`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('never throws on arbitrary input', () => {
    const line = fc.oneof(
      fc.string(),
      fc.constantFrom('#', ':', 'alice:pw', `a:r:${MD5}`, `a:${SHA}`, '\r', ' '),
    );
    fc.assert(
      fc.property(fc.array(line, { maxLength: 12 }), (ls) => {
        const r = parseUsersFile(ls.join('\n'));
        if (!r.ok) expect(r.line).toBeGreaterThanOrEqual(1);
      }),
      { numRuns: 2000 },
    );
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => void parseUsersFile(s)));
  });
});
