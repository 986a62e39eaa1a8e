import { randomUUID } from 'node:crypto';

import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { SignJWT } from 'jose';

import { createWebhooksHandler } from '../../../functions/webhooks';
import { demoAppSecret, type DemoAppSecret } from '../../../infra/local/demo-app';
import { startSecretsManagerStandIn } from '../../../infra/local/secrets-manager-stand-in';
import type { HttpResult } from '../../../lib/http';
import { loadConfig } from '../../../lib/config';
import { cipherSource, createRuntime, NoTokenCipherError } from '../../../lib/runtime';
import { createDynamoTokenStore, GrantKind, InstanceStatus, type InstanceKey, type TokenStore } from '../../../lib/store';
import { createTestTable, type TestTable } from '../../support/dynamodb-table';
import { httpContext, httpEvent, memorySecrets, signWebhook, unsignedJwt, type WebhookEvent } from '../../support/http-fixture';
import { captureLogger, type CapturedLogger } from '../../support/mint-fixture';

let table: TestTable;
let app: DemoAppSecret;
let store: TokenStore;
let logger: CapturedLogger;
let handler: ReturnType<typeof createWebhooksHandler>;
let answers: HttpResult[];

const nowS = () => Math.floor(Date.now() / 1000);

async function deliver(body: string, options: { base64?: boolean; contentType?: string } = {}): Promise<HttpResult & { json: Record<string, unknown> }> {
  const event = httpEvent('POST', '/webhooks', {
    body: options.base64 ? Buffer.from(body).toString('base64') : body,
    isBase64Encoded: options.base64 ?? false,
    headers: { 'content-type': options.contentType ?? 'text/plain' },
  });
  const answer = await handler(event, httpContext(3000));
  answers.push(answer);
  return { ...answer, json: JSON.parse(answer.body) as Record<string, unknown> };
}

function lifecycle(eventType: 'AppInstalled' | 'AppRemoved', instanceId: string, data: Record<string, unknown> = {}): WebhookEvent {
  return { eventType, instanceId, data: { appId: app.appId, ...data } };
}

async function record(instanceId: string) {
  return store.getInstance({ appId: app.appId, instanceId }, { consistentRead: true });
}

beforeAll(async () => {
  table = await createTestTable('webhooks');
  app = demoAppSecret(randomUUID());
});

afterAll(async () => {
  await table.drop();
});

beforeEach(() => {
  logger = captureLogger();
  answers = [];
  const secrets = memorySecrets([app]);
  store = createDynamoTokenStore({ documentClient: table.documentClient, tableName: table.tableName, cipherFor: cipherSource(secrets) });
  handler = createWebhooksHandler({ appIds: [app.appId], secrets, store, now: Date.now, logger });
});

