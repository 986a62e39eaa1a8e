import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';

import {
  createTokenClient,
  InstanceUninstalledError,
  InvalidRequestError,
  ServiceUnavailableError,
  WixRejectedError,
  TokenUnavailableError,
} from '@wix-token-service/client';

import { rejectionOf } from '../../../support/failures';

const lambda = mockClient(LambdaClient);
const instanceId = '7f3e2d1c-0000-4000-8000-0000000000b1';
const appId = '2a1b3c4d-0000-4000-8000-00000000a001';
const start = Date.UTC(2030, 0, 1);
let now = start;

function payload(value: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(value)) as Uint8Array;
}

function minted(accessToken: string, lifetimeMs = 4 * 3600_000) {
  return { StatusCode: 200, Payload: payload({ accessToken, tokenType: 'Bearer', expiresAt: new Date(now + lifetimeMs).toISOString(), instanceId, appId }) } as never;
}

function failed(body: unknown) {
  return { StatusCode: 200, FunctionError: 'Unhandled', Payload: payload(body) } as never;
}

function client() {
  return createTokenClient({ functionName: 'wix-token-service-test-mint', lambda: new LambdaClient({ region: 'us-east-1' }), now: () => now });
}

const rejection = (promise: Promise<unknown>) => rejectionOf(promise);

beforeEach(() => {
  lambda.reset();
  now = start;
});

