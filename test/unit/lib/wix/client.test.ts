import { inspect } from 'node:util';
import {
  createWixClient,
  WixBadRequestError,
  WixCredentialsRejectedError,
  WixGrantInvalidError,
  WixMalformedResponseError,
  WixOAuthError,
  WixUnavailableError,
  type FetchLike,
  type RetryEvent,
  type WixClientOptions,
} from '../../../../lib/wix';
import { startWixSimulator, type WixSimulator, type WixSimulatorOptions, wixFaults } from '../../../../infra/local/wix-simulator';
import { createFakeClock, type FakeClock } from '../../../support/fake-clock';
import { rejectionOfType } from '../../../support/failures';

const app = { appId: '2a1b3c4d-0000-4000-8000-00000000a001', appSecret: 'app-secret-value-0001' };
const instanceId = '7f3e2d1c-0000-4000-8000-0000000000b1';

let sim: WixSimulator;
let clock: FakeClock;
let retries: RetryEvent[];

async function setUp(simOptions: WixSimulatorOptions = {}): Promise<void> {
  clock = createFakeClock();
  retries = [];
  sim = await startWixSimulator({ apps: [app], now: clock.now, ...simOptions });
  sim.install(app.appId, instanceId);
}

function client(options: WixClientOptions = {}) {
  return createWixClient({
    baseUrl: sim.url,
    clock,
    random: () => 0.5,
    onRetry: (event) => retries.push(event),
    ...options,
  });
}

const caught = (promise: Promise<unknown>): Promise<WixOAuthError> => rejectionOfType(WixOAuthError, promise);

afterEach(async () => {
  await sim.stop();
});