describe('webhooks: lifecycle events', () => {
  // How fast it answers (Wix wants 1,250 ms) is bench/store's figure, not a timed test: a busy machine is not a slow service.
  it('records AppInstalled as an active client-credentials instance at the JWT iat', async () => {
    const instanceId = randomUUID();
    const iat = nowS() - 5;
    const jwt = await signWebhook(app, lifecycle('AppInstalled', instanceId), { iat });

    const answer = await deliver(jwt);

    expect(answer.statusCode).toBe(200);
    expect(answer.json).toEqual({ outcome: 'applied' });
    expect(answer.headers['Cross-Origin-Opener-Policy']).toBe('unsafe-none');
    expect(await record(instanceId)).toMatchObject({ status: InstanceStatus.Active, grantKind: GrantKind.ClientCredentials, lastEventAt: iat * 1000 });
  });

  it('keeps the originInstanceId of a duplicated site', async () => {
    const instanceId = randomUUID();
    const origin = randomUUID();

    await deliver(await signWebhook(app, lifecycle('AppInstalled', instanceId, { originInstanceId: origin })));

    expect((await record(instanceId))?.originInstanceId).toBe(origin);
  });

  it('answers a delivery that arrives twice with 200 both times, applying it once', async () => {
    const instanceId = randomUUID();
    const jwt = await signWebhook(app, lifecycle('AppInstalled', instanceId));

    const first = await deliver(jwt);
    const version = (await record(instanceId))?.version;
    const second = await deliver(jwt);

    expect([first.statusCode, second.statusCode]).toEqual([200, 200]);
    expect([first.json['outcome'], second.json['outcome']]).toEqual(['applied', 'duplicate']);
    expect((await record(instanceId))?.version).toBe(version);
  });

  it('removes the instance on AppRemoved: a tombstone, the legacy tokens gone from the table', async () => {
    const key: InstanceKey = { appId: app.appId, instanceId: randomUUID() };
    const refreshToken = `refresh-${randomUUID()}`;
    await store.storeInstallTokens(key, { refreshToken, accessToken: `OauthNG.JWS.${randomUUID()}`, accessTokenExpiresAt: Date.now() + 300_000, installedAt: Date.now() - 60_000, refreshDueAt: Date.now() });

    const answer = await deliver(await signWebhook(app, lifecycle('AppRemoved', key.instanceId)));
    const again = await deliver(await signWebhook(app, lifecycle('AppRemoved', key.instanceId)));

    expect(answer.json).toEqual({ outcome: 'applied' });
    expect(again.json).toEqual({ outcome: 'duplicate' });
    const removed = await record(key.instanceId);
    expect(removed?.status).toBe(InstanceStatus.Uninstalled);
    expect(removed?.refreshToken).toBeUndefined();
    expect(removed?.accessToken).toBeUndefined();
    const scan = await table.client.send(new ScanCommand({ TableName: table.tableName, ConsistentRead: true }));
    const item = scan.Items?.find((candidate) => candidate.pk?.S === `${key.appId}#${key.instanceId}`);
    expect(item?.refreshToken).toBeUndefined();
    expect(item?.ttl?.N).toBeDefined();
  });

  it('issue 17: records AppInstalled and AppRemoved on an instance holding tokens without the token cipher, reading only the webhook key of the secret', async () => {
    const key: InstanceKey = { appId: app.appId, instanceId: randomUUID() };
    const refreshToken = `refresh-${randomUUID()}`;
    const installedAt = Date.now() - 60_000;
    await store.storeInstallTokens(key, { refreshToken, accessToken: `OauthNG.JWS.${randomUUID()}`, accessTokenExpiresAt: Date.now() + 300_000, installedAt, refreshDueAt: Date.now() });
    // What the deployed function runs with (createRuntime's tokenCipher: 'none'), and a secret whose
    // every field but the webhook key is a tripwire.
    const cipherAsked: string[] = [];
    const fieldsRead = new Set<string>();
    const memory = memorySecrets([app]);
    const secrets = {
      get: async (appId: string) => {
        const credentials = await memory.get(appId);
        return new Proxy(credentials, {
          get(target, field, receiver) {
            if (typeof field === 'string') fieldsRead.add(field);
            return Reflect.get(target, field, receiver) as unknown;
          },
        });
      },
    };
    const cipherless = createDynamoTokenStore({
      documentClient: table.documentClient,
      tableName: table.tableName,
      cipherFor: async (appId) => {
        cipherAsked.push(appId);
        throw new Error('no token key ring in the webhooks function');
      },
    });
    handler = createWebhooksHandler({ appIds: [app.appId], secrets, store: cipherless, now: Date.now, logger });

    const installed = await deliver(await signWebhook(app, lifecycle('AppInstalled', key.instanceId), { iat: nowS() - 30 }));
    const removed = await deliver(await signWebhook(app, lifecycle('AppRemoved', key.instanceId), { iat: nowS() - 10 }));

    expect([installed.statusCode, installed.json]).toEqual([200, { outcome: 'applied' }]);
    expect([removed.statusCode, removed.json]).toEqual([200, { outcome: 'applied' }]);
    expect(cipherAsked).toEqual([]);
    expect(fieldsRead.has('webhookPublicKey')).toBe(true);
    expect(fieldsRead.has('tokenKeys')).toBe(false);
    expect(fieldsRead.has('appSecret')).toBe(false);
    const after = await record(key.instanceId);
    expect(after).toMatchObject({ status: InstanceStatus.Uninstalled, version: 3 });
    expect(after?.refreshToken).toBeUndefined();
  });

  it('keeps an instance removed when an older AppInstalled arrives after the AppRemoved', async () => {
    const instanceId = randomUUID();
    const t = nowS() - 120;
    const installed = await signWebhook(app, lifecycle('AppInstalled', instanceId), { iat: t });
    const removed = await signWebhook(app, lifecycle('AppRemoved', instanceId), { iat: t + 60 });

    const first = await deliver(removed);
    const late = await deliver(installed);

    expect(first.json['outcome']).toBe('applied');
    expect(late.statusCode).toBe(200);
    expect(late.json['outcome']).toBe('stale');
    expect((await record(instanceId))?.status).toBe(InstanceStatus.Uninstalled);
  });

  it('revives the instance with an AppInstalled newer than the removal', async () => {
    const instanceId = randomUUID();
    const t = nowS() - 120;
    await deliver(await signWebhook(app, lifecycle('AppInstalled', instanceId), { iat: t }));
    await deliver(await signWebhook(app, lifecycle('AppRemoved', instanceId), { iat: t + 30 }));

    const reinstalled = await deliver(await signWebhook(app, lifecycle('AppInstalled', instanceId), { iat: t + 60 }));
    const retriedRemoval = await deliver(await signWebhook(app, lifecycle('AppRemoved', instanceId), { iat: t + 30 }));

    expect(reinstalled.json['outcome']).toBe('applied');
    expect(retriedRemoval.statusCode).toBe(200);
    expect(retriedRemoval.json['outcome']).toBe('stale');
    expect(await record(instanceId)).toMatchObject({ status: InstanceStatus.Active, lastEventAt: (t + 60) * 1000 });
  });

  it('lets a removal win a tie with an install of the same second', async () => {
    const instanceId = randomUUID();
    const t = nowS() - 10;

    await deliver(await signWebhook(app, lifecycle('AppRemoved', instanceId), { iat: t }));
    const tie = await deliver(await signWebhook(app, lifecycle('AppInstalled', instanceId), { iat: t }));

    expect(tie.json['outcome']).toBe('stale');
    expect((await record(instanceId))?.status).toBe(InstanceStatus.Uninstalled);
  });

  it('reads the raw body as the JWT whatever the Content-Type, base64-encoded or not', async () => {
    const first = randomUUID();
    const second = randomUUID();

    const binary = await deliver(await signWebhook(app, lifecycle('AppInstalled', first)), { base64: true, contentType: 'application/octet-stream' });
    const json = await deliver(`${await signWebhook(app, lifecycle('AppInstalled', second))}\n`, { contentType: 'application/json' });

    expect([binary.statusCode, json.statusCode]).toEqual([200, 200]);
    expect((await record(first))?.status).toBe(InstanceStatus.Active);
    expect((await record(second))?.status).toBe(InstanceStatus.Active);
  });

  it('acknowledges an event type it does not handle, logs it, and stores nothing', async () => {
    const instanceId = randomUUID();

    const answer = await deliver(await signWebhook(app, { eventType: 'PaidPlanChanged', instanceId, data: { appId: app.appId } }));

    expect(answer.statusCode).toBe(200);
    expect(answer.json).toEqual({ outcome: 'ignored' });
    expect(await record(instanceId)).toBeUndefined();
    expect(logger.lines.some((line) => line.includes('PaidPlanChanged'))).toBe(true);
  });

  it('acknowledges an event type it does not handle whatever its payload, so Wix stops redelivering it', async () => {
    const instanceId = randomUUID();

    const answer = await deliver(await signWebhook(app, { eventType: 'SomeFutureEvent', instanceId, data: 'not json' }));

    expect(answer.statusCode).toBe(200);
    expect(answer.json).toEqual({ outcome: 'ignored' });
    expect(await record(instanceId)).toBeUndefined();
  });

  it('answers 503 while the store is throttled, so Wix redelivers, and applies the redelivery', async () => {
    const instanceId = randomUUID();
    const jwt = await signWebhook(app, lifecycle('AppRemoved', instanceId));
    const throttled: Pick<DynamoDBDocumentClient, 'send'> = {
      send: (async () => {
        throw Object.assign(new Error('Rate exceeded'), { name: 'ThrottlingException' });
      }) as DynamoDBDocumentClient['send'],
    };
    const secrets = memorySecrets([app]);
    handler = createWebhooksHandler({
      appIds: [app.appId],
      secrets,
      store: createDynamoTokenStore({ documentClient: throttled, tableName: table.tableName, cipherFor: cipherSource(secrets) }),
      now: Date.now,
      logger,
    });

    const refused = await deliver(jwt);
    handler = createWebhooksHandler({ appIds: [app.appId], secrets, store, now: Date.now, logger });
    const redelivered = await deliver(jwt);

    expect(refused.statusCode).toBe(503);
    expect(refused.json['error']).toBe('STORE_UNAVAILABLE');
    expect(refused.json['message']).not.toMatch(/Rate exceeded|Throttling/);
    expect(redelivered.json).toEqual({ outcome: 'applied' });
    expect((await record(instanceId))?.status).toBe(InstanceStatus.Uninstalled);
  });

  it('answers a generic JSON 500 for an unexpected error, saying nothing about it', async () => {
    const secrets = memorySecrets([app]);
    const broken: TokenStore = {
      ...store,
      recordAppInstalled: async () => {
        throw new TypeError('cannot read secret-internals of undefined');
      },
    };
    handler = createWebhooksHandler({ appIds: [app.appId], secrets, store: broken, now: Date.now, logger });

    const answer = await deliver(await signWebhook(app, lifecycle('AppInstalled', randomUUID())));

    expect(answer.statusCode).toBe(500);
    expect(answer.json).toEqual({ error: 'INTERNAL_ERROR', message: 'The request could not be completed. Please try again later.', referenceId: expect.any(String) });
    expect([answer.body, ...logger.lines].join('\n')).not.toContain('secret-internals');
  });

  it('answers 404 on any other route', async () => {
    const answer = await handler(httpEvent('GET', '/webhooks'), httpContext());

    expect(answer.statusCode).toBe(404);
  });
});