describe('createTokenClient', () => {
  it('invokes mint with the request and returns the token with a Date expiry', async () => {
    lambda.on(InvokeCommand).resolves(minted('OauthNG.JWS.one'));

    const token = await client().getAccessToken(instanceId, { appId, minValiditySeconds: 600 });

    expect(token).toEqual({ accessToken: 'OauthNG.JWS.one', tokenType: 'Bearer', expiresAt: new Date(start + 4 * 3600_000), instanceId, appId });
    const input = lambda.commandCalls(InvokeCommand)[0]?.args[0].input;
    expect(input?.FunctionName).toBe('wix-token-service-test-mint');
    expect(JSON.parse(new TextDecoder().decode(input?.Payload as Uint8Array))).toEqual({ instanceId, appId, minValiditySeconds: 600 });
  });

  it('serves a repeat from memory until shortly before expiry', async () => {
    lambda.on(InvokeCommand).resolvesOnce(minted('OauthNG.JWS.one', 600_000)).resolves(minted('OauthNG.JWS.two'));
    const tokens = client();
    await tokens.getAccessToken(instanceId, { minValiditySeconds: 60 });

    now = start + 500_000; // 100 s left: more than the 60 s margin
    const warm = await tokens.getAccessToken(instanceId, { minValiditySeconds: 60 });
    now = start + 545_000; // 55 s left
    const renewed = await tokens.getAccessToken(instanceId, { minValiditySeconds: 60 });

    expect(warm.accessToken).toBe('OauthNG.JWS.one');
    expect(renewed.accessToken).toBe('OauthNG.JWS.two');
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(2);
  });

  it('asks again when the cached token would not last minValiditySeconds', async () => {
    lambda.on(InvokeCommand).resolvesOnce(minted('OauthNG.JWS.short', 400_000)).resolves(minted('OauthNG.JWS.long'));
    const tokens = client();
    await tokens.getAccessToken(instanceId);

    const longer = await tokens.getAccessToken(instanceId, { minValiditySeconds: 3600 });

    expect(longer.accessToken).toBe('OauthNG.JWS.long');
  });

  it('shares one invoke among concurrent callers for the same instance', async () => {
    lambda.on(InvokeCommand).callsFake(async () => {
      await new Promise((resolve) => setTimeout(resolve, 20));
      return minted('OauthNG.JWS.shared');
    });
    const tokens = client();

    const answers = await Promise.all(Array.from({ length: 10 }, () => tokens.getAccessToken(instanceId)));

    expect(new Set(answers.map((answer) => answer.accessToken))).toEqual(new Set(['OauthNG.JWS.shared']));
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(1);
  });

  it.each([
    ['InvalidRequest', InvalidRequestError],
    ['InstanceUninstalled', InstanceUninstalledError],
    ['WixRejected', WixRejectedError],
    ['WixUnavailable', TokenUnavailableError],
    ['ServiceUnavailable', ServiceUnavailableError],
  ] as const)('turns errorType %s back into its class (real Lambda)', async (errorType, errorClass) => {
    lambda.on(InvokeCommand).resolves(failed({ errorType, errorMessage: 'instanceId must be a GUID', trace: [] }));

    const error = await rejection(client().getAccessToken(instanceId));

    expect(error).toBeInstanceOf(errorClass);
    expect(error.name).toBe(errorType);
  });

  it('reads the name from the first trace line when errorType is only "Error" (serverless-offline)', async () => {
    lambda.on(InvokeCommand).resolves(
      failed({ errorType: 'Error', errorMessage: 'minValiditySeconds must be an integer from 0 to 3600', trace: ['InvalidRequest: minValiditySeconds must be an integer from 0 to 3600', '    at x'] }),
    );

    const error = await rejection(client().getAccessToken(instanceId));

    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).field).toBe('minValiditySeconds');
  });

  it('reports a runtime failure (timeout) as ServiceUnavailable without its internal message', async () => {
    lambda.on(InvokeCommand).resolves(failed({ errorType: 'Sandbox.Timedout', errorMessage: 'Task timed out after 10.00 seconds' }));

    const error = await rejection(client().getAccessToken(instanceId));

    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect(error.message).toBe('the token service failed');
  });

  it('reports an invoke that could not be made as ServiceUnavailable', async () => {
    lambda.on(InvokeCommand).rejects(Object.assign(new Error('throttled'), { name: 'TooManyRequestsException' }));

    const error = await rejection(client().getAccessToken(instanceId));

    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect(error.message).toContain('TooManyRequestsException');
  });

  it('refuses an answer of an unexpected shape and caches nothing', async () => {
    lambda.on(InvokeCommand).resolvesOnce({ StatusCode: 200, Payload: payload({ accessToken: 5 }) } as never).resolves(minted('OauthNG.JWS.ok'));
    const tokens = client();

    const error = await rejection(tokens.getAccessToken(instanceId));
    const next = await tokens.getAccessToken(instanceId);

    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect(next.accessToken).toBe('OauthNG.JWS.ok');
  });

  it('does not cache a failure: the next call invokes again', async () => {
    lambda.on(InvokeCommand).resolvesOnce(failed({ errorType: 'WixUnavailable', errorMessage: 'down' })).resolves(minted('OauthNG.JWS.back'));
    const tokens = client();

    await rejection(tokens.getAccessToken(instanceId));
    const token = await tokens.getAccessToken(instanceId);

    expect(token.accessToken).toBe('OauthNG.JWS.back');
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(2);
  });

  it('does not hand a caller that needs more validity the answer to a concurrent caller that asked for less', async () => {
    lambda.on(InvokeCommand).callsFake(async (input: { Payload: Uint8Array }) => {
      const asked = (JSON.parse(new TextDecoder().decode(input.Payload)) as { minValiditySeconds?: number }).minValiditySeconds;
      await new Promise((resolve) => setTimeout(resolve, 20));
      return asked === 0 ? minted('OauthNG.JWS.short', 120_000) : minted('OauthNG.JWS.long');
    });
    const tokens = client();

    const [short, long] = await Promise.all([
      tokens.getAccessToken(instanceId, { minValiditySeconds: 0 }),
      tokens.getAccessToken(instanceId, { minValiditySeconds: 3600 }),
    ]);

    expect(short.accessToken).toBe('OauthNG.JWS.short');
    expect(long.accessToken).toBe('OauthNG.JWS.long');
    expect(long.expiresAt.getTime() - now).toBeGreaterThanOrEqual(3600_000);
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(2);
  });

  it('hands one failure to every concurrent caller sharing the invoke, and invokes afresh after it', async () => {
    lambda
      .on(InvokeCommand)
      .callsFakeOnce(async () => {
        await new Promise((resolve) => setTimeout(resolve, 20));
        return failed({ errorType: 'WixUnavailable', errorMessage: 'Wix did not answer in time (WIX_TIMEOUT)' });
      })
      .resolves(minted('OauthNG.JWS.after'));
    const tokens = client();

    const failures = await Promise.all(Array.from({ length: 3 }, () => rejection(tokens.getAccessToken(instanceId))));
    const after = await tokens.getAccessToken(instanceId);

    expect(failures.every((error) => error instanceof TokenUnavailableError)).toBe(true);
    expect(failures[0]?.message).toBe('Wix did not answer in time (WIX_TIMEOUT)');
    expect(after.accessToken).toBe('OauthNG.JWS.after');
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(2);
  });

  it('evicts the least recently used token, not the oldest one, when full', async () => {
    const [first, second, third] = ['7f3e2d1c-0000-4000-8000-000000000001', '7f3e2d1c-0000-4000-8000-000000000002', '7f3e2d1c-0000-4000-8000-000000000003'];
    lambda.on(InvokeCommand).callsFake(async (input: { Payload: Uint8Array }) => {
      const asked = (JSON.parse(new TextDecoder().decode(input.Payload)) as { instanceId: string }).instanceId;
      return { StatusCode: 200, Payload: payload({ accessToken: `OauthNG.JWS.${asked}`, tokenType: 'Bearer', expiresAt: new Date(now + 3600_000).toISOString(), instanceId: asked, appId }) } as never;
    });
    const tokens = createTokenClient({ functionName: 'mint', lambda: new LambdaClient({ region: 'us-east-1' }), now: () => now, maxCachedTokens: 2 });
    await tokens.getAccessToken(first!);
    await tokens.getAccessToken(second!);
    await tokens.getAccessToken(first!); // a hit: `first` is now the most recently used
    await tokens.getAccessToken(third!); // full: `second` goes
    lambda.resetHistory();

    await tokens.getAccessToken(first!);
    await tokens.getAccessToken(second!);

    expect(lambda.commandCalls(InvokeCommand).map((call) => JSON.parse(new TextDecoder().decode(call.args[0].input.Payload as Uint8Array)).instanceId)).toEqual([second]);
  });

  it('serves an instance asked for in another letter case from the same cache entry', async () => {
    lambda.on(InvokeCommand).resolves(minted('OauthNG.JWS.one'));
    const tokens = client();
    await tokens.getAccessToken(instanceId);

    const upper = await tokens.getAccessToken(instanceId.toUpperCase());

    expect(upper.accessToken).toBe('OauthNG.JWS.one');
    expect(lambda.commandCalls(InvokeCommand)).toHaveLength(1);
  });

  it('gives each caller its own copy, so changing one cannot change what the cache serves', async () => {
    lambda.on(InvokeCommand).resolvesOnce(minted('OauthNG.JWS.one')).resolves(minted('OauthNG.JWS.two'));
    const tokens = client();
    const first = await tokens.getAccessToken(instanceId);

    first.expiresAt.setTime(0);
    const second = await tokens.getAccessToken(instanceId);

    expect(second.accessToken).toBe('OauthNG.JWS.one');
    expect(second.expiresAt).toEqual(new Date(start + 4 * 3600_000));
  });

  it('refuses, and does not cache, an answer for another instance', async () => {
    lambda.on(InvokeCommand).resolvesOnce({ StatusCode: 200, Payload: payload({ accessToken: 'OauthNG.JWS.other', tokenType: 'Bearer', expiresAt: new Date(now + 3600_000).toISOString(), instanceId: '00000000-0000-4000-8000-000000000000', appId }) } as never).resolves(minted('OauthNG.JWS.mine'));
    const tokens = client();

    const error = await rejection(tokens.getAccessToken(instanceId));
    const next = await tokens.getAccessToken(instanceId);

    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect(error.message).toBe('the token service answered for another instance');
    expect(next.accessToken).toBe('OauthNG.JWS.mine');
  });

  it('names the field of an InvalidRequest reported by real Lambda', async () => {
    lambda.on(InvokeCommand).resolves(failed({ errorType: 'InvalidRequest', errorMessage: 'appId is not an app this deployment serves', trace: [] }));

    const error = await rejection(client().getAccessToken(instanceId, { appId }));

    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).field).toBe('appId');
    expect(error.message).toBe('appId is not an app this deployment serves');
  });

  it('reports an InvalidRequest without a message as a refused payload', async () => {
    lambda.on(InvokeCommand).resolves(failed({ errorType: 'InvalidRequest' }));

    const error = await rejection(client().getAccessToken(instanceId));

    expect(error).toBeInstanceOf(InvalidRequestError);
    expect((error as InvalidRequestError).field).toBe('payload');
  });

  it('reports a failure whose payload is not JSON as ServiceUnavailable', async () => {
    lambda.on(InvokeCommand).resolves({ StatusCode: 200, FunctionError: 'Unhandled', Payload: new TextEncoder().encode('<html>') } as never);

    const error = await rejection(client().getAccessToken(instanceId));

    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect(error.message).toBe('the token service failed');
  });

  it('reads a ServiceUnavailable from the trace when serverless-offline reports "Error", keeping its message', async () => {
    lambda.on(InvokeCommand).resolves(failed({ errorType: 'Error', errorMessage: 'internal error', trace: ['ServiceUnavailable: internal error'] }));

    const error = await rejection(client().getAccessToken(instanceId));

    expect(error).toBeInstanceOf(ServiceUnavailableError);
    expect(error.message).toBe('internal error');
  });
});
