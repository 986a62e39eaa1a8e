import { randomBytes } from 'node:crypto';

import {
  createTokenCipher,
  DecryptionError,
  envelopeKeyId,
  generateKey,
  KeyRingError,
  tokenContext,
  type KeyRing,
} from '../../../../lib/crypto';
import { thrownBy } from '../../../support/failures';
import { legacyV1Envelope } from '../../../support/token-cipher';

const APP_ID = '11111111-1111-4111-8111-111111111111';
const INSTANCE_A = 'aaaaaaaa-aaaa-4aaa-8aaa-aaaaaaaaaaaa';
const INSTANCE_B = 'bbbbbbbb-bbbb-4bbb-8bbb-bbbbbbbbbbbb';
const CONTEXT_A = tokenContext(APP_ID, INSTANCE_A);
const CONTEXT_B = tokenContext(APP_ID, INSTANCE_B);
const REFRESH_TOKEN = 'OauthNG.JWS.refresh-token-that-must-never-leak';

const K1 = generateKey();
const K2 = generateKey();

function ring(currentKeyId: string, keys: Record<string, string>): KeyRing {
  return { currentKeyId, keys };
}

/** Replaces one dot-separated part of an envelope. */
function withPart(envelope: string, index: number, replace: (part: string) => string): string {
  const parts = envelope.split('.');
  parts[index] = replace(parts[index] ?? '');
  return parts.join('.');
}

/** Flips one bit of a base64url part, keeping its length. */
function flipBit(part: string): string {
  const bytes = Buffer.from(part, 'base64url');
  bytes[0] = (bytes[0] ?? 0) ^ 0x01;
  return bytes.toString('base64url');
}

const decryptError = (run: () => unknown): DecryptionError => thrownBy(DecryptionError, run);