describe('webhooks: refused deliveries', () => {
  const instanceId = randomUUID();

  it.each([
    ['signed with another key', async () => signWebhook(demoAppSecret(randomUUID()), lifecycle('AppInstalled', instanceId)), 'bad signature'],
    ['with alg none', async () => unsignedJwt({ data: JSON.stringify(lifecycle('AppRemoved', instanceId)), iat: nowS() }), 'algorithm not allowed'],
    [
      'HS256 with the public key as the secret',
      async () =>
        new SignJWT({ data: JSON.stringify({ ...lifecycle('AppRemoved', instanceId), data: '{}' }) })
          .setProtectedHeader({ alg: 'HS256' })
          .setIssuedAt()
          .sign(new TextEncoder().encode(app.webhookPublicKey)),
      'algorithm not allowed',
    ],
    ['expired', async () => signWebhook(app, lifecycle('AppRemoved', instanceId), { iat: nowS() - 3600, exp: nowS() - 600 }), 'expired'],
  ])('answers 401 to a JWT %s and records nothing', async (_name, makeJwt, reason) => {
    const answer = await deliver(await makeJwt());

    expect(answer.statusCode).toBe(401);
    expect(answer.json['error']).toBe('WEBHOOK_UNVERIFIED');
    expect(answer.json['message']).toBe(`The webhook JWT was refused: ${reason}`);
    expect(typeof answer.json['referenceId']).toBe('string');
    expect(await record(instanceId)).toBeUndefined();
  });

  it.each([
    ['an empty body', async () => '', 'body is empty'],
    ['a body that is not a JWT', async () => JSON.stringify(lifecycle('AppRemoved', instanceId)), 'body is not a signed JWT'],
    ['an envelope that is not JSON', async () => signWebhook(app, { eventType: 'x' }, { claims: { data: 'not json' } }), 'data is not valid JSON'],
    ['an envelope without instanceId', async () => signWebhook(app, { eventType: 'AppRemoved', data: { appId: app.appId } }), 'data.instanceId is missing'],
    ['a payload for another app', async () => signWebhook(app, { eventType: 'AppRemoved', instanceId, data: { appId: randomUUID() } }), 'data.data.appId is not the app whose key signed the webhook'],
  ])('answers 400 to %s', async (_name, makeBody, message) => {
    const answer = await deliver(await makeBody());

    expect(answer.statusCode).toBe(400);
    expect(answer.json['message']).toBe(`The request is not valid: ${message}.`);
    expect(await record(instanceId)).toBeUndefined();
  });

  it('never shows or logs the JWT, in success or refusal', async () => {
    const jwts = [
      await signWebhook(app, lifecycle('AppInstalled', randomUUID())),
      await signWebhook(app, lifecycle('AppRemoved', randomUUID()), { iat: nowS() - 3600, exp: nowS() - 600 }),
      await signWebhook(demoAppSecret(randomUUID()), lifecycle('AppRemoved', randomUUID())),
      await signWebhook(app, { eventType: 'AppRemoved', data: 'not json' }),
    ];

    for (const jwt of jwts) await deliver(jwt);

    const shown = [...answers.map((answer) => JSON.stringify(answer)), ...logger.lines];
    for (const jwt of jwts) {
      const [, payload, signature] = jwt.split('.') as [string, string, string];
      for (const text of shown) {
        expect(text).not.toContain(payload);
        expect(text).not.toContain(signature);
      }
    }
  });
});

