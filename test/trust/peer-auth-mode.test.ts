/**
 * Which trust mode a node runs (src/node/trust-mode.ts): closed from the CA, certificate and key
 * (the overlay's name from the CA), secret from the secret file, open without either; a bad file
 * stops start-up with a message naming it. And two `kadsip start` processes sharing a secret
 * form an overlay that a node without the secret cannot join.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_CONFIG, type NodeConfig } from '../../src/node/config.js';
import { loadTrustMode, trustStatus, TrustSetupError } from '../../src/node/trust-mode.js';
import { privateKeyPem } from '../../src/trust/keys.js';
import { derToPem } from '../../src/trust/x509.js';
import { freePorts, requireBuilt, startNode, type RunningNode } from '../live/live-helpers.js';
import { issue, makeCa } from './peer-auth-fixtures.js';

const work = mkdtempSync(join(tmpdir(), 'kadsip-trust-mode-'));
const nodes: RunningNode[] = [];
afterAll(async () => {
  await Promise.all(nodes.map((n) => n.stop()));
  rmSync(work, { recursive: true, force: true });
});

const config = (trust: NodeConfig['trust'], overlay = DEFAULT_CONFIG.overlay): NodeConfig => ({ ...DEFAULT_CONFIG, overlay, trust });

async function closedFiles(overlay?: string): Promise<NodeConfig['trust']> {
  const ca = await makeCa(overlay !== undefined ? { overlay } : {});
  const node = await issue(ca, { name: 'n', domains: ['example.net'] });
  const dir = mkdtempSync(join(work, 'closed-'));
  writeFileSync(join(dir, 'ca.pem'), derToPem('CERTIFICATE', ca.der));
  writeFileSync(join(dir, 'cert.pem'), derToPem('CERTIFICATE', node.der));
  writeFileSync(join(dir, 'key.pem'), privateKeyPem(node.key), { mode: 0o600 });
  return { caCert: join(dir, 'ca.pem'), cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
}

describe('trust mode from the settings', () => {
  it('is open without trust files, secret with a secret file, closed with a CA', async () => {
    expect(trustStatus(loadTrustMode(config({})).trust)).toEqual({ mode: 'open' });
    const secret = join(work, 'secret');
    writeFileSync(secret, 'correct horse battery staple\n');
    expect(trustStatus(loadTrustMode(config({ overlaySecretFile: secret })).trust)).toEqual({ mode: 'secret', algorithm: 'hmac-sha1' });
    const closed = loadTrustMode(config(await closedFiles('acme')));
    expect(closed.overlay).toBe('acme'); // the default overlay name gives way to the CA's
    expect(trustStatus(closed.trust)).toMatchObject({ mode: 'closed', name: 'n', domains: ['example.net'], authenticatedPeers: 0 });
  });

  it('refuses an overlay name other than the CA\'s, a missing file, a short secret, naming the file', async () => {
    const files = await closedFiles('acme');
    expect(() => loadTrustMode(config(files, 'other'))).toThrow(/the CA of overlay "acme", but the node is configured for overlay "other"/);
    expect(loadTrustMode(config(await closedFiles(), 'other')).overlay).toBe('other'); // a CA without a name: the node's
    expect(() => loadTrustMode(config({ ...files, cert: join(work, 'nope.pem') }))).toThrow(TrustSetupError);
    expect(() => loadTrustMode(config({ ...files, cert: join(work, 'nope.pem') }))).toThrow(/nope\.pem/);
    const short = join(work, 'short');
    writeFileSync(short, 'short');
    expect(() => loadTrustMode(config({ overlaySecretFile: short }))).toThrow(new RegExp(`${short}: the overlay secret must be at least 16 bytes`));
  });
});

describe('a secret overlay of kadsip processes', () => {
  it('joins the holders of the secret and not a node without it', async () => {
    requireBuilt();
    const secret = join(work, 'shared');
    writeFileSync(secret, 'a shared secret of this small overlay\n');
    const p = await freePorts(6);
    const a = await startNode(p, p + 1, ['--overlay-secret-file', secret]);
    nodes.push(a);
    const b = await startNode(p + 2, p + 3, ['--overlay-secret-file', secret, '--bootstrap', `127.0.0.1:${p}`]);
    nodes.push(b);
    const status = async (n: RunningNode): Promise<{ contacts: number; trust: { mode: string } }> => (await fetch(`http://127.0.0.1:${n.httpPort}/status`)).json() as Promise<{ contacts: number; trust: { mode: string } }>;
    expect((await status(a)).trust.mode).toBe('secret');
    expect((await status(b)).contacts).toBe(1);
    await expect(startNode(p + 4, p + 5, ['--bootstrap', `127.0.0.1:${p}`])).rejects.toThrow(/could not join the overlay.*unsupported algorithm/s);
    expect((await status(a)).contacts).toBe(1);
  }, 40_000);
});