describe('createTokenCipher', () => {
  const cipher = createTokenCipher(ring('k1', { k1: K1 }));

  it('round-trips a token under its context', () => {
    // Arrange / Act
    const envelope = cipher.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken');

    // Assert
    expect(cipher.decrypt(envelope, CONTEXT_A, 'refreshToken')).toBe(REFRESH_TOKEN);
  });

  it('round-trips the empty string and non-ASCII text', () => {
    expect(cipher.decrypt(cipher.encrypt('', CONTEXT_A, 'refreshToken'), CONTEXT_A, 'refreshToken')).toBe('');
    expect(cipher.decrypt(cipher.encrypt('jeton-é-🔑', CONTEXT_A, 'refreshToken'), CONTEXT_A, 'refreshToken')).toBe('jeton-é-🔑');
  });

  it('writes a v2 envelope naming the current key, with a 96-bit IV and a 128-bit tag', () => {
    const envelope = cipher.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken');

    const parts = envelope.split('.');
    expect(parts).toHaveLength(5);
    expect(parts[0]).toBe('v2');
    expect(parts[1]).toBe('k1');
    expect(Buffer.from(parts[2] ?? '', 'base64url')).toHaveLength(12);
    expect(Buffer.from(parts[3] ?? '', 'base64url')).toHaveLength(Buffer.byteLength(REFRESH_TOKEN));
    expect(Buffer.from(parts[4] ?? '', 'base64url')).toHaveLength(16);
    expect(envelope).not.toContain(REFRESH_TOKEN);
    expect(envelopeKeyId(envelope)).toBe('k1');
  });

  it('uses a different IV, and so a different ciphertext, on every call', () => {
    const envelopes = Array.from({ length: 50 }, () => cipher.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken'));

    const ivs = new Set(envelopes.map((envelope) => envelope.split('.')[2]));
    const ciphertexts = new Set(envelopes.map((envelope) => envelope.split('.')[3]));
    expect(ivs.size).toBe(50);
    expect(ciphertexts.size).toBe(50);
  });

  it('fails when an envelope is moved to the other field of its item (a refresh token read as the access token)', () => {
    const envelope = cipher.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken');

    const error = decryptError(() => cipher.decrypt(envelope, CONTEXT_A, 'accessToken'));

    expect(error.reason).toBe('authentication_failed');
    expect(cipher.decrypt(cipher.encrypt('access', CONTEXT_A, 'accessToken'), CONTEXT_A, 'accessToken')).toBe('access');
  });

  it('still reads a v1 envelope (written without the field) from either field', () => {
    const v1 = legacyV1Envelope(REFRESH_TOKEN, CONTEXT_A, 'k1', K1);

    expect(cipher.decrypt(v1, CONTEXT_A, 'refreshToken')).toBe(REFRESH_TOKEN);
    expect(envelopeKeyId(v1)).toBe('k1');
    expect(decryptError(() => cipher.decrypt(v1, CONTEXT_B, 'refreshToken')).reason).toBe('authentication_failed');
    expect(decryptError(() => cipher.decrypt(withPart(v1, 0, () => 'v2'), CONTEXT_A, 'refreshToken')).reason).toBe('authentication_failed');
  });

  it('fails to decrypt under a wrong context', () => {
    const envelope = cipher.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken');

    const error = decryptError(() => cipher.decrypt(envelope, `${CONTEXT_A}x`, 'refreshToken'));

    expect(error.code).toBe('TOKEN_DECRYPT_FAILED');
    expect(error.reason).toBe('authentication_failed');
  });

  it("fails when an envelope is copied into another instance's item", () => {
    const envelope = cipher.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken');

    const error = decryptError(() => cipher.decrypt(envelope, CONTEXT_B, 'refreshToken'));

    expect(error).toBeInstanceOf(DecryptionError);
    expect(error.reason).toBe('authentication_failed');
  });

  it("fails when an envelope is copied into another app's item for the same instance", () => {
    const envelope = cipher.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken');

    const error = decryptError(() => cipher.decrypt(envelope, tokenContext('22222222-2222-4222-8222-222222222222', INSTANCE_A), 'refreshToken'));

    expect(error.reason).toBe('authentication_failed');
  });

  it.each([
    ['the ciphertext', 3],
    ['the tag', 4],
    ['the IV', 2],
  ])('fails when %s is tampered with', (_label, index) => {
    const envelope = cipher.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken');

    const error = decryptError(() => cipher.decrypt(withPart(envelope, index, flipBit), CONTEXT_A, 'refreshToken'));

    expect(error.code).toBe('TOKEN_DECRYPT_FAILED');
    expect(error.reason).toBe('authentication_failed');
  });

  it('fails when the ciphertext is truncated', () => {
    const envelope = cipher.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken');
    const truncated = withPart(envelope, 3, (part) => Buffer.from(part, 'base64url').subarray(1).toString('base64url'));

    expect(decryptError(() => cipher.decrypt(truncated, CONTEXT_A, 'refreshToken')).reason).toBe('authentication_failed');
  });

  it('fails when the key id is relabelled to another key of the ring', () => {
    const twoKeys = createTokenCipher(ring('k1', { k1: K1, k2: K1 }));
    const envelope = twoKeys.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken');

    // Same key bytes under another id: only the authenticated header tells them apart.
    const error = decryptError(() => twoKeys.decrypt(withPart(envelope, 1, () => 'k2'), CONTEXT_A, 'refreshToken'));

    expect(error.reason).toBe('authentication_failed');
  });

  it('fails with unknown_key when the envelope names a key not in the ring', () => {
    const other = createTokenCipher(ring('k9', { k9: generateKey() }));
    const envelope = other.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken');

    const error = decryptError(() => cipher.decrypt(envelope, CONTEXT_A, 'refreshToken'));

    expect(error.code).toBe('TOKEN_DECRYPT_FAILED');
    expect(error.reason).toBe('unknown_key');
    expect(error.keyId).toBe('k9');
    expect(error.message).toBe('Stored token could not be decrypted: key k9 is not in the key ring');
  });

  it('fails with unknown_key for a key id that only exists on Object.prototype', () => {
    const envelope = withPart(cipher.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken'), 1, () => 'constructor');

    expect(decryptError(() => cipher.decrypt(envelope, CONTEXT_A, 'refreshToken')).reason).toBe('unknown_key');
  });

  it.each([
    ['an empty string', () => ''],
    ['a plain token', () => REFRESH_TOKEN],
    ['too few parts', (e: string) => e.split('.').slice(0, 4).join('.')],
    ['too many parts', (e: string) => `${e}.extra`],
    ['another version', (e: string) => withPart(e, 0, () => 'v3')],
    ['an empty key id', (e: string) => withPart(e, 1, () => '')],
    ['a short IV', (e: string) => withPart(e, 2, () => randomBytes(8).toString('base64url'))],
    ['a short tag', (e: string) => withPart(e, 4, () => randomBytes(12).toString('base64url'))],
    ['standard base64 with padding', (e: string) => withPart(e, 4, (part) => Buffer.from(part, 'base64url').toString('base64'))],
    ['characters outside base64url', (e: string) => withPart(e, 3, (part) => `${part}*`)],
  ])('fails with malformed for %s', (_label, mangle) => {
    const envelope = mangle(cipher.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken'));

    const error = decryptError(() => cipher.decrypt(envelope, CONTEXT_A, 'refreshToken'));

    expect(error.code).toBe('TOKEN_DECRYPT_FAILED');
    expect(error.reason).toBe('malformed');
  });

  it('fails with malformed when the envelope is not a string', () => {
    expect(decryptError(() => cipher.decrypt(undefined as unknown as string, CONTEXT_A, 'refreshToken')).reason).toBe('malformed');
  });

  it('refuses to encrypt without a context', () => {
    expect(() => cipher.encrypt(REFRESH_TOKEN, '', 'refreshToken')).toThrow(TypeError);
  });

  it('never puts the plaintext, a key or the envelope in an error message or its serialised form', () => {
    const envelope = cipher.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken');
    const failures = [
      decryptError(() => cipher.decrypt(envelope, CONTEXT_B, 'refreshToken')),
      decryptError(() => cipher.decrypt(withPart(envelope, 4, flipBit), CONTEXT_A, 'refreshToken')),
      decryptError(() => cipher.decrypt(withPart(envelope, 1, () => 'gone'), CONTEXT_A, 'refreshToken')),
      decryptError(() => cipher.decrypt(withPart(envelope, 0, () => 'v0'), CONTEXT_A, 'refreshToken')),
    ];

    for (const error of failures) {
      const seen = `${error.message} ${error.stack ?? ''} ${JSON.stringify(error)} ${String(error.cause)}`;
      expect(seen).not.toContain(REFRESH_TOKEN);
      expect(seen).not.toContain(K1);
      for (const part of envelope.split('.').slice(2)) expect(seen).not.toContain(part);
    }
  });

  describe('key rotation', () => {
    it('keeps decrypting tokens written with an older key while it stays in the ring, and writes with the new one', () => {
      // Arrange: written under k1
      const before = createTokenCipher(ring('k1', { k1: K1 }));
      const oldEnvelope = before.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken');

      // Act: the ring moves to k2, keeping k1
      const after = createTokenCipher(ring('k2', { k1: K1, k2: K2 }));
      const newEnvelope = after.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken');

      // Assert
      expect(after.decrypt(oldEnvelope, CONTEXT_A, 'refreshToken')).toBe(REFRESH_TOKEN);
      expect(envelopeKeyId(oldEnvelope)).toBe('k1');
      expect(envelopeKeyId(newEnvelope)).toBe('k2');
      expect(after.decrypt(newEnvelope, CONTEXT_A, 'refreshToken')).toBe(REFRESH_TOKEN);
      expect(decryptError(() => before.decrypt(newEnvelope, CONTEXT_A, 'refreshToken')).reason).toBe('unknown_key');
    });

    it('stops decrypting tokens written with a key once it leaves the ring', () => {
      const oldEnvelope = createTokenCipher(ring('k1', { k1: K1 })).encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken');

      const retired = createTokenCipher(ring('k2', { k2: K2 }));

      expect(decryptError(() => retired.decrypt(oldEnvelope, CONTEXT_A, 'refreshToken')).reason).toBe('unknown_key');
    });

    it('detects a key id reused for different key bytes', () => {
      const oldEnvelope = createTokenCipher(ring('k1', { k1: K1 })).encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken');

      const reused = createTokenCipher(ring('k1', { k1: K2 }));

      expect(decryptError(() => reused.decrypt(oldEnvelope, CONTEXT_A, 'refreshToken')).reason).toBe('authentication_failed');
    });
  });

  it('is not affected by later changes to the ring it was built from', () => {
    const mutable = ring('k1', { k1: K1 });
    const built = createTokenCipher(mutable);
    const envelope = built.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken');

    mutable.keys.k1 = K2;
    mutable.currentKeyId = 'k2';

    expect(built.decrypt(envelope, CONTEXT_A, 'refreshToken')).toBe(REFRESH_TOKEN);
    expect(envelopeKeyId(built.encrypt(REFRESH_TOKEN, CONTEXT_A, 'refreshToken'))).toBe('k1');
  });
});

describe('createTokenCipher with a bad key ring', () => {
  const ringError = (input: unknown): KeyRingError => thrownBy(KeyRingError, () => createTokenCipher(input as KeyRing));

  it.each([
    ['a key of 16 bytes', ring('k1', { k1: randomBytes(16).toString('base64') }), 'keys.k1', 'keys.k1 must be the base64 of 32 bytes'],
    ['a key of 33 bytes', ring('k1', { k1: randomBytes(33).toString('base64') }), 'keys.k1', 'keys.k1 must be the base64 of 32 bytes'],
    ['a key that is not base64', ring('k1', { k1: `${'!'.repeat(43)}=` }), 'keys.k1', 'keys.k1 must be the base64 of 32 bytes'],
    ['a key in base64url', ring('k1', { k1: Buffer.alloc(32, 0xfb).toString('base64url') }), 'keys.k1', 'keys.k1 must be the base64 of 32 bytes'],
    ['a key that is not a string', { currentKeyId: 'k1', keys: { k1: 42 } }, 'keys.k1', 'keys.k1 must be the base64 of 32 bytes'],
    ['a current key missing from the ring', ring('k2', { k1: K1 }), 'currentKeyId', 'currentKeyId names a key that is not in keys'],
    ['an empty ring', ring('k1', {}), 'currentKeyId', 'currentKeyId names a key that is not in keys'],
    ['a current key id with a dot', ring('k.1', { 'k.1': K1 }), 'currentKeyId', 'currentKeyId must be 1-64 characters of A-Z, a-z, 0-9, _ or -'],
    ['a key id with a dot', ring('k1', { k1: K1, 'k.2': K2 }), 'keys', 'keys has a key id that is not 1-64 characters of A-Z, a-z, 0-9, _ or -'],
    ['no currentKeyId', { keys: { k1: K1 } }, 'currentKeyId', 'currentKeyId must be 1-64 characters of A-Z, a-z, 0-9, _ or -'],
    ['keys as an array', { currentKeyId: 'k1', keys: [K1] }, 'keys', 'keys must be an object of key id to base64 key'],
    ['no ring at all', null, 'tokenKeys', 'tokenKeys must be an object'],
  ])('refuses %s', (_label, input, variable, message) => {
    const error = ringError(input);

    expect(error.code).toBe('CONFIG_INVALID');
    expect(error.name).toBe('KeyRingError');
    expect(error.variable).toBe(variable);
    expect(error.message).toBe(message);
  });

  it('never puts a key in the error', () => {
    const shortKey = randomBytes(31).toString('base64');

    const error = ringError(ring('k1', { k1: K1, k2: shortKey }));

    expect(`${error.message} ${JSON.stringify(error)}`).not.toContain(shortKey);
  });
});

describe('generateKey', () => {
  it('returns canonical base64 of 32 random bytes that a ring accepts', () => {
    const first = generateKey();
    const second = generateKey();

    expect(Buffer.from(first, 'base64')).toHaveLength(32);
    expect(Buffer.from(first, 'base64').toString('base64')).toBe(first);
    expect(first).not.toBe(second);
    expect(() => createTokenCipher(ring('k1', { k1: first }))).not.toThrow();
  });
});
