import { createTokenCipher, generateKey, type TokenCipher } from '../../lib/crypto';

/** A real AES-256-GCM cipher (lib/crypto) over a fresh one-key ring, as `cipherFor` for any app. */
export function testCipherFor(): (appId: string) => Promise<TokenCipher> {
  const cipher = createTokenCipher({ currentKeyId: 'test-key', keys: { 'test-key': generateKey() } });
  return async () => cipher;
}
