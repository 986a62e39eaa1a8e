import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';

import {
  createTokenClient,
  InstanceUninstalledError,
  InvalidRequestError,
  ServiceUnavailableError,
  WixRejectedError,
  WixUnavailableInvokeError,
} from '../../../../lib/client';

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

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    await promise;
  } catch (error) {
    return error as Error;
  }
  throw new Error('expected a failure');
}

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
    ['WixUnavailable', WixUnavailableInvokeError],
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
});