describe('webhooks as deployed (the exported handler, issue 17)', () => {
  const PREFIX = 'wts-webhooks-test/apps/';
  /** The PEM body, as README says to set webhookPublicKeys. */
  const keyBody = (pem: string) => pem.split('\n').filter((line) => line !== '' && !line.startsWith('-----')).join('');

  /** A fresh copy of functions/webhooks (its lazy handler built anew) run with `env` added to the process's. */
  async function deployed(env: Record<string, string>) {
    const saved = Object.fromEntries(Object.keys(env).map((name) => [name, process.env[name]]));
    Object.assign(process.env, env);
    let exported: typeof import('../../../functions/webhooks') | undefined;
    jest.isolateModules(() => {
      exported = jest.requireActual<typeof import('../../../functions/webhooks')>('../../../functions/webhooks');
    });
    return {
      async deliver(jwt: string) {
        const answer = await exported!.handler(httpEvent('POST', '/webhooks', { body: jwt, headers: { 'content-type': 'text/plain' } }), httpContext(3000));
        return { statusCode: answer.statusCode, json: JSON.parse(answer.body) as Record<string, unknown> };
      },
      restore() {
        for (const [name, value] of Object.entries(saved)) {
          if (value === undefined) delete process.env[name];
          else process.env[name] = value;
        }
      },
    };
  }

  it('with webhookPublicKeys set, verifies and records without one Secrets Manager call; without it, reads the secret', async () => {
    const sm = await startSecretsManagerStandIn({ secrets: [{ name: `${PREFIX}${app.appId}`, value: app.secretString }] });
    const base = {
      WIX_APP_IDS: app.appId,
      TOKENS_TABLE: table.tableName,
      APP_SECRET_PREFIX: PREFIX,
      LIFECYCLE_EVENTS: 'off',
      AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.url,
      // The real logger writes to stdout: keep the refusal's warning out of the test output.
      LOG_LEVEL: 'ERROR',
    };
    const configured = await deployed({ ...base, WIX_WEBHOOK_PUBLIC_KEYS: `${app.appId}=${keyBody(app.webhookPublicKey)}` });
    try {
      const instanceId = randomUUID();
      const installed = await configured.deliver(await signWebhook(app, lifecycle('AppInstalled', instanceId), { iat: nowS() - 20 }));
      const removed = await configured.deliver(await signWebhook(app, lifecycle('AppRemoved', instanceId), { iat: nowS() - 10 }));
      const forged = await configured.deliver(await signWebhook(demoAppSecret(app.appId), lifecycle('AppRemoved', randomUUID())));

      expect([installed, removed]).toEqual([
        { statusCode: 200, json: { outcome: 'applied' } },
        { statusCode: 200, json: { outcome: 'applied' } },
      ]);
      expect(forged.statusCode).toBe(401);
      expect((await record(instanceId))?.status).toBe(InstanceStatus.Uninstalled);
      expect(sm.calls['GetSecretValue'] ?? 0).toBe(0);
    } finally {
      configured.restore();
    }

    // The control: the same handler without the setting reads the app's secret for the key.
    const fromSecret = await deployed({ ...base, WIX_WEBHOOK_PUBLIC_KEYS: '' });
    try {
      const answer = await fromSecret.deliver(await signWebhook(app, lifecycle('AppInstalled', randomUUID())));

      expect(answer).toEqual({ statusCode: 200, json: { outcome: 'applied' } });
      expect(sm.calls['GetSecretValue']).toBeGreaterThan(0);
    } finally {
      fromSecret.restore();
      await sm.stop();
    }
  });

  it('runs on a store built without the token cipher: lifecycle writes work, any token read fails typed', async () => {
    const runtime = createRuntime(
      loadConfig({ WIX_APP_IDS: app.appId, TOKENS_TABLE: table.tableName, APP_SECRET_PREFIX: PREFIX }),
      'webhooks',
      { tokenCipher: 'none' },
    );
    const key: InstanceKey = { appId: app.appId, instanceId: randomUUID() };
    await store.storeInstallTokens(key, { refreshToken: `refresh-${randomUUID()}`, accessToken: `OauthNG.JWS.${randomUUID()}`, accessTokenExpiresAt: Date.now() + 300_000, installedAt: Date.now() - 60_000, refreshDueAt: Date.now() });

    const installed = await runtime.store.recordAppInstalled(key, { eventAt: Date.now() - 30_000 });
    const read = runtime.store.getInstance(key, { consistentRead: true });

    expect(installed).toMatchObject({ outcome: 'applied', record: { status: InstanceStatus.Active, holdsTokens: true } });
    await expect(read).rejects.toBeInstanceOf(NoTokenCipherError);
    await expect(read).rejects.toMatchObject({ code: 'NO_TOKEN_CIPHER' });
  });
});
