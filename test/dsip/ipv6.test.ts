/**
 * IPv6 rules of PROTOCOL.md section 9: the text a Peer-ID hashes (RFC 5952 canonical form, lower
 * case, no brackets, no zone; IPv4-mapped as the IPv4 address), the section's test vectors, one
 * AoR for two spellings of one IPv6 host, and the RFC 5118 wire forms kadsip writes (bracketed
 * host in PeerURIs, DHT-PeerID, Record-Route; `received=` without brackets).
 */
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatCandidate, parseCandidate } from '../../src/dsip/candidate-header.js';
import { formatDhtPeerId, parseDhtPeerId } from '../../src/dsip/dht-peerid.js';
import { addressOf, canonicalIp, formatPeerUri, idMatchesAddress, parsePeerUri, splitAddress } from '../../src/dsip/peer-uri.js';
import { idToHex } from '../../src/overlay/id.js';
import { peerIdFromAddress, resourceId } from '../../src/overlay/peer-id.js';
import { SelfAddresses } from '../../src/proxy/self.js';
import { canonicalAor, canonicalIpv6, getTopVia, parseMessage, parseUri, serializeMessage, viaReceived, type SipMessage } from '../../src/sip/message/index.js';
import { bindingDestination, needsFlowRouting, type RegistrarBinding } from '../../src/registrar/index.js';
import { normalizeHost, stampReceived } from '../../src/sip/transport/index.js';

/**
 * PROTOCOL.md section 9, "Test vectors": the address as a user may write it, the port, the exact
 * text hashed, and the Peer-ID. Computed independently with python3 hashlib and ipaddress:
 *   h = int(sha1(text.encode()).hexdigest(), 16); '%040x' % ((h >> 16 << 16) | port)
 * where text = ipaddress.ip_address(a).compressed (or str(.ipv4_mapped) for a mapped address).
 */
const VECTORS = [
  { written: '2001:DB8:0:0::A', port: 5060, hashed: '2001:db8::a', peerId: '05df10d4d4430f2de1e5e61e3f26900d1f5013c4' },
  { written: '[2001:0db8::000b]', port: 5062, hashed: '2001:db8::b', peerId: '49889f16d8dc4bd4603afd3521fb41fbc3a613c6' },
  { written: '2001:db8:0:1:0:0:0:1', port: 5060, hashed: '2001:db8:0:1::1', peerId: 'de224097e04c70291c044efcca0451ff02e913c4' },
  { written: '::1', port: 15060, hashed: '::1', peerId: '363baea9cba210afac6d7a556fca596e30c43ad4' },
  { written: '::ffff:192.0.2.7', port: 5060, hashed: '192.0.2.7', peerId: '3a8e329934c7cda5120fd97583dbbfeb679b13c4' },
] as const;

describe('PROTOCOL.md section 9 test vectors', () => {
  for (const v of VECTORS) {
    it(`${v.written} port ${v.port} hashes "${v.hashed}" to ${v.peerId}`, () => {
      expect(canonicalIp(v.written)).toBe(v.hashed);
      expect(idToHex(peerIdFromAddress(v.hashed, v.port))).toBe(v.peerId);
      // Cross-check with another SHA-1 than the one the code uses: top 144 bits of the hash, port below.
      const sha = createHash('sha1').update(v.hashed, 'utf8').digest('hex');
      expect(v.peerId.slice(0, 36)).toBe(sha.slice(0, 36));
      expect(parseInt(v.peerId.slice(36), 16)).toBe(v.port);
      // A receiver that sees the address under any spelling accepts the ID.
      expect(idMatchesAddress(peerIdFromAddress(v.hashed, v.port), v.written, v.port)).toBe(true);
    });
  }

  it('an IPv4-mapped address gives the Peer-ID of its IPv4 address, in either notation', () => {
    const v4 = peerIdFromAddress('192.0.2.7', 5060);
    expect(idMatchesAddress(v4, '::ffff:192.0.2.7', 5060)).toBe(true);
    expect(idMatchesAddress(v4, '[::FFFF:c000:207]', 5060)).toBe(true);
  });

  it('the hashed text has no brackets, no upper case and no zone: other texts give other IDs', () => {
    const id = peerIdFromAddress('2001:db8::a', 5060);
    for (const wrong of ['[2001:db8::a]', '2001:DB8::A', '2001:db8:0:0:0:0:0:a']) {
      expect(peerIdFromAddress(wrong, 5060)).not.toBe(id);
    }
    expect(canonicalIp('fe80::1%eth0')).toBeNull();
  });
});