describe('createWixClient grants', () => {
  beforeEach(() => setUp());

  it('exchanges an authorization code for legacy tokens that last five minutes', async () => {
    const code = sim.issueCode(app.appId, instanceId);

    const tokens = await client().exchangeCode(app, code);

    expect(tokens.accessToken).toMatch(/^OauthNG\.JWS\./);
    expect(tokens.refreshToken.length).toBeGreaterThan(10);
    expect(tokens.expiresAt).toBe(clock.now() + 300_000);
    expect(sim.calls.byGrant['authorization_code']).toBe(1);
  });

  it('sends a snake_case JSON body to /oauth/access', async () => {
    const code = sim.issueCode(app.appId, instanceId);
    const seen: Array<{ url: string; init: RequestInit }> = [];
    const recordingFetch: FetchLike = (url, init) => {
      seen.push({ url, init });
      return fetch(url, init);
    };

    await client({ fetch: recordingFetch }).exchangeCode(app, code);

    expect(seen).toHaveLength(1);
    expect(seen[0]?.url).toBe(`${sim.url}/oauth/access`);
    expect(seen[0]?.init.method).toBe('POST');
    expect(new Headers(seen[0]?.init.headers).get('content-type')).toBe('application/json');
    expect(JSON.parse(String(seen[0]?.init.body))).toEqual({
      grant_type: 'authorization_code',
      client_id: app.appId,
      client_secret: app.appSecret,
      code,
    });
  });

  it('refuses a code used twice with WixGrantInvalidError', async () => {
    const code = sim.issueCode(app.appId, instanceId);
    await client().exchangeCode(app, code);

    const error = await caught(client().exchangeCode(app, code));

    expect(error).toBeInstanceOf(WixGrantInvalidError);
    expect(error.code).toBe('WIX_GRANT_INVALID');
    expect(error.status).toBe(400);
    expect(error.error).toBe('invalid_grant');
    expect(sim.calls.byGrant['authorization_code']).toBe(2);
  });

  it('refuses a code older than ten minutes', async () => {
    const code = sim.issueCode(app.appId, instanceId);
    clock.advance(10 * 60_000 + 1);

    const error = await caught(client().exchangeCode(app, code));

    expect(error).toBeInstanceOf(WixGrantInvalidError);
  });

  it('refreshes a legacy access token with the refresh token', async () => {
    const { refreshToken, accessToken } = await client().exchangeCode(app, sim.issueCode(app.appId, instanceId));

    const refreshed = await client().refreshAccessToken(app, refreshToken);

    expect(refreshed.accessToken).not.toBe(accessToken);
    expect(refreshed.refreshToken).toBe(refreshToken);
    expect(refreshed.expiresAt).toBe(clock.now() + 300_000);
  });

  it('reports a refresh after uninstall as WixGrantInvalidError', async () => {
    const { refreshToken } = await client().exchangeCode(app, sim.issueCode(app.appId, instanceId));
    sim.uninstall(app.appId, instanceId);

    const error = await caught(client().refreshAccessToken(app, refreshToken));

    expect(error).toBeInstanceOf(WixGrantInvalidError);
    expect(error.operation).toBe('refresh_token');
  });

  it('mints a client-credentials token that lasts four hours', async () => {
    const token = await client().createAccessToken(app, instanceId);

    expect(token.tokenType).toBe('Bearer');
    expect(token.accessToken).toMatch(/^OauthNG\.JWS\./);
    expect(token.expiresAt).toBe(clock.now() + 14_400_000);
    expect(sim.calls.byPath['/oauth2/token']).toBe(1);
  });

  it('refuses client credentials for an uninstalled instance', async () => {
    sim.uninstall(app.appId, instanceId);

    const error = await caught(client().createAccessToken(app, instanceId));

    expect(error).toBeInstanceOf(WixGrantInvalidError);
    expect(sim.calls.total).toBe(1);
  });

  it('reports a wrong app secret as WixCredentialsRejectedError without retrying', async () => {
    const error = await caught(client().createAccessToken({ ...app, appSecret: 'rotated-away-secret' }, instanceId));

    expect(error).toBeInstanceOf(WixCredentialsRejectedError);
    expect(error.code).toBe('WIX_CREDENTIALS_REJECTED');
    expect(error.status).toBe(401);
    expect(error.attempts).toBe(1);
    expect(sim.calls.total).toBe(1);
  });

  it('reads token info with string values coerced to booleans and epoch milliseconds', async () => {
    const token = await client().createAccessToken(app, instanceId);

    const info = await client().getTokenInfo(token.accessToken);

    expect(info).toMatchObject({ active: true, clientId: app.appId, instanceId, subjectType: 'APP' });
    expect(info.expiresAt).toBe(Math.floor(token.expiresAt / 1000) * 1000);
    expect(info.expiresAt! - info.issuedAt!).toBe(14_400_000);
  });

  it('reports an uninstalled instance token as inactive', async () => {
    const token = await client().createAccessToken(app, instanceId);
    sim.uninstall(app.appId, instanceId);

    const info = await client().getTokenInfo(token.accessToken);

    expect(info.active).toBe(false);
  });

  it('keeps the x-wix-request-id of a failed call', async () => {
    sim.uninstall(app.appId, instanceId);

    const error = await caught(client().createAccessToken(app, instanceId));

    expect(error.requestId).toEqual(expect.any(String));
    expect(error.message).toContain(`x-wix-request-id ${error.requestId}`);
  });
});

