import { spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { join } from 'node:path';

import { demoAppSecret, type DemoAppSecret } from '../../../infra/local/demo-app';
import { startWixSimulator, type WixSimulator } from '../../../infra/local/wix-simulator';
import { cipherSource } from '../../../lib/runtime';
import { createDynamoInstallStateStore, createDynamoTokenStore, GrantKind, LEASE_CLOCK_SKEW_MS, InstanceStatus, type InstanceKey } from '../../../lib/store';
import { createWixClient } from '../../../lib/wix';
import { createTestTable, type TestTable } from '../../support/dynamodb-table';
import { checkConsistency, printFigures } from '../../support/fault-fixture';
import { eventFromUrl, httpContext, httpEvent, installHandler, memorySecrets } from '../../support/http-fixture';
import { auditText } from '../../support/log-audit';
import { captureLogger, lambdaContext, mintContainer } from '../../support/mint-fixture';
import { refreshContainer, seedLegacy, storeMaker } from '../../support/refresh-fixture';

/**
 * Issue 8: a container killed with SIGKILL between Wix's answer and the token write. The worker
 * (test/support/crash-worker.ts) runs a real `refresh`, `mint` or install callback in its own
 * process, with a store that stops dead before writing; the test kills it there, then a second
 * run completes. No stored refresh token is lost (Wix keeps legacy refresh tokens unchanged, as
 * documented), the dead holder's lease runs out and is taken over, versions move by exactly the
 * writes that happened, and every token decrypts.
 */

const LEASE_TTL_MS = 2500;
const WORKER = join(__dirname, '../../support/crash-worker.ts');

let table: TestTable;
let sim: WixSimulator;
/** A Wix that rotates refresh tokens on every use (Wix documents that it does not): the crash's worst case. */
let rotatingSim: WixSimulator;
let app: DemoAppSecret;
const figures = {
  'processes killed with SIGKILL before the write': 0,
  'refresh tokens lost': 0,
  'refresh tokens that died with a killed install (redone)': 0,
  'refresh tokens that died with a killed refresh under a rotating Wix (fell back)': 0,
};

beforeAll(async () => {
  table = await createTestTable('faults-crash');
  app = demoAppSecret(randomUUID());
  sim = await startWixSimulator({ apps: [{ appId: app.appId, appSecret: app.appSecret }] });
  rotatingSim = await startWixSimulator({ apps: [{ appId: app.appId, appSecret: app.appSecret }], rotateRefreshTokens: true });
});

afterAll(async () => {
  printFigures('fault run (issue 8): SIGKILL between the Wix answer and the write', figures);
  await sim.stop();
  await rotatingSim.stop();
  await table.drop();
});

const makeStore = () => storeMaker(table.documentClient, table.tableName, app);
const read = (key: InstanceKey) => makeStore()().getInstance(key, { consistentRead: true });

/** Runs the worker until it blocks before the write, then kills it; resolves once it is gone. */
async function killBeforeWrite(env: Record<string, string>): Promise<void> {
  const child = spawn(process.execPath, ['--import', 'tsx', WORKER], {
    env: { ...process.env, TABLE_NAME: table.tableName, APP_JSON: JSON.stringify(app), LEASE_TTL_MS: String(LEASE_TTL_MS), ...env, WIX_URL: env['WIX_URL'] ?? sim.url },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once('exit', (_code, signal) => resolve(signal)));
  let output = '';
  const blocked = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the worker never reached the write:\n${output}`)), 20_000);
    const onData = (chunk: Buffer) => {
      output += chunk.toString('utf8');
      if (output.includes('BLOCKED_BEFORE_WRITE')) {
        clearTimeout(timer);
        resolve();
      } else if (output.includes('FINISHED_WITHOUT_WRITE') || output.includes('crash-worker failed')) {
        clearTimeout(timer);
        reject(new Error(`the worker ended before the write:\n${output}`));
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
  });
  try {
    await blocked;
    child.kill('SIGKILL');
    expect(await exited).toBe('SIGKILL');
    figures['processes killed with SIGKILL before the write'] += 1;
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    // What the killed container printed goes through the log audit like everything else.
    auditText('the crash worker', output);
  }
}

describe('fault run: a container killed between the Wix answer and the write (issue 8)', () => {
  it('refresh: the dead holder lease runs out, a second run refreshes with the same refresh token, nothing is lost', async () => {
    const key = await seedLegacy(sim, createWixClient({ baseUrl: sim.url }), makeStore(), app, { dueAt: Date.now() + 3_600_000, lastUsedAt: Date.now() });
    const before = await read(key);
    sim.resetCalls();

    await killBeforeWrite({ MODE: 'refresh', INSTANCE_ID: key.instanceId });

    const orphaned = await read(key);
    expect(sim.calls.byGrant['refresh_token']).toBe(1);
    expect(orphaned).toMatchObject({ version: before?.version, refreshToken: before?.refreshToken });
    expect(orphaned?.lease?.expiresAt).toBeGreaterThan(Date.now());
    const { handler } = refreshContainer({ documentClient: table.documentClient, tableName: table.tableName, wixUrl: sim.url, app, overrides: { writeMarginMs: 200, minCallMs: 100 } });
    const whileHeld = await handler({ instanceId: key.instanceId }, lambdaContext(5000));
    // Nobody watched the dead lease: a refresh takes it over once it is over by more than the clock skew.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, (orphaned?.lease?.expiresAt ?? 0) + LEASE_CLOCK_SKEW_MS - Date.now() + 20)));
    const second = await handler({ instanceId: key.instanceId }, lambdaContext(5000));

    expect(whileHeld.instance).toMatchObject({ outcome: 'skipped', detail: 'leased' });
    expect(second.instance).toMatchObject({ outcome: 'refreshed', detail: 'refresh_token' });
    expect(second.fellBack).toBe(0);
    const after = await read(key);
    expect(after).toMatchObject({ version: (before?.version ?? 0) + 1, status: InstanceStatus.Active, grantKind: GrantKind.Legacy, refreshToken: before?.refreshToken });
    expect(after?.lease).toBeUndefined();
    const report = await checkConsistency({ table, sim, app, keys: [key], legacy: new Set([key.instanceId]), leaseTtlMs: LEASE_TTL_MS });
    figures['refresh tokens lost'] += report.refreshTokensLost;
    expect(report).toMatchObject({ refreshTokensLost: 0, stuckLeases: 0, problems: [] });
  }, 30_000);

  it('mint: a mint started right after the crash waits out the dead lease and mints, one version further', async () => {
    const key = { appId: app.appId, instanceId: sim.install(app.appId) };
    await makeStore()().recordAppInstalled(key, { eventAt: Date.now() });
    const before = await read(key);

    await killBeforeWrite({ MODE: 'mint', INSTANCE_ID: key.instanceId });

    const started = Date.now();
    // Configured like the killed container (one deployment, one lease length): it watches the dead
    // lease for that long on its own clock, then takes it over.
    const { handler } = mintContainer({ documentClient: table.documentClient, tableName: table.tableName, wixUrl: sim.url, app, logger: captureLogger(), leaseTtlMs: LEASE_TTL_MS, overrides: { leasePollMs: 50 } });
    const token = await handler({ instanceId: key.instanceId }, lambdaContext(10_000));

    expect(Date.now() - started).toBeLessThan(LEASE_TTL_MS + 2000);
    const after = await read(key);
    expect(after).toMatchObject({ version: (before?.version ?? 0) + 1, accessToken: token.accessToken, status: InstanceStatus.Active });
    expect(after?.lease).toBeUndefined();
    const report = await checkConsistency({ table, sim, app, keys: [key], legacy: new Set(), leaseTtlMs: LEASE_TTL_MS });
    expect(report).toMatchObject({ stuckLeases: 0, problems: [] });
  }, 30_000);

  it('install: nothing is stored, the spent state is refused, the instance is served by client credentials meanwhile, and a new install completes', async () => {
    const secrets = memorySecrets([app]);
    const install = installHandler({
      appIds: [app.appId],
      wixUrl: sim.url,
      secrets,
      store: createDynamoTokenStore({ documentClient: table.documentClient, tableName: table.tableName, cipherFor: cipherSource(secrets) }),
      // The killed worker consumed the state in the table: the reload must see that.
      states: createDynamoInstallStateStore({ documentClient: table.documentClient, tableName: table.tableName }),
      overrides: { wix: createWixClient({ baseUrl: sim.url }), logger: captureLogger() },
    });
    const instanceId = randomUUID();
    const key = { appId: app.appId, instanceId };
    const consent = async () => {
      const installer = new URL((await install(httpEvent('GET', '/install'), httpContext())).headers['Location'] as string);
      installer.searchParams.set('instanceId', instanceId);
      return (await fetch(installer, { redirect: 'manual' })).headers.get('location') as string;
    };
    const callback = await consent();

    await killBeforeWrite({ MODE: 'install', CALLBACK_URL: callback });
    figures['refresh tokens that died with a killed install (redone)'] += 1;

    expect(await read(key)).toBeUndefined();
    const reload = await install(eventFromUrl(callback), httpContext());
    expect(reload.statusCode).toBe(403);
    const meanwhile = await mintContainer({ documentClient: table.documentClient, tableName: table.tableName, wixUrl: sim.url, app }).handler({ instanceId }, lambdaContext());
    expect(meanwhile.accessToken).toMatch(/^OauthNG\.JWS\./);
    const redone = await install(eventFromUrl(await consent()), httpContext());

    expect(redone.statusCode).toBe(302);
    expect(await read(key)).toMatchObject({ status: InstanceStatus.Active, grantKind: GrantKind.Legacy });
    const report = await checkConsistency({ table, sim, app, keys: [key], legacy: new Set([instanceId]), leaseTtlMs: LEASE_TTL_MS });
    figures['refresh tokens lost'] += report.refreshTokensLost;
    expect(report).toMatchObject({ refreshTokensLost: 0, stuckLeases: 0, problems: [] });
  }, 30_000);

  it('refresh under a rotating Wix: the rotated token dies with the process, and the instance falls back to client credentials, still served', async () => {
    const key = await seedLegacy(rotatingSim, createWixClient({ baseUrl: rotatingSim.url }), makeStore(), app, { dueAt: Date.now() + 3_600_000, lastUsedAt: Date.now() });

    await killBeforeWrite({ MODE: 'refresh', INSTANCE_ID: key.instanceId, WIX_URL: rotatingSim.url });

    const orphaned = await read(key);
    expect(rotatingSim.liveRefreshTokens(app.appId, key.instanceId)).not.toContain(orphaned?.refreshToken);
    // Nobody watched the dead lease: a refresh takes it over once it is over by more than the clock skew.
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, (orphaned?.lease?.expiresAt ?? 0) + LEASE_CLOCK_SKEW_MS - Date.now() + 20)));
    const { handler } = refreshContainer({ documentClient: table.documentClient, tableName: table.tableName, wixUrl: rotatingSim.url, app, overrides: { writeMarginMs: 200, minCallMs: 100 } });
    const second = await handler({ instanceId: key.instanceId }, lambdaContext(5000));
    figures['refresh tokens that died with a killed refresh under a rotating Wix (fell back)'] += second.fellBack;

    expect(second).toMatchObject({ refreshed: 1, fellBack: 1 });
    expect(await read(key)).toMatchObject({ status: InstanceStatus.Active, grantKind: GrantKind.ClientCredentials, version: (orphaned?.version ?? 0) + 1 });
    const token = await mintContainer({ documentClient: table.documentClient, tableName: table.tableName, wixUrl: rotatingSim.url, app }).handler({ instanceId: key.instanceId }, lambdaContext());
    expect((await createWixClient({ baseUrl: rotatingSim.url }).getTokenInfo(token.accessToken)).instanceId).toBe(key.instanceId);
  }, 30_000);
});
