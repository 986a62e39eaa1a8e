import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  createTokenClient,
  InvokeErrorName as PackageErrorName,
  retryAfter,
  TokenUnavailableError,
  WixRateLimitedError,
  WixUnavailableInvokeError,
  type FetchLike,
} from '@wix-token-service/client';
import { mockClient } from 'aws-sdk-client-mock';

import { InvokeErrorName } from '../../../../lib/tokens/errors';

const lambda = mockClient(LambdaClient);
const instanceId = '7f3e2d1c-0000-4000-8000-0000000000c1';
const appId = '2a1b3c4d-0000-4000-8000-00000000a001';
const url = 'https://wix.test/apps/v1/instance';
const start = Date.UTC(2030, 0, 1);
let now = start;
let slept: number[] = [];

function minted(accessToken: string) {
  const body = { accessToken, tokenType: 'Bearer', expiresAt: new Date(now + 4 * 3600_000).toISOString(), instanceId, appId };
  return { StatusCode: 200, Payload: new TextEncoder().encode(JSON.stringify(body)) } as never;
}

function invokePayloads(): Record<string, unknown>[] {
  return lambda.commandCalls(InvokeCommand).map((call) => JSON.parse(new TextDecoder().decode(call.args[0].input.Payload as Uint8Array)));
}

/** A fake fetch answering from a script of statuses, recording the Authorization header it saw. */
function scriptedFetch(script: Array<{ status: number; headers?: Record<string, string> }>) {
  const seen: string[] = [];
  const fetch: FetchLike = async (_url, init) => {
    seen.push(new Headers(init.headers).get('authorization') ?? '');
    const next = script.shift();
    if (!next) throw new Error('fetch called more often than scripted');
    return new Response(next.status === 200 ? '{"ok":true}' : '{}', { status: next.status, headers: next.headers ?? {} });
  };
  return { fetch, seen };
}

function client(fetch: FetchLike) {
  return createTokenClient({
    functionName: 'wix-token-service-test-mint',
    lambda: new LambdaClient({ region: 'us-east-1' }),
    now: () => now,
    fetch,
    sleep: async (ms) => {
      slept.push(ms);
      now += ms;
    },
  });
}

beforeEach(() => {
  lambda.reset();
  now = start;
  slept = [];
});

describe('wixFetch', () => {
  it('sends the bare token in Authorization and returns a 200 as it is', async () => {
    lambda.on(InvokeCommand).resolves(minted('OauthNG.JWS.first'));
    const { fetch, seen } = scriptedFetch([{ status: 200 }]);

    const response = await client(fetch).wixFetch(instanceId, url, { headers: { accept: 'application/json' } });

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ ok: true });
    expect(seen).toEqual(['OauthNG.JWS.first']);
  });

  it('on a 401 rejects that token once, re-mints, and retries with the fresh token', async () => {
    lambda.on(InvokeCommand).resolvesOnce(minted('OauthNG.JWS.first')).resolvesOnce(minted('OauthNG.JWS.second'));
    const { fetch, seen } = scriptedFetch([{ status: 401 }, { status: 200 }]);
    const tokens = client(fetch);

    const response = await tokens.wixFetch(instanceId, url);

    expect(response.status).toBe(200);
    expect(seen).toEqual(['OauthNG.JWS.first', 'OauthNG.JWS.second']);
    expect(invokePayloads()).toEqual([{ instanceId }, { instanceId, rejectedToken: 'OauthNG.JWS.first' }]);
    // The fresh token is what the client's cache holds now.
    expect((await tokens.getAccessToken(instanceId)).accessToken).toBe('OauthNG.JWS.second');
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(2);
  });

  it('re-mints only once: a second 401 is answered to the caller', async () => {
    lambda.on(InvokeCommand).resolvesOnce(minted('OauthNG.JWS.first')).resolvesOnce(minted('OauthNG.JWS.second'));
    const { fetch, seen } = scriptedFetch([{ status: 401 }, { status: 401 }]);

    const response = await client(fetch).wixFetch(instanceId, url);

    expect(response.status).toBe(401);
    expect(seen).toHaveLength(2);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(2);
  });

  it('does not retry a 403 (a missing permission is not fixed by a new token)', async () => {
    lambda.on(InvokeCommand).resolves(minted('OauthNG.JWS.first'));
    const { fetch, seen } = scriptedFetch([{ status: 403 }]);

    const response = await client(fetch).wixFetch(instanceId, url);

    expect(response.status).toBe(403);
    expect(seen).toHaveLength(1);
    expect(invokePayloads()).toEqual([{ instanceId }]);
  });

  it('waits out a 429 for Retry-After seconds, then retries', async () => {
    lambda.on(InvokeCommand).resolves(minted('OauthNG.JWS.first'));
    const { fetch, seen } = scriptedFetch([{ status: 429, headers: { 'retry-after': '3' } }, { status: 200 }]);

    const response = await client(fetch).wixFetch(instanceId, url);

    expect(response.status).toBe(200);
    expect(slept).toEqual([3000]);
    expect(seen).toEqual(['OauthNG.JWS.first', 'OauthNG.JWS.first']);
  });

  it('honours Retry-After given as an HTTP date', async () => {
    lambda.on(InvokeCommand).resolves(minted('OauthNG.JWS.first'));
    const at = new Date(start + 5000).toUTCString();
    const { fetch } = scriptedFetch([{ status: 429, headers: { 'retry-after': at } }, { status: 200 }]);

    const response = await client(fetch).wixFetch(instanceId, url);

    expect(response.status).toBe(200);
    expect(slept).toEqual([5000]);
  });

  it('gives up with WixRateLimitedError when Retry-After points past the deadline, without waiting', async () => {
    lambda.on(InvokeCommand).resolves(minted('OauthNG.JWS.first'));
    const { fetch, seen } = scriptedFetch([{ status: 429, headers: { 'retry-after': '30' } }]);

    const error = await client(fetch).wixFetch(instanceId, url, { deadlineMs: 10_000 }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(WixRateLimitedError);
    expect((error as WixRateLimitedError).retryAt).toEqual(new Date(start + 30_000));
    expect((error as Error).message).not.toContain('OauthNG');
    expect(slept).toEqual([]);
    expect(seen).toHaveLength(1);
  });

  it('keeps waiting out 429s until the deadline, then gives up', async () => {
    lambda.on(InvokeCommand).resolves(minted('OauthNG.JWS.first'));
    const busy = { status: 429, headers: { 'retry-after': '4' } };
    const { fetch, seen } = scriptedFetch([busy, busy, busy, busy]);

    const error = await client(fetch).wixFetch(instanceId, url, { deadlineMs: 10_000 }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(WixRateLimitedError);
    expect(slept).toEqual([4000, 4000]);
    expect(seen).toHaveLength(3);
  });
});

