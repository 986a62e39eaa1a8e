import { randomUUID } from 'node:crypto';

import fc from 'fast-check';

import { InvalidRequestError, InvokeErrorName } from '../../../lib/tokens/errors';
import { apiEvent, createFuzzWorld, eventShape, expectNoIssuedValue, fuzzFigures, GUID, INVALID_REQUEST_MESSAGE, nearGuid, oddString, type FuzzWorld } from '../../support/fuzz-fixture';
import { captureLogger, countingClient, lambdaContext, mintContainer } from '../../support/mint-fixture';
import { refreshContainer } from '../../support/refresh-fixture';

/**
 * Issue 8: thousands of invoke payloads of every wrong type at `mint` and `refresh`, with the real
 * store on DynamoDB Local and the Wix simulator behind them. Every one is refused with the typed
 * `InvalidRequest` whose message names a field and a fixed reason (no value, no stack), before
 * any DynamoDB or Wix call.
 */

let world: FuzzWorld;
let ddbCalls: string[];
let before: string;
const figures = fuzzFigures();
const CONTRACT_NAMES = new Set<string>(Object.values(InvokeErrorName));

beforeAll(async () => {
  world = await createFuzzWorld('fuzz-invoke');
  ddbCalls = [];
  world.sim.resetCalls();
  before = await world.snapshot();
});

afterAll(async () => {
  figures.print('fuzz figures (issue 8): mint and refresh handlers');
  await world.stop();
});

/** An independent reading of the mint contract (DESIGN.md): only payloads it rejects are generated. */
function isValidMint(payload: unknown, appIds: readonly string[]): boolean {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) return false;
  const fields = payload as Record<string, unknown>;
  if (!Object.keys(fields).every((key) => ['instanceId', 'appId', 'minValiditySeconds'].includes(key))) return false;
  const { instanceId, appId, minValiditySeconds } = fields;
  if (typeof instanceId !== 'string' || !GUID.test(instanceId)) return false;
  if (appId !== undefined && appId !== null && (typeof appId !== 'string' || !appIds.includes(appId.toLowerCase()) || !GUID.test(appId))) return false;
  if (minValiditySeconds !== undefined && minValiditySeconds !== null) {
    if (typeof minValiditySeconds !== 'number' || !Number.isInteger(minValiditySeconds) || minValiditySeconds < 0 || minValiditySeconds > 3600) return false;
  }
  return true;
}

function isValidRefresh(payload: unknown, appIds: readonly string[]): boolean {
  if (typeof payload === 'object' && payload !== null) {
    const fields = payload as Record<string, unknown>;
    if (fields['source'] === 'aws.events' && fields['detail-type'] === 'Scheduled Event') return true;
    if ('minValiditySeconds' in fields) return false;
  }
  return isValidMint(payload, appIds);
}

/** Any JSON-ish value, and the non-JSON ones a direct caller could still pass. */
const anyValue = fc.oneof(fc.jsonValue(), fc.constant(undefined), fc.double(), fc.bigInt().map((n) => Number(n)), fc.date({ noInvalidDate: true }).map((date) => date.toISOString()));
const notAnObject = fc.oneof(fc.constant(null), fc.constant(undefined), fc.boolean(), fc.double(), fc.integer(), oddString(), fc.array(anyValue, { maxLength: 4 }), fc.uuid());

/** A field name nobody asked for: near misses of real ones, prototype names, odd text. */
const strayKey = fc.oneof(
  fc.constantFrom('instanceid', 'InstanceId', 'instance_id', 'appid', 'app_id', 'minValidity', 'minValiditySecond', 'accessToken', 'refreshToken', 'token', '__proto__', 'constructor', 'prototype', 'toString', 'hasOwnProperty', '', ' instanceId', 'instanceId\u0000', 'source', 'detail-type', 'detail', 'Records', 'requestContext'),
  oddString(),
);

