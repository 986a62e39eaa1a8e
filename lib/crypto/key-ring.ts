import { createSecretKey, randomBytes, type KeyObject } from 'node:crypto';

import { KeyRingError } from './errors';

/**
 * The keys that protect stored tokens, as held in the app's secret under `tokenKeys`.
 *
 * New writes use `currentKeyId`; older keys stay in `keys` for as long as items written with
 * them may still be read.
 */
export interface KeyRing {
  currentKeyId: string;
  /** Key id to the base64 of 32 random bytes. Ids match {@link KEY_ID_PATTERN}. */
  keys: Record<string, string>;
}

/** Key ids appear inside the envelope, so they are short and never contain its `.` separator. */
export const KEY_ID_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;

/** AES-256 wants exactly this many key bytes. */
export const KEY_BYTES = 32;

/** A validated ring with its keys imported once. */
export interface ImportedKeyRing {
  readonly currentKeyId: string;
  readonly keys: ReadonlyMap<string, KeyObject>;
}

/** Returns a fresh key: the base64 of 32 random bytes, ready to add to a {@link KeyRing}. */
export function generateKey(): string {
  return randomBytes(KEY_BYTES).toString('base64');
}

/**
 * Checks a ring's shape and imports its keys; the input is not kept, so later changes to it have no effect.
 *
 * @throws {KeyRingError} naming the first bad entry (`currentKeyId`, `keys`, `keys.<id>`), never a key.
 */
export function importKeyRing(ring: unknown): ImportedKeyRing {
  if (!isPlainObject(ring)) throw new KeyRingError('tokenKeys', 'must be an object');
  const { currentKeyId, keys } = ring;
  if (typeof currentKeyId !== 'string' || !KEY_ID_PATTERN.test(currentKeyId)) {
    throw new KeyRingError('currentKeyId', 'must be 1-64 characters of A-Z, a-z, 0-9, _ or -');
  }
  if (!isPlainObject(keys)) throw new KeyRingError('keys', 'must be an object of key id to base64 key');

  const imported = new Map<string, KeyObject>();
  for (const [keyId, encoded] of Object.entries(keys)) {
    if (!KEY_ID_PATTERN.test(keyId)) {
      throw new KeyRingError('keys', 'has a key id that is not 1-64 characters of A-Z, a-z, 0-9, _ or -');
    }
    const bytes = decodeKey(encoded);
    if (bytes === undefined) throw new KeyRingError(`keys.${keyId}`, `must be the base64 of ${KEY_BYTES} bytes`);
    imported.set(keyId, createSecretKey(bytes));
    bytes.fill(0);
  }
  if (!imported.has(currentKeyId)) throw new KeyRingError('currentKeyId', 'names a key that is not in keys');
  return { currentKeyId, keys: imported };
}

/** Decodes canonical, padded base64 of exactly {@link KEY_BYTES} bytes; anything else is undefined. */
function decodeKey(encoded: unknown): Buffer | undefined {
  if (typeof encoded !== 'string') return undefined;
  const bytes = Buffer.from(encoded, 'base64');
  // Buffer.from skips characters it does not know, so compare the round trip to be strict.
  if (bytes.length !== KEY_BYTES || bytes.toString('base64') !== encoded) return undefined;
  return bytes;
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
