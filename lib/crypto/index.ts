export { DecryptionError, DecryptionFailure, KeyRingError } from './errors';
export { generateKey, importKeyRing, KEY_BYTES, KEY_ID_PATTERN } from './key-ring';
export type { ImportedKeyRing, KeyRing } from './key-ring';
export { createTokenCipher, ENVELOPE_VERSION, envelopeKeyId, LEGACY_ENVELOPE_VERSION, tokenContext } from './token-cipher';
export type { TokenCipher, TokenField } from './token-cipher';