describe('rejectedToken', () => {
  it('drops a rejected token from the client cache and sends rejectedToken to mint', async () => {
    lambda.on(InvokeCommand).resolvesOnce(minted('OauthNG.JWS.first')).resolvesOnce(minted('OauthNG.JWS.second'));
    const tokens = client(scriptedFetch([]).fetch);
    expect((await tokens.getAccessToken(instanceId)).accessToken).toBe('OauthNG.JWS.first');

    const fresh = await tokens.getAccessToken(instanceId, { rejectedToken: 'OauthNG.JWS.first' });

    expect(fresh.accessToken).toBe('OauthNG.JWS.second');
    expect(invokePayloads()[1]).toEqual({ instanceId, rejectedToken: 'OauthNG.JWS.first' });
  });

  it('concurrent callers rejecting the same token share one invoke', async () => {
    lambda.on(InvokeCommand).resolvesOnce(minted('OauthNG.JWS.first')).resolves(minted('OauthNG.JWS.second'));
    const tokens = client(scriptedFetch([]).fetch);
    await tokens.getAccessToken(instanceId);

    const answers = await Promise.all(Array.from({ length: 5 }, () => tokens.getAccessToken(instanceId, { rejectedToken: 'OauthNG.JWS.first' })));

    expect(new Set(answers.map((a) => a.accessToken))).toEqual(new Set(['OauthNG.JWS.second']));
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(2);
  });

  it('never hands out a rejected token again, even if mint answers it', async () => {
    lambda.on(InvokeCommand).resolves(minted('OauthNG.JWS.first'));
    const tokens = client(scriptedFetch([]).fetch);

    const error = await tokens.getAccessToken(instanceId, { rejectedToken: 'OauthNG.JWS.first' }).catch((e: unknown) => e);

    expect((error as Error).name).toBe('ServiceUnavailable');
    expect((error as Error).message).not.toContain('OauthNG');
  });
});

describe('elevate', () => {
  it('invokes mint with wixAccessToken and answers the verified instance', async () => {
    lambda.on(InvokeCommand).resolves(minted('OauthNG.JWS.app'));
    const tokens = client(scriptedFetch([]).fetch);

    const token = await tokens.elevate('OauthNG.JWS.frontend', { appId });

    expect(token.instanceId).toBe(instanceId);
    expect(token.accessToken).toBe('OauthNG.JWS.app');
    expect(invokePayloads()).toEqual([{ wixAccessToken: 'OauthNG.JWS.frontend', appId }]);
  });
});

describe('the package and the service agree', () => {
  it('names the invoke errors exactly as lib/tokens/errors does', () => {
    expect(PackageErrorName).toEqual(InvokeErrorName);
  });

  it('keeps the errorType strings of the contract (DESIGN.md) exactly', () => {
    expect(Object.values(InvokeErrorName).sort()).toEqual(['InstanceUninstalled', 'InvalidRequest', 'ServiceUnavailable', 'WixRejected', 'WixUnavailable']);
  });

  it('still exports TokenUnavailableError under its old name, WixUnavailableInvokeError', () => {
    expect(WixUnavailableInvokeError).toBe(TokenUnavailableError);
    const error = new WixUnavailableInvokeError('Wix is down');
    expect(error).toBeInstanceOf(TokenUnavailableError);
    expect(error.name).toBe('WixUnavailable');
  });
});

describe('retryAfter', () => {
  it('reads seconds and HTTP dates, and nothing else', () => {
    expect(retryAfter('2', start)).toEqual(new Date(start + 2000));
    expect(retryAfter(new Date(start + 7000).toUTCString(), start)).toEqual(new Date(start + 7000));
    expect(retryAfter('soon', start)).toBeUndefined();
    expect(retryAfter(null, start)).toBeUndefined();
  });
});
