import { randomUUID } from 'node:crypto';

import type { DemoAppSecret } from '../../../infra/local/demo-app';
import { type WixSimulator, wixFaults } from '../../../infra/local/wix-simulator';
import { GrantKind, InstanceStatus, type InstanceKey } from '../../../lib/store';
import { createWixClient } from '../../../lib/wix';
import { createTestTable, type TestTable } from '../../support/dynamodb-table';
import { rejectionOf } from '../../support/failures';
import { commonRefusedPayloads, type RefusedPayload } from '../../support/invoke-payloads';
import { captureLogger, countedSetting, lambdaContext, type CapturedLogger } from '../../support/mint-fixture';
import { refreshContainer, scheduledEvent, seedClientCredentials, seedLegacy, storeMaker } from '../../support/refresh-fixture';
import { startSimulatedApp } from '../../support/simulated-app';
import { DAY, HOUR, MINUTE } from '../../support/time';

let table: TestTable;
let sim: WixSimulator;
let app: DemoAppSecret;
let ddbCalls: string[];
let logger: CapturedLogger;

beforeAll(async () => {
  ({ app, sim } = await startSimulatedApp());
});

afterAll(async () => {
  await sim.stop();
});

// A table per test: the scheduled sweep reads every due item of its table.
beforeEach(async () => {
  table = await createTestTable('refresh');
  ddbCalls = [];
  logger = captureLogger();
  sim.clearIntercepts();
  sim.resetCalls();
  sim.setLatency(0);
});

afterEach(async () => {
  await table.drop();
});

/** A `refresh` container on this test's table and simulator, its DynamoDB calls counted in ddbCalls. */
function container(overrides: Parameters<typeof refreshContainer>[0]['overrides'] = {}) {
  return refreshContainer({ ...countedSetting(table, ddbCalls, { wixUrl: sim.url, app, logger }), overrides });
}

const makeStore = () => storeMaker(table.documentClient, table.tableName, app);
const exchanger = () => createWixClient({ baseUrl: sim.url });

const rejection = (promise: Promise<unknown>) => rejectionOf<Error & { code?: string; field?: string }>(promise);