describe('createWixClient response validation', () => {
  beforeEach(() => setUp());

  it.each([
    ['html', wixFaults.html, 'the body is HTML'],
    ['not-json', wixFaults.notJson, 'the body is not JSON'],
    ['empty-body', wixFaults.emptyBody, 'the body is empty'],
    ['missing-access-token', wixFaults.missingAccessToken, 'access_token is missing'],
    ['mistyped-access-token', wixFaults.mistypedAccessToken, 'access_token is not a string'],
    ['expires-in-invalid', wixFaults.expiresInInvalid, 'expires_in is not a positive number'],
  ] as const)('rejects a 200 with %s as WixMalformedResponseError', async (_name, fault, reason) => {
    sim.intercept(fault({ path: '/oauth2/token' }));

    const error = await caught(client({ maxAttempts: 1 }).createAccessToken(app, instanceId));

    expect(error).toBeInstanceOf(WixMalformedResponseError);
    expect(error.code).toBe('WIX_MALFORMED_RESPONSE');
    expect(error.kind).toBe('transient');
    expect(error.message).toContain(reason);
    expect(error.status).toBe(200);
  });

  it('rejects a legacy answer without a refresh token', async () => {
    sim.intercept(wixFaults.status(200, { path: '/oauth/access', body: JSON.stringify({ access_token: 'OauthNG.JWS.x' }), contentType: 'application/json' }));

    const error = await caught(client().exchangeCode(app, sim.issueCode(app.appId, instanceId)));

    expect(error).toBeInstanceOf(WixMalformedResponseError);
    expect(error.message).toContain('refresh_token is missing');
  });

  it('reads expires_in sent as a numeric string', async () => {
    sim.intercept(wixFaults.expiresInString({ path: '/oauth2/token' }));

    const token = await client().createAccessToken(app, instanceId);

    expect(token.expiresAt).toBe(clock.now() + 14_400_000);
  });

  it('assumes five minutes when expires_in is absent', async () => {
    sim.intercept(wixFaults.expiresInMissing({ path: '/oauth2/token' }));

    const token = await client().createAccessToken(app, instanceId);

    expect(token.expiresAt).toBe(clock.now() + 300_000);
  });

  it('uses expires_in on a legacy answer when Wix sends it', async () => {
    sim.intercept(wixFaults.status(200, { path: '/oauth/access', contentType: 'application/json', body: JSON.stringify({ access_token: 'OauthNG.JWS.a', refresh_token: 'r-1', expires_in: 600 }) }));

    const tokens = await client().exchangeCode(app, sim.issueCode(app.appId, instanceId));

    expect(tokens.expiresAt).toBe(clock.now() + 600_000);
  });

  it('tolerates unknown extra fields', async () => {
    sim.intercept(wixFaults.extraFields({ path: '/oauth2/token' }));

    const token = await client().createAccessToken(app, instanceId);

    expect(token.accessToken).toMatch(/^OauthNG\.JWS\./);
  });

  it('retries an unusable success body for client credentials', async () => {
    sim.intercept(wixFaults.html({ path: '/oauth2/token' }));

    const token = await client().createAccessToken(app, instanceId);

    expect(token.accessToken).toMatch(/^OauthNG\.JWS\./);
    expect(sim.calls.byPath['/oauth2/token']).toBe(2);
  });

  it('does not retry an unusable success body for a code exchange, since the code is spent', async () => {
    sim.intercept(wixFaults.notJson({ path: '/oauth/access' }));

    const error = await caught(client().exchangeCode(app, sim.issueCode(app.appId, instanceId)));

    expect(error).toBeInstanceOf(WixMalformedResponseError);
    expect(sim.calls.byPath['/oauth/access']).toBe(1);
  });

  it('rejects token info whose active flag is neither boolean nor "true"/"false"', async () => {
    sim.intercept(wixFaults.status(200, { path: '/oauth2/token-info', contentType: 'application/json', body: '{"active":"maybe"}' }));

    const error = await caught(client({ maxAttempts: 1 }).getTokenInfo('OauthNG.JWS.any'));

    expect(error).toBeInstanceOf(WixMalformedResponseError);
    expect(error.message).toContain('active');
  });
});

