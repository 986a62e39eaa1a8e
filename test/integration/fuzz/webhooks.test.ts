import { constants, createHmac, createPrivateKey, randomUUID, sign as signBytes, type KeyObject } from 'node:crypto';

import fc from 'fast-check';

import { createWebhooksHandler } from '../../../functions/webhooks';
import { demoAppSecret, type DemoAppSecret } from '../../../infra/local/demo-app';
import { cipherSource } from '../../../lib/runtime';
import { createDynamoTokenStore } from '../../../lib/store';
import { apiEvent, createFuzzWorld, eventShape, expectNoIssuedValue, expectRefusal, fuzzFigures, nearGuid, oddString, routeSeen, type FuzzWorld } from '../../support/fuzz-fixture';
import { httpContext, memorySecrets } from '../../support/http-fixture';
import { captureLogger } from '../../support/mint-fixture';

/**
 * Issue 8: thousands of bodies at `webhooks` that are not JWTs, are JWTs of the wrong shape, are
 * signed the wrong way, or are signed by the app's own key around a broken envelope. Every answer
 * is a 4xx JSON error of ours (a well-signed event of a type we do not handle is acknowledged with
 * 200 `ignored`, as designed), and nothing is stored.
 */

let world: FuzzWorld;
let foreign: DemoAppSecret;
let handler: ReturnType<typeof createWebhooksHandler>;
let appKey: KeyObject;
let foreignKey: KeyObject;
let before: string;
const figures = fuzzFigures();

const nowS = () => Math.floor(Date.now() / 1000);
const b64url = (text: string) => Buffer.from(text, 'utf8').toString('base64url');

beforeAll(async () => {
  world = await createFuzzWorld('fuzz-webhooks');
  foreign = demoAppSecret(randomUUID());
  const secrets = memorySecrets([world.app]);
  const store = createDynamoTokenStore({ documentClient: world.table.documentClient, tableName: world.table.tableName, cipherFor: cipherSource(secrets) });
  handler = createWebhooksHandler({ appIds: [world.app.appId], secrets, store, now: Date.now, logger: captureLogger() });
  appKey = createPrivateKey(world.app.webhookPrivateKey);
  foreignKey = createPrivateKey(foreign.webhookPrivateKey);
  before = await world.snapshot();
});

afterAll(async () => {
  figures.print('fuzz figures (issue 8): webhooks handler');
  await world.stop();
});

/** A JSON value that is not a string. */
const notString = fc.oneof(fc.integer(), fc.double({ noNaN: true }), fc.boolean(), fc.constant(null), fc.array(fc.jsonValue(), { maxLength: 3 }), fc.dictionary(fc.string({ maxLength: 8 }), fc.jsonValue(), { maxKeys: 3 }));
const notJson = fc.oneof(fc.string({ unit: 'binary', maxLength: 40 }), fc.constantFrom('{', '{"a":', "{'a':1}", 'undefined', 'NaN', '{"a":1}}', '\uFEFF{}')).filter((text) => {
  try {
    JSON.parse(text);
    return false;
  } catch {
    return true;
  }
});
const jsonNotObject = fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.string({ maxLength: 10 }), fc.array(fc.jsonValue(), { maxLength: 3 })).map((value) => JSON.stringify(value));
const badGuid = fc.oneof(nearGuid, notString, oddString().filter((text) => text !== '' && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(text)));
const lifecycleType = fc.constantFrom('AppInstalled', 'AppRemoved');

/**
 * Claims signed by the app's key whose envelope is broken in at least one way (or whose event
 * type is not one we act on: `ignored`). `appId` is the served app.
 */
