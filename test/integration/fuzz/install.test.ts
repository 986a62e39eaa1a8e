import { randomUUID } from 'node:crypto';

import { GetCommand } from '@aws-sdk/lib-dynamodb';
import fc from 'fast-check';

import { demoAppSecret } from '../../../infra/local/demo-app';
import type { HttpResult } from '../../../lib/http';
import { cipherSource } from '../../../lib/runtime';
import { createDynamoInstallStateStore, createDynamoTokenStore } from '../../../lib/store';
import { statePk } from '../../../lib/store/item';
import { issueInstallState, verifyInstallState } from '../../../lib/tokens/install-state';
import { apiEvent, createFuzzWorld, eventShape, expectNoIssuedValue, expectRefusal, fuzzFigures, GUID, nearGuid, oddString, queryString, routeSeen, type FuzzWorld } from '../../support/fuzz-fixture';
import { eventFromUrl, httpContext, httpEvent, installHandler, memorySecrets } from '../../support/http-fixture';
import { captureLogger, type CapturedLogger } from '../../support/mint-fixture';

/**
 * Issue 8: thousands of malformed API Gateway events at `install` (GET /install and
 * GET /oauth/callback), with the real token store on DynamoDB Local and the Wix simulator.
 * Every answer is a 4xx page of ours (or, for GET /install, the redirect to the installer),
 * nothing is stored and Wix is never called.
 */

const PUBLIC_URL = 'http://localhost:3000';
const CALLBACK = 'GET /oauth/callback';
const INSTALL = 'GET /install';

let world: FuzzWorld;
let logger: CapturedLogger;
let handler: ReturnType<typeof installHandler>;
let secrets: ReturnType<typeof memorySecrets>;
let before: string;
/** States worth trying: forged, tampered, expired, spent, another app's. Never a fresh one of ours. */
let spoiledStates: string[];
/** Values that look right: an installed instance, a served app id, codes of the right form. */
let plausible: string[];
const figures = fuzzFigures();

async function call(event: ReturnType<typeof httpEvent>): Promise<{ answer: HttpResult; referenceId: string }> {
  const referenceId = randomUUID();
  const answer = await handler(event, httpContext(10_000, referenceId));
  return { answer, referenceId };
}

async function freshState(): Promise<string> {
  const { answer } = await call(httpEvent('GET', '/install'));
  figures.count('install: GET /install (a fresh state for the case)', 302);
  return new URL(answer.headers['Location'] as string).searchParams.get('state') as string;
}

function mutate(state: string, at: number, replacement: string): string {
  const index = at % state.length;
  const mutated = `${state.slice(0, index)}${replacement}${state.slice(index + 1)}`;
  return mutated === state ? `${state}${replacement}` : mutated;
}

beforeAll(async () => {
  world = await createFuzzWorld('fuzz-install');
  const { app, sim } = world;
  logger = captureLogger();
  secrets = memorySecrets([app]);
  const store = createDynamoTokenStore({ documentClient: world.table.documentClient, tableName: world.table.tableName, cipherFor: cipherSource(secrets) });
  handler = installHandler({ appIds: [app.appId], wixUrl: sim.url, secrets, store, states: createDynamoInstallStateStore({ documentClient: world.table.documentClient, tableName: world.table.tableName }), overrides: { logger } });

  // A state spent by a completed install (the instance it stored stays in the table).
  const started = await call(httpEvent('GET', '/install'));
  const consent = await fetch(started.answer.headers['Location'] as string, { redirect: 'manual' });
  const callback = consent.headers.get('location') as string;
  const done = await call(eventFromUrl(callback));
  expect(done.answer.statusCode).toBe(302);
  const spent = new URL(callback).searchParams.get('state') as string;

  const fresh = await freshState();
  const stateDeps = { secrets, appIds: [app.appId], now: () => Date.now() - 11 * 60_000 };
  const expired = await issueInstallState(stateDeps, app.appId);
  const other = demoAppSecret(randomUUID());
  const otherApps = await issueInstallState({ secrets: memorySecrets([other]), appIds: [other.appId], now: Date.now }, other.appId);
  const [v, appId, nonce, issuedAt, mac] = fresh.split('.') as [string, string, string, string, string];
  spoiledStates = [
    spent,
    expired,
    otherApps,
    [v, appId.toUpperCase(), nonce, issuedAt, mac].join('.'),
    [v, appId, nonce, String(Number(issuedAt) + 1), mac].join('.'),
    [v, appId, nonce, String(Date.now() + 3_600_000), mac].join('.'),
    [v, appId, nonce, issuedAt, `${mac.slice(0, -1)}${mac.endsWith('A') ? 'B' : 'A'}`].join('.'),
    [v, appId, nonce, issuedAt].join('.'),
    `${fresh}.`,
    ` ${fresh}`,
    fresh.replace(/\./g, '%2E'),
  ];
  plausible = [world.keys.legacy.instanceId, world.keys.clientCredentials.instanceId, world.keys.removed.instanceId, app.appId, randomUUID(), 'a'.repeat(32), 'OauthNG.JWS.code'];

  world.sim.resetCalls();
  before = await world.snapshot();
});