describe('createWixClient error classes', () => {
  it.each([
    ['rfc6749', 400, 'invalid_grant', WixGrantInvalidError],
    ['rfc6749', 401, 'invalid_client', WixCredentialsRejectedError],
    ['rfc6749', 400, 'unauthorized_client', WixCredentialsRejectedError],
    ['rfc6749', 400, 'invalid_request', WixBadRequestError],
    ['rfc6749', 400, 'unsupported_grant_type', WixBadRequestError],
    ['wix', 400, 'invalid_grant', WixGrantInvalidError],
    ['wix', 401, 'invalid_client', WixCredentialsRejectedError],
    ['wix', 400, 'INVALID_REQUEST', WixBadRequestError],
  ] as const)('maps a %s body with %i %s', async (errorShape, status, errorCode, errorClass) => {
    await setUp({ errorShape });
    sim.intercept(wixFaults.status(status, { error: errorCode, errorDescription: 'refused', path: '/oauth2/token' }));

    const error = await caught(client().createAccessToken(app, instanceId));

    expect(error).toBeInstanceOf(errorClass);
    expect(error.error).toBe(errorCode);
    expect(error.errorDescription).toBe('refused');
    expect(error.attempts).toBe(1);
  });

  it.each([
    [401, WixCredentialsRejectedError],
    [403, WixGrantInvalidError],
    [404, WixGrantInvalidError],
    [409, WixBadRequestError],
  ] as const)('maps a bare %i without an error code by its status', async (status, errorClass) => {
    await setUp();
    sim.intercept(wixFaults.status(status, { body: '', path: '/oauth/access' }));

    const error = await caught(client().refreshAccessToken(app, 'refresh-token-value'));

    expect(error).toBeInstanceOf(errorClass);
    expect(error.error).toBeUndefined();
  });

  it('maps a Wix validationError body to WixBadRequestError', async () => {
    await setUp();
    sim.intercept(
      wixFaults.status(400, {
        path: '/oauth2/token',
        contentType: 'application/json',
        body: JSON.stringify({ message: 'bad field', details: { validationError: { fieldViolations: [{ field: 'instance_id', description: 'must be a GUID' }] } } }),
      }),
    );

    const error = await caught(client().createAccessToken(app, instanceId));

    expect(error).toBeInstanceOf(WixBadRequestError);
    expect(error.errorDescription).toBe('bad field');
  });

  it('maps a bare 400 from token info to WixBadRequestError, not to a dead grant', async () => {
    await setUp();
    sim.intercept(wixFaults.status(400, { body: '{}', path: '/oauth2/token-info' }));

    const error = await caught(client().getTokenInfo('OauthNG.JWS.any'));

    expect(error).toBeInstanceOf(WixBadRequestError);
  });
});

