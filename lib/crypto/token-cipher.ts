import { createCipheriv, createDecipheriv, randomBytes, type KeyObject } from 'node:crypto';

import { DecryptionError, DecryptionFailure } from './errors';
import { importKeyRing, type KeyRing } from './key-ring';

/**
 * Encrypts tokens before they reach the table and decrypts them after.
 *
 * AES-256-GCM with a random 96-bit IV per call and a 128-bit tag. The envelope is one string:
 *
 * ```
 * v2.<keyId>.<iv b64url>.<ciphertext b64url>.<tag b64url>
 * ```
 *
 * The associated data (v2) is the version, the key id, the field the envelope is stored in
 * (`accessToken` or `refreshToken`) and `context` (`appId#instanceId`, see {@link tokenContext}),
 * so an envelope copied into another item, moved to the item's other field (a refresh token
 * served as an access token), or relabelled with another key id, fails to decrypt.
 *
 * v1 envelopes (associated data without the field) are still read; every write is v2, so a
 * record's envelopes become v2 the next time its tokens are written.
 */
export interface TokenCipher {
  /**
   * Encrypts with the ring's current key as a v2 envelope; `context` (`${appId}#${instanceId}`)
   * and `field` are the associated data.
   */
  encrypt(plaintext: string, context: string, field: TokenField): string;
  /**
   * Decrypts with the key named in the envelope.
   *
   * @throws {DecryptionError} (code `TOKEN_DECRYPT_FAILED`) on a wrong context, an unknown key id,
   * tampering, an envelope stored in another field (v2) or malformed input.
   */
  decrypt(envelope: string, context: string, field: TokenField): string;
}

/** The item fields a token envelope may be stored in; part of a v2 envelope's associated data. */
export type TokenField = 'accessToken' | 'refreshToken';

/** The envelope format this module writes. */
export const ENVELOPE_VERSION = 'v2';
/** The older format, still read: its associated data does not name the field. */
export const LEGACY_ENVELOPE_VERSION = 'v1';
const TOKEN_FIELDS: ReadonlySet<string> = new Set<TokenField>(['accessToken', 'refreshToken']);

const ALGORITHM = 'aes-256-gcm';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const BASE64URL = /^[A-Za-z0-9_-]*$/;

/** The associated data that binds a stored token to its item. */
export function tokenContext(appId: string, instanceId: string): string {
  return `${appId}#${instanceId}`;
}

/**
 * The key id an envelope was written with, or undefined when it is not a v1 or v2 envelope.
 * For rotation tooling: an item whose key id is not the current one is due for re-encryption.
 */
export function envelopeKeyId(envelope: string): string | undefined {
  const parts = envelope.split('.');
  return parts.length === 5 && (parts[0] === ENVELOPE_VERSION || parts[0] === LEGACY_ENVELOPE_VERSION) ? parts[1] : undefined;
}

/**
 * Builds a cipher over a key ring, validating the ring and importing its keys once.
 *
 * @throws {KeyRingError} when a key is not base64 of 32 bytes, a key id is malformed, or the
 * current key is not in the ring.
 */
