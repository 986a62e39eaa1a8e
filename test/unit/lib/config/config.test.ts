import { createPublicKey, generateKeyPairSync } from 'node:crypto';

import { loadConfig } from '../../../../lib/config';
import { ConfigError } from '../../../../lib/errors';
import { thrownBy } from '../../../support/failures';

const base = {
  TOKENS_TABLE: 'tokens',
  WIX_APP_IDS: 'A1B2C3D4-0000-4000-8000-000000000001, a1b2c3d4-0000-4000-8000-000000000002',
  APP_SECRET_PREFIX: 'wix-token-service/dev/apps/',
};

const configError = (env: Record<string, string | undefined>): ConfigError => thrownBy(ConfigError, () => loadConfig(env));

describe('loadConfig', () => {
  it('applies the documented defaults and normalises app ids', () => {
    const config = loadConfig(base);

    expect(config).toEqual({
      wixApiUrl: 'https://www.wixapis.com',
      wixInstallerUrl: 'https://www.wix.com',
      publicUrl: 'http://localhost:3000',
      tokensTable: 'tokens',
      appIds: ['a1b2c3d4-0000-4000-8000-000000000001', 'a1b2c3d4-0000-4000-8000-000000000002'],
      appSecretPrefix: 'wix-token-service/dev/apps/',
      mintRecheckMs: 0,
      lifecycleEvents: 'eventbridge',
      eventBusName: 'default',
      refreshFailingAfter: 3,
    });
  });

  it('reads the lifecycle event settings and refuses values outside their range', () => {
    expect(loadConfig({ ...base, LIFECYCLE_EVENTS: 'log', EVENT_BUS_NAME: 'ops', REFRESH_FAILING_AFTER: '5' })).toMatchObject({ lifecycleEvents: 'log', eventBusName: 'ops', refreshFailingAfter: 5 });
    expect(configError({ ...base, LIFECYCLE_EVENTS: 'sns' }).variable).toBe('LIFECYCLE_EVENTS');
    expect(configError({ ...base, REFRESH_FAILING_AFTER: '0' }).variable).toBe('REFRESH_FAILING_AFTER');
    expect(configError({ ...base, REFRESH_FAILING_AFTER: '101' }).variable).toBe('REFRESH_FAILING_AFTER');
  });

  it('takes endpoints from the environment without a trailing slash', () => {
    const config = loadConfig({ ...base, WIX_API_URL: 'http://127.0.0.1:3100/', PUBLIC_URL: 'https://tokens.example.com/' });

    expect(config.wixApiUrl).toBe('http://127.0.0.1:3100');
    expect(config.publicUrl).toBe('https://tokens.example.com');
  });

  it.each(['TOKENS_TABLE', 'WIX_APP_IDS', 'APP_SECRET_PREFIX'])('names a missing %s', (name) => {
    const error = configError({ ...base, [name]: undefined });

    expect(error.variable).toBe(name);
    expect(error.message).toBe(`${name} is not set`);
    expect(error.code).toBe('CONFIG_INVALID');
  });

  it('refuses an app id that is not a GUID without echoing it', () => {
    const error = configError({ ...base, WIX_APP_IDS: 'not-a-guid-secretish' });

    expect(error.variable).toBe('WIX_APP_IDS');
    expect(error.message).not.toContain('secretish');
  });

  it('refuses a URL that is not http(s)', () => {
    expect(configError({ ...base, WIX_INSTALLER_URL: 'javascript:alert(1)' }).variable).toBe('WIX_INSTALLER_URL');
    expect(configError({ ...base, WIX_API_URL: 'not a url' }).variable).toBe('WIX_API_URL');
  });

  describe('WIX_WEBHOOK_PUBLIC_KEYS (issue 17)', () => {
    const [app1, app2] = ['a1b2c3d4-0000-4000-8000-000000000001', 'a1b2c3d4-0000-4000-8000-000000000002'];
    const rsa = () => generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey;
    /** The PEM body: what README tells an operator to put in the param. */
    const body = (pem: string) => pem.split('\n').filter((line) => line !== '' && !line.startsWith('-----')).join('');
    const key1 = rsa().export({ format: 'pem', type: 'spki' }).toString();
    const key2 = rsa().export({ format: 'pem', type: 'spki' }).toString();

    it('is absent when unset or empty, so the keys come from the secrets', () => {
      expect(loadConfig(base).webhookPublicKeys).toBeUndefined();
      expect(loadConfig({ ...base, WIX_WEBHOOK_PUBLIC_KEYS: ' ' }).webhookPublicKeys).toBeUndefined();
    });

    it('reads one key per served app (ids in any case) as PEM, the same keys Wix gave', () => {
      const config = loadConfig({ ...base, WIX_WEBHOOK_PUBLIC_KEYS: `${app1.toUpperCase()}=${body(key1)}, ${app2}=${body(key2)}` });

      expect(Object.keys(config.webhookPublicKeys ?? {}).sort()).toEqual([app1, app2]);
      expect(createPublicKey(config.webhookPublicKeys![app1]!).equals(createPublicKey(key1))).toBe(true);
      expect(createPublicKey(config.webhookPublicKeys![app2]!).equals(createPublicKey(key2))).toBe(true);
    });

    it.each([
      ['a served app without a key', () => `${app1}=${body(key1)}`],
      ['an app that is not served', () => `${app1}=${body(key1)},${app2}=${body(key2)},a1b2c3d4-0000-4000-8000-000000000003=${body(key1)}`],
      ['an app twice', () => `${app1}=${body(key1)},${app1}=${body(key2)},${app2}=${body(key2)}`],
      ['a pair without an app id', () => `${body(key1)},${app2}=${body(key2)}`],
      ['a key that is not base64', () => `${app1}=not*base64,${app2}=${body(key2)}`],
      ['a key that is not one', () => `${app1}=${Buffer.from('secretish bytes').toString('base64')},${app2}=${body(key2)}`],
      ['a non-RSA key', () => `${app1}=${body(generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey.export({ format: 'pem', type: 'spki' }).toString())},${app2}=${body(key2)}`],
    ])('refuses %s, naming the variable, never a value', (_case, value) => {
      const error = configError({ ...base, WIX_WEBHOOK_PUBLIC_KEYS: value() });

      expect(error.variable).toBe('WIX_WEBHOOK_PUBLIC_KEYS');
      expect(error.message).not.toMatch(/MII|secretish|not\*base64/);
    });
  });
});
