import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bitLength, bucketIndex, compareDistance, idFromBytes, idFromHex, idToBytes, idToHex, ID_MAX, randomIdInBucket } from '../../src/overlay/id.js';
import { peerIdFromAddress, resourceId } from '../../src/overlay/peer-id.js';
import { SeededRandom } from '../../src/overlay/random.js';

const anyId = fc.bigInt({ min: 0n, max: ID_MAX });

describe('identifiers', () => {
  it('round-trips hex and bytes', () => {
    fc.assert(
      fc.property(anyId, (id) => {
        expect(idFromHex(idToHex(id))).toBe(id);
        expect(idToHex(id)).toMatch(/^[0-9a-f]{40}$/);
        expect(idFromBytes(idToBytes(id))).toBe(id);
      }),
    );
  });

  it('rejects hex that is not 40 digits', () => {
    fc.assert(
      fc.property(fc.string(), (s) => {
        const parsed = idFromHex(s);
        if (!/^[0-9a-fA-F]{40}$/.test(s)) expect(parsed).toBeNull();
      }),
    );
    expect(idFromHex('g'.repeat(40))).toBeNull();
    expect(idFromHex('A'.repeat(40))).toBe(BigInt('0x' + 'a'.repeat(40)));
  });

  it('puts a contact in the bucket of the highest differing bit', () => {
    expect(bucketIndex(0n, 0n)).toBe(-1);
    expect(bucketIndex(0n, 1n)).toBe(0);
    expect(bucketIndex(0n, 1n << 159n)).toBe(159);
    expect(bucketIndex(0b1010n, 0b1000n)).toBe(1);
    fc.assert(
      fc.property(anyId, anyId, (a, b) => {
        const i = bucketIndex(a, b);
        expect(i).toBe(bucketIndex(b, a));
        if (i >= 0) {
          expect((a ^ b) >> BigInt(i)).toBe(1n);
        }
        expect(bitLength(a ^ b)).toBe((a ^ b).toString(2).replace(/^0$/, '').length);
      }),
    );
  });

  it('orders by XOR distance, consistently with the triangle property', () => {
    fc.assert(
      fc.property(anyId, anyId, anyId, (t, a, b) => {
        const c = compareDistance(t, a, b);
        expect(Math.sign(c) + Math.sign(compareDistance(t, b, a))).toBe(0);
        if (c === 0) expect(a).toBe(b); // XOR distance from one point is unique per ID
        // d(a,b) = d(a,t) xor d(t,b) <= d(a,t) + d(t,b)
        expect(a ^ b).toBeLessThanOrEqual((a ^ t) + (t ^ b));
      }),
    );
  });

  it('draws refresh targets inside the asked bucket', () => {
    const random = new SeededRandom(7);
    fc.assert(
      fc.property(anyId, fc.integer({ min: 0, max: 159 }), (self, index) => {
        const target = randomIdInBucket(self, index, (bits) => random.bits(bits));
        expect(bucketIndex(self, target)).toBe(index);
      }),
    );
  });
});

describe('Peer-ID and Resource-ID (PROTOCOL.md section 1)', () => {
  // Expected values computed independently with Python's hashlib.
  it('hashes the IP address as text and puts the port in the low 16 bits', () => {
    expect(idToHex(peerIdFromAddress('192.0.2.10', 5060))).toBe('56adbd712c6632d3ec32ba4e75429265685113c4');
    const a = peerIdFromAddress('127.0.0.1', 5060);
    const b = peerIdFromAddress('127.0.0.1', 5062);
    expect(a >> 16n).toBe(BigInt('0x4b84b15bff6ee5796152495a230e45e3d7e947d9') >> 16n);
    expect(a & 0xffffn).toBe(5060n);
    expect(a >> 16n).toBe(b >> 16n); // peers on one address share the top 144 bits
    expect(() => peerIdFromAddress('127.0.0.1', 70000)).toThrow(RangeError);
  });

  it('hashes the canonical AoR, and replicas with ;replica=r', () => {
    expect(idToHex(resourceId('sip:alice@example.com'))).toBe('39825720921e2b51f78742820d87ef48b3723b13');
    expect(idToHex(resourceId('sip:alice@example.com', 1))).toBe('e52cddfc74e05471b23c2f315ecc8f7cfbe66d29');
  });
});

describe('seeded randomness', () => {
  it('repeats for a seed and stays in range', () => {
    const a = new SeededRandom(42);
    const b = new SeededRandom(42);
    for (let i = 0; i < 1000; i++) {
      const x = a.next();
      expect(x).toBe(b.next());
      expect(x).toBeGreaterThanOrEqual(0);
      expect(x).toBeLessThan(1);
    }
    expect(a.bits(160)).toBeLessThanOrEqual(ID_MAX);
    expect(new SeededRandom(1).next()).not.toBe(new SeededRandom(2).next());
  });
});
