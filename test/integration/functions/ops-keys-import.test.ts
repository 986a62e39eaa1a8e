import { execFile } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import { GetCommand } from '@aws-sdk/lib-dynamodb';

import { demoAppSecret } from '../../../infra/local/demo-app';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../../../infra/local/dynamodb-local';
import { IssuedKind, recordIssued } from '../../../infra/local/issued-values';
import { startSecretsManagerStandIn, type SecretsManagerStandIn } from '../../../infra/local/secrets-manager-stand-in';
import { startWixSimulator, type WixSimulator } from '../../../infra/local/wix-simulator';
import { createTokenCipher, envelopeKeyId, generateKey, type KeyRing } from '../../../lib/crypto';
import { createDynamoTokenStore, GrantKind, InstanceStatus, type InstanceKey, type TokenStore } from '../../../lib/store';
import { createWixClient } from '../../../lib/wix';
import { auditText } from '../../support/log-audit';
import { createTestTable, dynamoDbEndpoint, type TestTable } from '../../support/dynamodb-table';
import { fakeToken } from '../../support/token-store';

const run = promisify(execFile);
const MINUTE = 60_000;
const PREFIX = 'test/wix-token-service/';

let table: TestTable;
let sm: SecretsManagerStandIn;
let sim: WixSimulator;
let dir: string;
const app = demoAppSecret(randomUUID());
const oldRing: KeyRing = app.tokenKeys;
const newKey = generateKey();
recordIssued(IssuedKind.TokenKey, newKey);
const newRing: KeyRing = { currentKeyId: 'k2', keys: { ...oldRing.keys, k2: newKey } };
/** A store as the service was before the rotation (writes under k1) and after it (k2, still reads k1). */
let oldStore: TokenStore;
let newStore: TokenStore;
const tokens: string[] = [];

function storeOn(ring: KeyRing): TokenStore {
  const cipher = createTokenCipher(ring);
  return createDynamoTokenStore({ documentClient: table.documentClient, tableName: table.tableName, cipherFor: async () => cipher });
}

function secretWith(ring: KeyRing): string {
  return JSON.stringify({ appId: app.appId, appSecret: app.appSecret, webhookPublicKey: app.webhookPublicKey, tokenKeys: ring });
}

const cli = (args: string[]) =>
  run(process.execPath, [join(__dirname, '../../../node_modules/tsx/dist/cli.mjs'), join(__dirname, '../../../infra/ops/cli.ts'), ...args], {
    env: {
      PATH: process.env['PATH'],
      AWS_ENDPOINT_URL_DYNAMODB: dynamoDbEndpoint(),
      AWS_ENDPOINT_URL_SECRETS_MANAGER: sm.url,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      TOKENS_TABLE: table.tableName,
      WIX_APP_IDS: app.appId,
      APP_SECRET_PREFIX: PREFIX,
      WIX_API_URL: sim.url,
    },
  });

/** Runs the CLI and checks nothing it printed is a token. */
async function ops(args: string[]): Promise<{ out: Record<string, unknown>; stderr: string }> {
  const { stdout, stderr } = await cli(args);
  const printed = stdout + stderr;
  for (const token of [...tokens, ...sim.issuedSecrets()]) expect(printed).not.toContain(token);
  auditText(`npm run ops -- ${args[0]}`, printed);
  return { out: JSON.parse(stdout) as Record<string, unknown>, stderr };
}

async function installUnderOldKey(): Promise<{ key: InstanceKey; refreshToken: string; accessToken: string }> {
  const key = { appId: app.appId, instanceId: randomUUID() };
  const refreshToken = fakeToken('refresh');
  const accessToken = fakeToken('access');
  tokens.push(refreshToken, accessToken);
  await oldStore.storeInstallTokens(key, { refreshToken, accessToken, accessTokenExpiresAt: Date.now() + 5 * MINUTE, installedAt: Date.now(), refreshDueAt: Date.now() + 60 * MINUTE });
  return { key, refreshToken, accessToken };
}

beforeAll(async () => {
  table = await createTestTable('ops');
  sm = await startSecretsManagerStandIn({ secrets: [{ name: `${PREFIX}${app.appId}`, value: app.secretString }] });
  sim = await startWixSimulator({ apps: [{ appId: app.appId, appSecret: app.appSecret }], rotateRefreshTokens: true });
  dir = await mkdtemp(join(tmpdir(), 'ops-import-'));
  oldStore = storeOn(oldRing);
  newStore = storeOn(newRing);
});

afterAll(async () => {
  await Promise.all([table.drop(), sm.stop(), sim.stop(), rm(dir, { recursive: true, force: true })]);
});