afterAll(async () => {
  figures.print('fuzz figures (issue 8): install handler');
  await world.stop();
});

/** A forged state of exactly the right form: pattern-perfect, MAC wrong. */
const forgedState = fc
  .tuple(fc.constantFrom('v1', 'v2', 'V1'), fc.oneof(fc.uuid(), fc.constant('')), fc.base64String({ minLength: 20, maxLength: 24 }), fc.integer({ min: 0, max: 2 ** 53 - 1 }), fc.base64String({ minLength: 40, maxLength: 44 }))
  .map(([v, appId, nonce, issuedAt, mac]) => [v, appId, nonce.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''), issuedAt, mac.replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '')].join('.'));

describe('fuzz: install (issue 8)', () => {
  it('answers thousands of malformed callbacks with a 4xx page of ours, storing nothing and never calling Wix', async () => {
    const names = fc.oneof(fc.constantFrom('code', 'state', 'instanceId', 'state', 'code', 'instanceId', 'appId', 'token'), oddString());
    const values = fc.oneof(oddString([...spoiledStates, ...plausible]), forgedState, fc.constantFrom(...spoiledStates).chain((state) => fc.tuple(fc.nat(), fc.constantFrom('A', '_', '-', '.', '0', '%')).map(([at, c]) => mutate(state, at, c))));
    const events = fc.tuple(queryString(fc.tuple(names, values), 8), eventShape, oddString());

    await fc.assert(
      fc.asyncProperty(events, async ([rawQuery, shape, body]) => {
        const event = apiEvent('GET', '/oauth/callback', rawQuery, shape, body);
        const { answer, referenceId } = await call(event);
        figures.count(`install: ${routeSeen(event) === CALLBACK ? CALLBACK : 'other routes'}`, answer.statusCode);

        expectRefusal(answer, { format: 'html', referenceId });
      }),
      { numRuns: 1500 },
    );

    expect(world.sim.calls.total).toBe(0);
    expect(await world.snapshot()).toBe(before);
  });

  it('refuses a callback whose state is fresh and genuine but whose other fields are malformed, before spending the state', async () => {
    const brokenField = fc.oneof(
      fc.record({ field: fc.constant('instanceId'), value: fc.oneof(fc.constant(undefined), fc.constant(''), nearGuid, oddString().filter((text) => !GUID.test(text))) }),
      fc.record({ field: fc.constant('code'), value: fc.oneof(fc.constant(undefined), fc.constant(''), fc.integer({ min: 4097, max: 9000 }).map((length) => 'c'.repeat(length))) }),
      fc.record({ field: fc.constantFrom('code-twice', 'state-twice', 'instanceId-twice'), value: fc.constant(undefined) }),
    );

    await fc.assert(
      fc.asyncProperty(brokenField, async (broken) => {
        const state = await freshState();
        const params = new URLSearchParams({ code: `code-${randomUUID()}`, state, instanceId: world.keys.legacy.instanceId });
        if (broken.field.endsWith('-twice')) {
          const name = broken.field.replace('-twice', '');
          params.append(name, params.get(name) as string);
        } else if (broken.value === undefined) {
          params.delete(broken.field);
        } else {
          params.set(broken.field, broken.value);
        }
        const { answer, referenceId } = await call(httpEvent('GET', '/oauth/callback', { query: params.toString() }));
        figures.count(`install: ${CALLBACK}`, answer.statusCode);

        expectRefusal(answer, { format: 'html', referenceId });
        expect(answer.statusCode).toBe(400);
        // The state was not spent: it still verifies, and the table holds no record of its use.
        const verified = await verifyInstallState({ secrets, appIds: [world.app.appId], now: Date.now }, state);
        const spent = await world.table.documentClient.send(new GetCommand({ TableName: world.table.tableName, Key: { pk: statePk(verified.id) }, ConsistentRead: true }));
        expect(spent.Item).toBeUndefined();
      }),
      { numRuns: 500 },
    );

    expect(world.sim.calls.total).toBe(0);
    expect(await world.snapshot()).toBe(before);
  });

  it('answers GET /install with odd queries by a redirect to the installer with a fresh state, or a 4xx page', async () => {
    const names = fc.oneof(fc.constantFrom('appId', 'token', 'appId', 'token', 'state', 'redirectUrl'), oddString());
    const values = oddString([world.app.appId, world.app.appId.toUpperCase(), randomUUID(), ...spoiledStates]);
    const events = fc.tuple(queryString(fc.tuple(names, values), 6), eventShape);
    let redirects = 0;

    await fc.assert(
      fc.asyncProperty(events, async ([rawQuery, shape]) => {
        const event = apiEvent('GET', '/install', rawQuery, shape);
        const lines = logger.lines.length;
        const { answer, referenceId } = await call(event);
        figures.count(`install: ${routeSeen(event) === INSTALL ? INSTALL : 'other routes'}`, answer.statusCode);

        if (answer.statusCode !== 302) {
          expectRefusal(answer, { format: 'html', referenceId });
          return;
        }
        redirects += 1;
        const location = new URL(answer.headers['Location'] as string);
        expect(`${location.origin}${location.pathname}`).toBe(`${world.sim.url}/installer/install`);
        expect([...location.searchParams.keys()].filter((name) => name !== 'token')).toEqual(['appId', 'redirectUrl', 'state']);
        expect(location.searchParams.get('appId')).toBe(world.app.appId);
        expect(location.searchParams.get('redirectUrl')).toBe(`${PUBLIC_URL}/oauth/callback`);
        await verifyInstallState({ secrets, appIds: [world.app.appId], now: Date.now }, location.searchParams.get('state') as string);
        const token = location.searchParams.get('token');
        expect(token === null || (token !== '' && token.length <= 4096)).toBe(true);
        expect(answer.body).toBe('');
        // The install token goes to Wix, never to a log line.
        if (token !== null && token.length >= 12 && token.toLowerCase() !== world.app.appId) expect(logger.lines.slice(lines).join('\n')).not.toContain(token);
        expectNoIssuedValue(answer.body);
      }),
      { numRuns: 700 },
    );

    expect(redirects).toBeGreaterThan(0);
    expect(world.sim.calls.total).toBe(0);
    expect(await world.snapshot()).toBe(before);
  });

  it('answers any other method or path with a 404 page', async () => {
    const method = fc.constantFrom('GET', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'get', 'TRACE', '');
    const path = fc.oneof(fc.constantFrom('/install/', '/INSTALL', '//install', '/install%00', '/oauth/callback/', '/oauth', '/', '', '/webhooks', '/oauth/callback;x', '/../install'), oddString().map((text) => `/${text}`));
    const routes = fc.tuple(method, path, eventShape).filter(([m, p]) => !['GET /install', 'GET /oauth/callback'].includes(`${m} ${p}`));

    await fc.assert(
      fc.asyncProperty(routes, async ([m, p, shape]) => {
        const event = apiEvent(m, p, '', { ...shape, routeKey: 'exact' });
        const { answer, referenceId } = await call(event);
        figures.count('install: other routes', answer.statusCode);

        expectRefusal(answer, { format: 'html', referenceId });
        expect(answer.statusCode).toBe(404);
      }),
      { numRuns: 300 },
    );

    expect(await world.snapshot()).toBe(before);
  });
});
