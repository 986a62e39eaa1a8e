import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { createStatusHandler } from '../../../functions/status';
import { demoAppSecret } from '../../../infra/local/demo-app';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../infra/local/dynamodb-local';
import { cipherSource } from '../../../lib/runtime';
import { createDynamoTokenStore, InstanceStatus, type InstanceKey, type TokenStore } from '../../../lib/store';
import { createTestTable, dynamoDbEndpoint, type TestTable } from '../../support/dynamodb-table';
import { captureLogger, staticSecrets, type CapturedLogger } from '../../support/mint-fixture';
import { auditText } from '../../support/log-audit';

const run = promisify(execFile);
const MINUTE = 60_000;

let table: TestTable;
let store: TokenStore;
let logger: CapturedLogger;
const app = demoAppSecret(randomUUID());
const tokens: string[] = [];

function handler() {
  return createStatusHandler({ store, appIds: [app.appId], logger });
}

async function installed(): Promise<InstanceKey> {
  const key = { appId: app.appId, instanceId: randomUUID() };
  const refreshToken = `refresh-${randomUUID()}`;
  const accessToken = `OauthNG.JWS.${randomUUID()}`;
  tokens.push(refreshToken, accessToken);
  await store.storeInstallTokens(key, { refreshToken, accessToken, accessTokenExpiresAt: Date.now() + 5 * MINUTE, installedAt: Date.now(), refreshDueAt: Date.now() + 60 * MINUTE });
  return key;
}

function expectNoToken(text: string): void {
  for (const token of tokens) expect(text).not.toContain(token);
  auditText('a status answer', text);
}

beforeAll(async () => {
  table = await createTestTable('status');
  store = createDynamoTokenStore({ documentClient: table.documentClient, tableName: table.tableName, cipherFor: cipherSource(staticSecrets(app)) });
});

afterAll(async () => {
  await table.drop();
});

beforeEach(() => {
  logger = captureLogger();
});

describe('status (the function)', () => {
  it('answers one instance’s state, with times as ISO 8601, and no token', async () => {
    const key = await installed();

    const answer = await handler()({ instanceId: key.instanceId });

    expect(answer).toEqual({
      ...key,
      status: 'active',
      grantKind: 'legacy',
      accessTokenExpiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
      lastRefreshedAt: expect.any(String),
      nextDueAt: expect.any(String),
      lastEventAt: expect.any(String),
      createdAt: expect.any(String),
      updatedAt: expect.any(String),
    });
    expectNoToken(JSON.stringify(answer));
    expectNoToken(logger.lines.join('\n'));
  });

  it('answers unknown for an instance it holds nothing for', async () => {
    const instanceId = randomUUID();

    expect(await handler()({ instanceId })).toEqual({ appId: app.appId, instanceId, status: 'unknown' });
  });

  it('answers a page of one state with counts by state, and the next page from its cursor', async () => {
    const keys = [await installed(), await installed(), await installed()];
    await store.recordAppRemoved(keys[2]!, { eventAt: Date.now() });

    const first = (await handler()({ state: 'active', limit: 1 })) as { instances: InstanceKey[]; cursor?: string; counts: Record<string, number> };
    const second = (await handler()({ state: 'active', limit: 1, cursor: first.cursor })) as { instances: InstanceKey[] };

    expect(first.instances).toHaveLength(1);
    expect(first.cursor).toEqual(expect.any(String));
    expect(second.instances).toHaveLength(1);
    expect(second.instances[0]).not.toEqual(first.instances[0]);
    expect(first.counts[InstanceStatus.Uninstalled]).toBeGreaterThanOrEqual(1);
    expect(first.counts[InstanceStatus.Active]).toBeGreaterThanOrEqual(2);
    expectNoToken(JSON.stringify([first, second]));
  });

  it.each([
    ['an unknown state', { state: 'sleeping' }, 'state'],
    ['a limit out of range', { state: 'active', limit: 5000 }, 'limit'],
    ['a forged cursor', { state: 'active', cursor: 'eyJzIjoiYWN0aXZlIiwicCI6Im5vcGUifQ' }, 'cursor'],
    ['a malformed instance id', { instanceId: 'not-a-guid' }, 'instanceId'],
    ['an unknown field', { state: 'active', token: 'x' }, 'token'],
  ])('refuses %s as InvalidRequest, naming the field', async (_label, payload, field) => {
    await expect(handler()(payload)).rejects.toMatchObject({ name: 'InvalidRequest', field });
  });
});

describe('npm run ops -- status (the CLI)', () => {
  const cli = (args: string[]) =>
    run(process.execPath, [join(__dirname, '../../../node_modules/tsx/dist/cli.mjs'), join(__dirname, '../../../infra/ops/cli.ts'), ...args], {
      env: {
        PATH: process.env['PATH'],
        AWS_ENDPOINT_URL_DYNAMODB: dynamoDbEndpoint(),
        AWS_REGION: LOCAL_REGION,
        AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
        TOKENS_TABLE: table.tableName,
        WIX_APP_IDS: app.appId,
      },
    });

  it('prints what the function answers, for an instance and for a state', async () => {
    const key = await installed();

    const one = await cli(['status', '--instance', key.instanceId]);
    const page = await cli(['status', '--state', 'active', '--limit', '2']);

    expect(JSON.parse(one.stdout)).toMatchObject({ ...key, status: 'active', grantKind: 'legacy' });
    expect(JSON.parse(page.stdout)).toMatchObject({ state: 'active', instances: expect.any(Array), counts: expect.objectContaining({ active: expect.any(Number) }) });
    expectNoToken(one.stdout + page.stdout);
  }, 60_000);

  it('says what is wrong, without a stack, for bad usage and bad input', async () => {
    const usage = await cli(['status']).catch((error: { code: number; stderr: string }) => error);
    const invalid = await cli(['status', '--state', 'sleeping']).catch((error: { code: number; stderr: string }) => error);

    expect(usage).toMatchObject({ code: 2, stderr: expect.stringContaining('pass --instance or --state') });
    expect(invalid).toMatchObject({ code: 1, stderr: expect.stringMatching(/^InvalidRequest: state must be one of/) });
    expect((invalid as { stderr: string }).stderr).not.toMatch(/\n\s+at /);
  }, 60_000);
});