function mutatedPayload(appId: string, installed: readonly string[], allowMinValidity: boolean): fc.Arbitrary<unknown> {
  const base = fc.record(
    {
      instanceId: fc.oneof(fc.uuid(), fc.constantFrom(...installed)),
      appId: fc.constantFrom(appId, appId.toUpperCase()),
      ...(allowMinValidity ? { minValiditySeconds: fc.integer({ min: 0, max: 3600 }) } : {}),
    },
    { requiredKeys: ['instanceId'] },
  );
  const badInstanceId = fc.oneof(nearGuid, oddString(), anyValue);
  const badAppId = fc.oneof(fc.uuid(), nearGuid, oddString(), fc.integer(), fc.boolean(), fc.array(fc.uuid(), { maxLength: 2 }), fc.constant(appId.replace(/-/g, '')));
  const badMinValidity = fc.oneof(fc.integer({ max: -1 }), fc.integer({ min: 3601 }), fc.double({ min: 0.0001, max: 3599.9 }).filter((n) => !Number.isInteger(n)), fc.constantFrom(1e308, -1e308, Number.MAX_SAFE_INTEGER + 2, Infinity, -Infinity, Number.NaN), oddString(), fc.boolean(), fc.array(fc.integer(), { maxLength: 2 }), fc.constant({}));
  const mutation = fc.oneof(
    badInstanceId.map((value) => (payload: Record<string, unknown>) => ({ ...payload, instanceId: value })),
    fc.constant((payload: Record<string, unknown>) => {
      const { instanceId: _dropped, ...rest } = payload;
      return rest;
    }),
    badAppId.map((value) => (payload: Record<string, unknown>) => ({ ...payload, appId: value })),
    badMinValidity.map((value) => (payload: Record<string, unknown>) => ({ ...payload, minValiditySeconds: value })),
    fc.tuple(strayKey, anyValue).map(([key, value]) => (payload: Record<string, unknown>) => Object.defineProperty({ ...payload }, key, { value, enumerable: true, configurable: true, writable: true })),
  );
  return fc.tuple(base, fc.array(mutation, { minLength: 1, maxLength: 3 })).map(([payload, mutations]) => mutations.reduce((current, apply) => apply(current), payload as Record<string, unknown>));
}

/** Events meant for other functions, or for nobody: what a misrouted trigger would hand `refresh`. */
const foreignEvents = fc.oneof(
  fc.record({ source: fc.constantFrom('aws.events', 'aws.events ', 'custom'), 'detail-type': fc.constantFrom('Scheduled Event ', 'scheduled event', 'Object Created', 'EC2 Instance State-change Notification'), detail: fc.constant({}) }),
  fc.record({ source: fc.constant('aws.events'), detail: fc.constant({}) }),
  fc.record({ 'detail-type': fc.constant('Scheduled Event'), detail: fc.constant({}) }),
  fc.record({ source: fc.constant('aws.events'), 'detail-type': fc.constant(['Scheduled Event']) }),
  fc.constant({ Records: [{ eventSource: 'aws:sqs', body: '{"instanceId":"00000000-0000-4000-8000-000000000000"}' }] }),
  fc.constant({ Records: [{ EventSource: 'aws:sns', Sns: { Message: 'hello' } }] }),
  fc.tuple(eventShape, oddString()).map(([shape, body]) => apiEvent('POST', '/refresh', 'instanceId=00000000-0000-4000-8000-000000000000', shape, body) as unknown),
);

/** Checks a rejection: the typed InvalidRequest, a fixed message, nothing secret in what Lambda would report. */
function expectTypedRefusal(error: unknown): void {
  if (!(error instanceof InvalidRequestError)) throw new Error(`expected InvalidRequest, got ${(error as Error)?.name ?? typeof error}`);
  if (!CONTRACT_NAMES.has(error.name)) throw new Error(`error name ${error.name} is not in the contract`);
  if (!INVALID_REQUEST_MESSAGE.test(error.message)) throw new Error(`unexpected message ${JSON.stringify(error.message)}`);
  // What Lambda reports to the invoker: errorType, errorMessage (and a trace, which names only our files).
  expectNoIssuedValue(JSON.stringify({ errorType: error.name, errorMessage: error.message, ...error }));
}