describe('canonical IPv6 text (RFC 5952 section 4)', () => {
  it.each([
    ['2001:DB8::A', '2001:db8::a'], // 4.3 lower case
    ['2001:0db8:0000:0000:0000:0000:0000:000a', '2001:db8::a'], // 4.1 no leading zeros, 4.2.1 shortest
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // 4.2.2 one zero group is not compressed
    ['2001:0:0:1:0:0:0:1', '2001:0:0:1::1'], // 4.2.3 the longest run
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // 4.2.3 the first of equal runs
    ['[::1]', '::1'],
    ['0:0:0:0:0:0:0:0', '::'],
  ])('%s -> %s', (written, canonical) => {
    expect(canonicalIpv6(written)).toBe(canonical);
  });

  it('refuses what is not an IPv6 address', () => {
    for (const bad of ['192.0.2.1', 'example.com', '2001:db8::g', 'fe80::1%eth0', '1:2:3:4:5:6:7:8:9', '']) {
      expect(canonicalIpv6(bad)).toBeNull();
    }
  });
});

describe('AoRs on an IPv6 host', () => {
  it('two spellings of one host are one AoR and one Resource-ID', () => {
    const a = parseUri('sip:bob@[2001:DB8:0:0::A]:5070;transport=udp');
    const b = parseUri('sip:bob@[2001:db8::a]');
    if (!a.ok || !b.ok) throw new Error('parse');
    expect(canonicalAor(a.value)).toBe('sip:bob@[2001:db8::a]');
    expect(canonicalAor(b.value)).toBe('sip:bob@[2001:db8::a]');
    expect(resourceId(canonicalAor(a.value))).toBe(resourceId('sip:bob@[2001:db8::a]'));
  });
});

