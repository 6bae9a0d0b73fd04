/**
 * No Docker engine runs on these machines, so the image's entrypoint is tested by running it
 * directly against the built dist/: it starts a node that answers /healthz, and `docker stop`'s
 * SIGTERM makes it leave and exit 0.
 */
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { expect, it } from 'vitest';
import { freePorts } from './live-helpers.js';

const root = fileURLToPath(new URL('../..', import.meta.url));

it('docker/entrypoint.sh starts a healthy node and stops it cleanly on SIGTERM', async () => {
  const port = await freePorts(2);
  const child = spawn('sh', [`${root}/docker/entrypoint.sh`, '--log-level', 'warn'], {
    env: { ...process.env, KADSIP_APP_DIR: root, KADSIP_LISTEN: `127.0.0.1:${port}`, KADSIP_HTTP: `127.0.0.1:${port + 1}` },
    stdio: 'ignore',
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  let healthy = false;
  for (let i = 0; i < 50 && !healthy; i++) {
    await new Promise((r) => setTimeout(r, 100));
    healthy = await fetch(`http://127.0.0.1:${port + 1}/healthz`).then((r) => r.ok, () => false);
  }
  expect(healthy).toBe(true);
  child.kill('SIGTERM');
  expect(await exited).toBe(0);
});
