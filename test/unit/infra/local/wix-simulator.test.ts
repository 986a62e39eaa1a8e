import { spawn } from 'node:child_process';
import { once } from 'node:events';
import path from 'node:path';
import { wixFaults } from '../../../../infra/local/wix-simulator';
import { APP, clientCredentials, exchangeCode, get, OTHER_APP, post, refresh, simulatorPerTest, START, tokenInfo } from '../../../support/wix-simulator-calls';

// The grants, Token Info, installer and counters; faults and latency are in wix-simulator-faults.test.ts.
describe('Wix simulator', () => {
  const wix = simulatorPerTest();

  describe('authorization_code grant', () => {
    it('exchanges a code for an access token and a refresh token, and nothing else', async () => {
      const instanceId = wix.sim.install(APP.appId);
      const code = wix.sim.issueCode(APP.appId, instanceId);

      const answer = await exchangeCode(wix.sim, code);

      expect(answer.status).toBe(200);
      expect(Object.keys(answer.json).sort()).toEqual(['access_token', 'refresh_token']);
      expect(answer.json.access_token).toMatch(/^OauthNG\.JWS\.[A-Za-z0-9_-]+$/);
      expect(typeof answer.json.refresh_token).toBe('string');
      expect(answer.headers.get('content-type')).toMatch(/^application\/json/);
      expect(answer.headers.get('x-wix-request-id')).toBeTruthy();
      expect(wix.sim.issued).toEqual({ accessTokens: 1, refreshTokens: 1, codes: 1 });
    });

    it('adds expires_in: 300 when legacyExpiresIn is set', async () => {
      await wix.restart({ legacyExpiresIn: true });
      const code = wix.sim.issueCode(APP.appId, wix.sim.install(APP.appId));

      const answer = await exchangeCode(wix.sim, code);

      expect(answer.json.expires_in).toBe(300);
    });

    it('accepts a code once only', async () => {
      const code = wix.sim.issueCode(APP.appId, wix.sim.install(APP.appId));
      await exchangeCode(wix.sim, code);

      const second = await exchangeCode(wix.sim, code);

      expect(second.status).toBe(400);
      expect(second.json.error).toBe('invalid_grant');
    });

    it('accepts a code just before 10 minutes and refuses it at 10 minutes', async () => {
      const instanceId = wix.sim.install(APP.appId);
      const early = wix.sim.issueCode(APP.appId, instanceId);
      const late = wix.sim.issueCode(APP.appId, instanceId);

      wix.clock = START + 10 * 60 * 1000 - 1;
      const justInTime = await exchangeCode(wix.sim, early);
      wix.clock = START + 10 * 60 * 1000;
      const expired = await exchangeCode(wix.sim, late);

      expect(justInTime.status).toBe(200);
      expect(expired.status).toBe(400);
      expect(expired.json).toEqual({ error: 'invalid_grant', error_description: 'The authorization code has expired' });
    });

    it('refuses an unknown code and a code issued to another app', async () => {
      wix.sim.addApp(OTHER_APP);
      const othersCode = wix.sim.issueCode(OTHER_APP.appId, wix.sim.install(OTHER_APP.appId));

      const unknown = await exchangeCode(wix.sim, 'no-such-code');
      const foreign = await exchangeCode(wix.sim, othersCode);

      expect([unknown.status, unknown.json.error]).toEqual([400, 'invalid_grant']);
      expect([foreign.status, foreign.json.error]).toEqual([400, 'invalid_grant']);
      expect((await exchangeCode(wix.sim, othersCode, OTHER_APP)).status).toBe(200);
    });
  });

  describe('refresh_token grant', () => {
    it('returns a new access token and the same refresh token', async () => {
      const first = await exchangeCode(wix.sim, wix.sim.issueCode(APP.appId, wix.sim.install(APP.appId)));
      const refreshToken = first.json.refresh_token as string;

      const answer = await refresh(wix.sim, refreshToken);

      expect(answer.status).toBe(200);
      expect(answer.json.refresh_token).toBe(refreshToken);
      expect(answer.json.access_token).not.toBe(first.json.access_token);
      expect(wix.sim.issued.refreshTokens).toBe(1);
    });

    it('hands back a new refresh token and retires the old one when rotateRefreshTokens is set', async () => {
      await wix.restart({ rotateRefreshTokens: true });
      const first = await exchangeCode(wix.sim, wix.sim.issueCode(APP.appId, wix.sim.install(APP.appId)));
      const oldToken = first.json.refresh_token as string;

      const rotated = await refresh(wix.sim, oldToken);
      const reused = await refresh(wix.sim, oldToken);

      expect(rotated.status).toBe(200);
      expect(rotated.json.refresh_token).not.toBe(oldToken);
      expect([reused.status, reused.json.error]).toEqual([400, 'invalid_grant']);
      expect((await refresh(wix.sim, rotated.json.refresh_token as string)).status).toBe(200);
    });

    it('lists the refresh tokens it would accept for an instance: the current one, none once rotated away or uninstalled', async () => {
      await wix.restart({ rotateRefreshTokens: true });
      const instanceId = wix.sim.install(APP.appId);
      const first = await exchangeCode(wix.sim, wix.sim.issueCode(APP.appId, instanceId));
      const before = wix.sim.liveRefreshTokens(APP.appId, instanceId);

      const rotated = await refresh(wix.sim, first.json.refresh_token as string);
      const after = wix.sim.liveRefreshTokens(APP.appId, instanceId);
      wix.sim.uninstall(APP.appId, instanceId);

      expect(before).toEqual([first.json.refresh_token]);
      expect(after).toEqual([rotated.json.refresh_token]);
      expect(wix.sim.liveRefreshTokens(APP.appId, instanceId)).toEqual([]);
    });

    it('is refused with the wrong app', async () => {
      wix.sim.addApp(OTHER_APP);
      const first = await exchangeCode(wix.sim, wix.sim.issueCode(APP.appId, wix.sim.install(APP.appId)));

      const answer = await refresh(wix.sim, first.json.refresh_token as string, OTHER_APP);

      expect([answer.status, answer.json.error]).toEqual([400, 'invalid_grant']);
    });
  });

  describe('client_credentials grant', () => {
    it('mints a Bearer token valid for 14400 seconds', async () => {
      const instanceId = wix.sim.install(APP.appId);

      const answer = await clientCredentials(wix.sim, instanceId);

      expect(answer.status).toBe(200);
      expect(answer.json).toEqual({ access_token: expect.stringMatching(/^OauthNG\.JWS\./), token_type: 'Bearer', expires_in: 14400 });
      expect(answer.headers.get('cache-control')).toBe('no-store');
    });

    it('refuses an instance the app is not installed on', async () => {
      wix.sim.addApp(OTHER_APP);
      const othersInstance = wix.sim.install(OTHER_APP.appId);

      const unknown = await clientCredentials(wix.sim, '33333333-3333-4333-8333-333333333333');
      const foreign = await clientCredentials(wix.sim, othersInstance);

      expect([unknown.status, unknown.json.error]).toEqual([400, 'invalid_grant']);
      expect([foreign.status, foreign.json.error]).toEqual([400, 'invalid_grant']);
    });
  });

  describe('uninstall and reinstall', () => {
    it('refuses refresh and client credentials once the instance is uninstalled', async () => {
      const instanceId = wix.sim.install(APP.appId);
      const first = await exchangeCode(wix.sim, wix.sim.issueCode(APP.appId, instanceId));

      wix.sim.uninstall(APP.appId, instanceId);
      const refreshed = await refresh(wix.sim, first.json.refresh_token as string);
      const minted = await clientCredentials(wix.sim, instanceId);

      expect(wix.sim.isInstalled(APP.appId, instanceId)).toBe(false);
      expect([refreshed.status, refreshed.json.error]).toEqual([400, 'invalid_grant']);
      expect([minted.status, minted.json.error]).toEqual([400, 'invalid_grant']);
    });

    it('refuses a code issued before the uninstall', async () => {
      const instanceId = wix.sim.install(APP.appId);
      const code = wix.sim.issueCode(APP.appId, instanceId);
      wix.sim.uninstall(APP.appId, instanceId);
      wix.sim.install(APP.appId, instanceId);

      const answer = await exchangeCode(wix.sim, code);

      expect([answer.status, answer.json.error]).toEqual([400, 'invalid_grant']);
    });

    it('issues a new refresh token on reinstall while the old one stays dead', async () => {
      const instanceId = wix.sim.install(APP.appId);
      const before = await exchangeCode(wix.sim, wix.sim.issueCode(APP.appId, instanceId));
      wix.sim.uninstall(APP.appId, instanceId);

      const after = await exchangeCode(wix.sim, wix.sim.issueCode(APP.appId, instanceId));
      const oldRefresh = await refresh(wix.sim, before.json.refresh_token as string);
      const newRefresh = await refresh(wix.sim, after.json.refresh_token as string);

      expect(wix.sim.isInstalled(APP.appId, instanceId)).toBe(true);
      expect(after.json.refresh_token).not.toBe(before.json.refresh_token);
      expect(oldRefresh.status).toBe(400);
      expect(newRefresh.status).toBe(200);
      expect((await clientCredentials(wix.sim, instanceId)).status).toBe(200);
    });
  });

  describe('token-info', () => {
    it('describes a legacy token as a 5-minute APP token, with string values, until it expires', async () => {
      const instanceId = wix.sim.install(APP.appId);
      const { json } = await exchangeCode(wix.sim, wix.sim.issueCode(APP.appId, instanceId));

      const fresh = await tokenInfo(wix.sim, json.access_token as string);
      wix.clock = START + 300 * 1000;
      const expired = await tokenInfo(wix.sim, json.access_token as string);

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
      await wix.restart({ tokenInfoAsStrings: false });
      const instanceId = wix.sim.install(APP.appId);
      const { json } = await clientCredentials(wix.sim, instanceId);

      const info = await tokenInfo(wix.sim, json.access_token as string);

      expect(info.json.active).toBe(true);
      expect(info.json.iat).toBe(START / 1000);
      expect((info.json.exp as number) - (info.json.iat as number)).toBe(14400);
      expect(info.json.instanceId).toBe(instanceId);
    });

    it('keeps the same siteId across tokens of one instance', async () => {
      const instanceId = wix.sim.install(APP.appId);
      const a = await clientCredentials(wix.sim, instanceId);
      const b = await clientCredentials(wix.sim, instanceId);

      const infoA = await tokenInfo(wix.sim, a.json.access_token as string);
      const infoB = await tokenInfo(wix.sim, b.json.access_token as string);

      expect(infoA.json.siteId).toBe(infoB.json.siteId);
    });

    it('reports a token inactive once its instance is uninstalled, even after a reinstall', async () => {
      const instanceId = wix.sim.install(APP.appId);
      const { json } = await clientCredentials(wix.sim, instanceId);

      wix.sim.uninstall(APP.appId, instanceId);
      const uninstalled = await tokenInfo(wix.sim, json.access_token as string);
      wix.sim.install(APP.appId, instanceId);
      const reinstalled = await tokenInfo(wix.sim, json.access_token as string);

      expect(uninstalled.json.active).toBe('false');
      expect(reinstalled.json.active).toBe('false');
    });

    it('answers 200 {active: false} for a token it never issued', async () => {
      const answer = await tokenInfo(wix.sim, 'OauthNG.JWS.made-up');

      expect(answer.status).toBe(200);
      expect(answer.json).toEqual({ active: 'false' });
    });

    it('refuses a request without a token', async () => {
      const answer = await post(wix.sim, '/oauth2/token-info', {});

      expect([answer.status, answer.json.error]).toEqual([400, 'invalid_request']);
    });
  });

  describe('request errors', () => {
    it('answers invalid_client for a wrong secret and for an unknown client_id', async () => {
      const code = wix.sim.issueCode(APP.appId, wix.sim.install(APP.appId));

      const wrongSecret = await exchangeCode(wix.sim, code, { appId: APP.appId, appSecret: 'wrong' });
      const unknownApp = await clientCredentials(wix.sim, 'any', { appId: 'unknown-app', appSecret: APP.appSecret });

      expect(wrongSecret.status).toBe(401);
      expect(wrongSecret.json).toEqual({ error: 'invalid_client', error_description: 'Client authentication failed' });
      expect([unknownApp.status, unknownApp.json.error]).toEqual([401, 'invalid_client']);
      expect((await exchangeCode(wix.sim, code)).status).toBe(200);
    });

    it('refuses the old secret after setAppSecret and accepts the new one', async () => {
      const instanceId = wix.sim.install(APP.appId);

      wix.sim.setAppSecret(APP.appId, 'rotated-secret');
      const old = await clientCredentials(wix.sim, instanceId);
      const rotated = await clientCredentials(wix.sim, instanceId, { appId: APP.appId, appSecret: 'rotated-secret' });

      expect(old.status).toBe(401);
      expect(rotated.status).toBe(200);
    });

    it.each([
      ['a missing code', { grant_type: 'authorization_code', client_id: APP.appId, client_secret: APP.appSecret }],
      ['a missing client_secret', { grant_type: 'refresh_token', client_id: APP.appId, refresh_token: 'r' }],
      ['a numeric client_id', { grant_type: 'refresh_token', client_id: 42, client_secret: 's', refresh_token: 'r' }],
      ['a missing grant_type', { client_id: APP.appId, client_secret: APP.appSecret, code: 'c' }],
    ])('answers invalid_request for %s', async (_name, body) => {
      const answer = await post(wix.sim, '/oauth/access', body);

      expect([answer.status, answer.json.error]).toEqual([400, 'invalid_request']);
    });

    it.each([
      ['a JSON array', '[1,2]', 'application/json'],
      ['malformed JSON', '{"grant_type":', 'application/json'],
      ['a form-encoded body', 'grant_type=client_credentials', 'application/x-www-form-urlencoded'],
    ])('answers invalid_request for %s', async (_name, raw, contentType) => {
      const answer = await post(wix.sim, '/oauth2/token', undefined, { raw, contentType });

      expect([answer.status, answer.json.error]).toEqual([400, 'invalid_request']);
    });

    it('answers unsupported_grant_type for a grant the endpoint does not serve', async () => {
      const credentials = { client_id: APP.appId, client_secret: APP.appSecret };

      const onLegacy = await post(wix.sim, '/oauth/access', { grant_type: 'client_credentials', ...credentials, instance_id: 'i' });
      const onToken = await post(wix.sim, '/oauth2/token', { grant_type: 'strip_bound_session', ...credentials, access_token: 'a' });

      expect([onLegacy.status, onLegacy.json.error]).toEqual([400, 'unsupported_grant_type']);
      expect([onToken.status, onToken.json.error]).toEqual([400, 'unsupported_grant_type']);
    });

    it('answers 405 with Allow for a wrong method and 404 for an unknown path', async () => {
      const wrongMethod = await get(wix.sim, '/oauth2/token');
      const unknown = await post(wix.sim, '/oauth/access/', {});

      expect(wrongMethod.status).toBe(405);
      expect(wrongMethod.headers.get('allow')).toBe('POST');
      expect(unknown.status).toBe(404);
    });

    it('shapes errors the Wix way when errorShape is wix', async () => {
      await wix.restart({ errorShape: 'wix' });

      const badClient = await clientCredentials(wix.sim, 'any', { appId: APP.appId, appSecret: 'wrong' });
      const missing = await post(wix.sim, '/oauth2/token', { grant_type: 'client_credentials', client_id: APP.appId });

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
      const answers = await Promise.all([tokenInfo(wix.sim, 'a'), tokenInfo(wix.sim, 'b'), get(wix.sim, '/nowhere')]);

      const ids = answers.map((answer) => answer.headers.get('x-wix-request-id'));

      expect(ids.every((id) => typeof id === 'string' && id.length > 0)).toBe(true);
      expect(new Set(ids).size).toBe(3);
    });
  });

  describe('counters', () => {
    it('counts every call by path and grant, faulted ones included', async () => {
      const instanceId = wix.sim.install(APP.appId);
      wix.sim.intercept(wixFaults.status(500, { grant: 'client_credentials' }));

      await clientCredentials(wix.sim, instanceId);
      await clientCredentials(wix.sim, instanceId);
      await exchangeCode(wix.sim, wix.sim.issueCode(APP.appId, instanceId));
      await tokenInfo(wix.sim, 'x');
      await get(wix.sim, '/nowhere');

      expect(wix.sim.calls).toEqual({
        total: 5,
        byPath: { '/oauth2/token': 2, '/oauth/access': 1, '/oauth2/token-info': 1, '/nowhere': 1 },
        byGrant: { client_credentials: 2, authorization_code: 1 },
      });
    });

    it('resets the counters in place', async () => {
      const live = wix.sim.calls;
      await tokenInfo(wix.sim, 'x');

      wix.sim.resetCalls();
      await tokenInfo(wix.sim, 'y');

      expect(live).toBe(wix.sim.calls);
      expect(live).toEqual({ total: 1, byPath: { '/oauth2/token-info': 1 }, byGrant: {} });
    });

    it('lists every code and token it issued in issuedSecrets', async () => {
      const instanceId = wix.sim.install(APP.appId);
      const code = wix.sim.issueCode(APP.appId, instanceId);
      const legacy = await exchangeCode(wix.sim, code);
      const minted = await clientCredentials(wix.sim, instanceId);

      const secrets = wix.sim.issuedSecrets();

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

      const answer = await get(wix.sim, `/installer/install?${query.toString()}`);
      const location = new URL(answer.headers.get('location') ?? '');
      const instanceId = location.searchParams.get('instanceId') ?? '';
      const code = location.searchParams.get('code') ?? '';

      expect(answer.status).toBe(302);
      expect(`${location.origin}${location.pathname}`).toBe('https://app.example.com/oauth/callback');
      expect(location.searchParams.get('entry')).toBe('market');
      expect(location.searchParams.get('lang')).toBe('en');
      expect(location.searchParams.get('state')).toBe('csrf-123');
      expect(instanceId).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
      expect(wix.sim.isInstalled(APP.appId, instanceId)).toBe(true);
      expect((await exchangeCode(wix.sim, code)).status).toBe(200);
    });

    it('uses the instanceId the test passes and leaves state out when none was sent', async () => {
      const instanceId = '44444444-4444-4444-8444-444444444444';
      const query = new URLSearchParams({ appId: APP.appId, redirectUrl: 'http://localhost:3000/cb', instanceId });

      const answer = await get(wix.sim, `/app-oauth-installation/consent?${query.toString()}`);
      const location = new URL(answer.headers.get('location') ?? '');

      expect(answer.status).toBe(302);
      expect(location.searchParams.get('instanceId')).toBe(instanceId);
      expect(location.searchParams.has('state')).toBe(false);
      expect(wix.sim.isInstalled(APP.appId, instanceId)).toBe(true);
    });

    it.each([
      ['an unknown appId', { appId: 'nope', redirectUrl: 'https://app.example.com/cb' }],
      ['no appId', { redirectUrl: 'https://app.example.com/cb' }],
      ['no redirectUrl', { appId: APP.appId }],
      ['a javascript: redirectUrl', { appId: APP.appId, redirectUrl: 'javascript:alert(1)' }],
      ['a relative redirectUrl', { appId: APP.appId, redirectUrl: '/cb' }],
    ])('answers 400 with an HTML page for %s', async (_name, params) => {
      const answer = await get(wix.sim, `/installer/install?${new URLSearchParams(params).toString()}`);

      expect(answer.status).toBe(400);
      expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
      expect(wix.sim.issued.codes).toBe(0);
    });

    it('with consentPage, asks first: GET shows an Allow form carrying the query, escaped, and issues nothing', async () => {
      await wix.restart({ consentPage: true });
      const redirectUrl = 'https://app.example.com/oauth/callback';
      const query = new URLSearchParams({ token: 'install-token', appId: APP.appId, redirectUrl, state: 'a"<b>&c' });

      const answer = await get(wix.sim, `/installer/install?${query.toString()}`);

      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(/^text\/html/);
      expect(answer.text).toContain('<form method="post">');
      expect(answer.text).toContain('<button type="submit" name="decision" value="allow">Allow</button>');
      expect(answer.text).toContain('<input type="hidden" name="state" value="a&#34;&#60;b&#62;&#38;c">');
      expect(answer.text).toContain(`<input type="hidden" name="appId" value="${APP.appId}">`);
      expect(wix.sim.issued.codes).toBe(0);
    });

    it('with consentPage, the Allow form posted back issues a code and redirects to the callback with the state', async () => {
      await wix.restart({ consentPage: true });
      const form = new URLSearchParams({ token: 'install-token', appId: APP.appId, redirectUrl: 'https://app.example.com/cb', state: 'csrf-1', decision: 'allow' });

      const response = await fetch(`${wix.sim.url}/installer/install?${form.toString()}`, {
        method: 'POST',
        redirect: 'manual',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: form.toString(),
      });
      const location = new URL(response.headers.get('location') ?? '');

      expect(response.status).toBe(302);
      expect(`${location.origin}${location.pathname}`).toBe('https://app.example.com/cb');
      expect(location.searchParams.get('state')).toBe('csrf-1');
      expect((await exchangeCode(wix.sim, location.searchParams.get('code') ?? '')).status).toBe(200);
    });

    it('with consentPage, refuses a posted form without a known appId, and other methods', async () => {
      await wix.restart({ consentPage: true });

      const refused = await fetch(`${wix.sim.url}/installer/install`, { method: 'POST', body: new URLSearchParams({ redirectUrl: 'https://app.example.com/cb' }) });
      const put = await get(wix.sim, '/installer/install', 'PUT');

      expect(refused.status).toBe(400);
      expect(put.status).toBe(405);
      expect(wix.sim.issued.codes).toBe(0);
    });

    it('without consentPage, refuses a POST to the installer', async () => {
      expect((await get(wix.sim, '/installer/install', 'POST')).status).toBe(405);
    });

    it('records the access tokens close-window receives, in order', async () => {
      const first = await get(wix.sim, '/installer/close-window?access_token=first');
      await get(wix.sim, '/installer/close-window?access_token=second');

      expect(first.status).toBe(200);
      expect(first.headers.get('content-type')).toMatch(/^text\/html/);
      expect(wix.sim.closedWindows).toEqual(['first', 'second']);
    });

    it('answers 400 to close-window without an access_token', async () => {
      const answer = await get(wix.sim, '/installer/close-window');

      expect(answer.status).toBe(400);
      expect(wix.sim.closedWindows).toEqual([]);
    });
  });

  describe('lifecycle', () => {
    it('serves on 127.0.0.1 and can be stopped twice', async () => {
      expect(wix.sim.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);

      await wix.sim.stop();
      await wix.sim.stop();

      await expect(fetch(`${wix.sim.url}/oauth2/token-info`)).rejects.toThrow();
    });

    it('throws for an unknown app in install, issueCode and setAppSecret', () => {
      expect(() => wix.sim.install('nope')).toThrow('unknown app');
      expect(() => wix.sim.issueCode('nope', 'i')).toThrow('unknown app');
      expect(() => wix.sim.setAppSecret('nope', 's')).toThrow('unknown app');
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
