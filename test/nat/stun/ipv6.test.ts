import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { StunServer, detectNat, stunBinding } from '../../../src/nat/stun/index.js';

async function hasIPv6Loopback(): Promise<boolean> {
  const s = createSocket('udp6');
  try {
    await new Promise<void>((resolve, reject) => {
      s.once('error', reject);
      s.bind(0, '::1', () => resolve());
    });
    return true;
  } catch {
    return false;
  } finally {
    s.close();
  }
}

describe.runIf(await hasIPv6Loopback())('STUN over IPv6 loopback', () => {
  it('maps [::1]:port through XOR-MAPPED-ADDRESS (IPv6 XOR with the transaction ID)', async () => {
    const srv = await StunServer.listen({ host: '::1', port: 0 });
    try {
      const res = await stunBinding({ host: '::1', port: srv.address().port }, { localHost: '::1' });
      expect(res.mapped.family).toBe('IPv6');
      expect(res.mapped.host).toBe('::1');
      expect(res.mapped.port).toBe(res.local?.port);
      expect(detectNat(res.mapped, { host: '::1', port: res.local?.port ?? 0 }).behindNat).toBe(false);
    } finally {
      await srv.close();
    }
  });
});
