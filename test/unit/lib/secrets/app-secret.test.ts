import { generateKeyPairSync } from 'node:crypto';

import { demoAppSecret } from '../../../../infra/local/demo-app';
import { AppSecretMalformedError, parseAppSecret } from '../../../../lib/secrets';
import { thrownBy } from '../../../support/failures';
import { credentialsOf } from '../../../support/secrets';

const APP_ID = '11111111-1111-4111-8111-111111111111';
const demo = demoAppSecret(APP_ID);
const valid = JSON.parse(demo.secretString) as Record<string, unknown>;

function secretWith(changes: Record<string, unknown>): string {
  return JSON.stringify({ ...valid, ...changes });
}

const malformed = (run: () => unknown): AppSecretMalformedError => thrownBy(AppSecretMalformedError, run);

describe('parseAppSecret', () => {
  it('returns the credentials of a valid secret', () => {
    const credentials = parseAppSecret(demo.secretString, APP_ID);

    expect(credentials).toEqual(credentialsOf(demo));
  });

  it('ignores unknown fields and matches the app id whatever its case', () => {
    const credentials = parseAppSecret(secretWith({ appId: APP_ID.toUpperCase(), note: 'rotated 2024-05' }), APP_ID);

    expect(credentials.appSecret).toBe(demo.appSecret);
    expect(credentials).not.toHaveProperty('note');
  });

  it('returns frozen credentials so a caller cannot change what others are served', () => {
    const credentials = parseAppSecret(demo.secretString, APP_ID);

    expect(Object.isFrozen(credentials)).toBe(true);
    expect(Object.isFrozen(credentials.tokenKeys.keys)).toBe(true);
  });

  const { publicKey: ecPublicKey } = generateKeyPairSync('ec', {
    namedCurve: 'P-256',
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });

  it.each<[string, string | undefined, string, string]>([
    ['a binary secret', undefined, 'SecretString', 'is missing (binary secrets are not supported)'],
    ['text that is not JSON', `appSecret=${demo.appSecret}`, 'SecretString', 'is not JSON'],
    ['a JSON array', JSON.stringify([demo.appSecret]), 'SecretString', 'is not a JSON object'],
    ['JSON null', 'null', 'SecretString', 'is not a JSON object'],
    ['no appId', secretWith({ appId: undefined }), 'appId', 'must be a non-empty string'],
    ['another app', secretWith({ appId: '22222222-2222-4222-8222-222222222222' }), 'appId', 'does not match the app the secret is configured for'],
    ['no appSecret', secretWith({ appSecret: undefined }), 'appSecret', 'must be a non-empty string'],
    ['an empty appSecret', secretWith({ appSecret: '' }), 'appSecret', 'must be a non-empty string'],
    ['a numeric appSecret', secretWith({ appSecret: 12345 }), 'appSecret', 'must be a non-empty string'],
    ['no webhookPublicKey', secretWith({ webhookPublicKey: undefined }), 'webhookPublicKey', 'must be a non-empty string'],
    ['a webhookPublicKey that is not PEM', secretWith({ webhookPublicKey: 'MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA' }), 'webhookPublicKey', 'must be an RSA public key in PEM'],
    ['a private key as webhookPublicKey', secretWith({ webhookPublicKey: demo.webhookPrivateKey }), 'webhookPublicKey', 'must be an RSA public key in PEM'],
    ['an EC webhookPublicKey', secretWith({ webhookPublicKey: ecPublicKey }), 'webhookPublicKey', 'must be an RSA public key in PEM'],
    ['a truncated webhookPublicKey', secretWith({ webhookPublicKey: demo.webhookPublicKey.slice(0, 80) }), 'webhookPublicKey', 'must be an RSA public key in PEM'],
    ['no tokenKeys', secretWith({ tokenKeys: undefined }), 'tokenKeys', 'must be an object'],
    ['tokenKeys without the current key', secretWith({ tokenKeys: { currentKeyId: 'k2', keys: demo.tokenKeys.keys } }), 'tokenKeys.currentKeyId', 'names a key that is not in keys'],
    ['a short token key', secretWith({ tokenKeys: { currentKeyId: 'k1', keys: { k1: 'c2hvcnQ=' } } }), 'tokenKeys.keys.k1', 'must be the base64 of 32 bytes'],
  ])('refuses %s, naming the field', (_label, secretString, field, reason) => {
    const error = malformed(() => parseAppSecret(secretString, APP_ID));

    expect(error.code).toBe('APP_SECRET_MALFORMED');
    expect(error.field).toBe(field);
    expect(error.message).toBe(`The AWSCURRENT secret of app ${APP_ID} is malformed: ${field} ${reason}`);
  });

  it('names the version stage it was parsing', () => {
    const error = malformed(() => parseAppSecret(secretWith({ appSecret: '' }), APP_ID, 'AWSPREVIOUS'));

    expect(error.versionStage).toBe('AWSPREVIOUS');
    expect(error.message).toContain('The AWSPREVIOUS secret');
  });

  it('never puts a secret value in the error, even when the JSON parser would quote it', () => {
    const broken = `{"appSecret": "${demo.appSecret}", oops}`;
    const failures = [
      malformed(() => parseAppSecret(broken, APP_ID)),
      malformed(() => parseAppSecret(secretWith({ webhookPublicKey: 42 }), APP_ID)),
      malformed(() => parseAppSecret(secretWith({ tokenKeys: { currentKeyId: 'k1', keys: { k1: `${demo.appSecret}==` } } }), APP_ID)),
    ];

    for (const error of failures) {
      const seen = `${error.message} ${error.stack ?? ''} ${JSON.stringify(error)} ${String(error.cause)}`;
      expect(seen).not.toContain(demo.appSecret);
      expect(seen).not.toContain(demo.tokenKeys.keys.k1);
      expect(error.cause).toBeUndefined();
    }
  });
});