describe('createWixClient retries', () => {
  beforeEach(() => setUp());

  it.each([500, 502, 503, 504])('retries a %i and then succeeds', async (status) => {
    sim.intercept(wixFaults.status(status, { path: '/oauth2/token', times: 2 }));

    const token = await client().createAccessToken(app, instanceId);

    expect(token.accessToken).toMatch(/^OauthNG\.JWS\./);
    expect(sim.calls.byPath['/oauth2/token']).toBe(3);
    expect(retries.map((event) => event.status)).toEqual([status, status]);
  });

  it('gives up after maxAttempts with WixUnavailableError carrying the attempt count', async () => {
    sim.intercept(wixFaults.status(503, { path: '/oauth2/token', times: 10 }));

    const error = await caught(client({ maxAttempts: 4 }).createAccessToken(app, instanceId));

    expect(error).toBeInstanceOf(WixUnavailableError);
    expect(error.code).toBe('WIX_SERVER_ERROR');
    expect(error.attempts).toBe(4);
    expect(sim.calls.byPath['/oauth2/token']).toBe(4);
  });

  it('backs off with full jitter, doubling the cap each retry up to maxDelayMs', async () => {
    sim.intercept(wixFaults.status(500, { path: '/oauth2/token', times: 10 }));
    const draws = [0.99, 0.5, 0.25, 0.999, 0.999];

    await caught(client({ maxAttempts: 6, baseDelayMs: 100, maxDelayMs: 300, random: () => draws.shift() ?? 0 }).createAccessToken(app, instanceId));

    // caps: 100, 200, 300 (capped), 300, 300
    expect(clock.sleeps).toEqual([99, 100, 75, 299, 299]);
  });

  it('honours Retry-After in seconds on a 429', async () => {
    sim.intercept(wixFaults.rateLimit({ retryAfter: 2, path: '/oauth2/token' }));

    await client().createAccessToken(app, instanceId);

    expect(clock.sleeps).toEqual([2000]);
    expect(retries[0]).toMatchObject({ code: 'WIX_RATE_LIMITED', status: 429, delayMs: 2000 });
  });

  it('honours Retry-After given as an HTTP date', async () => {
    sim.intercept(wixFaults.rateLimit({ retryAfter: new Date(clock.now() + 3000).toUTCString(), path: '/oauth2/token' }));

    await client().createAccessToken(app, instanceId);

    expect(clock.sleeps).toEqual([3000]);
  });

  it('ends the call at once when Retry-After is longer than it may wait', async () => {
    sim.intercept(wixFaults.rateLimit({ retryAfter: 60, path: '/oauth2/token' }));

    const error = await caught(client({ maxRetryAfterMs: 10_000 }).createAccessToken(app, instanceId));

    expect(error.code).toBe('WIX_RATE_LIMITED');
    expect(error.retryAfterMs).toBe(60_000);
    expect(clock.sleeps).toEqual([]);
  });

  it('retries a connection reset', async () => {
    sim.intercept(wixFaults.reset({ path: '/oauth2/token' }));

    const token = await client().createAccessToken(app, instanceId);

    expect(token.tokenType).toBe('Bearer');
    expect(retries[0]?.code).toBe('WIX_NETWORK_ERROR');
  });

  it('reports a refused connection as WIX_NETWORK_ERROR', async () => {
    const url = sim.url;
    await sim.stop();

    const error = await caught(createWixClient({ baseUrl: url, clock, maxAttempts: 2 }).createAccessToken(app, instanceId));

    expect(error).toBeInstanceOf(WixUnavailableError);
    expect(error.code).toBe('WIX_NETWORK_ERROR');
    expect(error.message).toContain('ECONNREFUSED');
    expect(error.attempts).toBe(2);
    sim = await startWixSimulator();
  });

  it('times out an attempt that gets no answer', async () => {
    sim.intercept(wixFaults.hang({ path: '/oauth2/token', times: 2 }));

    const error = await caught(client({ attemptTimeoutMs: 50, maxAttempts: 2 }).createAccessToken(app, instanceId));

    expect(error.code).toBe('WIX_TIMEOUT');
    expect(error.attempts).toBe(2);
  });

  it('stops retrying when the next backoff would pass the deadline', async () => {
    sim.intercept(wixFaults.status(500, { path: '/oauth2/token', times: 10 }));
    const deadline = clock.now() + 250;

    const error = await caught(
      client({ random: () => 0.99, baseDelayMs: 100, maxAttempts: 10 }).createAccessToken(app, instanceId, { deadline }),
    );

    // slept 99 (now +99); the next cap is 200 -> 198 would end at +297, past the deadline
    expect(clock.sleeps).toEqual([99]);
    expect(error.attempts).toBe(2);
    expect(sim.calls.byPath['/oauth2/token']).toBe(2);
  });

  it('makes no call at all when the deadline has passed', async () => {
    const error = await caught(client().createAccessToken(app, instanceId, { deadline: clock.now() - 1 }));

    expect(error.code).toBe('WIX_DEADLINE_EXCEEDED');
    expect(sim.calls.total).toBe(0);
  });

  it('caps one attempt by the time left before the deadline', async () => {
    sim.intercept(wixFaults.hang({ path: '/oauth2/token' }));
    const started = Date.now();

    const error = await caught(
      createWixClient({ baseUrl: sim.url, attemptTimeoutMs: 5000 }).createAccessToken(app, instanceId, { deadline: Date.now() + 100 }),
    );

    expect(error.code).toBe('WIX_TIMEOUT');
    expect(Date.now() - started).toBeLessThan(2000);
  });

  it('ends the call at once when Retry-After would pass the deadline', async () => {
    sim.intercept(wixFaults.rateLimit({ retryAfter: 3, path: '/oauth2/token' }));

    const error = await caught(client().createAccessToken(app, instanceId, { deadline: clock.now() + 2000 }));

    expect(error.code).toBe('WIX_RATE_LIMITED');
    expect(clock.sleeps).toEqual([]);
    expect(retries).toEqual([]);
    expect(sim.calls.total).toBe(1);
  });

  it('does not start a retry that would have less than minAttemptMs before the deadline', async () => {
    sim.intercept(wixFaults.status(500, { path: '/oauth2/token', times: 5 }));

    // the backoff is 99 ms, which would leave 1 ms for the retry: the 500 is the answer, not a timeout
    const error = await caught(client({ random: () => 0.99, baseDelayMs: 100, minAttemptMs: 100 }).createAccessToken(app, instanceId, { deadline: clock.now() + 100 }));

    expect(error.code).toBe('WIX_SERVER_ERROR');
    expect(error.attempts).toBe(1);
    expect(clock.sleeps).toEqual([]);
    expect(sim.calls.byPath['/oauth2/token']).toBe(1);
  });

  it('stops when the caller aborts an attempt, and reports no retry', async () => {
    sim.intercept(wixFaults.hang({ path: '/oauth2/token' }));
    const controller = new AbortController();
    setTimeout(() => controller.abort(), 30);

    const error = await caught(client({ attemptTimeoutMs: 5000 }).createAccessToken(app, instanceId, { signal: controller.signal }));

    expect(error.code).toBe('WIX_ABORTED');
    expect(error.attempts).toBe(1);
    expect(retries).toEqual([]);
    expect(clock.sleeps).toEqual([]);
  });

  it('makes no further attempt when the caller aborts during the backoff', async () => {
    sim.intercept(wixFaults.status(503, { path: '/oauth2/token', times: 5 }));
    const controller = new AbortController();
    const abortingClock = { now: clock.now, sleep: (ms: number, signal?: AbortSignal) => (controller.abort(), clock.sleep(ms, signal)) };

    const error = await caught(client({ clock: abortingClock }).createAccessToken(app, instanceId, { signal: controller.signal }));

    expect(error).toBeInstanceOf(WixUnavailableError);
    expect(error.code).toBe('WIX_SERVER_ERROR');
    expect(error.attempts).toBe(1);
    expect(sim.calls.byPath['/oauth2/token']).toBe(1);
  });

  it('makes no call when the caller has already aborted', async () => {
    const controller = new AbortController();
    controller.abort();

    const error = await caught(client().createAccessToken(app, instanceId, { signal: controller.signal }));

    expect(error.code).toBe('WIX_ABORTED');
    expect(sim.calls.total).toBe(0);
    expect(retries).toEqual([]);
  });

  it('retries a 408 as transient', async () => {
    sim.intercept(wixFaults.status(408, { body: '', path: '/oauth2/token' }));

    const token = await client().createAccessToken(app, instanceId);

    expect(token.tokenType).toBe('Bearer');
    expect(retries.map((event) => event.status)).toEqual([408]);
  });

  it('reports a code exchange whose answer was lost as unavailable, not as a bad code', async () => {
    const code = sim.issueCode(app.appId, instanceId);
    let first = true;
    const losingFetch: FetchLike = async (url, init) => {
      const response = await fetch(url, init);
      if (first) {
        first = false;
        await response.text();
        throw new TypeError('fetch failed', { cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }) });
      }
      return response;
    };

    const error = await caught(client({ fetch: losingFetch }).exchangeCode(app, code));

    expect(error).toBeInstanceOf(WixUnavailableError);
    expect(error.code).toBe('WIX_NETWORK_ERROR');
    expect(error.attempts).toBe(2);
    expect(sim.calls.byGrant['authorization_code']).toBe(2);
  });
});

