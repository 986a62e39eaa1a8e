import { mulberry32, wixFaults, type InterceptedCall } from '../../../../infra/local/wix-simulator';
import {
  APP,
  clientCredentials,
  exchangeCode,
  expectStopToCutShort,
  get,
  isJson,
  post,
  refresh,
  simulatorPerTest,
  tokenInfo,
} from '../../../support/wix-simulator-calls';

/** The simulator's interception hooks (wixFaults and hand-written ones) and its latency. */
describe('Wix simulator faults', () => {
  const wix = simulatorPerTest();

  describe('faults', () => {
    it('answers a 5xx status fault with an HTML page and does not consume the code', async () => {
      const code = wix.sim.issueCode(APP.appId, wix.sim.install(APP.appId));
      wix.sim.intercept(wixFaults.status(503));

      const faulted = await exchangeCode(wix.sim, code);
      const retried = await exchangeCode(wix.sim, code);

      expect(faulted.status).toBe(503);
      expect(faulted.headers.get('content-type')).toMatch(/^text\/html/);
      expect(faulted.text).toContain('503 Service Unavailable');
      expect(faulted.headers.get('x-wix-request-id')).toBeTruthy();
      expect(retried.status).toBe(200);
    });

    it('answers a 4xx status fault with a JSON error built from error and errorDescription', async () => {
      wix.sim.intercept(wixFaults.status(403, { error: 'access_denied', errorDescription: 'nope' }));

      const answer = await clientCredentials(wix.sim, wix.sim.install(APP.appId));

      expect(answer.status).toBe(403);
      expect(answer.json).toEqual({ error: 'access_denied', error_description: 'nope' });
    });

    it('uses a status fault’s own body and content type', async () => {
      wix.sim.intercept(wixFaults.status(502, { body: 'upstream gone', contentType: 'text/plain' }));

      const answer = await clientCredentials(wix.sim, wix.sim.install(APP.appId));

      expect(answer.status).toBe(502);
      expect(answer.text).toBe('upstream gone');
      expect(answer.headers.get('content-type')).toBe('text/plain');
    });

    it('answers 429 with Retry-After in seconds or as an HTTP date', async () => {
      const date = 'Wed, 01 Jan 2025 12:00:30 GMT';
      wix.sim.intercept(wixFaults.rateLimit({ retryAfter: 7 }));
      wix.sim.intercept(wixFaults.rateLimit({ retryAfter: date }));
      wix.sim.intercept(wixFaults.rateLimit());
      const instanceId = wix.sim.install(APP.appId);

      const seconds = await clientCredentials(wix.sim, instanceId);
      const dated = await clientCredentials(wix.sim, instanceId);
      const bare = await clientCredentials(wix.sim, instanceId);

      expect([seconds.status, seconds.headers.get('retry-after')]).toEqual([429, '7']);
      expect([dated.status, dated.headers.get('retry-after')]).toEqual([429, date]);
      expect([bare.status, bare.headers.get('retry-after')]).toEqual([429, null]);
    });

    it('hangs until the client aborts, and stop() still returns promptly', async () => {
      wix.sim.intercept(wixFaults.hang());
      const controller = new AbortController();
      const timer = setTimeout(() => controller.abort(), 100);

      const body = { grant_type: 'client_credentials', client_id: APP.appId, client_secret: APP.appSecret, instance_id: 'i' };

      const outcome = await post(wix.sim, '/oauth2/token', body, { signal: controller.signal }).catch((error: unknown) => error);
      clearTimeout(timer);
      const started = Date.now();
      await wix.sim.stop();

      // fetch's errors come from another realm under jest, so compare names rather than classes.
      expect((outcome as Error).name).toBe('AbortError');
      expect(Date.now() - started).toBeLessThan(1000);
    });

    it('destroys a hanging request on stop()', async () => {
      wix.sim.intercept(wixFaults.hang());

      await expectStopToCutShort(clientCredentials(wix.sim, wix.sim.install(APP.appId)), wix.sim);
    });

    it('resets the connection without answering', async () => {
      wix.sim.intercept(wixFaults.reset());

      const outcome = await clientCredentials(wix.sim, wix.sim.install(APP.appId)).catch((error: unknown) => error);

      expect((outcome as Error).name).toBe('TypeError');
      expect((outcome as Error).message).toBe('fetch failed');
    });

    it.each([
      ['html', wixFaults.html, /^text\/html/, (text: string) => text.startsWith('<!DOCTYPE html>')],
      ['notJson', wixFaults.notJson, /^application\/json/, (text: string) => text.length > 0 && !isJson(text)],
      ['emptyBody', wixFaults.emptyBody, /^application\/json/, (text: string) => text === ''],
    ] as const)('answers 200 with a broken body for %s', async (_name, fault, contentType, check) => {
      wix.sim.intercept(fault());

      const answer = await clientCredentials(wix.sim, wix.sim.install(APP.appId));

      expect(answer.status).toBe(200);
      expect(answer.headers.get('content-type')).toMatch(contentType);
      expect(check(answer.text)).toBe(true);
    });

    it.each([
      ['missingAccessToken', wixFaults.missingAccessToken, (body: Record<string, unknown>) => !('access_token' in body)],
      ['mistypedAccessToken', wixFaults.mistypedAccessToken, (body: Record<string, unknown>) => body.access_token === 12345],
    ] as const)('answers %s after performing the grant', async (_name, fault, check) => {
      const code = wix.sim.issueCode(APP.appId, wix.sim.install(APP.appId));
      wix.sim.intercept(fault());

      const answer = await exchangeCode(wix.sim, code);
      const reuse = await exchangeCode(wix.sim, code);

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
      wix.sim.intercept(fault());

      const answer = await clientCredentials(wix.sim, wix.sim.install(APP.appId));
      const info = await tokenInfo(wix.sim, answer.json.access_token as string);

      expect(answer.status).toBe(200);
      expect(answer.json.expires_in).toBe(expiresIn);
      expect(info.json.active).toBe('true');
    });

    it('adds unknown fields to a valid answer for extra-fields', async () => {
      wix.sim.intercept(wixFaults.extraFields());

      const answer = await clientCredentials(wix.sim, wix.sim.install(APP.appId));

      expect(answer.json).toMatchObject({ token_type: 'Bearer', expires_in: 14400, scope: 'offline_access' });
      expect(Object.keys(answer.json).length).toBeGreaterThan(3);
    });

    it('keeps a shape fault for a successful answer instead of spending it on an error', async () => {
      wix.sim.intercept(wixFaults.missingAccessToken());
      const instanceId = wix.sim.install(APP.appId);

      const refused = await clientCredentials(wix.sim, instanceId, { appId: APP.appId, appSecret: 'wrong' });
      const info = await tokenInfo(wix.sim, 'unknown');
      const faulted = await clientCredentials(wix.sim, instanceId);

      expect(refused.status).toBe(401);
      expect(info.json).toEqual({ active: 'false' });
      expect(faulted.json.access_token).toBeUndefined();
    });

    it('applies a fault to the next `times` matching calls only', async () => {
      wix.sim.intercept(wixFaults.status(500, { times: 2 }));
      const instanceId = wix.sim.install(APP.appId);

      const statuses: number[] = [];
      for (let i = 0; i < 3; i += 1) statuses.push((await clientCredentials(wix.sim, instanceId)).status);

      expect(statuses).toEqual([500, 500, 200]);
    });

    it('matches a fault on grant and on path', async () => {
      wix.sim.intercept(wixFaults.status(500, { grant: 'refresh_token' }));
      wix.sim.intercept(wixFaults.status(504, { path: '/oauth2/token-info' }));
      const instanceId = wix.sim.install(APP.appId);
      const first = await exchangeCode(wix.sim, wix.sim.issueCode(APP.appId, instanceId));

      const minted = await clientCredentials(wix.sim, instanceId);
      const refreshed = await refresh(wix.sim, first.json.refresh_token as string);
      const info = await tokenInfo(wix.sim, minted.json.access_token as string);

      expect([first.status, minted.status, refreshed.status, info.status]).toEqual([200, 200, 500, 504]);
    });

    it('can fault an installer page when its path is named', async () => {
      wix.sim.intercept(wixFaults.status(500, { path: '/installer/close-window' }));

      const answer = await get(wix.sim, '/installer/close-window?access_token=abc');

      expect(answer.status).toBe(500);
      expect(wix.sim.closedWindows).toEqual([]);
    });

    it('applies rate faults as the seeded PRNG says, reproducibly', async () => {
      const rate = 0.3;
      const prng = mulberry32(42);
      const expected = Array.from({ length: 40 }, () => (prng() < rate ? 503 : 200));
      wix.sim.intercept(wixFaults.status(503, { rate }));
      const instanceId = wix.sim.install(APP.appId);

      const statuses: number[] = [];
      for (let i = 0; i < 40; i += 1) statuses.push((await clientCredentials(wix.sim, instanceId)).status);

      expect(statuses).toEqual(expected);
      expect(statuses).toContain(503);
      expect(statuses).toContain(200);
    });

    it('draws rate faults from an injected random source', async () => {
      await wix.restart({ random: () => 0.5 });
      wix.sim.intercept(wixFaults.status(500, { rate: 0.49 }));
      wix.sim.intercept(wixFaults.status(502, { rate: 0.51 }));

      const answer = await clientCredentials(wix.sim, wix.sim.install(APP.appId));

      expect(answer.status).toBe(502);
    });

    it('stops every fault on clearIntercepts', async () => {
      wix.sim.intercept(wixFaults.status(500, { rate: 1 }));
      wix.sim.intercept(wixFaults.status(500, { times: 5 }));
      const instanceId = wix.sim.install(APP.appId);
      const before = await clientCredentials(wix.sim, instanceId);

      wix.sim.clearIntercepts();
      const after = await clientCredentials(wix.sim, instanceId);

      expect([before.status, after.status]).toEqual([500, 200]);
    });

    it.each([
      ['times and rate together', () => wixFaults.hang({ times: 1, rate: 0.5 }), TypeError],
      ['a rate above 1', () => wixFaults.hang({ rate: 1.5 }), RangeError],
      ['zero times', () => wixFaults.hang({ times: 0 }), RangeError],
      ['a status that is not HTTP', () => wixFaults.status(999), RangeError],
      ['a hook that is not a function', () => wix.sim.intercept('explode' as never), TypeError],
    ] as const)('rejects a fault with %s', (_name, make, type) => {
      expect(make).toThrow(type);
    });

    it('hands a hand-written hook each call, and routes the calls it passes on', async () => {
      const seen: Array<Omit<InterceptedCall, 'random' | 'errorShape'>> = [];
      wix.sim.intercept(({ path, method, grant }) => {
        seen.push({ path, method, grant });
        return path === '/nowhere' ? { reply: { kind: 'raw', status: 418, body: 'teapot' } } : undefined;
      });
      const instanceId = wix.sim.install(APP.appId);

      const minted = await clientCredentials(wix.sim, instanceId);
      const teapot = await get(wix.sim, '/nowhere');

      expect([minted.status, teapot.status, teapot.text]).toEqual([200, 418, 'teapot']);
      expect(seen).toEqual([
        { path: '/oauth2/token', method: 'POST', grant: 'client_credentials' },
        { path: '/nowhere', method: 'GET', grant: undefined },
      ]);
    });
  });

  describe('latency', () => {
    it('delays every response by latencyMs', async () => {
      await wix.restart({ latencyMs: 150 });

      const started = Date.now();
      const answer = await tokenInfo(wix.sim, 'x');

      expect(answer.status).toBe(200);
      expect(Date.now() - started).toBeGreaterThanOrEqual(140);
    });

    it('changes the delay with setLatency', async () => {
      wix.sim.setLatency(150);
      const slowStart = Date.now();
      await tokenInfo(wix.sim, 'x');
      const slow = Date.now() - slowStart;

      wix.sim.setLatency(0);
      const fastStart = Date.now();
      await tokenInfo(wix.sim, 'x');
      const fast = Date.now() - fastStart;

      expect(slow).toBeGreaterThanOrEqual(140);
      expect(fast).toBeLessThan(140);
    });

    it('stops promptly while a delayed response is pending', async () => {
      wix.sim.setLatency(5000);

      await expectStopToCutShort(tokenInfo(wix.sim, 'x'), wix.sim);
    });
  });
});
