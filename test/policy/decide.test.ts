/** Who may do what (README "Who may do what"): the pure decision, row by row and as properties. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decide, type AdmissionFacts, type Destination, type SourceKind } from '../../src/policy/decide.js';

const base: AdmissionFacts = { method: 'INVITE', inDialog: false, viaOurRoute: false, destination: 'foreign', source: 'other', canAuthenticate: true, dnsRouting: true };
const at = (f: Partial<AdmissionFacts>) => decide({ ...base, ...f });

const facts = fc.record({
  method: fc.constantFrom('INVITE', 'ACK', 'CANCEL', 'BYE', 'MESSAGE', 'OPTIONS', 'SUBSCRIBE', 'invite'),
  inDialog: fc.boolean(),
  viaOurRoute: fc.boolean(),
  destination: fc.constantFrom<Destination>('registered-here', 'overlay', 'foreign', 'routed'),
  source: fc.constantFrom<SourceKind>('trusted', 'peer', 'other'),
  canAuthenticate: fc.boolean(),
  dnsRouting: fc.boolean(),
});

describe('decide: the policy table', () => {
  it('an unknown source calling another domain is challenged (407), or refused 403 without a users file', () => {
    expect(at({})).toEqual({ action: 'authenticate' });
    expect(at({ canAuthenticate: false })).toMatchObject({ action: 'refuse', status: 403, reason: 'Not Relaying' });
  });

  it('requests through a Route set past us, and to overlay users elsewhere, leave the node: challenged too', () => {
    expect(at({ destination: 'routed' })).toEqual({ action: 'authenticate' });
    expect(at({ destination: 'overlay' })).toEqual({ action: 'authenticate' });
    // An in-dialog request that did not come by our Record-Route is not "in a dialog of ours".
    expect(at({ destination: 'routed', inDialog: true })).toEqual({ action: 'authenticate' });
  });

  it('a trusted network calls anywhere without credentials', () => {
    for (const destination of ['overlay', 'foreign', 'routed'] as const) expect(at({ source: 'trusted', destination })).toMatchObject({ action: 'accept', rule: 'trusted' });
  });

  it('calls to a phone registered here are accepted from anyone', () => {
    expect(at({ destination: 'registered-here', canAuthenticate: false })).toMatchObject({ action: 'accept', rule: 'terminating' });
  });

  it('an overlay peer may reach overlay users through us, not other domains', () => {
    expect(at({ source: 'peer', destination: 'overlay' })).toMatchObject({ action: 'accept', rule: 'overlay-peer' });
    expect(at({ source: 'peer', destination: 'foreign' })).toEqual({ action: 'authenticate' });
  });

  it('in-dialog requests that came by our Record-Route pass; ACK and CANCEL are never challenged (RFC 3261 22.1)', () => {
    expect(at({ method: 'BYE', inDialog: true, viaOurRoute: true, canAuthenticate: false })).toMatchObject({ action: 'accept', rule: 'in-dialog' });
    expect(at({ method: 'ACK', inDialog: true, viaOurRoute: true })).toMatchObject({ action: 'accept', rule: 'in-dialog' });
    expect(at({ method: 'ACK', source: 'trusted' })).toMatchObject({ action: 'accept', rule: 'trusted' });
    expect(at({ method: 'CANCEL', canAuthenticate: false })).toMatchObject({ action: 'accept', rule: 'ack-cancel' });
  });

  it('no relay through Route headers for a stray ACK: one that did not come by our Record-Route is dropped, not challenged', () => {
    expect(at({ method: 'ACK', inDialog: true, destination: 'routed' })).toMatchObject({ action: 'refuse', rule: 'ack-not-ours' });
    expect(at({ method: 'ACK', inDialog: true, destination: 'registered-here' })).toMatchObject({ action: 'accept' });
  });

  it('DNS routing off: 404 to other domains for everyone, trusted included', () => {
    expect(at({ dnsRouting: false })).toMatchObject({ action: 'refuse', status: 404 });
    expect(at({ dnsRouting: false, source: 'trusted' })).toMatchObject({ action: 'refuse', status: 404 });
    expect(at({ dnsRouting: false, destination: 'overlay' })).toEqual({ action: 'authenticate' });
  });

  it('no open relay: an untrusted sender without credentials never has a request leave the node', () => {
    fc.assert(
      fc.property(facts, (f) => {
        const leaves = f.destination !== 'registered-here' && !(f.inDialog && f.viaOurRoute) && f.method.toUpperCase() !== 'CANCEL';
        const d = decide(f);
        if (leaves && f.source === 'other') expect(d.action).not.toBe('accept');
        if (leaves && f.source === 'peer' && f.destination !== 'overlay') expect(d.action).not.toBe('accept');
      }),
    );
  });

  it('never challenges ACK or CANCEL, a trusted source, or a call to a local phone; never challenges without a users file', () => {
    fc.assert(
      fc.property(facts, (f) => {
        const d = decide(f);
        if (f.method.toUpperCase() === 'CANCEL') expect(d.action).toBe('accept');
        if (f.method.toUpperCase() === 'ACK') expect(d.action).not.toBe('authenticate');
        if (f.source === 'trusted' || f.destination === 'registered-here') expect(d.action).not.toBe('authenticate');
        if (!f.canAuthenticate) expect(d.action).not.toBe('authenticate');
        if (d.action === 'refuse' && d.rule !== 'ack-not-ours') expect(d.status === 404).toBe(f.destination === 'foreign' && !f.dnsRouting);
      }),
    );
  });
});