/** What an invoke threw, or undefined when it answered. */
async function refusalOf(invocation: Promise<unknown>): Promise<unknown> {
  try {
    await invocation;
    return undefined;
  } catch (error) {
    return error;
  }
}

/** Sends `numRuns` of `payloads` to `handler`: each must be a typed refusal, counted in the figures under `fn`. */
async function expectEachRefused(
  fn: 'mint' | 'refresh',
  handler: (payload: unknown, context: ReturnType<typeof lambdaContext>) => Promise<unknown>,
  payloads: fc.Arbitrary<unknown>,
  numRuns: number,
): Promise<void> {
  await fc.assert(
    fc.asyncProperty(payloads, async (payload) => {
      const refusal = await refusalOf(handler(payload, lambdaContext()));
      figures.count(fn, (refusal as Error | undefined)?.name ?? 'answered');

      expectTypedRefusal(refusal);
    }),
    { numRuns },
  );
}

describe('fuzz: mint and refresh invoke payloads (issue 8)', () => {
  const installed = () => [world.keys.legacy.instanceId, world.keys.clientCredentials.instanceId, world.keys.removed.instanceId];

  it('refuses thousands of malformed mint payloads with InvalidRequest before any DynamoDB or Wix call', async () => {
    const logger = captureLogger();
    const { handler } = mintContainer({ documentClient: countingClient(world.table.documentClient, ddbCalls), tableName: world.table.tableName, wixUrl: world.sim.url, app: world.app, logger });
    const payloads = fc.oneof(notAnObject, mutatedPayload(world.app.appId, installed(), true), fc.dictionary(strayKey, anyValue, { maxKeys: 4 })).filter((payload) => !isValidMint(payload, [world.app.appId]));

    await expectEachRefused('mint', handler, payloads, 2500);

    expect(ddbCalls).toEqual([]);
    expect(world.sim.calls.total).toBe(0);
    expect(await world.snapshot()).toBe(before);
  });

  it('refuses thousands of malformed refresh events with InvalidRequest, never starting a sweep', async () => {
    const { handler, metrics } = refreshContainer({ documentClient: countingClient(world.table.documentClient, ddbCalls), tableName: world.table.tableName, wixUrl: world.sim.url, app: world.app });
    const payloads = fc.oneof(notAnObject, mutatedPayload(world.app.appId, installed(), false), fc.dictionary(strayKey, anyValue, { maxKeys: 4 }), foreignEvents, fc.record({ instanceId: fc.uuid(), minValiditySeconds: fc.integer({ min: 0, max: 3600 }) })).filter((payload) => !isValidRefresh(payload, [world.app.appId]));

    await expectEachRefused('refresh', handler, payloads, 2000);

    expect(metrics.flushes).toEqual([]);
    expect(ddbCalls).toEqual([]);
    expect(world.sim.calls.total).toBe(0);
    expect(await world.snapshot()).toBe(before);
  });

  it('keeps a refused payload value out of the error, even when it is a secret the caller should not have sent', async () => {
    const { handler } = mintContainer({ documentClient: world.table.documentClient, tableName: world.table.tableName, wixUrl: world.sim.url, app: world.app });
    // The demo app secret is a GUID, as Wix's are: dressed so that it is not a valid instance id.
    const secret = `${world.app.appSecret}-${world.app.tokenKeys.keys['k1']}`;

    const refusals = await Promise.all(
      [{ instanceId: secret }, { instanceId: randomUUID(), appId: secret }, { instanceId: randomUUID(), minValiditySeconds: secret }, { [secret]: 1, instanceId: randomUUID() }, secret].map((payload) =>
        handler(payload, lambdaContext()).then(
          () => undefined,
          (error: unknown) => error,
        ),
      ),
    );

    for (const refusal of refusals) {
      expectTypedRefusal(refusal);
      expect((refusal as Error).message).not.toContain(world.app.appSecret);
    }
  });
});
