/**
 * The README's enrollment commands, as written: the `kadsip ca` lines of the "Enrollment: a closed
 * overlay" section run in a fresh directory with the built CLI, and the files they promise appear.
 * A README edit that breaks them (a flag that does not exist, a wrong path) fails here.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { TrustAnchor } from '../../src/trust/certificate.js';
import { CLI } from '../helpers/child-node.js';

const README = fileURLToPath(new URL('../../README.md', import.meta.url));
const work = mkdtempSync(join(tmpdir(), 'kadsip-readme-ca-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The `kadsip ...` command lines of the section's sh blocks (comments dropped, continuations joined). */
function sectionCommands(): string[][] {
  const text = readFileSync(README, 'utf8');
  const start = text.indexOf('### Enrollment: a closed overlay');
  if (start < 0) throw new Error('README.md has no "Enrollment: a closed overlay" section');
  const section = text.slice(start, text.indexOf('\n### ', start + 10));
  const blocks = [...section.matchAll(/```sh\n([\s\S]*?)```/g)].map((m) => m[1]!.replace(/\\\n\s*/g, ' '));
  return blocks
    .flatMap((b) => b.split('\n'))
    .map((line) => line.replace(/\s+#.*$/, '').trim())
    .filter((line) => line.startsWith('kadsip '))
    .map((line) => line.split(/\s+/).slice(1));
}

describe('README: Enrollment: a closed overlay', () => {
  it('its kadsip ca commands run as written and make the files the start line names', () => {
    const commands = sectionCommands();
    const ca = commands.filter((c) => c[0] === 'ca');
    expect(ca.map((c) => c[1])).toEqual(['init', 'issue', 'issue', 'revoke']);
    for (const args of ca) execFileSync(process.execPath, [CLI, ...args], { cwd: work, stdio: 'pipe', timeout: 30_000 });
    for (const f of ['ca/ca-cert.pem', 'ca/ca-key.pem', 'ca/crl.pem', 'node1/node-cert.pem', 'node1/node-key.pem', 'node2/node-cert.pem']) expect(existsSync(join(work, f)), f).toBe(true);
    expect(statSync(join(work, 'node1/node-key.pem')).mode & 0o777).toBe(0o600);

    const anchor = new TrustAnchor(pemDer(join(work, 'ca/ca-cert.pem')), readFileSync(join(work, 'ca/crl.pem'), 'utf8'));
    expect(anchor.overlay).toBe('acme');
    expect(anchor.verify(pemDer(join(work, 'node1/node-cert.pem')), Date.now())).toMatchObject({ ok: true, identity: { name: 'node1', domains: ['example.com'], addresses: ['192.0.2.10:5060'] } });
    expect(anchor.verify(pemDer(join(work, 'node2/node-cert.pem')), Date.now())).toMatchObject({ ok: false, reason: 'revoked' });

    // The start line uses only flags kadsip start knows.
    const start = commands.find((c) => c[0] === 'start');
    const help = execFileSync(process.execPath, [CLI, 'start', '--help'], { encoding: 'utf8' });
    for (const flag of start!.filter((a) => a.startsWith('--'))) expect(help).toContain(`${flag} `);
  });
});

function pemDer(path: string): Buffer {
  const b64 = readFileSync(path, 'utf8').replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
  return Buffer.from(b64, 'base64');
}
