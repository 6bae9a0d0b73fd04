/**
 * Rfc3263Resolver edge cases that a DNS server cannot easily be made to produce
 * (SERVFAIL on one name only, huge answers): unit tests with a fake DnsClient.
 * The RFC 3263 branches themselves are tested against dnsmasq in rfc3263.test.ts.
 */
import { describe, expect, it } from 'vitest';
import { parseUri, type SipUri } from '../../src/sip/message/index.js';
import { DnsError, Rfc3263Resolver, type SrvRecord } from '../../src/resolve/index.js';
import { FakeDnsClient, type FakeZone } from './helpers.js';

function sipUri(s: string): SipUri {
  const r = parseUri(s);
  if (!r.ok || r.value.kind !== 'sip') throw new Error(`bad test URI ${s}`);
  return r.value;
}

const servfail = (name: string, rrtype: 'A' | 'AAAA' | 'SRV' | 'NAPTR' = 'A') => new DnsError('servfail', rrtype, name, 'ESERVFAIL');

function resolver(zone: FakeZone, supportedTransports: ('udp' | 'tcp')[] = ['udp', 'tcp']): Rfc3263Resolver {
  return new Rfc3263Resolver({ dns: new FakeDnsClient(zone), supportedTransports, cache: false, random: () => 0 });
}

describe('Rfc3263Resolver with a fake DnsClient', () => {
  it('a failing SRV target does not hide a working one', async () => {
    const r = resolver({
      srv: {
        '_sip._udp.x.test': [
          { priority: 1, weight: 0, port: 5060, target: 'bad.x.test', ttl: 60 },
          { priority: 2, weight: 0, port: 5062, target: 'good.x.test', ttl: 60 },
        ],
      },
      a: { 'good.x.test': [{ address: '192.0.2.2', ttl: 60 }] },
      fail: { 'bad.x.test': servfail('bad.x.test') },
    });
    expect((await r.resolve(sipUri('sip:x.test'))).map((t) => `${t.host}:${t.port}`)).toEqual(['192.0.2.2:5062']);
  });

  it('when every lookup fails, the DnsError is the answer (-> 503)', async () => {
    const r = resolver({
      srv: { '_sip._udp.x.test': [{ priority: 1, weight: 0, port: 5060, target: 'bad.x.test', ttl: 60 }] },
      fail: { 'bad.x.test': servfail('bad.x.test') },
    });
    await expect(r.resolve(sipUri('sip:x.test'))).rejects.toMatchObject({ failure: 'servfail', query: 'bad.x.test' });
  });

  it('a failing NAPTR query is a DnsError', async () => {
    const r = resolver({ fail: { 'x.test': servfail('x.test', 'NAPTR') } });
    await expect(r.resolve(sipUri('sip:x.test'))).rejects.toBeInstanceOf(DnsError);
  });

  it('a failing SRV behind NAPTR falls back to the other NAPTR records', async () => {
    const r = resolver({
      naptr: {
        'x.test': [
          { order: 1, preference: 1, flags: 's', service: 'SIP+D2U', regexp: '', replacement: '_sip._udp.x.test', ttl: 60 },
          { order: 2, preference: 1, flags: 's', service: 'SIP+D2T', regexp: '', replacement: '_sip._tcp.x.test', ttl: 60 },
        ],
      },
      srv: { '_sip._tcp.x.test': [{ priority: 1, weight: 0, port: 5070, target: 'h.x.test', ttl: 60 }] },
      a: { 'h.x.test': [{ address: '192.0.2.7', ttl: 60 }] },
      fail: { '_sip._udp.x.test': servfail('_sip._udp.x.test', 'SRV') },
    });
    expect((await r.resolve(sipUri('sip:x.test'))).map((t) => `${t.protocol}:${t.host}:${t.port}`)).toEqual(['tcp:192.0.2.7:5070']);
  });

  it('without UDP support, numeric and A-record targets default to TCP', async () => {
    const r = resolver({ a: { 'x.test': [{ address: '192.0.2.9', ttl: 60 }] } }, ['tcp']);
    expect((await r.resolve(sipUri('sip:192.0.2.1')))[0]?.protocol).toBe('tcp');
    expect((await r.resolve(sipUri('sip:x.test')))[0]).toMatchObject({ protocol: 'tcp', host: '192.0.2.9', port: 5060 });
  });

  it('SRV targets given as IP literals are used as addresses', async () => {
    const r = resolver({ srv: { '_sip._udp.x.test': [{ priority: 1, weight: 0, port: 5090, target: '192.0.2.50', ttl: 60 }] } });
    expect((await r.resolve(sipUri('sip:x.test'))).map((t) => `${t.host}:${t.port}`)).toEqual(['192.0.2.50:5090']);
  });

  it('bounds the number of targets and removes duplicates', async () => {
    const many: SrvRecord[] = Array.from({ length: 50 }, (_, i) => ({ priority: i, weight: 0, port: 5000 + i, target: `h${i}.x.test`, ttl: 60 }));
    const a: FakeZone['a'] = {};
    for (let i = 0; i < 50; i++) a[`h${i}.x.test`] = [{ address: '192.0.2.1', ttl: 60 }, { address: '192.0.2.1', ttl: 60 }];
    const r = new Rfc3263Resolver({ dns: new FakeDnsClient({ srv: { '_sip._udp.x.test': many }, a }), supportedTransports: ['udp'], cache: false, maxTargets: 5 });
    const targets = await r.resolve(sipUri('sip:x.test'));
    expect(targets.map((t) => t.port)).toEqual([5000, 5001, 5002, 5003, 5004]);
  });
});
