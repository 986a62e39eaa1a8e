import { createPublicKey, randomUUID } from 'node:crypto';
import { inspect } from 'node:util';

import { SignJWT, importPKCS8 } from 'jose';

import { demoAppSecret } from '../../../../infra/local/demo-app';
import { SecretsUnavailableError, UnknownAppError } from '../../../../lib/secrets';
import { InvalidRequestError } from '../../../../lib/tokens/errors';
import { configuredWebhookKeys, createWebhookVerifier, MAX_WEBHOOK_AGE_SECONDS, parseEventPayload, unpackEnvelope, WebhookVerificationError, type WebhookVerifierDeps } from '../../../../lib/tokens/webhook';
import { memorySecrets, signWebhook, unsignedJwt } from '../../../support/http-fixture';
import { rejectionOf } from '../../../support/failures';

const app = demoAppSecret(randomUUID());
const second = demoAppSecret(randomUUID());
const stranger = demoAppSecret(randomUUID());
const NOW_S = Math.floor(Date.now() / 1000);

function verifier(overrides: Partial<WebhookVerifierDeps> = {}) {
  return createWebhookVerifier({ secrets: memorySecrets([app, second]), appIds: [app.appId, second.appId], now: () => NOW_S * 1000, ...overrides });
}

const installed = { eventType: 'AppInstalled', instanceId: randomUUID(), data: { appId: app.appId } };

const refusal = (promise: Promise<unknown>) => rejectionOf<Error & { reason?: string; code?: string }>(promise);

/** Asserts that the verification was refused with a WebhookVerificationError for `reason`; the error, for more. */
async function expectRefused(verification: Promise<unknown>, reason: string): Promise<Error & { reason?: string }> {
  const error = await refusal(verification);
  expect(error).toBeInstanceOf(WebhookVerificationError);
  expect(error.reason).toBe(reason);
  return error;
}

