/**
 * kadsip as a user gets it: the packed tarball, installed into a fresh project outside the repo, a
 * consumer program (test/package/consumer.mts) type-checked against the installed package's
 * types with module resolution NodeNext (so the `exports` map and `types` are what tsc reads) and
 * run: two nodes on loopback, a publication, a lookup.
 *
 * How, and why so:
 * - The package is compiled afresh into a staging copy (tsc --outDir, package.json, README,
 *   LICENSE) and packed there with `npm pack --ignore-scripts`: packing the repo itself would run
 *   `prepare`, which rebuilds the shared dist/ that live tests running in parallel spawn. The
 *   staging copy holds everything tsc emits (the simulator, source maps), so `files` in
 *   package.json decides what ships, as it does for a real `npm pack`.
 * - The consumer installs the tarball with `npm ci --offline` against a lockfile made from the
 *   repo's own (the tarball's dependencies at the versions the repo pins, which `npm install` in
 *   the repo put into npm's cache): no registry needed, and the versions cannot drift under the
 *   test. Should the cache lack one (a cache cleared since), it says so and lets npm fetch it.
 * - tsc is the repo's; @types/node comes from the repo's node_modules (a user installs their own).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const repo = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
const tsc = join(repo, 'node_modules/typescript/bin/tsc');

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * The environment of a user's shell: under `npm test` npm adds its lifecycle variables (the repo's
 * npm_config_local_prefix, npm_package_*, ...), which must not steer the consumer's npm; the
 * user's own npm settings (cache, config files) stay.
 */
function userEnvironment(): NodeJS.ProcessEnv {
  const keep = new Set(['npm_config_cache', 'npm_config_userconfig', 'npm_config_globalconfig']);
  const env = Object.fromEntries(Object.entries(process.env).filter(([key]) => !key.toLowerCase().startsWith('npm_') || keep.has(key.toLowerCase())));
  return { ...env, npm_config_update_notifier: 'false' };
}

/** Runs a command to its end, bounded in time; never rejects (the caller checks the code). */
function run(command: string, args: readonly string[], cwd: string, timeoutMs: number): Promise<Run> {
  return new Promise((done) => {
    execFile(command, args, { cwd, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 16 * 1024 * 1024, env: userEnvironment() }, (error, stdout, stderr) => {
      const code = error ? (typeof error.code === 'number' ? error.code : null) : 0;
      done({ code, stdout, stderr: error && code === null ? `${stderr}\n${error.message}` : stderr });
    });
  });
}

function ok(what: string, r: Run): Run {
  if (r.code !== 0) throw new Error(`${what} failed (exit ${r.code}):\n${r.stdout}\n${r.stderr}`);
  return r;
}

interface LockEntry {
  dev?: boolean;
  devOptional?: boolean;
  peer?: boolean;
}

/**
 * The consumer's lockfile: the tarball, and the repo's pinned entries of every package it needs at
 * run time (not dev, not an optional peer such as drachtio-srf).
 */
function consumerLock(tarball: string, tarballFile: string): object {
  const pkg = JSON.parse(readFileSync(join(repo, 'package.json'), 'utf8')) as Record<string, unknown>;
  const lock = JSON.parse(readFileSync(join(repo, 'package-lock.json'), 'utf8')) as { packages: Record<string, LockEntry> };
  const integrity = `sha512-${createHash('sha512').update(readFileSync(tarballFile)).digest('base64')}`;
  const packages: Record<string, unknown> = {
    '': { name: 'consumer', dependencies: { kadsip: tarball } },
    'node_modules/kadsip': {
      version: pkg.version,
      resolved: tarball,
      integrity,
      license: pkg.license,
      dependencies: pkg.dependencies,
      peerDependencies: pkg.peerDependencies,
      peerDependenciesMeta: pkg.peerDependenciesMeta,
      bin: pkg.bin,
      engines: pkg.engines,
    },
  };
  for (const [path, entry] of Object.entries(lock.packages)) {
    if (path.startsWith('node_modules/') && !entry.dev && !entry.devOptional && !entry.peer) packages[path] = entry;
  }
  return { name: 'consumer', lockfileVersion: 3, requires: true, packages };
}

const temp = mkdtempSync(join(tmpdir(), 'kadsip-packed-'));

afterAll(() => {
  rmSync(temp, { recursive: true, force: true });
});