describe('npm run ops -- keys and rewrap (a key rotation)', () => {
  const installed: Awaited<ReturnType<typeof installUnderOldKey>>[] = [];

  beforeAll(async () => {
    for (let i = 0; i < 5; i++) installed.push(await installUnderOldKey());
  });

  it('counts the items under k1; after the secret names k2 current, rewrap moves them all and keys shows k1 at zero', async () => {
    const before = await ops(['keys', '--app', app.appId]);
    expect(before.out).toMatchObject({ refreshToken: { k1: 5 }, accessToken: { k1: 5 } });

    sm.putSecret(`${PREFIX}${app.appId}`, secretWith(newRing));
    const rewrapped = await ops(['rewrap', '--app', app.appId, '--rate', '100/s']);
    const after = await ops(['keys', '--app', app.appId]);

    expect(rewrapped.out).toMatchObject({ scanned: 5, rewrapped: 5, busy: 0 });
    expect(rewrapped.out['cursor']).toBeUndefined();
    expect(after.out).toEqual({ items: 5, refreshToken: { k2: 5 }, accessToken: { k2: 5 } });
    for (const { key, refreshToken, accessToken } of installed) {
      expect(await newStore.getInstance(key)).toMatchObject({ refreshToken, accessToken, version: 1 });
    }
    // Nothing is under k1 any more: a ring without it reads every item.
    const withoutK1 = storeOn({ currentKeyId: 'k2', keys: { k2: newKey } });
    for (const { key } of installed) await expect(withoutK1.getInstance(key)).resolves.toMatchObject({ status: InstanceStatus.Active });
  }, 120_000);

  it('stops after --pages with a cursor, and --resume from it finishes the job', async () => {
    for (let i = 0; i < 4; i++) installed.push(await installUnderOldKey());

    const first = await ops(['rewrap', '--app', app.appId, '--page-size', '3', '--pages', '1']);
    expect(first.out).toMatchObject({ scanned: 3, cursor: expect.any(String) });
    expect(first.stderr).toContain('"progress"');
    const midway = await ops(['keys', '--app', app.appId]);
    expect((midway.out['refreshToken'] as Record<string, number>)['k1']).toBeGreaterThan(0);

    const rest = await ops(['rewrap', '--app', app.appId, '--page-size', '3', '--resume', first.out['cursor'] as string]);
    const after = await ops(['keys', '--app', app.appId]);

    expect((first.out['rewrapped'] as number) + (rest.out['rewrapped'] as number)).toBe(4);
    expect(rest.out['cursor']).toBeUndefined();
    expect(after.out).toEqual({ items: 9, refreshToken: { k2: 9 }, accessToken: { k2: 9 } });
  }, 120_000);

  it('racing token writes of the serving service, loses none of the newer tokens', async () => {
    const racing: Awaited<ReturnType<typeof installUnderOldKey>>[] = [];
    for (let i = 0; i < 8; i++) racing.push(await installUnderOldKey());
    const newest = new Map<string, string>();
    let writing = true;
    let written = 0;
    // The service keeps refreshing these instances while the re-wrap runs slowly over them; half
    // its containers still hold the ring of the rotation's first step (k2 added, k1 current).
    const stillOnK1 = storeOn({ currentKeyId: 'k1', keys: newRing.keys });
    const writer = (async () => {
      for (let round = 0; writing && round < 40; round++) {
        for (const [index, { key }] of racing.entries()) {
          const store = index % 2 === 0 ? stillOnK1 : newStore;
          const held = await store.acquireLease(key, { owner: `refresher-${round}` });
          if (!held.acquired) continue;
          const accessToken = fakeToken('access');
          tokens.push(accessToken);
          await store.storeLeasedTokens(key, { owner: `refresher-${round}`, expectedVersion: held.record.version, accessToken, accessTokenExpiresAt: Date.now() + MINUTE, refreshDueAt: Date.now() + MINUTE });
          newest.set(key.instanceId, accessToken);
          written += 1;
        }
      }
    })();

    const writtenBefore = written;
    const result = await ops(['rewrap', '--app', app.appId, '--rate', '10/s', '--page-size', '5']);
    const writtenDuring = written - writtenBefore;
    writing = false;
    await writer;

    expect(result.out).toMatchObject({ scanned: 17 });
    expect(writtenDuring).toBeGreaterThan(0);
    for (const { key, refreshToken } of racing) {
      expect(await newStore.getInstance(key, { consistentRead: true })).toMatchObject({ refreshToken, accessToken: newest.get(key.instanceId) });
    }
    // What the race left under k1 (written after the re-wrap passed, by the old ring) a second run moves.
    await ops(['rewrap', '--app', app.appId, '--rate', '100/s']);
    const after = await ops(['keys', '--app', app.appId]);
    expect(after.out).toEqual({ items: 17, refreshToken: { k2: 17 }, accessToken: { k2: 17 } });
  }, 120_000);

  it('says what is wrong for a bad option, a bad rate or a forged cursor', async () => {
    const bad = await cli(['rewrap', '--rate', 'fast']).catch((error: { code: number; stderr: string }) => error);
    const forged = await cli(['rewrap', '--resume', 'bm9wZQ']).catch((error: { code: number; stderr: string }) => error);

    expect(bad).toMatchObject({ code: 2, stderr: expect.stringContaining('--rate') });
    expect(forged).toMatchObject({ code: 1, stderr: expect.stringContaining('The scan cursor is not one this store wrote') });
  }, 60_000);
});

