import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import {
  mulberry32,
  startWixSimulator,
  wixFaults,
  type InterceptedCall,
  type WixSimulator,
  type WixSimulatorOptions,
} from '../../../../infra/local/wix-simulator';

const APP = { appId: '11111111-1111-4111-8111-111111111111', appSecret: 'secret-one' };
const OTHER_APP = { appId: '22222222-2222-4222-8222-222222222222', appSecret: 'secret-two' };
const START = Date.UTC(2025, 0, 1, 12, 0, 0);

interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown>;
}

async function post(
  sim: WixSimulator,
  route: string,
  body: unknown,
  init: { contentType?: string; signal?: AbortSignal; raw?: string } = {},
): Promise<Answer> {
  const response = await fetch(`${sim.url}${route}`, {
    method: 'POST',
    headers: { 'content-type': init.contentType ?? 'application/json' },
    body: init.raw ?? JSON.stringify(body),
    ...(init.signal ? { signal: init.signal } : {}),
  });
  return read(response);
}

async function get(sim: WixSimulator, route: string, method = 'GET'): Promise<Answer> {
  return read(await fetch(`${sim.url}${route}`, { method, redirect: 'manual' }));
}

async function read(response: Response): Promise<Answer> {
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not every answer is JSON; tests that care look at `text`
  }
  return { status: response.status, headers: response.headers, text, json };
}

function exchangeCode(sim: WixSimulator, code: string, app = APP): Promise<Answer> {
  return post(sim, '/oauth/access', { grant_type: 'authorization_code', client_id: app.appId, client_secret: app.appSecret, code });
}

function refresh(sim: WixSimulator, refreshToken: string, app = APP): Promise<Answer> {
  return post(sim, '/oauth/access', {
    grant_type: 'refresh_token',
    client_id: app.appId,
    client_secret: app.appSecret,
    refresh_token: refreshToken,
  });
}

function clientCredentials(sim: WixSimulator, instanceId: string, app = APP): Promise<Answer> {
  return post(sim, '/oauth2/token', {
    grant_type: 'client_credentials',
    client_id: app.appId,
    client_secret: app.appSecret,
    instance_id: instanceId,
  });
}

function tokenInfo(sim: WixSimulator, token: string): Promise<Answer> {
  return post(sim, '/oauth2/token-info', { token });
}

