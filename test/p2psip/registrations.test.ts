/**
 * The overlay shadow of phones' registrations (src/p2psip/registrations.ts, PROTOCOL.md section 4)
 * over a fake overlay port and a real registrar: when the node publishes `AoR -> sip:user@NODE`,
 * when it renews it, when it withdraws it.
 */
import { beforeEach, describe, expect, it } from 'vitest';
import { SILENT_LOGGER } from '../../src/common/logger.js';
import { idToHex } from '../../src/overlay/id.js';
import { resourceId } from '../../src/overlay/peer-id.js';
import { aorRecordValue } from '../../src/p2psip/aor-record.js';
import { PUBLICATION_TTL_MS, RENEW_AFTER_MS, Registrations } from '../../src/p2psip/registrations.js';
import { Registrar } from '../../src/registrar/index.js';
import type { SipResponse } from '../../src/sip/message/index.js';
import type { ServerTransaction } from '../../src/sip/transaction/index.js';
import { PHONE, register } from '../registrar/helpers.js';
import { FakeOverlayPort, ManualClock } from './fake-overlay.js';

const ALICE = 'sip:alice@overlay.example';
const SELF = { host: '198.51.100.1', port: 5060 };
const aliceKey = idToHex(resourceId(ALICE));
const aliceRecord = aorRecordValue(ALICE, SELF);

let overlay: FakeOverlayPort;
let clock: ManualClock;
let changed: string[];
let regs: Registrations;
let registrar: Registrar;
let cseq = 1;

function setUp(publishes = true): void {
  overlay = new FakeOverlayPort();
  clock = new ManualClock();
  changed = [];
  registrar = new Registrar({ domains: (h) => h === 'overlay.example' });
  regs = new Registrations(registrar, overlay, `${SELF.host}:${SELF.port}`, clock, SILENT_LOGGER, (aor) => changed.push(aor), publishes);
}

/** A REGISTER from alice's phone through a transaction that records the answer. */
function registerAlice(contacts: string[], expires: string): SipResponse {
  let answer: SipResponse | undefined;
  const txn = { source: PHONE, respond: (r: SipResponse) => void (answer = r) } as unknown as ServerTransaction;
  regs.handle(register({ ruri: 'sip:overlay.example', to: `<${ALICE}>`, from: `<${ALICE}>;tag=1`, cseq: cseq++, contacts, expires }), txn);
  if (!answer) throw new Error('no answer');
  return answer;
}

const published = (): string[] => overlay.published.map((p) => p.key);

describe('Registrations: the overlay record of a registered AoR', () => {
  beforeEach(() => setUp());

  it('the first binding publishes sip:user@THIS_NODE under the AoR resource ID, for the publication TTL', () => {
    expect(registerAlice(['<sip:alice@192.0.2.10:5062>'], '3600').status).toBe(200);
    expect(overlay.published).toEqual([{ key: aliceKey, records: [{ value: 'sip:alice@198.51.100.1:5060', ttlMs: PUBLICATION_TTL_MS }] }]);
    expect(regs.recordValue(ALICE)).toBe(aliceRecord);
    expect(changed).toEqual([ALICE]);
  });

  it('a refresh renews the record only once half its TTL has gone', () => {
    registerAlice(['<sip:alice@192.0.2.10:5062>'], '3600');
    clock.advance(RENEW_AFTER_MS - 1000);
    registerAlice(['<sip:alice@192.0.2.10:5062>'], '3600');
    expect(published()).toEqual([aliceKey]);
    clock.advance(1000);
    registerAlice(['<sip:alice@192.0.2.10:5062>'], '3600');
    expect(published()).toEqual([aliceKey, aliceKey]);
    expect(overlay.unpublished).toEqual([]);
  });

  it('a second phone of the same AoR publishes nothing new; the record goes only with the last binding', () => {
    registerAlice(['<sip:alice@192.0.2.10:5062>'], '3600');
    registerAlice(['<sip:alice@192.0.2.11:5062>'], '3600');
    expect(published()).toEqual([aliceKey]);
    registerAlice(['<sip:alice@192.0.2.10:5062>'], '0');
    expect(overlay.unpublished).toEqual([]);
    registerAlice(['<sip:alice@192.0.2.11:5062>'], '0');
    expect(overlay.unpublished).toEqual([{ key: aliceKey, values: [aliceRecord] }]);
  });

  it('the last binding expiring withdraws the record (tick), and a new registration publishes again at once', () => {
    registerAlice(['<sip:alice@192.0.2.10:5062>'], '120');
    regs.tick();
    expect(overlay.unpublished).toEqual([]);
    clock.advance(121_000);
    regs.tick();
    expect(overlay.unpublished).toEqual([{ key: aliceKey, values: [aliceRecord] }]);
    registerAlice(['<sip:alice@192.0.2.10:5062>'], '120');
    expect(published()).toEqual([aliceKey, aliceKey]);
  });

  it('a refused REGISTER publishes nothing', () => {
    let answer: SipResponse | undefined;
    const txn = { source: PHONE, respond: (r: SipResponse) => void (answer = r) } as unknown as ServerTransaction;
    regs.handle(register({ ruri: 'sip:elsewhere.example', to: '<sip:alice@elsewhere.example>', from: '<sip:alice@elsewhere.example>;tag=1' }), txn);
    expect(answer?.status).toBeGreaterThanOrEqual(400);
    expect(overlay.published).toEqual([]);
  });

  it('republishAll publishes every AoR that has a binding now (a rejoin under a new address)', () => {
    registerAlice(['<sip:alice@192.0.2.10:5062>'], '3600');
    const txn = { source: PHONE, respond: () => undefined } as unknown as ServerTransaction;
    regs.handle(register({ ruri: 'sip:overlay.example', to: '<sip:bob@overlay.example>', from: '<sip:bob@overlay.example>;tag=2', contacts: ['<sip:bob@192.0.2.12:5062>'], expires: '60' }), txn);
    clock.advance(61_000); // bob's binding lapsed (not swept yet): not republished
    overlay.published.length = 0;
    expect(regs.republishAll()).toEqual([ALICE]);
    expect(published()).toEqual([aliceKey]);
  });

  it('takeOver (rejoin under a new address): the AoRs published under the new address, the records naming the old one removed', () => {
    registerAlice(['<sip:alice@192.0.2.10:5062>'], '3600');
    const moved = new Registrations(registrar, overlay, '198.51.100.2:6060', clock, SILENT_LOGGER, () => undefined);
    overlay.published.length = 0;
    expect(moved.takeOver(regs)).toEqual([ALICE]);
    expect(overlay.published).toEqual([{ key: aliceKey, records: [{ value: 'sip:alice@198.51.100.2:6060', ttlMs: PUBLICATION_TTL_MS }] }]);
    expect(overlay.unpublished).toEqual([{ key: aliceKey, values: [aliceRecord] }]);
  });

  it('a node that does not publish (client behind a symmetric NAT) only reports the change', () => {
    setUp(false);
    registerAlice(['<sip:alice@192.0.2.10:5062>'], '3600');
    registerAlice(['<sip:alice@192.0.2.10:5062>'], '0');
    expect(overlay.published).toEqual([]);
    expect(overlay.unpublished).toEqual([]);
    expect(regs.republishAll()).toEqual([]);
    expect(changed).toEqual([ALICE, ALICE]);
  });
});
