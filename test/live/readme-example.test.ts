/**
 * The README's three-node example, as written, on three hosts of the testbed (issue 9). The test
 * reads the shell block that follows "A three-node overlay on three hosts" in README.md and runs
 * each line where its `# on IP` comment says: a host of the testbed with that address (so a
 * `kadsip start --listen IP:5060` runs on the host that owns IP), with `kadsip` on the PATH as the
 * built CLI. It then runs the `curl` line (until the nodes have found each other, bounded) and
 * checks what a user checks: the first node's /status says joined, with the two others as contacts.
 * A README edit that breaks the example (a wrong address, a flag that does not exist, a curl at the
 * wrong port) fails here. Needs root; without it the test fails with a message.
 */
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CLI, REPO } from './live-helpers.js';
import { until, type NsProc } from './netns-helpers.js';
import { Testbed, type Host } from './testbed.js';

const INTRO = 'A three-node overlay on three hosts';

/** The lines of the first ```sh block after the sentence, each with the host its comment names. */
function readmeExample(): Array<{ command: string; on: string }> {
  const readme = readFileSync(join(REPO, 'README.md'), 'utf8');
  const at = readme.indexOf(INTRO);
  if (at < 0) throw new Error(`README.md has no "${INTRO}" paragraph`);
  const block = /```sh\n([\s\S]*?)```/.exec(readme.slice(at));
  if (!block) throw new Error(`README.md: no sh block after "${INTRO}"`);
  return block[1]!
    .split('\n')
    .filter((l) => l.trim() !== '')
    .map((line) => {
      const m = /^(.*?)\s*#\s*on\s+(\S+)\s*$/.exec(line);
      if (!m) throw new Error(`README.md example line without "# on IP": ${line}`);
      return { command: m[1]!.trim(), on: m[2]! };
    });
}

describe('the README three-node example on three hosts', () => {
  let tb: Testbed;
  let bin = '';
  const lines = readmeExample();
  const hosts = new Map<string, Host>();
  const started: Array<{ host: Host; proc: NsProc }> = [];

  beforeAll(async () => {
    tb = await Testbed.create();
    for (const ip of new Set(lines.map((l) => l.on))) hosts.set(ip, await tb.addHost(`r${hosts.size}`, ip, { delayMs: 10 }));
    // `kadsip` as a user has it after `npm install -g` or `npm link`: the built CLI on the PATH.
    bin = mkdtempSync(join(tmpdir(), 'kadsip-readme-'));
    writeFileSync(join(bin, 'kadsip'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" "$@"\n`);
    chmodSync(join(bin, 'kadsip'), 0o755);
  }, 30_000);

  afterAll(async () => {
    await tb?.destroy();
    if (bin) rmSync(bin, { recursive: true, force: true });
  }, 30_000);

  it('has three start lines, each listening on the address of the host it runs on, and a curl', () => {
    const starts = lines.filter((l) => l.command.startsWith('kadsip start'));
    expect(starts).toHaveLength(3);
    for (const s of starts) expect(s.command).toContain(`--listen ${s.on}:5060`);
    expect(new Set(starts.map((s) => s.on)).size).toBe(3);
    expect(lines.some((l) => l.command.startsWith('curl'))).toBe(true);
  });

  it('runs as written: the three nodes join and the curl line shows it', async () => {
    const env = { PATH: `${bin}:${process.env.PATH ?? ''}` };
    for (const line of lines.filter((l) => l.command.startsWith('kadsip start'))) {
      const host = hosts.get(line.on)!;
      // The trailing `&` is the user's shell keeping the node in the background; here the testbed does.
      const command = line.command.replace(/&\s*$/, '').trim();
      const proc = tb.spawn(host, 'sh', ['-c', `exec ${command}`], { env });
      started.push({ host, proc });
      // The first line starts the overlay: give it a moment, as a user typing the next line does.
      if (started.length === 1) await until('the first node to listen', 20_000, async () => {
        if (proc.child.exitCode !== null) throw new Error(`the first README node exited: ${proc.output()}`);
        return (await tb.run(host, 'sh', ['-c', 'ss -lun | grep -q ":5060 "'], 3_000)).code === 0 ? true : undefined;
      });
    }
    const curl = lines.find((l) => l.command.startsWith('curl'))!;
    const curlHost = hosts.get(curl.on)!;
    const status = await until('the curl line to show two contacts', 45_000, async () => {
      for (const { host, proc } of started) if (proc.child.exitCode !== null) throw new Error(`the node on ${host.ip} exited: ${proc.output()}`);
      const r = await tb.run(curlHost, 'sh', ['-c', curl.command], 5_000);
      if (r.code !== 0) return undefined;
      const s = JSON.parse(r.stdout) as { state: string; contacts: number; address: string };
      return s.state === 'joined' && s.contacts === 2 ? s : undefined;
    });
    expect(status.address).toBe(`${curl.on}:5060`);
    // The two others joined too (their own view of the overlay).
    for (const { host, proc } of started.slice(1)) {
      expect(host.ip).not.toBe(curl.on);
      await until(`the node on ${host.ip} to log that it joined`, 20_000, () => (proc.output().includes('"joined overlay"') ? true : undefined));
    }
  }, 90_000);
});