describe('the packed tarball, installed and used by a TypeScript consumer', () => {
  let files: string[] = [];
  let tarballFile = '';
  const app = join(temp, 'app');

  it('packs dist (JS and .d.ts) and the licence only: no simulator, no source maps, no src', async () => {
    const pkgDir = join(temp, 'pkg');
    mkdirSync(pkgDir);
    ok('tsc into the staging copy', await run(process.execPath, [tsc, '-p', join(repo, 'tsconfig.json'), '--outDir', join(pkgDir, 'dist')], repo, 180_000));
    for (const f of ['package.json', 'README.md', 'LICENSE']) copyFileSync(join(repo, f), join(pkgDir, f));
    const packed = ok('npm pack', await run('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', temp], pkgDir, 60_000));
    const [info] = JSON.parse(packed.stdout) as [{ filename: string; files: { path: string }[] }];
    tarballFile = join(temp, info.filename);
    files = info.files.map((f) => f.path).sort();
    expect(files).toContain('LICENSE');
    expect(files).toContain('package.json');
    expect(files).toContain('dist/index.js');
    expect(files).toContain('dist/index.d.ts');
    expect(files).toContain('dist/cli/main.js');
    expect(files).toContain('dist/drachtio/index.js');
    expect(files).toContain('dist/drachtio/index.d.ts');
    expect(files.filter((f) => f.endsWith('.map'))).toEqual([]);
    expect(files.filter((f) => f.startsWith('dist/sim/'))).toEqual([]);
    expect(files.filter((f) => !f.startsWith('dist/') && !['LICENSE', 'README.md', 'package.json'].includes(f))).toEqual([]);
    expect(files.filter((f) => f.startsWith('dist/') && !f.endsWith('.js') && !f.endsWith('.d.ts'))).toEqual([]);
  }, 240_000);

  it('installs offline into a fresh project; the consumer type-checks (NodeNext) and runs: A publishes, B locates', async () => {
    expect(tarballFile, 'the pack step ran').not.toBe('');
    mkdirSync(app);
    const tarball = `file:../${tarballFile.slice(temp.length + 1)}`;
    writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module', dependencies: { kadsip: tarball } }, null, 2));
    writeFileSync(join(app, 'package-lock.json'), JSON.stringify(consumerLock(tarball, tarballFile), null, 2));
    const install = await run('npm', ['ci', '--offline', '--no-audit', '--no-fund'], app, 120_000);
    if (install.code !== 0) {
      // Only a cache that lacks a pinned tarball is worth a second try, from the registry.
      if (!/ENOTCACHED/.test(install.stderr)) ok('npm ci --offline', install);
      process.stderr.write('packed-consumer: npm cache lacks a dependency of the tarball; installing with --prefer-offline\n');
      ok('npm ci --prefer-offline', await run('npm', ['ci', '--prefer-offline', '--no-audit', '--no-fund'], app, 180_000));
    }

    // The bin of the tarball, installed.
    const help = ok('kadsip --help', await run(join(app, 'node_modules/.bin/kadsip'), ['--help'], app, 30_000));
    expect(help.stdout).toMatch(/\bstart\b/);

    copyFileSync(join(repo, 'test/package/consumer.mts'), join(app, 'consumer.ts'));
    writeFileSync(
      join(app, 'tsconfig.json'),
      JSON.stringify({
        compilerOptions: {
          target: 'ES2022',
          module: 'NodeNext',
          moduleResolution: 'NodeNext',
          strict: true,
          // The package's own .d.ts are checked too, as in a project without skipLibCheck.
          skipLibCheck: false,
          types: ['node'],
          typeRoots: [join(repo, 'node_modules/@types')],
          outDir: 'out',
        },
        files: ['consumer.ts'],
      }),
    );
    ok('tsc of the consumer', await run(process.execPath, [tsc, '-p', 'tsconfig.json'], app, 180_000));

    // It must exit by itself: stopped nodes leave no socket or timer behind.
    const consumer = ok('the consumer', await run(process.execPath, ['out/consumer.js'], app, 60_000));
    const seen = JSON.parse(consumer.stdout.trim().split('\n').pop()!) as {
      a: { address: string; listen: { host: string; port: number }; peerId: string };
      published: { aor: string; record: string; storedAt: number };
      located: { found: boolean; targets?: { uri: string; addresses: { transport: string; host: string; port: number }[] }[] };
      unknown: { found: boolean; status?: number };
      statusA: { state: string; contacts: number; recordsPublished: number; peerId: string; overlay: string };
      statusB: { state: string; contacts: number };
      afterUnpublish: number;
      badAor: string;
      badConfig: string;
      internal: string;
      plugin: string;
    };
    expect(seen.a.listen.host).toBe('127.0.0.1');
    expect(seen.a.listen.port).toBeGreaterThan(0);
    expect(seen.a.address).toBe(`127.0.0.1:${seen.a.listen.port}`);
    expect(seen.a.peerId).toMatch(/^[0-9a-f]{40}$/);
    expect(seen.statusA).toMatchObject({ state: 'joined', contacts: 1, recordsPublished: 1, peerId: seen.a.peerId, overlay: 'packed' });
    expect(seen.statusB).toMatchObject({ state: 'joined', contacts: 1 });
    // Every field NodeStatus promises is there, of its type (src/index.ts reads them off the node's /status document).
    for (const status of [seen.statusA, seen.statusB]) {
      expect(status).toEqual({
        peerId: expect.stringMatching(/^[0-9a-f]{40}$/),
        address: expect.stringMatching(/^127\.0\.0\.1:\d+$/),
        overlay: 'packed',
        state: 'joined',
        role: 'peer',
        behindNat: false,
        contacts: 1,
        recordsHeld: expect.any(Number),
        recordsPublished: expect.any(Number),
        registeredAors: 0,
      });
    }
    // Canonical AoR (host in lower case), the record names A, and B holds a replica.
    expect(seen.published).toEqual({ aor: 'sip:Alice@overlay.test', record: `sip:Alice@${seen.a.address}`, storedAt: 2 });
    // B finds A through the overlay: the request goes to A, Request-URI unchanged.
    expect(seen.located).toEqual({ found: true, targets: [{ uri: 'sip:Alice@overlay.test', addresses: [{ transport: 'udp', host: '127.0.0.1', port: seen.a.listen.port }] }] });
    expect(seen.unknown).toMatchObject({ found: false, status: 404 });
    expect(seen.afterUnpublish).toBe(0);
    expect(seen.badAor).toBe('TypeError');
    expect(seen.badConfig).toBe('ConfigError');
    expect(seen.internal).toBe('ERR_PACKAGE_PATH_NOT_EXPORTED');
    expect(seen.plugin).toBe('function:127.0.0.1:5090');
  }, 480_000);
});
