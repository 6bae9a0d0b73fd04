/**
 * Signing and verifying raw bytes with node keys (src/trust/keys.ts): what proofs of possession
 * and signed bindings rest on. verifyBytes takes network input, so it must answer false, never throw.
 */
import { generateKeyPairSync, createSecretKey } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { generateKeyPair, keyAlgorithm, keyMatches, signBytes, verifyBytes, SIGNATURE_BYTES, type KeyAlgorithm } from '../../src/trust/keys.js';

const message = Buffer.from('peer-id|overlay|call-id|cseq|ts');

describe.each<KeyAlgorithm>(['ed25519', 'p256'])('keys (%s)', (algorithm) => {
  const { privateKey, publicKey } = generateKeyPair(algorithm);

  it('signs with a 64-byte signature that verifies', () => {
    expect(keyAlgorithm(privateKey)).toBe(algorithm);
    const signature = signBytes(privateKey, message);
    expect(signature.length).toBe(SIGNATURE_BYTES);
    expect(verifyBytes(publicKey, message, signature)).toBe(true);
  });

  it('refuses other bytes, another key, a flipped bit, a truncated or lengthened signature', () => {
    const signature = signBytes(privateKey, message);
    expect(verifyBytes(publicKey, Buffer.from('peer-id|overlay|call-id|cseq|tS'), signature)).toBe(false);
    expect(verifyBytes(generateKeyPair(algorithm).publicKey, message, signature)).toBe(false);
    const flipped = Buffer.from(signature);
    flipped[10]! ^= 0x01;
    expect(verifyBytes(publicKey, message, flipped)).toBe(false);
    expect(verifyBytes(publicKey, message, signature.subarray(0, 63))).toBe(false);
    expect(verifyBytes(publicKey, message, Buffer.concat([signature, Buffer.from([0])]))).toBe(false);
    expect(verifyBytes(publicKey, message, Buffer.alloc(0))).toBe(false);
  });

  it('knows its own key pair from another', () => {
    expect(keyMatches(privateKey, publicKey)).toBe(true);
    expect(keyMatches(privateKey, generateKeyPair(algorithm).publicKey)).toBe(false);
  });
});

describe('keys of other kinds', () => {
  it('never verify, and cannot sign', () => {
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 });
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' });
    expect(keyAlgorithm(rsa.publicKey)).toBeUndefined();
    expect(keyAlgorithm(p384.publicKey)).toBeUndefined();
    expect(verifyBytes(rsa.publicKey, message, Buffer.alloc(64))).toBe(false);
    expect(verifyBytes(createSecretKey(Buffer.alloc(32)), message, Buffer.alloc(64))).toBe(false);
    expect(() => signBytes(rsa.privateKey, message)).toThrow(TypeError);
    expect(() => signBytes(generateKeyPair('ed25519').publicKey, message)).toThrow(TypeError);
  });

  it('an Ed25519 signature does not pass as a P-256 one', () => {
    const ed = generateKeyPair('ed25519');
    const p256 = generateKeyPair('p256');
    expect(verifyBytes(p256.publicKey, message, signBytes(ed.privateKey, message))).toBe(false);
  });
});