describe('webhook verifier', () => {
  it('verifies an RS256 JWT with the app key and reports the app and iat in ms', async () => {
    const jwt = await signWebhook(app, installed, { iat: NOW_S - 10 });

    const verified = await verifier()(jwt);

    expect(verified.appId).toBe(app.appId);
    expect(verified.issuedAt).toBe((NOW_S - 10) * 1000);
    expect(typeof verified.claims['data']).toBe('string');
  });

  it('finds the app whose key signed it among several served apps', async () => {
    const jwt = await signWebhook(second, { ...installed, data: { appId: second.appId } });

    const verified = await verifier()(jwt);

    expect(verified.appId).toBe(second.appId);
  });

  it('issue 17: verifies with configured keys (WIX_WEBHOOK_PUBLIC_KEYS), no secret at all, and still refuses another app’s key', async () => {
    const secrets = configuredWebhookKeys({ [app.appId]: app.webhookPublicKey, [second.appId]: second.webhookPublicKey });

    const verified = await verifier({ secrets })(await signWebhook(second, { ...installed, data: { appId: second.appId } }));
    const forged = await refusal(verifier({ secrets })(await signWebhook(stranger, installed)));

    expect(verified.appId).toBe(second.appId);
    expect(forged).toBeInstanceOf(WebhookVerificationError);
    expect(forged.reason).toBe('bad_signature');
    await expect(secrets.get(stranger.appId)).rejects.toBeInstanceOf(UnknownAppError);
  });

  it('verifies with an app key kept as PKCS#1 (BEGIN RSA PUBLIC KEY), which lib/secrets accepts (a 500 on every webhook before)', async () => {
    const pkcs1 = createPublicKey(app.webhookPublicKey).export({ type: 'pkcs1', format: 'pem' }) as string;
    const jwt = await signWebhook(app, installed);

    const verified = await verifier({ secrets: memorySecrets([{ ...app, webhookPublicKey: pkcs1 }]), appIds: [app.appId] })(jwt);

    expect(pkcs1).toMatch(/^-----BEGIN RSA PUBLIC KEY-----/);
    expect(verified.appId).toBe(app.appId);
  });

  it('lets a key that cannot be imported through as our fault, not as a refusal of the request', async () => {
    const jwt = await signWebhook(app, installed);

    const error = await refusal(verifier({ secrets: memorySecrets([{ ...app, webhookPublicKey: 'not a key' }]), appIds: [app.appId] })(jwt));

    expect(error).not.toBeInstanceOf(WebhookVerificationError);
    expect(error).not.toBeInstanceOf(InvalidRequestError);
  });

  it('refuses a JWT signed with a key no served app holds', async () => {
    const jwt = await signWebhook(stranger, installed);

    const error = await expectRefused(verifier()(jwt), 'bad_signature');
    expect(error.message).toBe('The webhook JWT was refused: bad signature');
  });

  it('refuses a JWT whose payload was altered after signing', async () => {
    const jwt = await signWebhook(app, installed);
    const [header, , signature] = jwt.split('.');
    const claims = { data: JSON.stringify({ ...installed, eventType: 'AppRemoved', data: '{}' }), iat: NOW_S, exp: NOW_S + 300 };
    const altered = `${header}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${signature}`;

    await expectRefused(verifier()(altered), 'bad_signature');
  });

  it('refuses alg none', async () => {
    const jwt = unsignedJwt({ data: JSON.stringify(installed), iat: NOW_S, exp: NOW_S + 300 });

    await expectRefused(verifier()(jwt), 'algorithm_not_allowed');
  });

  it('refuses HS256 signed with the public key as the HMAC secret', async () => {
    const jwt = await new SignJWT({ data: JSON.stringify(installed) })
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuedAt(NOW_S)
      .setExpirationTime(NOW_S + 300)
      .sign(new TextEncoder().encode(app.webhookPublicKey));

    await expectRefused(verifier()(jwt), 'algorithm_not_allowed');
  });

  it('refuses RS512 even with the right key', async () => {
    const jwt = await new SignJWT({ data: JSON.stringify(installed) })
      .setProtectedHeader({ alg: 'RS512' })
      .setIssuedAt(NOW_S)
      .sign(await importPKCS8(app.webhookPrivateKey, 'RS512'));

    await expectRefused(verifier()(jwt), 'algorithm_not_allowed');
  });

  it('refuses an expired JWT (beyond a minute of clock tolerance)', async () => {
    const jwt = await signWebhook(app, installed, { iat: NOW_S - 600, exp: NOW_S - 61 });
    const tolerated = await signWebhook(app, installed, { iat: NOW_S - 600, exp: NOW_S - 30 });

    const error = await refusal(verifier()(jwt));
    const verified = await verifier()(tolerated);

    expect(error).toBeInstanceOf(WebhookVerificationError);
    expect(error.reason).toBe('expired');
    expect(verified.appId).toBe(app.appId);
  });

  it('refuses a JWT issued well in the future (it would pin the event order)', async () => {
    const jwt = await signWebhook(app, installed, { iat: NOW_S + 3600 });

    await expectRefused(verifier()(jwt), 'issued_in_the_future');
  });

  it('refuses a verified JWT without iat as a bad request', async () => {
    const key = await importPKCS8(app.webhookPrivateKey, 'RS256');
    const jwt = await new SignJWT({ data: JSON.stringify(installed) }).setProtectedHeader({ alg: 'RS256' }).setExpirationTime(NOW_S + 300).sign(key);

    const error = await refusal(verifier()(jwt));

    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.message).toBe('iat is missing or invalid');
  });

  it('issue 17: refuses a validly signed JWT without exp as a bad request naming exp', async () => {
    const key = await importPKCS8(app.webhookPrivateKey, 'RS256');
    const jwt = await new SignJWT({ data: JSON.stringify(installed) }).setProtectedHeader({ alg: 'RS256' }).setIssuedAt(NOW_S - 10).sign(key);

    const error = await refusal(verifier()(jwt));

    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.message).toBe('exp is missing or invalid');
  });

  it('issue 17: refuses an iat older than Wix retries for (48 h), even with an exp far ahead, and accepts its last retry (47 h 11 min)', async () => {
    const replayed = await signWebhook(app, installed, { iat: NOW_S - 200 * 86_400, exp: NOW_S + 86_400 });
    const justOver = await signWebhook(app, installed, { iat: NOW_S - MAX_WEBHOOK_AGE_SECONDS - 61, exp: NOW_S + 86_400 });
    const lastRetry = await signWebhook(app, installed, { iat: NOW_S - (47 * 3600 + 11 * 60), exp: NOW_S + 86_400 });

    const errors = [await refusal(verifier()(replayed)), await refusal(verifier()(justOver))];
    const verified = await verifier()(lastRetry);

    for (const error of errors) {
      expect(error).toBeInstanceOf(WebhookVerificationError);
      expect(error.reason).toBe('too_old');
    }
    expect(MAX_WEBHOOK_AGE_SECONDS).toBe(48 * 3600);
    expect(verified.issuedAt).toBe((NOW_S - (47 * 3600 + 11 * 60)) * 1000);
  });

  it.each([
    ['a second before 1970', -1],
    ['a large negative number (beyond what DynamoDB stores: a 500 before)', -1e200],
  ])('issue 8: refuses a validly signed JWT whose iat is %s as a bad request, before anything is stored', async (_name, iat) => {
    const key = await importPKCS8(app.webhookPrivateKey, 'RS256');
    const jwt = await new SignJWT({ data: JSON.stringify(installed), iat, exp: NOW_S + 300 }).setProtectedHeader({ alg: 'RS256' }).sign(key);

    const error = await refusal(verifier()(jwt));

    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.message).toBe('iat is missing or invalid');
  });

  it.each([
    ['plain text', 'hello'],
    ['JSON', JSON.stringify(installed)],
    ['two segments', 'a.b'],
  ])('refuses %s as not a JWT', async (_name, body) => {
    const error = await refusal(verifier()(body));

    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.message).toBe('body is not a signed JWT');
  });

  it('lets a secrets failure through when no readable key verified the JWT', async () => {
    const secrets = memorySecrets([app, second], { fail: { [app.appId]: new SecretsUnavailableError(app.appId, new Error('down')) } });
    const jwt = await signWebhook(app, installed);

    const error = await refusal(verifier({ secrets })(jwt));

    expect(error).toBeInstanceOf(SecretsUnavailableError);
  });

  it('still verifies with the readable key when another app’s secret cannot be read', async () => {
    const secrets = memorySecrets([app, second], { fail: { [app.appId]: new SecretsUnavailableError(app.appId, new Error('down')) } });
    const jwt = await signWebhook(second, installed);

    const verified = await verifier({ secrets })(jwt);

    expect(verified.appId).toBe(second.appId);
  });

  it.each([
    ['expired', { iat: NOW_S - 600, exp: NOW_S - 100 }],
    ['issued in the future', { iat: NOW_S + 3600 }],
  ])('never quotes the token or its claims in a refusal (%s)', async (_name, times) => {
    const jwt = await signWebhook(app, installed, times);
    const [, payload, signature] = jwt.split('.') as [string, string, string];

    const error = await refusal(verifier()(jwt));

    const shown = `${error.message} ${JSON.stringify(error)} ${inspect(error, { showHidden: true, depth: 5 })}`;
    expect(error).toBeInstanceOf(WebhookVerificationError);
    for (const value of [installed.instanceId, payload, signature]) expect(shown).not.toContain(value);
    expect(error.cause).toBeUndefined();
  });
});

