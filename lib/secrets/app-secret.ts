import { createPublicKey } from 'node:crypto';

import { importKeyRing, KeyRingError, type KeyRing } from '../crypto';
import { AppSecretMalformedError } from './errors';

/** One Wix app's credentials, as held in its secret. Frozen: the same object is shared by every caller. */
export interface AppCredentials {
  /** The Wix app id (`client_id`). */
  appId: string;
  /** The Wix app secret (`client_secret`). */
  appSecret: string;
  /** PEM public key that verifies the RS256 webhook JWTs Wix sends. */
  webhookPublicKey: string;
  /** The keys that encrypt this app's stored tokens. */
  tokenKeys: KeyRing;
  /** The Secrets Manager version the credentials came from, when known. */
  versionId?: string;
}

const PUBLIC_KEY_PEM = /-----BEGIN (RSA )?PUBLIC KEY-----/;

/**
 * Parses and strictly validates the SecretString of an app's secret:
 * `{"appId", "appSecret", "webhookPublicKey", "tokenKeys": {"currentKeyId", "keys"}}`.
 * Unknown extra fields are ignored so the secret can grow ahead of the code.
 *
 * @param expectedAppId the app the secret is configured for; the secret's `appId` must match it.
 * @throws {AppSecretMalformedError} naming the first missing or mistyped field, never a value.
 */
export function parseAppSecret(
  secretString: string | undefined,
  expectedAppId: string,
  versionStage = 'AWSCURRENT',
): Omit<AppCredentials, 'versionId'> {
  const fail = (field: string, reason: string) => new AppSecretMalformedError(expectedAppId, field, reason, versionStage);

  if (typeof secretString !== 'string') throw fail('SecretString', 'is missing (binary secrets are not supported)');
  let document: unknown;
  try {
    document = JSON.parse(secretString);
  } catch {
    throw fail('SecretString', 'is not JSON');
  }
  if (typeof document !== 'object' || document === null || Array.isArray(document)) {
    throw fail('SecretString', 'is not a JSON object');
  }
  const { appId, appSecret, webhookPublicKey, tokenKeys } = document as Record<string, unknown>;

  if (typeof appId !== 'string' || appId === '') throw fail('appId', 'must be a non-empty string');
  if (appId.toLowerCase() !== expectedAppId.toLowerCase()) {
    throw fail('appId', 'does not match the app the secret is configured for');
  }
  if (typeof appSecret !== 'string' || appSecret === '') throw fail('appSecret', 'must be a non-empty string');
  if (typeof webhookPublicKey !== 'string' || webhookPublicKey === '') {
    throw fail('webhookPublicKey', 'must be a non-empty string');
  }
  if (!isRsaPublicKeyPem(webhookPublicKey)) throw fail('webhookPublicKey', 'must be an RSA public key in PEM');

  try {
    importKeyRing(tokenKeys);
  } catch (error) {
    if (!(error instanceof KeyRingError)) throw error;
    const field = error.variable === 'tokenKeys' ? 'tokenKeys' : `tokenKeys.${error.variable}`;
    throw fail(field, error.reason);
  }
  const ring = tokenKeys as KeyRing;

  return deepFreeze({
    appId,
    appSecret,
    webhookPublicKey,
    tokenKeys: { currentKeyId: ring.currentKeyId, keys: { ...ring.keys } },
  });
}

function isRsaPublicKeyPem(pem: string): boolean {
  // createPublicKey also accepts a private key (and derives its public half): refuse that explicitly.
  if (!PUBLIC_KEY_PEM.test(pem) || pem.includes('PRIVATE KEY')) return false;
  try {
    return createPublicKey(pem).asymmetricKeyType === 'rsa';
  } catch {
    return false;
  }
}

function deepFreeze<T extends object>(value: T): T {
  for (const inner of Object.values(value)) {
    if (typeof inner === 'object' && inner !== null) deepFreeze(inner);
  }
  return Object.freeze(value);
}
