/**
 * The trust settings of `kadsip start` (issue 11): --ca-cert/--cert/--key/--crl/--overlay-secret-file,
 * their config-file keys and KADSIP_* variables, one precedence like every setting, checked
 * together so a half-configured closed overlay never starts open; errors name where the value came
 * from. The process cases run the built CLI: exit 2 before anything is opened.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigError, environmentSource, fileSource, flagSource, inputFromEnv, resolveConfig, resolveConfigFrom } from '../../src/node/config.js';
import { CLI } from '../helpers/child-node.js';

const dir = mkdtempSync(join(tmpdir(), 'kadsip-ca-settings-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function start(args: string[], env: Record<string, string> = {}): Promise<{ code: number; stderr: string; stdout: string }> {
  return new Promise((resolve) => {
    // A clean environment for the KADSIP_* variables: only what the case sets.
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('KADSIP_')));
    execFile(process.execPath, [CLI, 'start', '--listen', '127.0.0.1:0', ...args], { env: { ...base, ...env }, timeout: 20_000 }, (error, stdout, stderr) => {
      resolve({ code: error === null ? 0 : typeof error.code === 'number' ? error.code : -1, stderr, stdout });
    });
  });
}

describe('trust settings in config', () => {
  it('are empty by default: an open overlay', () => {
    expect(resolveConfig().trust).toEqual({});
  });

  it('come from flags, environment and file with the usual precedence', () => {
    const file = join(dir, 'trust.json');
    writeFileSync(file, JSON.stringify({ caCert: '/file/ca.pem', cert: '/file/cert.pem', key: '/file/key.pem', crl: '/file/crl.pem' }));
    const env = environmentSource({ KADSIP_CERT: '/env/cert.pem', KADSIP_CRL: '/env/crl.pem' });
    const flags = flagSource({ crl: '/flag/crl.pem' });
    expect(resolveConfigFrom([fileSource(file), env, flags]).trust).toEqual({ caCert: '/file/ca.pem', cert: '/env/cert.pem', key: '/file/key.pem', crl: '/flag/crl.pem' });
    expect(inputFromEnv({ KADSIP_CA_CERT: 'a', KADSIP_CERT: 'b', KADSIP_KEY: 'c', KADSIP_CRL: 'd', KADSIP_OVERLAY_SECRET_FILE: 'e' })).toEqual({ caCert: 'a', cert: 'b', key: 'c', crl: 'd', overlaySecretFile: 'e' });
    expect(resolveConfig({ overlaySecretFile: '/etc/kadsip/secret' }).trust).toEqual({ overlaySecretFile: '/etc/kadsip/secret' });
  });

  it('name what is missing and where the given one came from', () => {
    const error = (f: () => unknown): string => {
      try {
        f();
      } catch (e) {
        expect(e).toBeInstanceOf(ConfigError);
        return (e as Error).message;
      }
      throw new Error('no error');
    };
    expect(error(() => resolveConfigFrom([environmentSource({ KADSIP_CA_CERT: '/ca.pem' })]))).toBe(
      'KADSIP_CA_CERT: a closed overlay needs --ca-cert, --cert and --key together; missing --cert (KADSIP_CERT, "cert") and --key (KADSIP_KEY, "key")',
    );
    expect(error(() => resolveConfigFrom([flagSource({ cert: 'c', key: 'k' })]))).toMatch(/^--cert: .*missing --ca-cert \(KADSIP_CA_CERT, "caCert"\)$/);
    expect(error(() => resolveConfigFrom([flagSource({ crl: '/crl.pem' })]))).toMatch(/^--crl: a CRL needs the CA/);
    const file = join(dir, 'both.json');
    writeFileSync(file, JSON.stringify({ overlaySecretFile: '/s' }));
    expect(error(() => resolveConfigFrom([fileSource(file), flagSource({ caCert: 'a', cert: 'b', key: 'c' })]))).toMatch(new RegExp(`^"overlaySecretFile" in ${file}: an overlay secret and a CA`));
    expect(error(() => resolveConfig({ key: '  ' }))).toMatch(/^key: needs a file path/);
  });
});

describe('kadsip start with trust settings (process)', () => {
  it('lists them in --help', async () => {
    const help = await start(['--help']);
    expect(help.code).toBe(0);
    for (const flag of ['--ca-cert <file>', '--cert <file>', '--key <file>', '--crl <file>', '--overlay-secret-file <file>']) expect(help.stdout).toContain(flag);
  });

  it('exits 2 naming the setting when the closed-overlay files are incomplete or combined with a secret', async () => {
    const partial = await start(['--ca-cert', '/nowhere/ca.pem']);
    expect(partial.code).toBe(2);
    expect(partial.stderr).toContain('kadsip start: --ca-cert: a closed overlay needs --ca-cert, --cert and --key together; missing --cert');
    const fromEnv = await start([], { KADSIP_KEY: '/k.pem' });
    expect(fromEnv.code).toBe(2);
    expect(fromEnv.stderr).toContain('kadsip start: KADSIP_KEY: a closed overlay needs');
    const both = await start(['--ca-cert', 'a', '--cert', 'b', '--key', 'c'], { KADSIP_OVERLAY_SECRET_FILE: '/s' });
    expect(both.code).toBe(2);
    expect(both.stderr).toContain('kadsip start: KADSIP_OVERLAY_SECRET_FILE: an overlay secret and a CA');
  });
});