describe('RFC 5118 forms on the wire', () => {
  it('PeerURI and DHT-PeerID carry the host in brackets, and read back under any spelling', () => {
    const self = { id: peerIdFromAddress('2001:db8::a', 5060), address: addressOf('2001:DB8::A', 5060) };
    expect(self.address).toBe('[2001:db8::a]:5060');
    expect(formatPeerUri(self)).toBe('<sip:peer@[2001:db8::a]:5060;peer-ID=05df10d4d4430f2de1e5e61e3f26900d1f5013c4>');
    const header = formatDhtPeerId({ self, overlay: 'ov', expiresS: 3600, stun: '[2001:db8::a]:3478' });
    expect(header).toBe(
      '<sip:peer@[2001:db8::a]:5060;peer-ID=05df10d4d4430f2de1e5e61e3f26900d1f5013c4>;algorithm=sha1;dht=Kademlia1.0;overlay=ov;expires=3600;stun=[2001:db8::a]:3478',
    );
    const read = parseDhtPeerId(header);
    expect(read.ok && read.value.peer.host).toBe('2001:db8::a');
    expect(read.ok && read.value.stun).toBe('[2001:db8::a]:3478');
    const other = parsePeerUri('<sip:peer@[2001:0DB8:0::A]:5060;peer-ID=05df10d4d4430f2de1e5e61e3f26900d1f5013c4>');
    expect(other.ok && other.value.host).toBe('2001:db8::a');
    expect(splitAddress('[2001:DB8::A]:5060')).toEqual({ host: '2001:db8::a', port: 5060 });
  });

  it('DHT-Candidate names an IPv6 STUN/TURN server in brackets (RFC 7064 IP-literal) and reads it back canonical', () => {
    const line = formatCandidate({ stun: '[2001:db8::a]:3478', turn: '[2001:db8::a]:3479', role: 'peer', priority: 1 });
    expect(line).toBe('<stun:[2001:db8::a]:3478>;role=peer;prio=1;turn="turn:[2001:db8::a]:3479"');
    expect(parseCandidate('<stun:[2001:DB8:0::A]:3478>;role=peer;prio=1;turn=<turn:[2001:db8::0:a]:3479>')).toEqual({
      stun: '[2001:db8::a]:3478',
      turn: '[2001:db8::a]:3479',
      role: 'peer',
      priority: 1,
    });
  });

  it('Record-Route names the proxy as <sip:[v6]:port;lr>, one per facing address (RFC 5658)', () => {
    const self = new SelfAddresses([
      { host: '2001:db8::a', port: 5060, protocol: 'udp' },
      { host: '2001:db8:1::a', port: 5060, protocol: 'udp' },
    ], (remote) => ({ host: remote.host.startsWith('2001:db8:1:') ? '2001:db8:1::a' : '2001:db8::a', port: 5060, protocol: 'udp' }));
    const phone = { protocol: 'udp' as const, host: '2001:db8::b', port: 5070 };
    const inside = { protocol: 'udp' as const, host: '2001:db8:1::b', port: 5070 };
    expect(self.recordRoutes(phone, phone)).toEqual(['<sip:[2001:db8::a]:5060;lr>']);
    expect(self.recordRoutes(phone, inside)).toEqual(['<sip:[2001:db8:1::a]:5060;lr>', '<sip:[2001:db8::a]:5060;lr>']);
    expect(self.has('[2001:DB8::A]', 5060)).toBe(true);
  });

  it('received= is the bare IPv6 address (RFC 3261 via-received ABNF; RFC 5118 section 4.5), sent-by keeps its brackets', () => {
    const msg = request('Via: SIP/2.0/UDP [2001:db8::b]:5070;branch=z9hG4bK1;rport');
    expect(stampReceived(msg, { protocol: 'udp', host: '2001:db8::b', port: 5071 })).toBe(true);
    const top = getTopVia(msg);
    expect(top?.host).toBe('[2001:db8::b]');
    expect(top && viaReceived(top)).toBe('2001:db8::b');
    expect(serializeMessage(msg).toString()).toContain('\r\nVia: SIP/2.0/UDP [2001:db8::b]:5070;branch=z9hG4bK1;rport=5071;received=2001:db8::b\r\n');
  });

  it('reads received= with brackets too (RFC 5118 section 4.5: robustness)', () => {
    const msg = request('Via: SIP/2.0/UDP [2001:db8::9:1];received=[2001:db8::9:255];branch=z9hG4bKas3-111');
    const top = getTopVia(msg);
    expect(top && canonicalIp(viaReceived(top) ?? '')).toBe('2001:db8::9:255');
  });
});

function request(via: string): SipMessage {
  const text = [
    'OPTIONS sip:[2001:db8::a]:5060 SIP/2.0',
    via,
    'Max-Forwards: 70',
    'From: <sip:alice@[2001:db8::b]>;tag=1',
    'To: <sip:[2001:db8::a]>',
    'Call-ID: c1@2001:db8::b',
    'CSeq: 1 OPTIONS',
    'Content-Length: 0',
    '',
    '',
  ].join('\r\n');
  const r = parseMessage(Buffer.from(text));
  if (!r.ok) throw new Error(r.error.reason);
  return r.message;
}

describe('IPv6 hosts compare as addresses, not as text', () => {
  it('normalizeHost gives one text for every spelling of an address', () => {
    for (const h of ['[2001:DB8:0::C]', '2001:db8:0:0:0:0:0:c', '2001:db8::c']) expect(normalizeHost(h)).toBe('2001:db8::c');
    expect(normalizeHost('[::FFFF:192.0.2.7]')).toBe('192.0.2.7');
    expect(normalizeHost('Example.COM')).toBe('example.com');
  });

  it('a phone whose Contact spells its source address another way is sent to at its Contact (no NAT: RFC 3261 10, 16.5)', () => {
    const contact = 'sip:carol@[2001:DB8:0::C]:5080';
    const uri = parseUri(contact);
    if (!uri.ok) throw new Error('parse');
    const source = { protocol: 'udp' as const, host: '2001:db8::c', port: 40000 };
    const b: RegistrarBinding = { aor: 'sip:carol@v6.example', contact, contactUri: uri.value, params: [], q: 1, expiresAt: 1e9, callId: 'c', cseq: 1, source, createdAt: 0, updatedAt: 0 };
    expect(needsFlowRouting(b)).toBe(false);
    expect(bindingDestination(b)).toEqual({ protocol: 'udp', host: '2001:db8::c', port: 5080 });
  });
});
