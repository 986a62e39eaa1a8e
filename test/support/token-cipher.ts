import { createCipheriv, randomBytes } from 'node:crypto';

import { IssuedKind, recordIssued } from '../../infra/local/issued-values';
import { createTokenCipher, generateKey, type TokenCipher } from '../../lib/crypto';

/** A real AES-256-GCM cipher (lib/crypto) over a fresh one-key ring, as `cipherFor` for any app. */
export function testCipherFor(): (appId: string) => Promise<TokenCipher> {
  const key = generateKey();
  recordIssued(IssuedKind.TokenKey, key);
  const cipher = createTokenCipher({ currentKeyId: 'test-key', keys: { 'test-key': key } });
  return async () => cipher;
}

/**
 * A v1 envelope exactly as lib/crypto wrote it before v2 (associated data `v1.<keyId>.<context>`,
 * no field), for tests that an old item still reads. `key` is the base64 key of the ring entry.
 */
export function legacyV1Envelope(plaintext: string, context: string, keyId: string, key: string): string {
  const iv = randomBytes(12);
  const cipher = createCipheriv('aes-256-gcm', Buffer.from(key, 'base64'), iv, { authTagLength: 16 });
  cipher.setAAD(Buffer.from(`v1.${keyId}.${context}`, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return ['v1', keyId, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.');
}
