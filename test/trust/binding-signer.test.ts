/**
 * Sign on publish (PROTOCOL.md 11.4): a node's registrations go into the overlay with a proof its
 * certificate key signed once per publication, and come out with a removal proof; the proofs are
 * the ones a storing peer's record policy admits.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { SILENT_LOGGER } from '../../src/common/logger.js';
import { resourceId } from '../../src/overlay/peer-id.js';
import { PUBLICATION_TTL_MS, RENEW_AFTER_MS, Registrations } from '../../src/p2psip/registrations.js';
import { Registrar } from '../../src/registrar/index.js';
import type { SipResponse } from '../../src/sip/message/index.js';
import type { ServerTransaction } from '../../src/sip/transaction/index.js';
import { bindingMacKey, parseBindingProof } from '../../src/trust/binding-proof.js';
import { BindingSigner } from '../../src/trust/binding-signer.js';
import { createCa, issueCertificate, type IssuedCertificate } from '../../src/trust/ca.js';
import { TrustAnchor } from '../../src/trust/certificate.js';
import { macRecordPolicy, signedRecordPolicy } from '../../src/trust/record-policy.js';
import { PHONE, register } from '../registrar/helpers.js';
import { FakeOverlayPort, ManualClock } from '../p2psip/fake-overlay.js';

const ALICE = 'sip:alice@victim.test';
const KEY = resourceId(ALICE);
const SELF = '198.51.100.1:5060';
const RECORD = 'sip:alice@198.51.100.1:5060';

let node: IssuedCertificate;
let anchor: TrustAnchor;

beforeAll(async () => {
  const ca = await createCa();
  node = await issueCertificate(ca, { domains: ['victim.test'] });
  anchor = new TrustAnchor(ca.certDer);
});

function setUp(signer: (clock: ManualClock) => BindingSigner): { overlay: FakeOverlayPort; clock: ManualClock; registerAlice: (expires: string) => SipResponse } {
  const overlay = new FakeOverlayPort();
  const clock = new ManualClock();
  clock.t = Date.now();
  const registrar = new Registrar({ domains: (h) => h === 'victim.test' });
  const regs = new Registrations(registrar, overlay, SELF, clock, SILENT_LOGGER, () => undefined, true, signer(clock));
  let cseq = 1;
  const registerAlice = (expires: string): SipResponse => {
    let answer: SipResponse | undefined;
    const txn = { source: PHONE, respond: (r: SipResponse) => void (answer = r) } as unknown as ServerTransaction;
    regs.handle(register({ ruri: 'sip:victim.test', to: `<${ALICE}>`, from: `<${ALICE}>;tag=1`, cseq: cseq++, contacts: ['<sip:alice@192.0.2.10:5062>'], expires }), txn);
    if (!answer) throw new Error('no answer');
    return answer;
  };
  return { overlay, clock, registerAlice };
}

describe('Registrations with a signer', () => {
  it('publishes a signed record a storing peer admits, signs again only on renewal, and removes with a removal proof', () => {
    const { overlay, clock, registerAlice } = setUp((c) => new BindingSigner({ kind: 'sig', key: node.key, fingerprint: node.fingerprint }, () => c.now()));
    const policy = signedRecordPolicy({ byFingerprint: (fp) => { const v = anchor.verify(node.der, clock.now()); return v.ok && fp === node.fingerprint ? v.identity : undefined; } }, anchor);
    registerAlice('3600');
    const first = overlay.published[0]!.records[0]!;
    expect(first).toMatchObject({ value: RECORD, ttlMs: PUBLICATION_TTL_MS });
    expect(policy.admitStore(KEY, [first], [], clock.now())).toEqual({ ok: true });
    const proof = parseBindingProof(first.proof!);
    expect(proof.ok && proof.proof).toMatchObject({ aor: ALICE, seq: clock.now(), expiresAtS: Math.ceil((clock.now() + PUBLICATION_TTL_MS) / 1000), signer: node.fingerprint });

    clock.advance(60_000);
    registerAlice('3600'); // a refresh before RENEW_AFTER_MS: nothing new is signed or published
    expect(overlay.published).toHaveLength(1);
    clock.advance(RENEW_AFTER_MS);
    registerAlice('3600');
    const renewed = overlay.published[1]!.records[0]!;
    expect(renewed.proof).not.toBe(first.proof);
    expect(policy.admitStore(KEY, [renewed], [first], clock.now())).toEqual({ ok: true });

    clock.advance(1000);
    registerAlice('0');
    const removal = overlay.unpublished[0]!;
    expect(removal.values).toEqual([RECORD]);
    const removalProof = removal.removalProofs?.get(RECORD);
    expect(policy.admitRemove(KEY, [{ value: RECORD, ttlMs: 0, proof: removalProof! }], [renewed], clock.now())).toEqual({ ok: true });
    const removed = parseBindingProof(removalProof!);
    const renewedProof = parseBindingProof(renewed.proof!);
    // The removal lasts as long as the publication it removes could be replayed.
    expect(removed.ok && renewedProof.ok && removed.proof.expiresAtS === renewedProof.proof.expiresAtS).toBe(true);
  });

  it('MACs under the overlay secret in a secret overlay', () => {
    const macKey = bindingMacKey(Buffer.from('a secret of sixteen bytes or more'));
    const { overlay, clock, registerAlice } = setUp((c) => new BindingSigner({ kind: 'mac', macKey }, () => c.now()));
    registerAlice('3600');
    const record = overlay.published[0]!.records[0]!;
    expect(record.proof).toMatch(/;mac=[A-Za-z0-9_-]{43}$/);
    expect(macRecordPolicy(macKey).admitStore(KEY, [record], [], clock.now())).toEqual({ ok: true });
    expect(macRecordPolicy(bindingMacKey(Buffer.from('another secret, same length!'))).admitStore(KEY, [record], [], clock.now())).toMatchObject({ ok: false, reason: 'bad-signature' });
  });
});