describe('Wix simulator', () => {
  let sim: WixSimulator;
  let clock: number;

  async function restart(options: WixSimulatorOptions = {}): Promise<void> {
    await sim.stop();
    sim = await startWixSimulator({ apps: [APP], now: () => clock, ...options });
  }

  beforeEach(async () => {
    clock = START;
    sim = await startWixSimulator({ apps: [APP], now: () => clock });
  });

  afterEach(async () => {
    await sim.stop();
  });

  describe('authorization_code grant', () => {
    it('exchanges a code for an access token and a refresh token, and nothing else', async () => {
      const instanceId = sim.install(APP.appId);
      const code = sim.issueCode(APP.appId, instanceId);

      const answer = await exchangeCode(sim, code);

      expect(answer.status).toBe(200);
      expect(Object.keys(answer.json).sort()).toEqual(['access_token', 'refresh_token']);
      expect(answer.json.access_token).toMatch(/^OauthNG\.JWS\.[A-Za-z0-9_-]+$/);
      expect(typeof answer.json.refresh_token).toBe('string');
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      expect(answer.headers.get('x-wix-request-id')).toBeTruthy();
      expect(sim.issued).toEqual({ accessTokens: 1, refreshTokens: 1, codes: 1 });
    });

    it('adds expires_in: 300 when legacyExpiresIn is set', async () => {
      await restart({ legacyExpiresIn: true });
      const code = sim.issueCode(APP.appId, sim.install(APP.appId));

      const answer = await exchangeCode(sim, code);

      expect(answer.json.expires_in).toBe(300);
    });

    it('accepts a code once only', async () => {
      const code = sim.issueCode(APP.appId, sim.install(APP.appId));
      await exchangeCode(sim, code);

      const second = await exchangeCode(sim, code);

      expect(second.status).toBe(400);
      expect(second.json.error).toBe('invalid_grant');
    });

    it('accepts a code just before 10 minutes and refuses it at 10 minutes', async () => {
      const instanceId = sim.install(APP.appId);
      const early = sim.issueCode(APP.appId, instanceId);
      const late = sim.issueCode(APP.appId, instanceId);

      clock = START + 10 * 60 * 1000 - 1;
      const justInTime = await exchangeCode(sim, early);
      clock = START + 10 * 60 * 1000;
      const expired = await exchangeCode(sim, late);

      expect(justInTime.status).toBe(200);
      expect(expired.status).toBe(400);
      expect(expired.json).toEqual({ error: 'invalid_grant', error_description: 'The authorization code has expired' });
    });

    it('refuses an unknown code and a code issued to another app', async () => {
      sim.addApp(OTHER_APP);
      const othersCode = sim.issueCode(OTHER_APP.appId, sim.install(OTHER_APP.appId));

      const unknown = await exchangeCode(sim, 'no-such-code');
      const foreign = await exchangeCode(sim, othersCode);

      expect([unknown.status, unknown.json.error]).toEqual([400, 'invalid_grant']);
      expect([foreign.status, foreign.json.error]).toEqual([400, 'invalid_grant']);
      expect((await exchangeCode(sim, othersCode, OTHER_APP)).status).toBe(200);
    });
  });

  describe('refresh_token grant', () => {
    it('returns a new access token and the same refresh token', async () => {
      const first = await exchangeCode(sim, sim.issueCode(APP.appId, sim.install(APP.appId)));
      const refreshToken = first.json.refresh_token as string;

      const answer = await refresh(sim, refreshToken);

      expect(answer.status).toBe(200);
      expect(answer.json.refresh_token).toBe(refreshToken);
      expect(answer.json.access_token).not.toBe(first.json.access_token);
      expect(sim.issued.refreshTokens).toBe(1);
    });

    it('hands back a new refresh token and retires the old one when rotateRefreshTokens is set', async () => {
      await restart({ rotateRefreshTokens: true });
      const first = await exchangeCode(sim, sim.issueCode(APP.appId, sim.install(APP.appId)));
      const oldToken = first.json.refresh_token as string;

      const rotated = await refresh(sim, oldToken);
      const reused = await refresh(sim, oldToken);

      expect(rotated.status).toBe(200);
      expect(rotated.json.refresh_token).not.toBe(oldToken);
      expect([reused.status, reused.json.error]).toEqual([400, 'invalid_grant']);
      expect((await refresh(sim, rotated.json.refresh_token as string)).status).toBe(200);
    });

    it('lists the refresh tokens it would accept for an instance: the current one, none once rotated away or uninstalled', async () => {
      await restart({ rotateRefreshTokens: true });
      const instanceId = sim.install(APP.appId);
      const first = await exchangeCode(sim, sim.issueCode(APP.appId, instanceId));
      const before = sim.liveRefreshTokens(APP.appId, instanceId);

      const rotated = await refresh(sim, first.json.refresh_token as string);
      const after = sim.liveRefreshTokens(APP.appId, instanceId);
      sim.uninstall(APP.appId, instanceId);

      expect(before).toEqual([first.json.refresh_token]);
      expect(after).toEqual([rotated.json.refresh_token]);
      expect(sim.liveRefreshTokens(APP.appId, instanceId)).toEqual([]);
    });

    it('is refused with the wrong app', async () => {
      sim.addApp(OTHER_APP);
      const first = await exchangeCode(sim, sim.issueCode(APP.appId, sim.install(APP.appId)));

      const answer = await refresh(sim, first.json.refresh_token as string, OTHER_APP);

      expect([answer.status, answer.json.error]).toEqual([400, 'invalid_grant']);
    });
  });

  describe('client_credentials grant', () => {
    it('mints a Bearer token valid for 14400 seconds', async () => {
      const instanceId = sim.install(APP.appId);

      const answer = await clientCredentials(sim, instanceId);

      expect(answer.status).toBe(200);
      expect(answer.json).toEqual({ access_token: expect.stringMatching(/^OauthNG\.JWS\./), token_type: 'Bearer', expires_in: 14400 });
      expect(answer.headers.get('cache-control')).toBe('no-store');
    });

    it('refuses an instance the app is not installed on', async () => {
      sim.addApp(OTHER_APP);
      const othersInstance = sim.install(OTHER_APP.appId);

      const unknown = await clientCredentials(sim, '33333333-3333-4333-8333-333333333333');
      const foreign = await clientCredentials(sim, othersInstance);

      expect([unknown.status, unknown.json.error]).toEqual([400, 'invalid_grant']);
      expect([foreign.status, foreign.json.error]).toEqual([400, 'invalid_grant']);
    });
  });

  describe('uninstall and reinstall', () => {
    it('refuses refresh and client credentials once the instance is uninstalled', async () => {
      const instanceId = sim.install(APP.appId);
      const first = await exchangeCode(sim, sim.issueCode(APP.appId, instanceId));

      sim.uninstall(APP.appId, instanceId);
      const refreshed = await refresh(sim, first.json.refresh_token as string);
      const minted = await clientCredentials(sim, instanceId);

      expect(sim.isInstalled(APP.appId, instanceId)).toBe(false);
      expect([refreshed.status, refreshed.json.error]).toEqual([400, 'invalid_grant']);
      expect([minted.status, minted.json.error]).toEqual([400, 'invalid_grant']);
    });

    it('refuses a code issued before the uninstall', async () => {
      const instanceId = sim.install(APP.appId);
      const code = sim.issueCode(APP.appId, instanceId);
      sim.uninstall(APP.appId, instanceId);
      sim.install(APP.appId, instanceId);

      const answer = await exchangeCode(sim, code);

      expect([answer.status, answer.json.error]).toEqual([400, 'invalid_grant']);
    });

    it('issues a new refresh token on reinstall while the old one stays dead', async () => {
      const instanceId = sim.install(APP.appId);
      const before = await exchangeCode(sim, sim.issueCode(APP.appId, instanceId));
      sim.uninstall(APP.appId, instanceId);

      const after = await exchangeCode(sim, sim.issueCode(APP.appId, instanceId));
      const oldRefresh = await refresh(sim, before.json.refresh_token as string);
      const newRefresh = await refresh(sim, after.json.refresh_token as string);

      expect(sim.isInstalled(APP.appId, instanceId)).toBe(true);
      expect(after.json.refresh_token).not.toBe(before.json.refresh_token);
      expect(oldRefresh.status).toBe(400);
      expect(newRefresh.status).toBe(200);
      expect((await clientCredentials(sim, instanceId)).status).toBe(200);
    });
  });

  describe('token-info', () => {
    it('describes a legacy token as a 5-minute APP token, with string values, until it expires', async () => {
      const instanceId = sim.install(APP.appId);
      const { json } = await exchangeCode(sim, sim.issueCode(APP.appId, instanceId));

      const fresh = await tokenInfo(sim, json.access_token as string);
      clock = START + 300 * 1000;
      const expired = await tokenInfo(sim, json.access_token as string);

      expect(fresh.json).toEqual({
        active: 'true',
        subjectType: 'APP',
        subjectId: APP.appId,
        exp: String(START / 1000 + 300),
        iat: String(START / 1000),
        clientId: APP.appId,
        siteId: expect.stringMatching(/^[0-9a-f-]{36}$/),
        instanceId,
      });
      expect(expired.json.active).toBe('false');
    });

    it('describes a client-credentials token as valid for 14400 seconds, as numbers when asked', async () => {
      await restart({ tokenInfoAsStrings: false });
      const instanceId = sim.install(APP.appId);
      const { json } = await clientCredentials(sim, instanceId);

      const info = await tokenInfo(sim, json.access_token as string);

      expect(info.json.active).toBe(true);
      expect(info.json.iat).toBe(START / 1000);
      expect((info.json.exp as number) - (info.json.iat as number)).toBe(14400);
      expect(info.json.instanceId).toBe(instanceId);
    });

    it('keeps the same siteId across tokens of one instance', async () => {
      const instanceId = sim.install(APP.appId);
      const a = await clientCredentials(sim, instanceId);
      const b = await clientCredentials(sim, instanceId);

      const infoA = await tokenInfo(sim, a.json.access_token as string);
      const infoB = await tokenInfo(sim, b.json.access_token as string);

      expect(infoA.json.siteId).toBe(infoB.json.siteId);
    });

    it('reports a token inactive once its instance is uninstalled, even after a reinstall', async () => {
      const instanceId = sim.install(APP.appId);
      const { json } = await clientCredentials(sim, instanceId);

      sim.uninstall(APP.appId, instanceId);
      const uninstalled = await tokenInfo(sim, json.access_token as string);
      sim.install(APP.appId, instanceId);
      const reinstalled = await tokenInfo(sim, json.access_token as string);

      expect(uninstalled.json.active).toBe('false');
      expect(reinstalled.json.active).toBe('false');
    });

    it('answers 200 {active: false} for a token it never issued', async () => {
      const answer = await tokenInfo(sim, 'OauthNG.JWS.made-up');

      expect(answer.status).toBe(200);
      expect(answer.json).toEqual({ active: 'false' });
    });

    it('refuses a request without a token', async () => {
      const answer = await post(sim, '/oauth2/token-info', {});

      expect([answer.status, answer.json.error]).toEqual([400, 'invalid_request']);
    });
  });

  describe('request errors', () => {
    it('answers invalid_client for a wrong secret and for an unknown client_id', async () => {
      const code = sim.issueCode(APP.appId, sim.install(APP.appId));

      const wrongSecret = await exchangeCode(sim, code, { appId: APP.appId, appSecret: 'wrong' });
      const unknownApp = await clientCredentials(sim, 'any', { appId: 'unknown-app', appSecret: APP.appSecret });

      expect(wrongSecret.status).toBe(401);
      expect(wrongSecret.json).toEqual({ error: 'invalid_client', error_description: 'Client authentication failed' });
      expect([unknownApp.status, unknownApp.json.error]).toEqual([401, 'invalid_client']);
      expect((await exchangeCode(sim, code)).status).toBe(200);
    });

    it('refuses the old secret after setAppSecret and accepts the new one', async () => {
      const instanceId = sim.install(APP.appId);

      sim.setAppSecret(APP.appId, 'rotated-secret');
      const old = await clientCredentials(sim, instanceId);
      const rotated = await clientCredentials(sim, instanceId, { appId: APP.appId, appSecret: 'rotated-secret' });

      expect(old.status).toBe(401);
      expect(rotated.status).toBe(200);
    });

    it.each([
      ['a missing code', { grant_type: 'authorization_code', client_id: APP.appId, client_secret: APP.appSecret }],
      ['a missing client_secret', { grant_type: 'refresh_token', client_id: APP.appId, refresh_token: 'r' }],
      ['a numeric client_id', { grant_type: 'refresh_token', client_id: 42, client_secret: 's', refresh_token: 'r' }],
      ['a missing grant_type', { client_id: APP.appId, client_secret: APP.appSecret, code: 'c' }],
    ])('answers invalid_request for %s', async (_name, body) => {
      const answer = await post(sim, '/oauth/access', body);

      expect([answer.status, answer.json.error]).toEqual([400, 'invalid_request']);
    });

    it.each([
      ['a JSON array', '[1,2]', 'application/json'],
      ['malformed JSON', '{"grant_type":', 'application/json'],
      ['a form-encoded body', 'grant_type=client_credentials', 'application/x-www-form-urlencoded'],
    ])('answers invalid_request for %s', async (_name, raw, contentType) => {
      const answer = await post(sim, '/oauth2/token', undefined, { raw, contentType });

      expect([answer.status, answer.json.error]).toEqual([400, 'invalid_request']);
    });

    it('answers unsupported_grant_type for a grant the endpoint does not serve', async () => {
      const credentials = { client_id: APP.appId, client_secret: APP.appSecret };

      const onLegacy = await post(sim, '/oauth/access', { grant_type: 'client_credentials', ...credentials, instance_id: 'i' });
      const onToken = await post(sim, '/oauth2/token', { grant_type: 'strip_bound_session', ...credentials, access_token: 'a' });

      expect([onLegacy.status, onLegacy.json.error]).toEqual([400, 'unsupported_grant_type']);
      expect([onToken.status, onToken.json.error]).toEqual([400, 'unsupported_grant_type']);
    });

    it('answers 405 with Allow for a wrong method and 404 for an unknown path', async () => {
      const wrongMethod = await get(sim, '/oauth2/token');
      const unknown = await post(sim, '/oauth/access/', {});

      expect(wrongMethod.status).toBe(405);
      expect(wrongMethod.headers.get('allow')).toBe('POST');
      expect(unknown.status).toBe(404);
    });

    it('shapes errors the Wix way when errorShape is wix', async () => {
      await restart({ errorShape: 'wix' });

      const badClient = await clientCredentials(sim, 'any', { appId: APP.appId, appSecret: 'wrong' });
      const missing = await post(sim, '/oauth2/token', { grant_type: 'client_credentials', client_id: APP.appId });

      expect(badClient.status).toBe(401);
      expect(badClient.json).toEqual({
        message: 'Client authentication failed',
        details: { applicationError: { code: 'invalid_client', description: 'Client authentication failed', data: {} } },
      });
      expect(missing.status).toBe(400);
      expect(missing.json).toMatchObject({
        details: { validationError: { fieldViolations: [{ field: 'client_secret', violatedRule: 'REQUIRED_FIELD' }] } },
      });
    });

    it('gives every response its own x-wix-request-id', async () => {
      const answers = await Promise.all([tokenInfo(sim, 'a'), tokenInfo(sim, 'b'), get(sim, '/nowhere')]);

      const ids = answers.map((answer) => answer.headers.get('x-wix-request-id'));

      expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
      expect(new Set(ids).size).toBe(3);
    });
  });

  describe('faults', () => {
    it('answers a 5xx status fault with an HTML page and does not consume the code', async () => {
      const code = sim.issueCode(APP.appId, sim.install(APP.appId));
      sim.intercept(wixFaults.status(503));

      const faulted = await exchangeCode(sim, code);
      const retried = await exchangeCode(sim, code);

      expect(faulted.status).toBe(503);
      expect(faulted.headers.get('content-type')).toMatch(/^text\/html/);
      expect(faulted.text).toContain('503 Service Unavailable');
      expect(faulted.headers.get('x-wix-request-id')).toBeTruthy();
      expect(retried.status).toBe(200);
    });

    it('answers a 4xx status fault with a JSON error built from error and errorDescription', async () => {
      sim.intercept(wixFaults.status(403, { error: 'access_denied', errorDescription: 'nope' }));

      const answer = await clientCredentials(sim, sim.install(APP.appId));

      expect(answer.status).toBe(403);
      expect(answer.json).toEqual({ error: 'access_denied', error_description: 'nope' });
    });

    it('uses a status fault’s own body and content type', async () => {
      sim.intercept(wixFaults.status(502, { body: 'upstream gone', contentType: 'text/plain' }));

      const answer = await clientCredentials(sim, sim.install(APP.appId));

      expect(answer.status).toBe(502);
      expect(answer.text).toBe('upstream gone');
      expect(answer.headers.get('content-type')).toBe('text/plain');
    });

    it('answers 429 with Retry-After in seconds or as an HTTP date', async () => {
      const date = 'Wed, 01 Jan 2025 12:00:30 GMT';
      sim.intercept(wixFaults.rateLimit({ retryAfter: 7 }));
      sim.intercept(wixFaults.rateLimit({ retryAfter: date }));
      sim.intercept(wixFaults.rateLimit());
      const instanceId = sim.install(APP.appId);

      const seconds = await clientCredentials(sim, instanceId);
      const dated = await clientCredentials(sim, instanceId);
      const bare = await clientCredentials(sim, instanceId);

      expect([seconds.status, seconds.headers.get('retry-after')]).toEqual([429, '7']);
      expect([dated.status, dated.headers.get('retry-after')]).toEqual([429, date]);
      expect([bare.status, bare.headers.get('retry-after')]).toEqual([429, null]);
    });

    it('hangs until the client aborts, and stop() still returns promptly', async () => {
      sim.intercept(wixFaults.hang());
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 100);

      const body = { grant_type: 'client_credentials', client_id: APP.appId, client_secret: APP.appSecret, instance_id: 'i' };

      const outcome = await post(sim, '/oauth2/token', body, { signal: controller.signal }).catch((error: unknown) => error);
      clearTimeout(timer);
      const started = Date.now();
      await sim.stop();

      // fetch's errors come from another realm under jest, so compare names rather than classes.
      expect((outcome as Error).name).toBe('AbortError');
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('destroys a hanging request on stop()', async () => {
      sim.intercept(wixFaults.hang());
      const request = clientCredentials(sim, sim.install(APP.appId)).then(
        () => 'answered',
        () => 'failed',
      );
      await new Promise((resolve) => setTimeout(resolve, 50));

      const started = Date.now();
      await sim.stop();

      expect(await request).toBe('failed');
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('resets the connection without answering', async () => {
      sim.intercept(wixFaults.reset());

      const outcome = await clientCredentials(sim, sim.install(APP.appId)).catch((error: unknown) => error);

      expect((outcome as Error).name).toBe('TypeError');
      expect((outcome as Error).message).toBe('fetch failed');
    });

    it.each([
      ['html', wixFaults.html, /^text\/html/, (text: string) => text.startsWith('<!DOCTYPE html>')],
      ['notJson', wixFaults.notJson, /^application\/json/, (text: string) => text.length > 0 && !isJson(text)],
      ['emptyBody', wixFaults.emptyBody, /^application\/json/, (text: string) => text === ''],
    ] as const)('answers 200 with a broken body for %s', async (_name, fault, contentType, check) => {
      sim.intercept(fault());

      const answer = await clientCredentials(sim, sim.install(APP.appId));

      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(contentType);
      expect(check(answer.text)).toBe(true);
    });

    it.each([
      ['missingAccessToken', wixFaults.missingAccessToken, (body: Record<string, unknown>) => !('access_token' in body)],
      ['mistypedAccessToken', wixFaults.mistypedAccessToken, (body: Record<string, unknown>) => body.access_token === 12345],
    ] as const)('answers %s after performing the grant', async (_name, fault, check) => {
      const code = sim.issueCode(APP.appId, sim.install(APP.appId));
      sim.intercept(fault());

      const answer = await exchangeCode(sim, code);
      const reuse = await exchangeCode(sim, code);

      expect(answer.status).toBe(200);
      expect(check(answer.json)).toBe(true);
      expect(typeof answer.json.refresh_token).toBe('string');
      expect(reuse.status).toBe(400);
    });

    it.each([
      ['expiresInString', wixFaults.expiresInString, '14400'],
      ['expiresInInvalid', wixFaults.expiresInInvalid, 'soon'],
      ['expiresInMissing', wixFaults.expiresInMissing, undefined],
    ] as const)('answers %s with a usable token', async (_name, fault, expiresIn) => {
      sim.intercept(fault());

      const answer = await clientCredentials(sim, sim.install(APP.appId));
      const info = await tokenInfo(sim, answer.json.access_token as string);

      expect(answer.status).toBe(200);
      expect(answer.json.expires_in).toBe(expiresIn);
      expect(info.json.active).toBe('true');
    });

    it('adds unknown fields to a valid answer for extra-fields', async () => {
      sim.intercept(wixFaults.extraFields());

      const answer = await clientCredentials(sim, sim.install(APP.appId));

      expect(answer.json).toMatchObject({ token_type: 'Bearer', expires_in: 14400, scope: 'offline_access' });
      expect(Object.keys(answer.json).length).toBeGreaterThan(3);
    });

    it('keeps a shape fault for a successful answer instead of spending it on an error', async () => {
      sim.intercept(wixFaults.missingAccessToken());
      const instanceId = sim.install(APP.appId);

      const refused = await clientCredentials(sim, instanceId, { appId: APP.appId, appSecret: 'wrong' });
      const info = await tokenInfo(sim, 'unknown');
      const faulted = await clientCredentials(sim, instanceId);

      expect(refused.status).toBe(401);
      expect(info.json).toEqual({ active: 'false' });
      expect(faulted.json.access_token).toBeUndefined();
    });

    it('applies a fault to the next `times` matching calls only', async () => {
      sim.intercept(wixFaults.status(500, { times: 2 }));
      const instanceId = sim.install(APP.appId);

      const statuses: number[] = [];
      for (let i = 0; i < 3; i += 1) statuses.push((await clientCredentials(sim, instanceId)).status);

      expect(statuses).toEqual([500, 500, 200]);
    });

    it('matches a fault on grant and on path', async () => {
      sim.intercept(wixFaults.status(500, { grant: 'refresh_token' }));
      sim.intercept(wixFaults.status(504, { path: '/oauth2/token-info' }));
      const instanceId = sim.install(APP.appId);
      const first = await exchangeCode(sim, sim.issueCode(APP.appId, instanceId));

      const minted = await clientCredentials(sim, instanceId);
      const refreshed = await refresh(sim, first.json.refresh_token as string);
      const info = await tokenInfo(sim, minted.json.access_token as string);

      expect([first.status, minted.status, refreshed.status, info.status]).toEqual([200, 200, 500, 504]);
    });

    it('can fault an installer page when its path is named', async () => {
      sim.intercept(wixFaults.status(500, { path: '/installer/close-window' }));

      const answer = await get(sim, '/installer/close-window?access_token=abc');

      expect(answer.status).toBe(500);
      expect(sim.closedWindows).toEqual([]);
    });

    it('applies rate faults as the seeded PRNG says, reproducibly', async () => {
      const rate = 0.3;
      const prng = mulberry32(42);
      const expected = Array.from({ length: 40 }, () => (prng() < rate ? 503 : 200));
      sim.intercept(wixFaults.status(503, { rate }));
      const instanceId = sim.install(APP.appId);

      const statuses: number[] = [];
      for (let i = 0; i < 40; i += 1) statuses.push((await clientCredentials(sim, instanceId)).status);

      expect(statuses).toEqual(expected);
      expect(statuses).toContain(503);
      expect(statuses).toContain(200);
    });

    it('draws rate faults from an injected random source', async () => {
      await restart({ random: () => 0.5 });
      sim.intercept(wixFaults.status(500, { rate: 0.49 }));
      sim.intercept(wixFaults.status(502, { rate: 0.51 }));

      const answer = await clientCredentials(sim, sim.install(APP.appId));

      expect(answer.status).toBe(502);
    });

    it('stops every fault on clearIntercepts', async () => {
      sim.intercept(wixFaults.status(500, { rate: 1 }));
      sim.intercept(wixFaults.status(500, { times: 5 }));
      const instanceId = sim.install(APP.appId);
      const before = await clientCredentials(sim, instanceId);

      sim.clearIntercepts();
      const after = await clientCredentials(sim, instanceId);

      expect([before.status, after.status]).toEqual([500, 200]);
    });

    it.each([
      ['times and rate together', () => wixFaults.hang({ times: 1, rate: 0.5 }), TypeError],
      ['a rate above 1', () => wixFaults.hang({ rate: 1.5 }), RangeError],
      ['zero times', () => wixFaults.hang({ times: 0 }), RangeError],
      ['a status that is not HTTP', () => wixFaults.status(999), RangeError],
      ['a hook that is not a function', () => sim.intercept('explode' as never), TypeError],
    ] as const)('rejects a fault with %s', (_name, make, type) => {
      expect(make).toThrow(type);
    });

    it('hands a hand-written hook each call, and routes the calls it passes on', async () => {
      const seen: Array<Omit<InterceptedCall, 'random' | 'errorShape'>> = [];
      sim.intercept(({ path, method, grant }) => {
        seen.push({ path, method, grant });
        return path === '/nowhere' ? { reply: { kind: 'raw', status: 418, body: 'teapot' } } : undefined;
      });
      const instanceId = sim.install(APP.appId);

      const minted = await clientCredentials(sim, instanceId);
      const teapot = await get(sim, '/nowhere');

      expect([minted.status, teapot.status, teapot.text]).toEqual([200, 418, 'teapot']);
      expect(seen).toEqual([
        { path: '/oauth2/token', method: 'POST', grant: 'client_credentials' },
        { path: '/nowhere', method: 'GET', grant: undefined },
      ]);
    });
  });

  describe('latency', () => {
    it('delays every response by latencyMs', async () => {
      await restart({ latencyMs: 150 });

      const started = Date.now();
      const answer = await tokenInfo(sim, 'x');

      expect(answer.status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    });

    it('changes the delay with setLatency', async () => {
      sim.setLatency(150);
      const slowStart = Date.now();
      await tokenInfo(sim, 'x');
      const slow = Date.now() - slowStart;

      sim.setLatency(0);
      const fastStart = Date.now();
      await tokenInfo(sim, 'x');
      const fast = Date.now() - fastStart;

      expect(slow).toBeGreaterThanOrEqual(140);
      expect(fast).toBeLessThan(140);
    });

    it('stops promptly while a delayed response is pending', async () => {
      sim.setLatency(5000);
      const request = tokenInfo(sim, 'x').then(
        () => 'answered',
        () => 'failed',
      );
      await new Promise((resolve) => setTimeout(resolve, 50));

      const started = Date.now();
      await sim.stop();

      expect(await request).toBe('failed');
      expect(Date.now() - started).toBeLessThan(1000);
    });
  });

  describe('counters', () => {
    it('counts every call by path and grant, faulted ones included', async () => {
      const instanceId = sim.install(APP.appId);
      sim.intercept(wixFaults.status(500, { grant: 'client_credentials' }));

      await clientCredentials(sim, instanceId);
      await clientCredentials(sim, instanceId);
      await exchangeCode(sim, sim.issueCode(APP.appId, instanceId));
      await tokenInfo(sim, 'x');
      await get(sim, '/nowhere');

      expect(sim.calls).toEqual({
        total: 5,
        byPath: { '/oauth2/token': 2, '/oauth/access': 1, '/oauth2/token-info': 1, '/nowhere': 1 },
        byGrant: { client_credentials: 2, authorization_code: 1 },
      });
    });

    it('resets the counters in place', async () => {
      const live = sim.calls;
      await tokenInfo(sim, 'x');

      sim.resetCalls();
      await tokenInfo(sim, 'y');

      expect(live).toBe(sim.calls);
      expect(live).toEqual({ total: 1, byPath: { '/oauth2/token-info': 1 }, byGrant: {} });
    });

    it('lists every code and token it issued in issuedSecrets', async () => {
      const instanceId = sim.install(APP.appId);
      const code = sim.issueCode(APP.appId, instanceId);
      const legacy = await exchangeCode(sim, code);
      const minted = await clientCredentials(sim, instanceId);

      const secrets = sim.issuedSecrets();

      expect(secrets).toEqual(
        expect.arrayContaining([code, legacy.json.access_token, legacy.json.refresh_token, minted.json.access_token]),
      );
      expect(secrets).toHaveLength(4);
    });
  });

  describe('installer', () => {
    it('redirects to redirectUrl with code, state and instanceId, keeping its own query', async () => {
      const redirectUrl = 'https://app.example.com/oauth/callback?entry=market&lang=en';
      const query = new URLSearchParams({ token: 'install-token', appId: APP.appId, redirectUrl, state: 'csrf-123' });

      const answer = await get(sim, `/installer/install?${query.toString()}`);
      const location = new URL(answer.headers.get('location') ?? '');
      const instanceId = location.searchParams.get('instanceId') ?? '';
      const code = location.searchParams.get('code') ?? '';

      expect(answer.status).toBe(302);
      expect(`${location.origin}${location.pathname}`).toBe('https://app.example.com/oauth/callback');
      expect(location.searchParams.get('entry')).toBe('market');
      expect(location.searchParams.get('lang')).toBe('en');
      expect(location.searchParams.get('state')).toBe('csrf-123');
      expect(instanceId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(sim.isInstalled(APP.appId, instanceId)).toBe(true);
      expect((await exchangeCode(sim, code)).status).toBe(200);
    });

    it('uses the instanceId the test passes and leaves state out when none was sent', async () => {
      const instanceId = '44444444-4444-4444-8444-444444444444';
      const query = new URLSearchParams({ appId: APP.appId, redirectUrl: 'http://localhost:3000/cb', instanceId });

      const answer = await get(sim, `/app-oauth-installation/consent?${query.toString()}`);
      const location = new URL(answer.headers.get('location') ?? '');

      expect(answer.status).toBe(302);
      expect(location.searchParams.get('instanceId')).toBe(instanceId);
      expect(location.searchParams.has('state')).toBe(false);
      expect(sim.isInstalled(APP.appId, instanceId)).toBe(true);
    });

    it.each([
      ['an unknown appId', { appId: 'nope', redirectUrl: 'https://app.example.com/cb' }],
      ['no appId', { redirectUrl: 'https://app.example.com/cb' }],
      ['no redirectUrl', { appId: APP.appId }],
      ['a javascript: redirectUrl', { appId: APP.appId, redirectUrl: 'javascript:alert(1)' }],
      ['a relative redirectUrl', { appId: APP.appId, redirectUrl: '/cb' }],
    ])('answers 400 with an HTML page for %s', async (_name, params) => {
      const answer = await get(sim, `/installer/install?${new URLSearchParams(params).toString()}`);

      expect(answer.status).toBe(400);
      expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
      expect(sim.issued.codes).toBe(0);
    });

    it('with consentPage, asks first: GET shows an Allow form carrying the query, escaped, and issues nothing', async () => {
      await restart({ consentPage: true });
      const redirectUrl = 'https://app.example.com/oauth/callback';
      const query = new URLSearchParams({ token: 'install-token', appId: APP.appId, redirectUrl, state: 'a"<b>&c' });

      const answer = await get(sim, `/installer/install?${query.toString()}`);

      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
      expect(answer.text).toContain('<form method="post">');
      expect(answer.text).toContain('<button type="submit" name="decision" value="allow">Allow</button>');
      expect(answer.text).toContain('<input type="hidden" name="state" value="a&#34;&#60;b&#62;&#38;c">');
      expect(answer.text).toContain(`<input type="hidden" name="appId" value="${APP.appId}">`);
      expect(sim.issued.codes).toBe(0);
    });

    it('with consentPage, the Allow form posted back issues a code and redirects to the callback with the state', async () => {
      await restart({ consentPage: true });
      const form = new URLSearchParams({ token: 'install-token', appId: APP.appId, redirectUrl: 'https://app.example.com/cb', state: 'csrf-1', decision: 'allow' });

      const response = await fetch(`${sim.url}/installer/install?${form.toString()}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
      const location = new URL(response.headers.get('location') ?? '');

      expect(response.status).toBe(302);
      expect(`${location.origin}${location.pathname}`).toBe('https://app.example.com/cb');
      expect(location.searchParams.get('state')).toBe('csrf-1');
      expect((await exchangeCode(sim, location.searchParams.get('code') ?? '')).status).toBe(200);
    });

    it('with consentPage, refuses a posted form without a known appId, and other methods', async () => {
      await restart({ consentPage: true });

      const refused = await fetch(`${sim.url}/installer/install`, { method: 'POST', body: new URLSearchParams({ redirectUrl: 'https://app.example.com/cb' }) });
      const put = await get(sim, '/installer/install', 'PUT');

      expect(refused.status).toBe(400);
      expect(put.status).toBe(405);
      expect(sim.issued.codes).toBe(0);
    });

    it('without consentPage, refuses a POST to the installer', async () => {
      expect((await get(sim, '/installer/install', 'POST')).status).toBe(405);
    });

    it('records the access tokens close-window receives, in order', async () => {
      const first = await get(sim, '/installer/close-window?access_token=first');
      await get(sim, '/installer/close-window?access_token=second');

      expect(first.status).toBe(200);
      expect(first.headers.get('content-type')).toMatch(/^text\/html/);
      expect(sim.closedWindows).toEqual(['first', 'second']);
    });

    it('answers 400 to close-window without an access_token', async () => {
      const answer = await get(sim, '/installer/close-window');

      expect(answer.status).toBe(400);
      expect(sim.closedWindows).toEqual([]);
    });
  });

  describe('lifecycle', () => {
    it('serves on 127.0.0.1 and can be stopped twice', async () => {
      expect(sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      await sim.stop();
      await sim.stop();

      await expect(fetch(`${sim.url}/oauth2/token-info`)).rejects.toThrow();
    });

    it('throws for an unknown app in install, issueCode and setAppSecret', () => {
      expect(() => sim.install('nope')).toThrow('unknown app');
      expect(() => sim.issueCode('nope', 'i')).toThrow('unknown app');
      expect(() => sim.setAppSecret('nope', 's')).toThrow('unknown app');
    });
  });
});

describe('wix-simulator CLI', () => {
  it('starts on WIX_SIMULATOR_PORT with the app from the environment and stops on SIGTERM', async () => {
    const root = path.resolve(__dirname, '../../../..');
    const child = spawn(process.execPath, ['--import', 'tsx', 'infra/local/wix-simulator-cli.ts'], {
      cwd: root,
      env: { ...process.env, WIX_SIMULATOR_PORT: '0', WIX_APP_ID: APP.appId, WIX_APP_SECRET: APP.appSecret },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      let output = '';
      child.stdout.setEncoding('utf8');
      const url = await new Promise<string>((resolve, reject) => {
        child.stdout.on('data', (chunk: string) => {
          output += chunk;
          const match = /listening on (http:\/\/\S+)/.exec(output);
          if (match?.[1]) resolve(match[1]);
        });
        child.once('exit', () => reject(new Error(`CLI exited early: ${output}`)));
      });

      const answer = await fetch(`${url}/oauth2/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ grant_type: 'client_credentials', client_id: APP.appId, client_secret: 'wrong', instance_id: 'i' }),
      });
      const exited = once(child, 'exit');
      child.kill('SIGTERM');
      const [code] = await exited;

      expect(answer.status).toBe(401);
      expect(output).not.toContain(APP.appSecret);
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    }
  });
});

function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
