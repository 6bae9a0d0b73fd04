/**
 * Node and CA keys: the two signature algorithms of an overlay's certificates (PROTOCOL.md section
 * 11.1), and signing and verifying raw bytes with them (proofs of possession, signed bindings).
 * Everything here is node:crypto; keys are KeyObjects.
 */
import { createPublicKey, generateKeyPairSync, sign, verify, type KeyObject } from 'node:crypto';

/** Ed25519 (RFC 8032, the default) or ECDSA on NIST P-256 with SHA-256 (for stacks without Ed25519). */
export type KeyAlgorithm = 'ed25519' | 'p256';

export const KEY_ALGORITHMS: readonly KeyAlgorithm[] = ['ed25519', 'p256'];

/** A new key pair of the algorithm. */
export function generateKeyPair(algorithm: KeyAlgorithm): { privateKey: KeyObject; publicKey: KeyObject } {
  return algorithm === 'ed25519' ? generateKeyPairSync('ed25519') : generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
}

/** The key's algorithm, or undefined for any other kind of key (RSA, P-384, X25519...). */
export function keyAlgorithm(key: KeyObject): KeyAlgorithm | undefined {
  if (key.type === 'secret') return undefined;
  if (key.asymmetricKeyType === 'ed25519') return 'ed25519';
  if (key.asymmetricKeyType === 'ec' && key.asymmetricKeyDetails?.namedCurve === 'prime256v1') return 'p256';
  return undefined;
}

/**
 * The signature of `bytes` by the private key: Ed25519 (pure, 64 bytes), or ECDSA P-256 over
 * SHA-256 as r || s, 64 bytes (IEEE P1363, so a signature's length is fixed and checked before any
 * maths). Throws TypeError for a key of another algorithm.
 */
export function signBytes(key: KeyObject, bytes: Uint8Array): Buffer {
  const algorithm = keyAlgorithm(key);
  if (key.type !== 'private' || algorithm === undefined) throw new TypeError('signBytes needs an Ed25519 or P-256 private key');
  return algorithm === 'ed25519' ? sign(null, bytes, key) : sign('sha256', bytes, { key, dsaEncoding: 'ieee-p1363' });
}

/** Signature length in bytes, the same for both algorithms. */
export const SIGNATURE_BYTES = 64;

/**
 * Whether `signature` is the key's signature of `bytes` (as signBytes makes it). Never throws: a
 * wrong length, a key of another algorithm or malformed input is simply false, since the input
 * comes from the network.
 */
export function verifyBytes(publicKey: KeyObject, bytes: Uint8Array, signature: Uint8Array): boolean {
  try {
    const algorithm = keyAlgorithm(publicKey);
    if (algorithm === undefined || signature.length !== SIGNATURE_BYTES) return false;
    return algorithm === 'ed25519'
      ? verify(null, bytes, publicKey, signature)
      : verify('sha256', bytes, { key: publicKey, dsaEncoding: 'ieee-p1363' }, signature);
  } catch {
    return false;
  }
}

/** Whether the private key is the one of the public key (a key file that belongs to its certificate). */
export function keyMatches(privateKey: KeyObject, publicKey: KeyObject): boolean {
  if (privateKey.type !== 'private' || publicKey.type !== 'public') return false;
  const der = (k: KeyObject): Buffer => k.export({ format: 'der', type: 'spki' });
  return der(createPublicKey(privateKey)).equals(der(publicKey));
}

/** The private key as unencrypted PKCS #8 PEM (what `kadsip ca` writes, mode 0600). */
export function privateKeyPem(key: KeyObject): string {
  return key.export({ format: 'pem', type: 'pkcs8' }).toString();
}