describe('npm run ops -- import', () => {
  const wix = () => createWixClient({ baseUrl: sim.url });

  /** A legacy install Wix knows: its instance and a live refresh token. */
  async function wixInstall(): Promise<{ instanceId: string; refreshToken: string }> {
    const instanceId = randomUUID();
    const code = sim.issueCode(app.appId, instanceId);
    const { refreshToken } = await wix().exchangeCode(app, code);
    return { instanceId, refreshToken };
  }

  it('imports, refuses, names malformed lines and skips present ones; a second run changes nothing; the stored token refreshes', async () => {
    const legacy = await wixInstall();
    const clientCredentials = sim.install(app.appId, randomUUID());
    const dead = await wixInstall();
    sim.uninstall(app.appId, dead.instanceId);
    const present = await wixInstall();
    const presentKey = { appId: app.appId, instanceId: present.instanceId };
    const storedRefresh = fakeToken('refresh');
    tokens.push(storedRefresh);
    await newStore.storeInstallTokens(presentKey, { refreshToken: storedRefresh, accessToken: fakeToken('access'), accessTokenExpiresAt: Date.now() + MINUTE, installedAt: Date.now(), refreshDueAt: Date.now() + MINUTE });
    const removed = await wixInstall();
    await newStore.recordAppRemoved({ appId: app.appId, instanceId: removed.instanceId }, { eventAt: Date.now() });
    const file = join(dir, 'installs.jsonl');
    await writeFile(
      file,
      [
        JSON.stringify(legacy),
        JSON.stringify({ instanceId: clientCredentials }),
        JSON.stringify(dead),
        '{"instanceId": "not json',
        JSON.stringify({ instanceId: 'not-a-guid', refreshToken: legacy.refreshToken }),
        JSON.stringify(present),
        JSON.stringify(removed),
        '',
      ].join('\n'),
    );

    const first = await ops(['import', file]);
    const refreshesAfterFirst = sim.calls.byGrant['refresh_token'] ?? 0;
    const second = await ops(['import', file, '--app', app.appId]);

    expect(first.out).toEqual({ appId: app.appId, imported: 2, refused: [3], malformed: [4, 5], skipped: [6, 7], failed: [] });
    expect(second.out).toEqual({ appId: app.appId, imported: 0, refused: [3], malformed: [4, 5], skipped: [1, 2, 6, 7], failed: [] });
    // The second run asked Wix only about the refused line: present instances cost no refresh token.
    expect((sim.calls.byGrant['refresh_token'] ?? 0) - refreshesAfterFirst).toBe(1);

    const imported = await newStore.getInstance({ appId: app.appId, instanceId: legacy.instanceId });
    expect(imported).toMatchObject({ status: InstanceStatus.Active, grantKind: GrantKind.Legacy, version: 1 });
    expect(imported?.refreshToken).not.toBe(legacy.refreshToken);
    expect(sim.liveRefreshTokens(app.appId, legacy.instanceId)).toEqual([imported?.refreshToken]);
    const raw = await table.documentClient.send(new GetCommand({ TableName: table.tableName, Key: { pk: `${app.appId}#${legacy.instanceId}` }, ConsistentRead: true }));
    expect(envelopeKeyId(raw.Item?.['refreshToken'] as string)).toBe('k2');
    await expect(wix().refreshAccessToken(app, imported?.refreshToken as string)).resolves.toMatchObject({ accessToken: expect.any(String) });

    expect(await newStore.getInstance({ appId: app.appId, instanceId: clientCredentials })).toMatchObject({ grantKind: GrantKind.ClientCredentials, accessToken: expect.any(String) });
    expect((await newStore.getInstance(presentKey))?.refreshToken).toBe(storedRefresh);
    expect((await newStore.describeInstance({ appId: app.appId, instanceId: removed.instanceId }))?.status).toBe(InstanceStatus.Uninstalled);
  }, 120_000);

  it('needs a file, and says so', async () => {
    const usage = await cli(['import']).catch((error: { code: number; stderr: string }) => error);
    expect(usage).toMatchObject({ code: 2, stderr: expect.stringContaining('import needs a file') });
  }, 60_000);
});