function badClaims(appId: string): fc.Arbitrary<{ claims: Record<string, unknown>; ignored: boolean }> {
  const envelope = (parts: Record<string, unknown>) => JSON.stringify(parts);
  const good = (eventType: string, instanceId: string) => envelope({ eventType, instanceId, data: JSON.stringify({ appId }) });
  const withTimes = (data: unknown, ignored = false) => ({ claims: { data, iat: nowS() - 5, exp: nowS() + 300 }, ignored });
  return fc.oneof(
    // The outer `data` claim: missing, not a string, not JSON, JSON but not an object.
    fc.constant({ claims: { iat: nowS(), exp: nowS() + 300 }, ignored: false }),
    notString.map((data) => withTimes(data)),
    notJson.map((data) => withTimes(data)),
    jsonNotObject.map((data) => withTimes(data)),
    // The envelope: event type missing or mistyped.
    fc.tuple(fc.oneof(fc.constant(undefined), fc.constant(''), notString), fc.uuid()).map(([eventType, instanceId]) => withTimes(envelope({ eventType, instanceId }))),
    // A lifecycle event without a usable instance id.
    fc.tuple(lifecycleType, fc.oneof(fc.constant(undefined), fc.constant(null), fc.constant(''), badGuid)).map(([eventType, instanceId]) => withTimes(envelope({ eventType, instanceId, data: JSON.stringify({ appId }) }))),
    // A lifecycle event whose payload is not a JSON object string.
    fc.tuple(lifecycleType, fc.uuid(), fc.oneof(notJson, jsonNotObject, fc.oneof(fc.integer(), fc.boolean(), fc.array(fc.jsonValue(), { maxLength: 2 })))).map(([eventType, instanceId, data]) => withTimes(envelope({ eventType, instanceId, data }))),
    // A lifecycle event naming another app, or a malformed one.
    fc.tuple(lifecycleType, fc.uuid(), fc.oneof(fc.uuid(), fc.uuid().map((id) => id.toUpperCase()), fc.constant(''), notString, oddString())).filter(([, , other]) => typeof other !== 'string' || other.toLowerCase() !== appId).map(([eventType, instanceId, other]) => withTimes(envelope({ eventType, instanceId, data: JSON.stringify({ appId: other }) }))),
    // AppInstalled from a duplicated site whose origin is not an instance id. What JSON writes as
    // null or leaves out (null, undefined, NaN, Infinity, a function) is an absent origin, which is valid.
    fc.tuple(fc.uuid(), badGuid.filter((origin) => (JSON.parse(JSON.stringify({ origin })) as { origin?: unknown }).origin != null)).map(([instanceId, origin]) => withTimes(envelope({ eventType: 'AppInstalled', instanceId, data: JSON.stringify({ appId, originInstanceId: origin }) }))),
    // A perfect envelope at a time that cannot be right: iat missing, mistyped, negative or too far ahead; exp passed; nbf ahead.
    fc.tuple(lifecycleType, fc.uuid(), fc.oneof(
      fc.constant({}),
      fc.record({ iat: fc.oneof(fc.string({ maxLength: 12 }), fc.constant(null), fc.boolean(), fc.array(fc.integer(), { maxLength: 2 })) }),
      fc.record({ iat: fc.oneof(fc.integer({ min: -(2 ** 53), max: -1 }), fc.double({ min: -1e300, max: -1e-3, noNaN: true }), fc.constant(-1e300)) }),
      fc.integer({ min: 400, max: 1e9 }).map((ahead) => ({ iat: nowS() + ahead })),
      fc.constant({ iat: 1e300 }),
      fc.integer({ min: 120, max: 1e6 }).map((ago) => ({ iat: nowS() - ago - 600, exp: nowS() - ago })),
      fc.integer({ min: 120, max: 1e6 }).map((ahead) => ({ iat: nowS(), nbf: nowS() + ahead })),
      fc.record({ iat: fc.constant(nowS()), exp: fc.oneof(fc.string({ maxLength: 6 }), fc.constant(null), fc.boolean()) }),
    )).map(([eventType, instanceId, times]) => ({ claims: { data: good(eventType, instanceId), ...times }, ignored: false })),
    // An event type we do not act on: acknowledged (200 ignored), never applied.
    fc.tuple(fc.oneof(fc.string({ minLength: 1, maxLength: 30 }), fc.constantFrom('appinstalled', 'AppInstalled ', ' AppRemoved', 'APP_INSTALLED', 'AppInstalled\u0000', 'PaidPlanPurchased')), fc.uuid()).filter(([eventType]) => eventType !== 'AppInstalled' && eventType !== 'AppRemoved').map(([eventType, instanceId]) => withTimes(good(eventType, instanceId), true)),
  );
}

/** How a body is made: each recipe is refused for a reason the test knows. */
type Recipe =
  | { kind: 'text'; text: string }
  | { kind: 'jwt-shaped'; parts: string[] }
  | { kind: 'unsigned' | 'hmac-with-public-key' | 'foreign-key' | 'ps256'; instanceId: string }
  | { kind: 'signed'; claims: Record<string, unknown>; ignored: boolean; header: Record<string, unknown> }
  | { kind: 'signed-not-json'; payload: string };