export function createTokenCipher(ring: KeyRing): TokenCipher {
  const { currentKeyId, keys } = importKeyRing(ring);
  const currentKey = keys.get(currentKeyId) as KeyObject;

  return {
    encrypt(plaintext, context, field) {
      if (typeof plaintext !== 'string') throw new TypeError('plaintext must be a string');
      if (typeof context !== 'string' || context === '') throw new TypeError('context must be a non-empty string');
      if (!TOKEN_FIELDS.has(field)) throw new TypeError('field must be accessToken or refreshToken');
      const iv = randomBytes(IV_BYTES);
      const cipher = createCipheriv(ALGORITHM, currentKey, iv, { authTagLength: TAG_BYTES });
      cipher.setAAD(associatedData(ENVELOPE_VERSION, currentKeyId, context, field));
      const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
      const tag = cipher.getAuthTag();
      return [ENVELOPE_VERSION, currentKeyId, b64url(iv), b64url(ciphertext), b64url(tag)].join('.');
    },

    decrypt(envelope, context, field) {
      const parsed = parseEnvelope(envelope);
      if (typeof context !== 'string' || context === '') {
        throw new DecryptionError(DecryptionFailure.Malformed, 'Stored token could not be decrypted: no context');
      }
      if (!TOKEN_FIELDS.has(field)) {
        throw new DecryptionError(DecryptionFailure.Malformed, 'Stored token could not be decrypted: no field');
      }
      const key = keys.get(parsed.keyId);
      if (key === undefined) {
        throw new DecryptionError(
          DecryptionFailure.UnknownKey,
          `Stored token could not be decrypted: key ${parsed.keyId} is not in the key ring`,
          parsed.keyId,
        );
      }
      try {
        const decipher = createDecipheriv(ALGORITHM, key, parsed.iv, { authTagLength: TAG_BYTES });
        decipher.setAAD(associatedData(parsed.version, parsed.keyId, context, field));
        decipher.setAuthTag(parsed.tag);
        return Buffer.concat([decipher.update(parsed.ciphertext), decipher.final()]).toString('utf8');
      } catch {
        // node:crypto's own message says nothing useful and is left out on purpose.
        throw new DecryptionError(
          DecryptionFailure.AuthenticationFailed,
          'Stored token could not be decrypted: authentication failed (tampered, or stored under another context or field)',
          parsed.keyId,
        );
      }
    },
  };
}

interface ParsedEnvelope {
  version: typeof ENVELOPE_VERSION | typeof LEGACY_ENVELOPE_VERSION;
  keyId: string;
  iv: Buffer;
  ciphertext: Buffer;
  tag: Buffer;
}

function parseEnvelope(envelope: unknown): ParsedEnvelope {
  const malformed = (what: string) =>
    new DecryptionError(DecryptionFailure.Malformed, `Stored token could not be decrypted: ${what}`);
  if (typeof envelope !== 'string') throw malformed('not a string');
  const parts = envelope.split('.');
  if (parts.length !== 5) throw malformed('not an envelope');
  const [version, keyId, iv, ciphertext, tag] = parts as [string, string, string, string, string];
  if (version !== ENVELOPE_VERSION && version !== LEGACY_ENVELOPE_VERSION) throw malformed('unsupported envelope version');
  if (keyId === '') throw malformed('no key id');
  const ivBytes = fromB64url(iv);
  const ciphertextBytes = fromB64url(ciphertext);
  const tagBytes = fromB64url(tag);
  if (ivBytes === undefined || ciphertextBytes === undefined || tagBytes === undefined) {
    throw malformed('bad encoding');
  }
  if (ivBytes.length !== IV_BYTES) throw malformed('bad IV length');
  if (tagBytes.length !== TAG_BYTES) throw malformed('bad tag length');
  return { version, keyId, iv: ivBytes, ciphertext: ciphertextBytes, tag: tagBytes };
}

/**
 * The version and key id are authenticated too: neither the key id nor the field contains `.`,
 * so `v2.<keyId>.<field>.<context>` (and v1's `v1.<keyId>.<context>`) cannot be read two ways.
 * A v1 envelope is authenticated without the field, as it was written.
 */
function associatedData(version: ParsedEnvelope['version'], keyId: string, context: string, field: TokenField): Buffer {
  const text = version === LEGACY_ENVELOPE_VERSION ? `${version}.${keyId}.${context}` : `${version}.${keyId}.${field}.${context}`;
  return Buffer.from(text, 'utf8');
}

function b64url(bytes: Buffer): string {
  return bytes.toString('base64url');
}

/** Strict base64url: only the alphabet, no padding, and the canonical form of its bytes. */
function fromB64url(text: string): Buffer | undefined {
  if (!BASE64URL.test(text)) return undefined;
  const bytes = Buffer.from(text, 'base64url');
  return bytes.toString('base64url') === text ? bytes : undefined;
}
