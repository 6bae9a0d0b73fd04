/**
 * The operator's side of `kadsip start` (and the one-shot commands), run as real processes: exit
 * codes (2 usage and configuration, 1 failure at run time, 0 --version), one human line on stderr
 * that names the setting as the user wrote it (a flag, an environment variable, a file key) and no
 * stack trace, nothing opened left behind when a start-up step fails, and --listen 0.0.0.0.
 */
import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI, freePorts, requireBuilt, run } from './live-helpers.js';

const kadsip = (args: string[], env: NodeJS.ProcessEnv = {}, timeoutMs = 15_000) => run(process.execPath, [CLI, ...args], { env, timeoutMs });

/** One line on stderr, without a stack trace, starting with `kadsip COMMAND:`. */
function expectOneHumanLine(stderr: string, command: string): void {
  const lines = stderr.trim().split('\n');
  expect(lines, stderr).toHaveLength(1);
  expect(lines[0]).toMatch(new RegExp(`^kadsip ${command}: `));
  expect(stderr).not.toMatch(/\n\s+at /);
}

function udpBindable(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    s.once('error', () => resolve(false));
    s.bind(port, '127.0.0.1', () => s.close(() => resolve(true)));
  });
}

describe('kadsip start: start-up and usage errors', () => {
  it('--version answers on the program and on every command, exit 0', async () => {
    requireBuilt();
    for (const args of [['--version'], ['start', '--version'], ['lookup', '--version'], ['candidates', '--version']]) {
      const r = await kadsip(args);
      expect(r.code, args.join(' ')).toBe(0);
      expect(r.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    }
  });

  it('a usage error (unknown option, missing argument) exits 2', async () => {
    expect((await kadsip(['start', '--no-such-option'])).code).toBe(2);
    expect((await kadsip(['lookup', 'sip:a@b'])).code).toBe(2);
  });

  it('a bad value exits 2 naming where it came from: the environment variable, the flag, the file key', async () => {
    const env = await kadsip(['start'], { KADSIP_LISTEN: '1.2.3:5060' });
    expect(env.code).toBe(2);
    expectOneHumanLine(env.stderr, 'start');
    expect(env.stderr).toContain('KADSIP_LISTEN');

    const flag = await kadsip(['start', '--candidates-wanted', 'many']);
    expect(flag.code).toBe(2);
    expect(flag.stderr).toMatch(/^kadsip start: --candidates-wanted: /);

    const file = join(tmpdir(), `kadsip-start-failures-${process.pid}.json`);
    writeFileSync(file, JSON.stringify({ k: 500 }));
    const fromFile = await kadsip(['start', '--config', file]);
    expect(fromFile.code).toBe(2);
    expect(fromFile.stderr).toContain(`"k" in ${file}`);
    // The flag wins over the environment: the error names the one that won.
    const both = await kadsip(['start', '--listen', '1.2.3'], { KADSIP_LISTEN: '127.0.0.1:5060' });
    expect(both.stderr).toMatch(/^kadsip start: --listen: /);
  });

  it('the HTTP port taken: exit 1 with one line, and the SIP port it had bound is free again', async () => {
    const [sip, http] = [await freePorts(1), await freePorts(1)];
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(http, '127.0.0.1', () => r()));
    try {
      const r = await kadsip(['start', '--listen', `127.0.0.1:${sip}`, '--http', `127.0.0.1:${http}`]);
      expect(r.code, r.stderr + r.stdout).toBe(1);
      expectOneHumanLine(r.stderr, 'start');
      expect(r.stderr).toContain(`cannot serve HTTP on 127.0.0.1:${http}`);
      expect(r.stdout).not.toMatch(/"stack"/);
      // The process exited (run() returned): nothing kept it alive, and its SIP socket is closed.
      expect(await udpBindable(sip)).toBe(true);
    } finally {
      blocker.close();
    }
  });

  it('the SIP address not on this host, or its port taken: exit 1 with the cause in words', async () => {
    const notHere = await kadsip(['start', '--listen', '203.0.113.254:5060']);
    expect(notHere.code).toBe(1);
    expectOneHumanLine(notHere.stderr, 'start');
    expect(notHere.stderr).toContain('no interface of this host has that address');

    const port = await freePorts(1);
    const taken = createSocket('udp4');
    await new Promise<void>((r) => taken.bind(port, '127.0.0.1', () => r()));
    try {
      const r = await kadsip(['start', '--listen', `127.0.0.1:${port}`]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain('already in use');
    } finally {
      taken.close();
    }
  });

  it('bootstraps that do not answer: exit 1, "could not join", naming each (--bootstrap repeated)', async () => {
    const [sip, dead, dead2] = [await freePorts(1), await freePorts(1), await freePorts(1)];
    const r = await kadsip(['start', '--listen', `127.0.0.1:${sip}`, '--bootstrap', `127.0.0.1:${dead}`, '--bootstrap', `127.0.0.1:${dead2}`], {}, 30_000);
    expect(r.code).toBe(1);
    expectOneHumanLine(r.stderr, 'start');
    expect(r.stderr).toContain('could not join the overlay: no bootstrap peer admitted this node:');
    expect(r.stderr).toContain(`127.0.0.1:${dead} did not answer`);
    expect(r.stderr).toContain(`127.0.0.1:${dead2} did not answer`);
    expect(await udpBindable(sip)).toBe(true);
  }, 40_000);
});
