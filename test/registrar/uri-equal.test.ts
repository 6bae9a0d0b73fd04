import { describe, expect, it } from 'vitest';
import { uriEquals } from '../../src/registrar/index.js';
import { parseUri, type Uri } from '../../src/sip/message/index.js';

function u(s: string): Uri {
  const r = parseUri(s);
  if (!r.ok) throw new Error(`${s}: ${r.error.message}`);
  return r.value;
}

describe('uriEquals: RFC 3261 section 19.1.4 examples', () => {
  it.each([
    ['sip:%61lice@atlanta.com;transport=TCP', 'sip:alice@AtLanTa.CoM;Transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;newparam=5'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com;security=on'],
    ['sip:carol@chicago.com;newparam=5', 'sip:carol@chicago.com;security=on'],
    ['sip:biloxi.com;transport=tcp;method=REGISTER?to=sip:bob%40biloxi.com', 'sip:biloxi.com;method=REGISTER;transport=tcp?to=sip:bob%40biloxi.com'],
    ['sip:alice@atlanta.com?subject=project%20x&priority=urgent', 'sip:alice@atlanta.com?priority=urgent&subject=project%20x'],
    ['SIP:alice@atlanta.com', 'sip:alice@atlanta.com'],
  ])('%s == %s', (a, b) => {
    expect(uriEquals(u(a), u(b))).toBe(true);
    expect(uriEquals(u(b), u(a))).toBe(true);
  });

  it.each([
    ['SIP:ALICE@AtLanTa.CoM;Transport=udp', 'sip:alice@AtLanTa.CoM;Transport=UDP'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:5060'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com;transport=udp'],
    ['sip:bob@biloxi.com', 'sip:bob@biloxi.com:6000;transport=tcp'],
    ['sip:carol@chicago.com', 'sip:carol@chicago.com?Subject=next%20meeting'],
    ['sip:bob@phone21.boxesbybob.com', 'sip:bob@192.0.2.4'],
    ['sip:alice@atlanta.com', 'sips:alice@atlanta.com'],
    ['sip:alice@atlanta.com;maddr=10.0.0.1', 'sip:alice@atlanta.com'],
    ['sip:alice:pw@atlanta.com', 'sip:alice@atlanta.com'],
    ['sip:alice@atlanta.com', 'tel:+15551234'],
  ])('%s != %s', (a, b) => {
    expect(uriEquals(u(a), u(b))).toBe(false);
    expect(uriEquals(u(b), u(a))).toBe(false);
  });

  it('compares other schemes by case-insensitive scheme and exact rest', () => {
    expect(uriEquals(u('TEL:+15551234'), u('tel:+15551234'))).toBe(true);
    expect(uriEquals(u('tel:+15551234'), u('tel:+15551235'))).toBe(false);
  });
});