describe('unpackEnvelope and parseEventPayload', () => {
  const envelope = (data: unknown) => ({ data, iat: NOW_S });

  it('unpacks the envelope, then its JSON payload', () => {
    const unpacked = unpackEnvelope(envelope(JSON.stringify({ eventType: 'AppInstalled', instanceId: 'i', data: '{"appId":"a","originInstanceId":"o"}' })));

    expect(unpacked).toEqual({ eventType: 'AppInstalled', instanceId: 'i', data: '{"appId":"a","originInstanceId":"o"}' });
    expect(parseEventPayload(unpacked)).toEqual({ appId: 'a', originInstanceId: 'o' });
  });

  it('treats a missing or null payload as empty', () => {
    expect(parseEventPayload(unpackEnvelope(envelope(JSON.stringify({ eventType: 'AppRemoved', instanceId: 'i' }))))).toEqual({});
    expect(parseEventPayload(unpackEnvelope(envelope(JSON.stringify({ eventType: 'AppRemoved', instanceId: 'i', data: null }))))).toEqual({});
  });

  it('leaves a payload it cannot parse alone until the event type asks for it', () => {
    const unpacked = unpackEnvelope(envelope(JSON.stringify({ eventType: 'SomethingElse', data: 'not json' })));

    expect(unpacked.eventType).toBe('SomethingElse');
  });

  function refusalOf(unpack: () => unknown): unknown {
    try {
      unpack();
    } catch (caught) {
      return caught;
    }
    throw new Error('expected the envelope to be refused');
  }

  it.each([
    ['data is an object, not a string', { eventType: 'AppInstalled' }, 'data must be a JSON string'],
    ['data is not JSON', '{eventType', 'data is not valid JSON'],
    ['data is a JSON array', '[]', 'data is not a JSON object'],
    ['the event type is missing', JSON.stringify({ instanceId: 'i' }), 'data.eventType is missing'],
  ])('refuses an envelope where %s', (_name, data, message) => {
    const error = refusalOf(() => unpackEnvelope(envelope(data)));

    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as Error).message).toBe(message);
  });

  it.each([
    ['the payload is not a string', { appId: 'a' }, 'data.data must be a JSON string'],
    ['the payload is not JSON', 'appId=a', 'data.data is not valid JSON'],
    ['the payload is a JSON array', '[]', 'data.data is not a JSON object'],
  ])('refuses a payload where %s', (_name, data, message) => {
    const error = refusalOf(() => parseEventPayload(unpackEnvelope(envelope(JSON.stringify({ eventType: 'AppInstalled', data })))));

    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as Error).message).toBe(message);
  });
});
