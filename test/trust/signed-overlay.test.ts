/**
 * Signed bindings through the overlay core (PROTOCOL.md 11.4), nodes on the in-memory wire with
 * the closed overlay's record policy and real certificates: a node authorized for victim.test
 * publishes alice and every holder stores her; an enrolled node that is not cannot; its REMOVE
 * leaves her binding; hand-over and republication carry the proof, so a newcomer admits it;
 * alice's own node removes her.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { minute } from '../../src/overlay/constants.js';
import type { LookupResult } from '../../src/overlay/lookup.js';
import { testAccess, type OverlayEvent, type OverlayNode, type PublishResult } from '../../src/overlay/node.js';
import { resourceId } from '../../src/overlay/peer-id.js';
import { BindingSigner } from '../../src/trust/binding-signer.js';
import { createCa, issueCertificate, type IssuedCertificate } from '../../src/trust/ca.js';
import { TrustAnchor, type NodeIdentity } from '../../src/trust/certificate.js';
import type { RecordPolicy } from '../../src/overlay/record-policy.js';
import { signedRecordPolicy } from '../../src/trust/record-policy.js';
import { Wire } from '../overlay/wire.js';

const AOR = 'sip:alice@victim.test';
const KEY = resourceId(AOR);
const ALICE_AT_A = 'sip:alice@10.0.0.1:5060';
const ALICE_AT_E = 'sip:alice@10.0.0.2:5060';

let victim: IssuedCertificate;
let attacker: IssuedCertificate;
let anchor: TrustAnchor;
const identities = new Map<string, NodeIdentity>();

beforeAll(async () => {
  const ca = await createCa({ overlay: 'ov' });
  victim = await issueCertificate(ca, { name: 'a', domains: ['victim.test'] });
  attacker = await issueCertificate(ca, { name: 'e', domains: ['attacker.test'] });
  anchor = new TrustAnchor(ca.certDer);
  for (const c of [victim, attacker]) {
    const v = anchor.verify(c.der, Date.now());
    if (!v.ok) throw new Error(v.detail);
    identities.set(c.fingerprint, v.identity);
  }
});

/** Five nodes of a closed overlay (node 1 serves victim.test, node 2 is the attacker), joined. */
function closedOverlay(): { wire: Wire; nodes: OverlayNode[]; refusals: string[]; signerOf: (c: IssuedCertificate) => BindingSigner; policy: () => RecordPolicy } {
  const wire = new Wire();
  // Proofs and certificates are dated in wall time; the wire's clock starts at 0, so wall time
  // here is the test's start plus the wire's clock, as a node's is Date.now beside its core clock.
  const epoch = Date.now();
  const wallClock = (): number => epoch + wire.clock.now();
  const policy = (): RecordPolicy => signedRecordPolicy({ byFingerprint: (fp) => identities.get(fp) }, anchor, { wallClock });
  const refusals: string[] = [];
  const onEvent = (e: OverlayEvent): void => {
    if (e.type === 'store-refused') refusals.push(e.reason.split(':')[0]!);
  };
  const add = (i: number): OverlayNode => wire.add(i, {}, onEvent, policy());
  const nodes = [1, 2, 3, 4, 5].map(add);
  wire.wait<Error | null>((done) => nodes[0]!.join([], done));
  for (const n of nodes.slice(1)) expect(wire.wait<Error | null>((done) => n.join([{ address: '10.0.0.1:5060' }], done))).toBeNull();
  const signerOf = (c: IssuedCertificate): BindingSigner => new BindingSigner({ kind: 'sig', key: c.key, fingerprint: c.fingerprint }, wallClock);
  return { wire, nodes, refusals, signerOf, policy };
}

function find(wire: Wire, node: OverlayNode): string[] {
  return wire.wait<LookupResult>((done) => node.findValue(KEY, done)).bindings.map((b) => b.value);
}

