import { createSign, createVerify } from 'node:crypto';

import { DEMO_APP_ID, demoAppSecret } from '../../../../infra/local/demo-app';
import { createTokenCipher } from '../../../../lib/crypto';
import { parseAppSecret } from '../../../../lib/secrets';

describe('demoAppSecret', () => {
  it('returns a secret JSON that the service accepts for the demo app', () => {
    const demo = demoAppSecret();

    const credentials = parseAppSecret(demo.secretString, DEMO_APP_ID);

    expect(credentials).toEqual({
      appId: DEMO_APP_ID,
      appSecret: demo.appSecret,
      webhookPublicKey: demo.webhookPublicKey,
      tokenKeys: demo.tokenKeys,
    });
    expect(() => createTokenCipher(credentials.tokenKeys)).not.toThrow();
  });

  it('uses the app id it is given', () => {
    const appId = '22222222-2222-4222-8222-222222222222';

    expect(JSON.parse(demoAppSecret(appId).secretString)).toMatchObject({ appId });
  });

  it('returns a private key that signs what the public key in the secret verifies (RS256)', () => {
    const demo = demoAppSecret();

    const signature = createSign('RSA-SHA256').update('header.payload').sign(demo.webhookPrivateKey);

    expect(createVerify('RSA-SHA256').update('header.payload').verify(demo.webhookPublicKey, signature)).toBe(true);
    expect(demo.secretString).not.toContain('PRIVATE KEY');
  });

  it('generates fresh values on every call', () => {
    const first = demoAppSecret();
    const second = demoAppSecret();

    expect(second.appSecret).not.toBe(first.appSecret);
    expect(second.webhookPublicKey).not.toBe(first.webhookPublicKey);
    expect(second.tokenKeys.keys.k1).not.toBe(first.tokenKeys.keys.k1);
  });
});
