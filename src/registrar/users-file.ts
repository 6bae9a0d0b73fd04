/**
 * The users file of the digest authenticator. One entry a line:
 *
 *     # comment
 *     alice:secret                 user:password
 *     bob:kadsip:3f2a...e1         user:realm:HA1 (32 hex digits = MD5, 64 = SHA-256)
 *
 * A line is trimmed of surrounding whitespace. The first ":" ends the user name. When the rest is
 * `realm:HEX` with HEX of 32 or 64 hex digits, the line is an HA1 entry (RFC 7616 section 3.4.2,
 * like Apache's htdigest); otherwise the whole rest is the password, ":" included. (A password of
 * the exact form `x:<32 or 64 hex digits>` therefore cannot be written in plain form: store its HA1.)
 * A user may have one password line, or HA1 lines for distinct (realm, algorithm) pairs.
 */
import { readFile } from 'node:fs/promises';

export type DigestAlgorithm = 'SHA-256' | 'MD5';

export interface Ha1Entry {
  readonly realm: string;
  readonly algorithm: DigestAlgorithm;
  /** Lower-case hex. */
  readonly ha1: string;
}

/** A plain password, or precomputed HA1 values (which keep the password out of the file). */
export type UserSecret = string | { readonly ha1: readonly Ha1Entry[] };

export type UsersFileResult =
  | { readonly ok: true; readonly users: Map<string, UserSecret> }
  | { readonly ok: false; readonly line: number; readonly error: string };

const HA1_RE = /^(.*):([0-9A-Fa-f]{32}|[0-9A-Fa-f]{64})$/;

/** Parses the users file text; never throws. Line numbers start at 1. */
export function parseUsersFile(text: string): UsersFileResult {
  const users = new Map<string, UserSecret>();
  const definedAt = new Map<string, number>();
  const lines = text.split('\n');
  for (let n = 0; n < lines.length; n++) {
    const lineNo = n + 1;
    const line = (lines[n] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon < 0) return { ok: false, line: lineNo, error: 'expected user:password or user:realm:ha1' };
    const user = line.slice(0, colon);
    const rest = line.slice(colon + 1);
    if (user === '') return { ok: false, line: lineNo, error: 'empty user name' };
    if (/[\s"\\]/.test(user)) return { ok: false, line: lineNo, error: 'user name contains whitespace, quote or backslash' };
    if (rest === '') return { ok: false, line: lineNo, error: `empty password for "${user}"` };
    const m = HA1_RE.exec(rest);
    const prev = users.get(user);
    const prevLine = definedAt.get(user) ?? 0;
    if (m) {
      const realm = m[1] ?? '';
      const hex = (m[2] ?? '').toLowerCase();
      if (realm === '') return { ok: false, line: lineNo, error: `empty realm for "${user}"` };
      const entry: Ha1Entry = { realm, algorithm: hex.length === 32 ? 'MD5' : 'SHA-256', ha1: hex };
      if (typeof prev === 'string') {
        return { ok: false, line: lineNo, error: `user "${user}" already has a password on line ${prevLine}` };
      }
      const list = prev === undefined ? [] : prev.ha1.slice();
      if (list.some((e) => e.realm === entry.realm && e.algorithm === entry.algorithm)) {
        return { ok: false, line: lineNo, error: `duplicate ${entry.algorithm} HA1 for "${user}" in realm "${realm}" (line ${prevLine})` };
      }
      list.push(entry);
      users.set(user, { ha1: list });
    } else {
      if (prev !== undefined) return { ok: false, line: lineNo, error: `user "${user}" already defined on line ${prevLine}` };
      users.set(user, rest);
    }
    definedAt.set(user, lineNo);
  }
  return { ok: true, users };
}

/** Reads and parses a users file; throws an Error naming the file and line on a bad entry. */
export async function loadUsersFile(path: string): Promise<Map<string, UserSecret>> {
  const text = await readFile(path, 'utf8');
  const r = parseUsersFile(text);
  if (!r.ok) throw new Error(`${path}:${r.line}: ${r.error}`);
  return r.users;
}
