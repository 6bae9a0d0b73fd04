/**
 * Keys for MESSAGE-INTEGRITY(-SHA256) (RFC 8489 §9.1.1 short-term, §9.2.2 long-term).
 * Passwords are expected already prepared with the OpaqueString profile (RFC 8265); this module
 * only applies Unicode NFC, which is that profile's normalization step.
 */
import { createHash } from 'node:crypto';

/** §9.1.1: key = OpaqueString(password). */
export function shortTermKey(password: string): Buffer {
  return Buffer.from(password.normalize('NFC'), 'utf8');
}

/**
 * §9.2.2: key = MD5(username ":" OpaqueString(realm) ":" OpaqueString(password)) for the MD5
 * password algorithm, SHA-256 of the same string for SHA-256 (§18.5).
 */
export function longTermKey(username: string, realm: string, password: string, algorithm: 'md5' | 'sha256' = 'md5'): Buffer {
  return createHash(algorithm).update(`${username}:${realm.normalize('NFC')}:${password.normalize('NFC')}`, 'utf8').digest();
}

/** §14.4: USERHASH = SHA-256(OpaqueString(username) ":" OpaqueString(realm)). */
export function userHash(username: string, realm: string): Buffer {
  return createHash('sha256').update(`${username.normalize('NFC')}:${realm.normalize('NFC')}`, 'utf8').digest();
}
