import { generateKeyPairSync, randomUUID } from 'node:crypto';

import { generateKey, type KeyRing } from '../../lib/crypto';
import { IssuedKind, recordIssued, recordSecretString } from './issued-values';

/** The app id the local stack serves when no real Wix app is configured. */
export const DEMO_APP_ID = '5e1f0c2a-7d3b-4c9e-9a61-0d2b8f4c3e17';

/** A demo app's secret, plus what tests and the local stack need alongside it. */
export interface DemoAppSecret {
  appId: string;
  appSecret: string;
  /** PEM (SPKI) public key, as stored in the secret. */
  webhookPublicKey: string;
  /** PEM (PKCS#8) private key that signs webhooks the public key verifies. Never part of the secret. */
  webhookPrivateKey: string;
  tokenKeys: KeyRing;
  /** The secret JSON to store in Secrets Manager (the stand-in, or a real one). */
  secretString: string;
}

/**
 * Makes the secret of a demo app: a fresh app secret, a fresh RSA key pair for webhooks and a
 * fresh token key (id `k1`). Every call generates new values.
 */
export function demoAppSecret(appId: string = DEMO_APP_ID): DemoAppSecret {
  const { publicKey, privateKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const appSecret = randomUUID();
  const tokenKeys: KeyRing = { currentKeyId: 'k1', keys: { k1: generateKey() } };
  const secretString = JSON.stringify({ appId, appSecret, webhookPublicKey: publicKey, tokenKeys });
  recordSecretString(secretString);
  recordIssued(IssuedKind.WebhookPrivateKey, privateKey);
  return { appId, appSecret, webhookPublicKey: publicKey, webhookPrivateKey: privateKey, tokenKeys, secretString };
}
