import { ConfigError, Dependency, ErrorCategory, ReasonedError } from '../errors';

/**
 * The token key ring is unusable: a key is not base64 of 32 bytes, a key id is malformed, or the
 * current key is missing. `variable` names the offending entry (e.g. `keys.k1`), never its value.
 */
export class KeyRingError extends ConfigError {
  /** What is wrong with `variable`, without the variable's name: lets callers rephrase. */
  readonly reason: string;

  constructor(variable: string, reason: string) {
    super(variable, reason);
    this.reason = reason;
  }
}

/** Why a stored token could not be decrypted; safe to log. */
export const DecryptionFailure = {
  /** Not an envelope this service writes (wrong shape, version, encoding or lengths). */
  Malformed: 'malformed',
  /** The envelope names a key that is no longer (or not yet) in the ring. */
  UnknownKey: 'unknown_key',
  /** The GCM tag did not verify: tampered, or stored under another item's context. */
  AuthenticationFailed: 'authentication_failed',
} as const;
export type DecryptionFailure = (typeof DecryptionFailure)[keyof typeof DecryptionFailure];

/**
 * A stored token could not be decrypted (code `TOKEN_DECRYPT_FAILED`).
 *
 * The message names only the failure kind and, for an unknown key, the key id; never the
 * plaintext, a key or the envelope.
 */
export class DecryptionError extends ReasonedError<DecryptionFailure> {
  override readonly category = ErrorCategory.Misconfigured;
  override readonly dependency = Dependency.Crypto;
  /** The key id the envelope names, when it could be read; key ids are not secret. */
  readonly keyId: string | undefined;

  constructor(reason: DecryptionFailure, message: string, keyId?: string) {
    super('TOKEN_DECRYPT_FAILED', reason, message);
    this.keyId = keyId;
  }
}