describe('signed bindings in a closed overlay', () => {
  it('stores an authorized publication everywhere and an unauthorized one nowhere; a REMOVE by another signer leaves it', () => {
    const { wire, nodes, refusals, signerOf } = closedOverlay();
    const [a, e, c] = [nodes[0]!, nodes[1]!, nodes[2]!];
    const victimSigner = signerOf(victim);
    const published = wire.wait<PublishResult>((done) => a.publish(KEY, [{ value: ALICE_AT_A, ttlMs: 60 * minute, proof: victimSigner.publication(AOR, ALICE_AT_A, 60 * minute) }], done));
    expect(published.storedAt).toBe(4);
    expect(refusals).toEqual([]);

    const attackerSigner = signerOf(attacker);
    const hijack = wire.wait<PublishResult>((done) => e.publish(KEY, [{ value: ALICE_AT_E, ttlMs: 60 * minute, proof: attackerSigner.publication(AOR, ALICE_AT_E, 60 * minute) }], done));
    expect(hijack.storedAt).toBe(0);
    expect(new Set(refusals)).toEqual(new Set(['not-authorized']));
    const unsigned = wire.wait<PublishResult>((done) => e.publish(KEY, [{ value: ALICE_AT_E, ttlMs: 60 * minute }], done));
    expect(unsigned.storedAt).toBe(0);
    expect(find(wire, c)).toEqual([ALICE_AT_A]);

    refusals.length = 0;
    const removedAt = wire.wait<number>((done) => e.unpublish(KEY, [ALICE_AT_A], done, new Map([[ALICE_AT_A, attackerSigner.removal(AOR, ALICE_AT_A)]])));
    expect(removedAt).toBe(0);
    expect(wire.wait<number>((done) => e.unpublish(KEY, [ALICE_AT_A], done))).toBe(0);
    expect(new Set(refusals)).toEqual(new Set(['not-authorized', 'proof-required']));
    expect(find(wire, c)).toEqual([ALICE_AT_A]);

    // Her own node removes her, with a removal proof: then nobody has her.
    const gone = wire.wait<number>((done) => a.unpublish(KEY, [ALICE_AT_A], done, new Map([[ALICE_AT_A, victimSigner.removal(AOR, ALICE_AT_A)]])));
    expect(gone).toBeGreaterThanOrEqual(3);
    expect(find(wire, c)).toEqual([]);
  });

  it('stops using a held binding once its proof expired, though the STORE asked a longer lifetime', () => {
    const { wire, nodes, signerOf } = closedOverlay();
    const [a, , c] = [nodes[0]!, nodes[1]!, nodes[2]!];
    // A proof for ten minutes on a STORE that asks for an hour: every holder keeps it an hour.
    const proof = signerOf(victim).publication(AOR, ALICE_AT_A, 10 * minute);
    expect(wire.wait<PublishResult>((done) => a.publish(KEY, [{ value: ALICE_AT_A, ttlMs: 60 * minute, proof }], done)).storedAt).toBe(4);
    expect(find(wire, c)).toEqual([ALICE_AT_A]);
    wire.queue.run(wire.queue.now + 15 * minute);
    expect(testAccess(c).store.get(KEY, wire.clock.now()).length).toBe(1);
    // Neither its own copy nor any other holder's is believed now.
    expect(find(wire, c)).toEqual([]);
  });

  it('republishes the same proof and hands it over, so holders and a newcomer keep admitting it', () => {
    const { wire, nodes, refusals, signerOf, policy } = closedOverlay();
    const a = nodes[0]!;
    const proof = signerOf(victim).publication(AOR, ALICE_AT_A, 60 * minute);
    wire.wait<PublishResult>((done) => a.publish(KEY, [{ value: ALICE_AT_A, ttlMs: 60 * minute, proof }], done));
    // Past one republish interval (20 min): the same proof goes out again and is admitted.
    wire.queue.run(wire.queue.now + 25 * minute);
    const holders = nodes.filter((n) => testAccess(n).store.get(KEY, wire.clock.now()).length > 0);
    expect(holders.length).toBeGreaterThanOrEqual(4);
    for (const h of holders) expect(testAccess(h).store.get(KEY, wire.clock.now())[0]!.proof).toBe(proof);
    expect(refusals).toEqual([]);

    const newcomer = wire.add(6, {}, undefined, policy());
    expect(wire.wait<Error | null>((done) => newcomer.join([{ address: '10.0.0.3:5060' }], done))).toBeNull();
    wire.queue.run(wire.queue.now + 5000);
    const handed = testAccess(newcomer).store.get(KEY, wire.clock.now());
    expect(handed.map((b) => b.proof)).toEqual([proof]);
  });
});