describe('refresh', () => {
  it('runs the sweep on a scheduled event, publishes its counts once and logs one summary line', async () => {
    const due = { dueAt: Date.now() - MINUTE, lastUsedAt: Date.now() - MINUTE };
    await seedLegacy(sim, exchanger(), makeStore(), app, due);
    await seedClientCredentials(sim, makeStore(), app, due);
    await seedClientCredentials(sim, makeStore(), app, { dueAt: Date.now() + HOUR, lastUsedAt: Date.now() });
    const idle = await seedClientCredentials(sim, makeStore(), app, { dueAt: Date.now() - MINUTE, createdAt: Date.now() - 30 * DAY });
    const { handler, metrics } = container();
    sim.resetCalls();

    const summary = await handler(scheduledEvent(), lambdaContext(60_000));

    expect(summary).toMatchObject({ mode: 'sweep', examined: 3, refreshed: 2, leftForNextRun: 0, complete: true });
    expect(summary.skipped.dormant).toBe(1);
    expect(sim.calls.byGrant).toEqual({ refresh_token: 1, client_credentials: 1 });
    expect(metrics.flushes).toHaveLength(1);
    expect(metrics.flushes[0]?.dimensions).toEqual({ mode: 'sweep' });
    expect(metrics.flushes[0]?.counts).toMatchObject({
      Examined: 3,
      Refreshed: 2,
      Failed: 0,
      FailedTransient: 0,
      FailedGrantInvalid: 0,
      Skipped: 1,
      SkippedDormant: 1,
      LeftForNextRun: 0,
    });
    const lines = logger.lines.filter((line) => line.includes('refresh summary'));
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0] as string)).toMatchObject({ level: 'INFO', mode: 'sweep', refreshed: 2 });
    expect((await container().store.getInstance(idle, { consistentRead: true }))?.refreshDueAt).toBeUndefined();
  });

  it('counts failures by class in the sweep metrics', async () => {
    const due = { dueAt: Date.now() - MINUTE, lastUsedAt: Date.now() - MINUTE };
    const gone = await seedClientCredentials(sim, makeStore(), app, due);
    await seedClientCredentials(sim, makeStore(), app, due);
    sim.uninstall(app.appId, gone.instanceId);
    sim.intercept(wixFaults.status(503, { path: '/oauth2/token', rate: 1, grant: 'client_credentials' }));
    const { handler, metrics } = container();

    const summary = await handler(scheduledEvent(), lambdaContext(60_000));

    // Faults answer before the endpoint: the uninstalled instance fails transiently too.
    expect(summary.failed.transient).toBe(2);
    expect(metrics.flushes[0]?.counts).toMatchObject({ Failed: 2, FailedTransient: 2, Refreshed: 0 });
  });

  it('refreshes one legacy instance now on a direct invoke, fresh or not, with the refresh_token grant', async () => {
    const key = await seedLegacy(sim, exchanger(), makeStore(), app, { dueAt: Date.now() + 20 * HOUR, lastUsedAt: Date.now() });
    const { handler, store, metrics } = container();
    sim.resetCalls();

    const summary = await handler({ instanceId: key.instanceId }, lambdaContext());

    expect(summary).toMatchObject({
      mode: 'instance',
      examined: 1,
      refreshed: 1,
      complete: true,
      instance: { appId: app.appId, instanceId: key.instanceId, outcome: 'refreshed', detail: 'refresh_token' },
    });
    expect(sim.calls.byGrant).toEqual({ refresh_token: 1 });
    const record = await store.getInstance(key, { consistentRead: true });
    expect(record?.refreshDueAt).toBeGreaterThan(Date.now() + 22 * HOUR);
    expect(metrics.flushes[0]?.dimensions).toEqual({ mode: 'instance' });
  });

  it('refreshes one client-credentials instance now on a direct invoke with client credentials', async () => {
    const key = await seedClientCredentials(sim, makeStore(), app, { dueAt: Date.now() + 3 * HOUR, lastUsedAt: Date.now() });
    const { handler, store } = container();
    const before = await store.getInstance(key, { consistentRead: true });
    sim.resetCalls();

    const summary = await handler({ instanceId: key.instanceId, appId: app.appId.toUpperCase() }, lambdaContext());

    expect(summary.instance).toMatchObject({ outcome: 'refreshed', detail: 'client_credentials' });
    expect(sim.calls.byGrant).toEqual({ client_credentials: 1 });
    const after = await store.getInstance(key, { consistentRead: true });
    expect(after?.accessToken).not.toBe(before?.accessToken);
    expect(after?.grantKind).toBe(GrantKind.ClientCredentials);
  });

  it('refreshes a dormant instance when asked directly, and leaves it out of the due index', async () => {
    const key = await seedClientCredentials(sim, makeStore(), app, { dueAt: Date.now() - MINUTE, createdAt: Date.now() - 30 * DAY });
    const { handler, store } = container();

    const summary = await handler({ instanceId: key.instanceId }, lambdaContext());

    expect(summary.refreshed).toBe(1);
    expect((await store.getInstance(key, { consistentRead: true }))?.refreshDueAt).toBeUndefined();
  });

  it.each([
    ['an instance with no record', 'not_found', async (): Promise<InstanceKey> => ({ appId: app.appId, instanceId: randomUUID() })],
    [
      'an uninstalled instance',
      'uninstalled',
      async (): Promise<InstanceKey> => {
        const key = await seedClientCredentials(sim, makeStore(), app, { dueAt: Date.now(), lastUsedAt: Date.now() });
        await makeStore()().recordAppRemoved(key, { eventAt: Date.now() });
        return key;
      },
    ],
  ])('answers %s with a skipped count and no Wix call', async (_, reason, arrange) => {
    const key = await arrange();
    const { handler } = container();
    sim.resetCalls();

    const summary = await handler({ instanceId: key.instanceId }, lambdaContext());

    expect(summary).toMatchObject({ refreshed: 0, instance: { outcome: 'skipped', detail: reason } });
    expect(summary.skipped[reason as keyof typeof summary.skipped]).toBe(1);
    expect(sim.calls.total).toBe(0);
  });

  it('stops the sweep a lease length before the invoke ends and reports what it left for the next run', async () => {
    const due = { dueAt: Date.now() - MINUTE, lastUsedAt: Date.now() - MINUTE };
    await Promise.all(Array.from({ length: 20 }, () => seedClientCredentials(sim, makeStore(), app, due)));
    sim.setLatency(300);
    const { handler, metrics } = container({ concurrency: 1 });
    const started = Date.now();

    // 7 s left: 1 s kept for the answer and 5 s (a lease) for the one in flight leave a 1 s budget.
    const summary = await handler(scheduledEvent(), lambdaContext(7_000));

    expect(Date.now() - started).toBeLessThan(3000);
    expect(summary.complete).toBe(false);
    expect(summary.refreshed).toBeGreaterThan(0);
    expect(summary.refreshed).toBeLessThan(10);
    expect(summary.examined).toBe(summary.refreshed + summary.leftForNextRun);
    expect(summary.leftForNextRun).toBeGreaterThan(0);
    expect(metrics.flushes[0]?.counts).toMatchObject({ LeftForNextRun: summary.leftForNextRun, Refreshed: summary.refreshed });
  });

  it('leaves a directly invoked instance untouched when the invoke has no time for a Wix call', async () => {
    const key = await seedClientCredentials(sim, makeStore(), app, { dueAt: Date.now() + HOUR, lastUsedAt: Date.now() });
    const { handler, store } = container();
    const before = await store.getInstance(key, { consistentRead: true });
    sim.resetCalls();

    const summary = await handler({ instanceId: key.instanceId }, lambdaContext(1500));

    expect(summary).toMatchObject({ examined: 1, refreshed: 0, leftForNextRun: 1, complete: false, instance: { outcome: 'left' } });
    expect(sim.calls.total).toBe(0);
    const after = await store.getInstance(key, { consistentRead: true });
    expect(after).toMatchObject({ version: before?.version, accessToken: before?.accessToken });
    expect(after?.lease).toBeUndefined();
  });

  it('reports a refused instance in the counts, marked needs_reauth', async () => {
    const key = await seedClientCredentials(sim, makeStore(), app, { dueAt: Date.now(), lastUsedAt: Date.now() });
    sim.uninstall(app.appId, key.instanceId);
    const { handler, store } = container();

    const summary = await handler({ instanceId: key.instanceId }, lambdaContext());

    expect(summary).toMatchObject({ needsReauth: 1, failed: { grant_invalid: 1 }, instance: { outcome: 'failed', detail: 'grant_invalid' } });
    expect((await store.getInstance(key, { consistentRead: true }))?.status).toBe(InstanceStatus.NeedsReauth);
  });
});

