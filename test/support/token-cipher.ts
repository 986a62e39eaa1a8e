import { IssuedKind, recordIssued } from '../../infra/local/issued-values';
import { createTokenCipher, generateKey, type TokenCipher } from '../../lib/crypto';

/** A real AES-256-GCM cipher (lib/crypto) over a fresh one-key ring, as `cipherFor` for any app. */
export function testCipherFor(): (appId: string) => Promise<TokenCipher> {
  const key = generateKey();
  recordIssued(IssuedKind.TokenKey, key);
  const cipher = createTokenCipher({ currentKeyId: 'test-key', keys: { 'test-key': key } });
  return async () => cipher;
}