describe('createWixClient secrecy', () => {
  beforeEach(() => setUp());

  function everyRendering(error: unknown, logLines: string[]): string {
    return [
      String(error),
      (error as Error).stack ?? '',
      JSON.stringify(error),
      JSON.stringify({ ...(error as object) }),
      inspect(error, { depth: 5 }),
      ...logLines,
    ].join('\n');
  }

  it('keeps the response body off enumerable properties', async () => {
    sim.intercept(wixFaults.status(400, { path: '/oauth2/token', error: 'invalid_grant', errorDescription: 'nope' }));

    const error = await caught(client().createAccessToken(app, instanceId));

    expect(error.body).toContain('invalid_grant');
    expect(Object.keys(error)).not.toContain('body');
    expect(JSON.stringify(error)).not.toContain('"body"');
  });

  it('keeps a secret that Wix echoes in its error code out of the message, the error field and every rendering', async () => {
    const { refreshToken } = await client().exchangeCode(app, sim.issueCode(app.appId, instanceId));
    sim.intercept(wixFaults.status(400, { path: '/oauth/access', error: `invalid_${refreshToken}` }));

    const error = await caught(client().refreshAccessToken(app, refreshToken));

    expect(error).toBeInstanceOf(WixGrantInvalidError);
    expect(error.error).toBe('[redacted]');
    expect(everyRendering(error, [])).not.toContain(refreshToken);
  });

  it('puts no code, token or secret in any error or retry log line, even when Wix echoes them', async () => {
    const code = sim.issueCode(app.appId, instanceId);
    const { refreshToken, accessToken } = await client().exchangeCode(app, sim.issueCode(app.appId, instanceId));
    const logLines: string[] = [];
    const logged = client({ onRetry: (event) => logLines.push(JSON.stringify(event)) });
    const failures: unknown[] = [];

    sim.intercept(wixFaults.status(400, { path: '/oauth/access', error: 'invalid_grant', errorDescription: `code ${code} for secret ${app.appSecret} is bad` }));
    failures.push(await caught(logged.exchangeCode(app, code)));
    sim.intercept(wixFaults.status(503, { path: '/oauth/access', times: 1, body: `upstream saw ${refreshToken}` }));
    sim.intercept(wixFaults.status(401, { path: '/oauth/access', error: 'invalid_client', errorDescription: `refresh ${refreshToken} rejected` }));
    failures.push(await caught(logged.refreshAccessToken(app, refreshToken)));
    sim.intercept(wixFaults.status(200, { path: '/oauth2/token', contentType: 'application/json', body: `{"access_token": 5, "echo": "${app.appSecret}"}` }));
    failures.push(await caught(client({ maxAttempts: 1 }).createAccessToken(app, instanceId)));
    sim.intercept(wixFaults.status(400, { path: '/oauth2/token-info', error: 'invalid_request', errorDescription: `token ${accessToken}` }));
    failures.push(await caught(logged.getTokenInfo(accessToken)));
    sim.intercept(wixFaults.hang({ path: '/oauth2/token' }));
    failures.push(await caught(client({ attemptTimeoutMs: 30, maxAttempts: 1 }).createAccessToken(app, instanceId)));

    expect(failures).toHaveLength(5);
    expect(logLines.length).toBeGreaterThan(0);
    const rendered = failures.map((failure) => everyRendering(failure, logLines)).join('\n');
    expect(rendered).toContain('[redacted]');
    for (const secret of [code, refreshToken, accessToken, app.appSecret, ...sim.issuedSecrets()]) {
      expect(rendered).not.toContain(secret);
    }
  });
});