describe('refresh input', () => {
  it.each<RefusedPayload>([
    ...commonRefusedPayloads(),
    ['a mint-only field', { instanceId: randomUUID(), minValiditySeconds: 60 }, 'minValiditySeconds'],
    ['an event from another EventBridge source', { source: 'aws.s3', 'detail-type': 'Scheduled Event' }, 'source'],
    ['an unknown field with an odd name', { instanceId: randomUUID(), 'x y': 1 }, 'payload'],
  ])('refuses %s with InvalidRequest naming the field, touching nothing', async (_, payload, field) => {
    const { handler, metrics } = container();

    const error = await rejection(handler(payload, lambdaContext()));

    expect(error.name).toBe('InvalidRequest');
    expect(error.field).toBe(field);
    expect(error.message.startsWith(field)).toBe(true);
    expect(ddbCalls).toEqual([]);
    expect(sim.calls.total).toBe(0);
    expect(metrics.flushes).toEqual([]);
  });
});

describe('refresh failures', () => {
  it('answers an unexpected error in the sweep with a generic ServiceUnavailable, logged, and publishes nothing', async () => {
    const base = container();
    const { handler, metrics } = container({
      store: {
        ...base.store,
        queryDue: async () => {
          throw new TypeError('a bug that names nothing secret');
        },
      },
    });

    const error = await rejection(handler(scheduledEvent(), lambdaContext(60_000)));

    expect(error.name).toBe('ServiceUnavailable');
    expect(error.message).not.toContain('a bug');
    expect(logger.lines.filter((line) => line.includes('invoke failed') && line.includes('TypeError'))).toHaveLength(1);
    expect(metrics.flushes).toEqual([]);
  });
});

describe('refresh secrecy', () => {
  it('puts no token or secret in any log line or answer, across successes and failures', async () => {
    const due = { dueAt: Date.now() - MINUTE, lastUsedAt: Date.now() - MINUTE };
    const legacy = await seedLegacy(sim, exchanger(), makeStore(), app, due);
    const fellBack = await seedLegacy(sim, exchanger(), makeStore(), app, due);
    sim.uninstall(app.appId, fellBack.instanceId);
    sim.install(app.appId, fellBack.instanceId);
    const refused = await seedLegacy(sim, exchanger(), makeStore(), app, due);
    sim.uninstall(app.appId, refused.instanceId);
    await seedClientCredentials(sim, makeStore(), app, due);
    const { handler } = container();

    const answers = [
      await handler(scheduledEvent(), lambdaContext(60_000)),
      await handler({ instanceId: legacy.instanceId }, lambdaContext()),
    ];
    sim.intercept(wixFaults.status(500, { rate: 1, body: `echo ${app.appSecret}` }));
    answers.push(await handler({ instanceId: legacy.instanceId }, lambdaContext()));

    const rendered = [...logger.lines, ...answers.map((answer) => JSON.stringify(answer))].join('\n');
    expect(answers[0]).toMatchObject({ refreshed: 3, fellBack: 1, needsReauth: 1 });
    expect(answers[2]).toMatchObject({ failed: { transient: 1 } });
    for (const secret of [...sim.issuedSecrets(), app.appSecret, ...Object.values(app.tokenKeys.keys)]) {
      expect(rendered).not.toContain(secret);
    }
  });
});
