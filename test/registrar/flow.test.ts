/** The contact-routing rule (src/registrar/flow.ts): the registered Contact unless NAT is detected. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bindingDestination, contactEndpoint, needsFlowRouting, type RegistrarBinding } from '../../src/registrar/index.js';
import { parseUri, type Uri } from '../../src/sip/message/index.js';
import type { Endpoint } from '../../src/sip/transport/index.js';

function u(s: string): Uri {
  const r = parseUri(s);
  if (!r.ok) throw new Error(s);
  return r.value;
}

function binding(contact: string, source: Endpoint, extra: Partial<RegistrarBinding> = {}): RegistrarBinding {
  return { aor: 'sip:alice@example.com', contact, contactUri: u(contact), params: [], q: 1, expiresAt: 1e9, callId: 'c', cseq: 1, source, createdAt: 0, updatedAt: 0, ...extra };
}

const FROM_5070: Endpoint = { protocol: 'udp', host: '192.0.2.7', port: 5070 };

describe('contact-routing rule', () => {
  it('a Contact at the source IP but another port (separate sending socket, third-party REGISTER): the Contact', () => {
    const b = binding('sip:alice@192.0.2.7:5080', FROM_5070);
    expect(needsFlowRouting(b)).toBe(false);
    expect(bindingDestination(b)).toEqual({ protocol: 'udp', host: '192.0.2.7', port: 5080 });
  });

  it('a Contact without a port: 5060; its transport parameter is honoured', () => {
    expect(bindingDestination(binding('sip:alice@192.0.2.7', FROM_5070))).toEqual({ protocol: 'udp', host: '192.0.2.7', port: 5060 });
    expect(bindingDestination(binding('sip:alice@192.0.2.7:5090;transport=TCP', FROM_5070))).toEqual({ protocol: 'tcp', host: '192.0.2.7', port: 5090 });
  });

  it('a Contact naming another IP than the source (a private address behind NAT): the flow', () => {
    const b = binding('sip:alice@10.0.0.5:5060', { protocol: 'udp', host: '203.0.113.9', port: 40123 });
    expect(needsFlowRouting(b)).toBe(true);
    expect(bindingDestination(b)).toEqual({ protocol: 'udp', host: '203.0.113.9', port: 40123 });
  });

  it('a Contact naming a host name (cannot be compared with the source): the flow', () => {
    expect(needsFlowRouting(binding('sip:alice@phone.example.com:5080', FROM_5070))).toBe(true);
  });

  it('RFC 5626 outbound: ;ob in the Contact URI, or a reg-id: the flow, even at the source IP', () => {
    expect(needsFlowRouting(binding('sip:alice@192.0.2.7:5080;ob', FROM_5070))).toBe(true);
    expect(needsFlowRouting(binding('sip:alice@192.0.2.7:5080', FROM_5070, { regId: 1, instanceId: '<urn:uuid:1>' }))).toBe(true);
  });

  it('registered over TCP: the connection while it is open, the Contact once it has closed', () => {
    const tcp: Endpoint = { protocol: 'tcp', host: '192.0.2.7', port: 41000 };
    const b = binding('sip:alice@192.0.2.7:5080;transport=tcp', tcp);
    expect(bindingDestination(b, (s) => s === tcp)).toBe(tcp);
    expect(bindingDestination(b, () => false)).toEqual({ protocol: 'tcp', host: '192.0.2.7', port: 5080 });
  });

  it('IPv6: brackets and case do not hide that the Contact is at the source address', () => {
    const b = binding('sip:alice@[2001:DB8::7]:5080', { protocol: 'udp', host: '2001:db8::7', port: 5070 });
    expect(bindingDestination(b)).toEqual({ protocol: 'udp', host: '2001:db8::7', port: 5080 });
  });

  it('a non-SIP Contact has no endpoint of its own: the flow', () => {
    expect(contactEndpoint(u('tel:+15551234'))).toBeNull();
    expect(bindingDestination(binding('tel:+15551234', FROM_5070))).toBe(FROM_5070);
  });

  it('property: the destination is always the source or the Contact, and the Contact only when it names the source IP', () => {
    const ip = fc.constantFrom('192.0.2.7', '192.0.2.8', '10.0.0.1');
    fc.assert(
      fc.property(ip, ip, fc.integer({ min: 1, max: 65535 }), fc.integer({ min: 1, max: 65535 }), fc.boolean(), (cIp, sIp, cPort, sPort, ob) => {
        const source: Endpoint = { protocol: 'udp', host: sIp, port: sPort };
        const b = binding(`sip:alice@${cIp}:${cPort}${ob ? ';ob' : ''}`, source);
        const d = bindingDestination(b);
        if (d === source) return true;
        return !ob && cIp === sIp && d.host === cIp && d.port === cPort;
      }),
    );
  });
});