function recipes(appId: string): fc.Arbitrary<Recipe> {
  const part = fc.oneof(fc.jsonValue().map((value) => b64url(JSON.stringify(value) ?? 'null')), fc.string({ maxLength: 30 }), fc.base64String({ maxLength: 40 }), fc.constantFrom(b64url('{"alg":"RS256"}'), b64url('{"alg":"none"}'), b64url('{"alg":"HS256","typ":"JWT"}'), b64url('{"alg":"RS256","crit":["exp"]}'), b64url('{"alg":"RS256","b64":false,"crit":["b64"]}'), ''));
  const header = fc.oneof(
    fc.constant({}),
    fc.record({ kid: fc.string({ maxLength: 20 }), typ: fc.constantFrom('JWT', 'at+jwt', '', 'JOSE') }),
    fc.constant({ crit: ['exp'] }),
    fc.constant({ jku: 'http://127.0.0.1:1/keys', x5u: 'http://127.0.0.1:1/cert' }),
  );
  return fc.oneof(
    { weight: 3, arbitrary: fc.oneof(oddString(), fc.string({ unit: 'binary', maxLength: 200 }), fc.integer({ min: 64 * 1024 - 2, max: 200_000 }).map((length) => 'e'.repeat(length))).map((text): Recipe => ({ kind: 'text', text })) },
    { weight: 3, arbitrary: fc.array(part, { minLength: 1, maxLength: 6 }).map((parts): Recipe => ({ kind: 'jwt-shaped', parts })) },
    { weight: 1, arbitrary: fc.tuple(fc.constantFrom('unsigned', 'hmac-with-public-key', 'foreign-key', 'ps256') as fc.Arbitrary<'unsigned' | 'hmac-with-public-key' | 'foreign-key' | 'ps256'>, fc.uuid()).map(([kind, instanceId]): Recipe => ({ kind, instanceId })) },
    { weight: 5, arbitrary: fc.tuple(badClaims(appId), header).map(([bad, extra]): Recipe => ({ kind: 'signed', ...bad, header: extra })) },
    { weight: 1, arbitrary: notJson.map((payload): Recipe => ({ kind: 'signed-not-json', payload })) },
  );
}

/**
 * A compact JWS over exactly these bytes, signed with node:crypto rather than jose (which, rightly,
 * will not produce a token with an unknown `crit` or a payload that is not JSON).
 */
function sign(payload: string, alg: 'RS256' | 'PS256' | 'HS256', key: KeyObject | string, header: Record<string, unknown> = {}): string {
  const input = `${b64url(JSON.stringify({ ...header, alg }))}.${b64url(payload)}`;
  const signature =
    alg === 'HS256'
      ? createHmac('sha256', key as string).update(input).digest()
      : signBytes('sha256', Buffer.from(input), alg === 'PS256' ? { key: key as KeyObject, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: 32 } : (key as KeyObject));
  return `${input}.${signature.toString('base64url')}`;
}

function bodyOf(recipe: Recipe): string {
  const lifecycle = (instanceId: string) => JSON.stringify({ data: JSON.stringify({ eventType: 'AppInstalled', instanceId, data: JSON.stringify({ appId: world.app.appId }) }), iat: nowS(), exp: nowS() + 300 });
  switch (recipe.kind) {
    case 'text':
      return recipe.text;
    case 'jwt-shaped':
      return recipe.parts.join('.');
    case 'unsigned':
      return `${b64url('{"alg":"none","typ":"JWT"}')}.${b64url(lifecycle(recipe.instanceId))}.`;
    case 'hmac-with-public-key':
      return sign(lifecycle(recipe.instanceId), 'HS256', world.app.webhookPublicKey);
    case 'foreign-key':
      return sign(lifecycle(recipe.instanceId), 'RS256', foreignKey);
    case 'ps256':
      return sign(lifecycle(recipe.instanceId), 'PS256', appKey);
    case 'signed':
      return sign(JSON.stringify(recipe.claims), 'RS256', appKey, recipe.header);
    case 'signed-not-json':
      return sign(recipe.payload, 'RS256', appKey);
  }
}

describe('fuzz: webhooks (issue 8)', () => {
  it('answers thousands of bodies that are not acceptable webhooks with a 4xx of ours, storing nothing', async () => {
    const transport = fc.record({
      shape: eventShape.map((shape) => ({ ...shape, routeKey: shape.routeKey === 'missing' ? ('exact' as const) : shape.routeKey, requestContext: 'full' as const })),
      base64: fc.boolean(),
      padding: fc.constantFrom('', ' ', '\n', '\r\n\t '),
    });

    await fc.assert(
      fc.asyncProperty(recipes(world.app.appId), transport, async (recipe, { shape, base64, padding }) => {
        const body = `${padding}${bodyOf(recipe)}${padding}`;
        const event = apiEvent('POST', '/webhooks', '', { ...shape, body: base64 ? 'base64' : 'text' }, body);
        const referenceId = randomUUID();

        const answer = await handler(event, httpContext(3000, referenceId));
        figures.count(`webhooks: ${recipe.kind}`, answer.statusCode);

        if (recipe.kind === 'signed' && recipe.ignored && answer.statusCode === 200) {
          expect(JSON.parse(answer.body)).toEqual({ outcome: 'ignored' });
          expectNoIssuedValue(answer.body);
          return;
        }
        expectRefusal(answer, { format: 'json', referenceId });
        if (['unsigned', 'hmac-with-public-key', 'foreign-key', 'ps256'].includes(recipe.kind)) expect(answer.statusCode).toBe(401);
        expect(routeSeen(event)).toBe('POST /webhooks');
      }),
      { numRuns: 2500 },
    );

    expect(await world.snapshot()).toBe(before);
  });
});
