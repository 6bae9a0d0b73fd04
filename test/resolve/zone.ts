/** The zone served by dnsmasq in the RFC 3263 tests: one domain per RFC 3263 section 4 branch. */
import type { DnsZone } from './dns-server.js';

export const TEST_ZONE: DnsZone = {
  naptr: [
    // example.test: UDP preferred by preference within order 10; the others must be ignored.
    { name: 'example.test', order: 10, preference: 50, flags: 's', service: 'SIP+D2T', replacement: '_sip._tcp.example.test' },
    { name: 'example.test', order: 10, preference: 10, flags: 's', service: 'SIP+D2U', replacement: '_sip._udp.example.test' },
    // TLS (not supported) with the best order: skipped.
    { name: 'example.test', order: 1, preference: 1, flags: 's', service: 'SIPS+D2T', replacement: '_sips._tcp.example.test' },
    // SCTP (not supported): skipped.
    { name: 'example.test', order: 1, preference: 1, flags: 's', service: 'SIP+D2S', replacement: '_sip._sctp.example.test' },
    // Not an 's' record: skipped (RFC 3263 4.1 only follows SRV replacements).
    { name: 'example.test', order: 2, preference: 1, flags: 'a', service: 'SIP+D2U', replacement: 'bogus.example.test' },
    // order beats preference: TCP (order 10) before UDP (order 20) whatever the preferences.
    { name: 'order.test', order: 20, preference: 1, flags: 's', service: 'SIP+D2U', replacement: '_sip._udp.order.test' },
    { name: 'order.test', order: 10, preference: 99, flags: 'S', service: 'sip+d2t', replacement: '_sip._tcp.order.test' },
    // The explicit-port domain has NAPTR and SRV too, to show they are not consulted.
    { name: 'ported.test', order: 10, preference: 10, flags: 's', service: 'SIP+D2U', replacement: '_sip._udp.ported.test' },
    // NAPTR whose only usable record leads nowhere: falls back to SRV per transport.
    { name: 'deadnaptr.test', order: 10, preference: 10, flags: 's', service: 'SIP+D2U', replacement: '_sip._udp.missing.test' },
  ],
  srv: [
    { name: '_sip._udp.example.test', target: 'udp1.example.test', port: 5070, priority: 10, weight: 60 },
    { name: '_sip._tcp.example.test', target: 'tcp1.example.test', port: 5071, priority: 10, weight: 60 },
    { name: '_sip._udp.order.test', target: 'host.order.test', port: 5080 },
    { name: '_sip._tcp.order.test', target: 'host.order.test', port: 5081 },
    { name: '_sip._udp.ported.test', target: 'other.ported.test', port: 5999 },
    // Priority and weight: 5 first, then {a:60, b:30, c:10} in weighted random order, then 20.
    { name: '_sip._udp.weighted.test', target: 'b.weighted.test', port: 5002, priority: 10, weight: 30 },
    { name: '_sip._udp.weighted.test', target: 'z.weighted.test', port: 5020, priority: 20, weight: 0 },
    { name: '_sip._udp.weighted.test', target: 'a.weighted.test', port: 5001, priority: 10, weight: 60 },
    { name: '_sip._udp.weighted.test', target: 'p.weighted.test', port: 5005, priority: 5, weight: 0 },
    { name: '_sip._udp.weighted.test', target: 'c.weighted.test', port: 5003, priority: 10, weight: 10 },
    // No NAPTR: SRV for each transport.
    { name: '_sip._udp.nonaptr.test', target: 'u.nonaptr.test', port: 5110 },
    { name: '_sip._tcp.nonaptr.test', target: 't.nonaptr.test', port: 5111 },
    { name: '_sip._udp.deadnaptr.test', target: 'u.deadnaptr.test', port: 5120 },
    // "." target: service decidedly not available (RFC 2782).
    { name: '_sip._udp.noservice.test', target: '.', port: 0 },
    // SRV target with only an AAAA record.
    { name: '_sip._tcp.v6srv.test', target: 'host.v6srv.test', port: 5130 },
  ],
  hosts: [
    { name: 'udp1.example.test', addresses: ['127.0.0.11'] },
    { name: 'tcp1.example.test', addresses: ['127.0.0.12'] },
    { name: 'bogus.example.test', addresses: ['127.0.0.99'] },
    { name: 'example.test', addresses: ['127.0.0.98'] },
    { name: 'host.order.test', addresses: ['127.0.0.21'] },
    { name: 'ported.test', addresses: ['127.0.0.31'] },
    { name: 'other.ported.test', addresses: ['127.0.0.98'] },
    { name: 'a.weighted.test', addresses: ['127.0.1.1'] },
    { name: 'b.weighted.test', addresses: ['127.0.1.2'] },
    { name: 'c.weighted.test', addresses: ['127.0.1.3'] },
    { name: 'p.weighted.test', addresses: ['127.0.1.5'] },
    { name: 'z.weighted.test', addresses: ['127.0.1.26'] },
    { name: 'u.nonaptr.test', addresses: ['127.0.2.1'] },
    { name: 't.nonaptr.test', addresses: ['127.0.2.2'] },
    { name: 'u.deadnaptr.test', addresses: ['127.0.2.3'] },
    { name: 'plain.test', addresses: ['127.0.3.1'], ttl: 120 },
    { name: 'dual.test', addresses: ['127.0.4.1', '::1', 'fd00::4'] },
    { name: 'v6only.test', addresses: ['fd00::5'] },
    { name: 'host.v6srv.test', addresses: ['fd00::6'] },
    { name: 'noservice.test', addresses: ['127.0.0.97'] },
  ],
};
