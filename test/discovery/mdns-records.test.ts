/**
 * The mDNS DNS-SD records of `--discover lan` (src/discovery/mdns.ts, docs/PROTOCOL.md section 8.2):
 * what a node announces, encoded and decoded by dns-packet as on the wire, and how a querier turns
 * answers into bootstraps (overlay check, goodbyes, missing records).
 */
import packet from 'dns-packet';
import type { Answer } from 'dns-packet';
import { describe, expect, it } from 'vitest';
import { instanceRecords, lanNames, lanServiceName, peersFromAnswers, type LanInstance } from '../../src/discovery/mdns.js';

function node(tag: string, address: string, overlay = 'kadsip', port = 5060): LanInstance {
  const names = lanNames(`${tag}0000000000000000000000000000000000`);
  return { ...names, address, port, overlay, transports: ['udp', 'tcp'], protocol: 'udp' };
}

/** The records as a querier receives them: one response packet, through the wire format. */
function onWire(...instances: { self: LanInstance; goodbye?: boolean }[]): Answer[] {
  const answers: Answer[] = [];
  const additionals: Answer[] = [];
  for (const { self, goodbye } of instances) {
    const r = instanceRecords(self, goodbye);
    answers.push(r.ptr);
    additionals.push(r.srv, r.txt, r.a);
  }
  const decoded = packet.decode(packet.encode({ type: 'response', flags: packet.AUTHORITATIVE_ANSWER, answers, additionals }));
  return [...(decoded.answers ?? []), ...(decoded.additionals ?? [])];
}

describe('mDNS DNS-SD records', () => {
  it('a node announces PTR _kadsip._udp.local -> instance, SRV (port, host), TXT (txtvers, overlay, transports), A', () => {
    const self = node('3f9a0c12d4e5', '192.0.2.10');
    const r = instanceRecords(self);
    expect(lanServiceName('udp')).toBe('_kadsip._udp.local');
    expect(r.ptr).toMatchObject({ name: '_kadsip._udp.local', type: 'PTR', data: 'kadsip-3f9a0c12d4e5._kadsip._udp.local', ttl: 4500 });
    expect(r.srv).toMatchObject({ name: 'kadsip-3f9a0c12d4e5._kadsip._udp.local', type: 'SRV', ttl: 120, flush: true, data: { port: 5060, target: 'kadsip-3f9a0c12d4e5.local' } });
    expect((r.txt as { data: unknown }).data).toEqual(['txtvers=1', 'overlay=kadsip', 'transports=udp,tcp']);
    expect(r.a).toMatchObject({ name: 'kadsip-3f9a0c12d4e5.local', type: 'A', data: '192.0.2.10', ttl: 120 });
    // The shared PTR has no cache-flush bit (RFC 6762 section 10.2).
    expect((r.ptr as { flush?: boolean }).flush).toBeUndefined();
  });

  it('answers from two nodes of our overlay give both as bootstraps, through the wire format', () => {
    const got = peersFromAnswers(onWire({ self: node('aaaaaaaaaaaa', '192.0.2.10') }, { self: node('bbbbbbbbbbbb', '192.0.2.11', 'kadsip', 5070) }), { overlay: 'kadsip', protocol: 'udp' });
    expect(got.peers.map((p) => `${p.host}:${p.port}`).sort()).toEqual(['192.0.2.10:5060', '192.0.2.11:5070']);
    expect(got.skipped).toEqual([]);
  });

  it('an instance of another overlay is left out, with the reason', () => {
    const got = peersFromAnswers(onWire({ self: node('aaaaaaaaaaaa', '192.0.2.10', 'other') }, { self: node('bbbbbbbbbbbb', '192.0.2.11') }), { overlay: 'kadsip', protocol: 'udp' });
    expect(got.peers).toEqual([{ host: '192.0.2.11', port: 5060 }]);
    expect(got.skipped).toEqual([{ name: 'kadsip-aaaaaaaaaaaa._kadsip._udp.local', reason: 'overlay=other is not kadsip' }]);
  });

  it('a goodbye (TTL 0) withdraws the instance', () => {
    const a = node('aaaaaaaaaaaa', '192.0.2.10');
    const got = peersFromAnswers([...onWire({ self: a }), ...onWire({ self: a, goodbye: true })], { overlay: 'kadsip', protocol: 'udp' });
    expect(got.peers).toEqual([]);
  });

  it('a PTR without its SRV or A in the answers is reported, not guessed', () => {
    const r = instanceRecords(node('aaaaaaaaaaaa', '192.0.2.10'));
    expect(peersFromAnswers([r.ptr], { overlay: 'kadsip', protocol: 'udp' }).skipped[0]?.reason).toBe('no SRV record in the answers');
    expect(peersFromAnswers([r.ptr, r.srv, r.txt], { overlay: 'kadsip', protocol: 'udp' }).skipped[0]?.reason).toContain('no A record');
  });

  it('a TCP-only peer asks _kadsip._tcp.local and ignores _udp instances', () => {
    const got = peersFromAnswers(onWire({ self: node('aaaaaaaaaaaa', '192.0.2.10') }), { overlay: 'kadsip', protocol: 'tcp' });
    expect(got.peers).toEqual([]);
  });
});
