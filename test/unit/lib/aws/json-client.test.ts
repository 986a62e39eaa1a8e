import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';

import { EventBridgeClient as SdkEventBridgeClient } from '@aws-sdk/client-eventbridge';
import { SecretsManagerClient as SdkSecretsManagerClient } from '@aws-sdk/client-secrets-manager';

import { AwsJsonClient, AwsServiceError, defaultEndpoint, endpointFor, isTransientNetworkError, type AwsJsonClientConfig } from '../../../../lib/aws/json-client';
import { EVENTBRIDGE, EventBridgeClient, PutEventsCommand } from '../../../../lib/events/eventbridge-client';
import { GetSecretValueCommand, SECRETS_MANAGER, SecretsManagerClient } from '../../../../lib/secrets/secrets-manager';
import { createFakeClock } from '../../../support/fake-clock';

const CREDENTIALS = { accessKeyId: 'ASIATESTTESTTEST0001', secretAccessKey: 'test-secret-access-key', sessionToken: 'test-session-token' };
const SERVICE = { signingName: 'secretsmanager', targetPrefix: 'secretsmanager', endpointId: 'SECRETS_MANAGER' } as const;

interface Received {
  method: string;
  path: string;
  headers: IncomingMessage['headers'];
  body: string;
}

type Answer = (request: Received, index: number) => { status: number; headers?: Record<string, string>; body?: string } | 'hang' | 'reset';

/** A loopback stand-in for an AWS JSON endpoint that records each request and answers from a script. */
async function endpoint(answer: Answer) {
  const received: Received[] = [];
  const server: Server = createServer((request: IncomingMessage, response: ServerResponse) => {
    const chunks: Buffer[] = [];
    request.on('data', (chunk: Buffer) => chunks.push(chunk));
    request.on('end', () => {
      const entry = { method: request.method ?? '', path: request.url ?? '', headers: request.headers, body: Buffer.concat(chunks).toString('utf8') };
      received.push(entry);
      const outcome = answer(entry, received.length - 1);
      if (outcome === 'hang') return;
      if (outcome === 'reset') return void request.socket.destroy();
      response.writeHead(outcome.status, { 'content-type': 'application/x-amz-json-1.1', ...outcome.headers }).end(outcome.body ?? '');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    url,
    received,
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
    server,
  };
}

const clients: Array<{ destroy(): void }> = [];
const servers: Array<{ close(): Promise<void>; server: Server }> = [];

afterEach(async () => {
  for (const client of clients.splice(0)) client.destroy();
  for (const { server, close } of servers.splice(0)) {
    server.closeAllConnections();
    await close();
  }
});

async function setup(answer: Answer, config: AwsJsonClientConfig = {}, env: NodeJS.ProcessEnv = {}, random: () => number = () => 0.5) {
  const stand = await endpoint(answer);
  servers.push(stand);
  const clock = createFakeClock(Date.UTC(2026, 10, 25, 12, 0, 0));
  const client = new AwsJsonClient(SERVICE, { region: 'eu-west-1', endpoint: stand.url, credentials: CREDENTIALS, ...config }, { clock, random, env });
  clients.push(client);
  return { ...stand, client, clock };
}

/** Signs the received request again, as the service would check it: the same signature or not. */
async function signatureHolds(request: Received, region: string, service: string): Promise<boolean> {
  // The payload hash header is left out, so the signer hashes the body it was given again.
  const { authorization, 'x-amz-content-sha256': _payloadHash, ...headers } = request.headers as Record<string, string>;
  const amzDate = headers['x-amz-date'] ?? '';
  const signingDate = new Date(`${amzDate.slice(0, 4)}-${amzDate.slice(4, 6)}-${amzDate.slice(6, 8)}T${amzDate.slice(9, 11)}:${amzDate.slice(11, 13)}:${amzDate.slice(13, 15)}Z`);
  const signedHeaders = /SignedHeaders=([^,]+)/.exec(authorization ?? '')?.[1]?.split(';') ?? [];
  const [hostname, port] = (headers['host'] ?? '').split(':');
  const signer = new SignatureV4({ service, region, credentials: CREDENTIALS, sha256: Sha256 });
  const again = await signer.sign(
    new HttpRequest({ method: request.method, protocol: 'http:', hostname, port: Number(port), path: request.path, headers: Object.fromEntries(signedHeaders.filter((name) => name !== 'x-amz-content-sha256').map((name) => [name, headers[name] ?? ''])), body: request.body }),
    { signingDate },
  );
  return again.headers['authorization'] === authorization;
}

describe('AwsJsonClient (lib/aws/json-client): one signed JSON 1.1 call', () => {
  it('POSTs the input as JSON 1.1 with the operation as X-Amz-Target, SigV4-signed for the service and region, and answers the parsed output', async () => {
    const { client, received } = await setup(() => ({ status: 200, body: JSON.stringify({ SecretString: 's', VersionId: 'v1' }) }));

    const output = await client.call('GetSecretValue', { SecretId: 'apps/a' });

    expect(output).toEqual({ SecretString: 's', VersionId: 'v1' });
    const [request] = received;
    expect(request).toMatchObject({ method: 'POST', path: '/', body: '{"SecretId":"apps/a"}' });
    expect(request?.headers).toMatchObject({
      'content-type': 'application/x-amz-json-1.1',
      'x-amz-target': 'secretsmanager.GetSecretValue',
      'x-amz-security-token': 'test-session-token',
      'x-amz-date': '20261125T120000Z',
    });
    expect(request?.headers['authorization']).toMatch(/^AWS4-HMAC-SHA256 Credential=ASIATESTTESTTEST0001\/20261125\/eu-west-1\/secretsmanager\/aws4_request, SignedHeaders=[^,]*content-type[^,]*host[^,]*x-amz-target/);
    expect(request?.headers['user-agent']).toContain(`md/nodejs#${process.versions.node}`);
    await expect(signatureHolds(request as Received, 'eu-west-1', 'secretsmanager')).resolves.toBe(true);
  });

  it('is checked for real: a request whose body changed after signing no longer verifies', async () => {
    const { client, received } = await setup(() => ({ status: 200, body: '{}' }));
    await client.call('GetSecretValue', { SecretId: 'apps/a' });

    await expect(signatureHolds({ ...(received[0] as Received), body: '{"SecretId":"apps/b"}' }, 'eu-west-1', 'secretsmanager')).resolves.toBe(false);
  });

  it('raises the service\u2019s error by its type, without namespace or URI, with the status, request id and fault, and does not retry a client error', async () => {
    const { client, received } = await setup(() => ({
      status: 400,
      headers: { 'x-amzn-requestid': 'req-7' },
      body: JSON.stringify({ __type: 'com.amazonaws.secretsmanager#ResourceNotFoundException', message: 'Secrets Manager can\u2019t find the specified secret.' }),
    }));

    const error = (await client.call('GetSecretValue', { SecretId: 'apps/missing' }).catch((caught: unknown) => caught)) as AwsServiceError;

    expect(error).toBeInstanceOf(AwsServiceError);
    expect(error).toMatchObject({ name: 'ResourceNotFoundException', message: 'Secrets Manager can\u2019t find the specified secret.', $fault: 'client', $metadata: { httpStatusCode: 400, requestId: 'req-7', attempts: 1 } });
    expect(received).toHaveLength(1);
  });

  it('reads the error type as the SDK does for JSON RPC: the body\u2019s __type, then its code, then X-Amzn-ErrorType, each without namespace, URI or list', async () => {
    const header = { 'x-amzn-errortype': 'HeaderException:http://internal.amazon.com/coral/' };
    const answers = [
      { headers: header, body: JSON.stringify({ __type: 'aws.protocoltests#TypeException:http://internal/uri,Other', Code: 'CodeException' }) },
      { headers: header, body: JSON.stringify({ Code: 'CodeException' }) },
      { headers: header, body: '{}' },
    ];
    const { client } = await setup((_, index) => ({ status: 400, ...answers[index] }));

    const names = [];
    for (let index = 0; index < answers.length; index += 1) names.push(((await client.call('GetSecretValue', {}).catch((caught: unknown) => caught)) as Error).name);

    expect(names).toEqual(['TypeException', 'CodeException', 'HeaderException']);
  });

  it.each([
    ['an empty body', ''],
    ['a proxy\u2019s page', '<html>busy</html>'],
    ['JSON null', 'null'],
    ['a JSON list', '["x"]'],
  ])('names a 5xx with %s InternalFailure, keeping its status, and retries it', async (_, body) => {
    const { client, received } = await setup(() => ({ status: 503, body }), { maxAttempts: 2 });

    await expect(client.call('GetSecretValue', {})).rejects.toMatchObject({ name: 'InternalFailure', message: 'HTTP 503', $fault: 'server', $metadata: { httpStatusCode: 503, attempts: 2 } });
    expect(received).toHaveLength(2);
  });

  it('retries a 5xx and throttling with the SDK\u2019s backoff (full jitter over 50 ms doubling, 1 s after throttling) up to maxAttempts, then raises the last error', async () => {
    const { client, received, clock } = await setup(
      (_, index) => (index === 0 ? { status: 500, body: '{"__type":"InternalServiceError"}' } : { status: 400, body: '{"__type":"ThrottlingException","message":"Rate exceeded"}' }),
      { maxAttempts: 3 },
    );

    await expect(client.call('GetSecretValue', {})).rejects.toMatchObject({ name: 'ThrottlingException', $metadata: { attempts: 3 } });

    expect(received).toHaveLength(3);
    expect(received.map((request) => request.headers['amz-sdk-request'])).toEqual(['attempt=1; max=3', 'attempt=2; max=3', 'attempt=3; max=3']);
    // random() is 0.5: half of 50 ms after the first attempt, half of 2 x 1 s after the second.
    expect(clock.sleeps).toEqual([25, 1000]);
  });

  it('draws each delay afresh: two clients with different draws wait differently', async () => {
    const draws = [0.1, 0.9];
    const { client, clock } = await setup(() => ({ status: 500, body: '{}' }), { maxAttempts: 3 }, {}, () => draws.shift() ?? 0);

    await expect(client.call('GetSecretValue', {})).rejects.toMatchObject({ name: 'InternalFailure' });

    expect(clock.sleeps).toEqual([5, 90]);
  });

  it('waits as long as Retry-After or x-amz-retry-after asks, but at most 5 s more than its own backoff', async () => {
    const hints: Array<Record<string, string>> = [{ 'retry-after': '2' }, { 'x-amz-retry-after': '300' }, { 'retry-after': '3600' }];
    const { client, clock } = await setup((_, index) => (index < hints.length ? { status: 503, headers: hints[index], body: '{}' } : { status: 200, body: '{}' }), { maxAttempts: 4 });

    await client.call('GetSecretValue', {});

    // Backoffs 25, 50, 100 ms: each hint wins, the hour is cut to 100 ms + 5 s.
    expect(clock.sleeps).toEqual([2000, 300, 5100]);
  });

  it.each([400, 403, 404, 501, 505])('does not retry an HTTP %i that is neither throttling nor transient, as the SDK does not', async (status) => {
    const { client, received } = await setup(() => ({ status, body: '{"__type":"SomeServiceError"}' }), { maxAttempts: 3 });

    await expect(client.call('GetSecretValue', {})).rejects.toMatchObject({ name: 'SomeServiceError', $metadata: { httpStatusCode: status } });
    expect(received).toHaveLength(1);
  });

  it.each([
    ['a failed DNS lookup (EAI_AGAIN)', true, { code: 'EAI_AGAIN' }],
    ['an unreachable host', true, { code: 'EHOSTUNREACH' }],
    ['a DNS miss', true, { code: 'ENOTFOUND' }],
    ['a timeout by name', true, { name: 'RequestTimeoutException' }],
    ['a network code as the cause of a wrapper', true, { name: 'Error', cause: { name: 'Error', cause: { code: 'ECONNRESET' } } }],
    ['an abort, whatever its cause', false, { name: 'AbortError', cause: { code: 'ECONNRESET' } }],
    ['a programming error', false, new TypeError('x is not a function')],
    ['a cause chain deeper than the SDK looks', false, Array.from({ length: 12 }).reduce<object>((cause) => ({ cause }), { code: 'ECONNRESET' })],
  ])('counts %s as transient: %s', (_, transient, error) => {
    expect(isTransientNetworkError(error)).toBe(transient);
  });

  it('retries until an attempt succeeds', async () => {
    const { client, received } = await setup((_, index) => (index < 2 ? { status: 429, body: '{"__type":"TooManyRequestsException"}' } : { status: 200, body: '{"ok":true}' }));

    await expect(client.call('GetSecretValue', {})).resolves.toEqual({ ok: true });
    expect(received).toHaveLength(3);
  });

  it('retries a connection the server dropped and a request that timed out, then raises the network error', async () => {
    const dropped = await setup((_, index) => (index === 0 ? 'reset' : { status: 200, body: '{"n":2}' }));
    await expect(dropped.client.call('GetSecretValue', {})).resolves.toEqual({ n: 2 });
    expect(dropped.received).toHaveLength(2);

    const hung = await setup(() => 'hang', { maxAttempts: 2, requestHandler: { requestTimeout: 100, throwOnRequestTimeout: true } });
    await expect(hung.client.call('GetSecretValue', {})).rejects.toMatchObject({ name: 'TimeoutError' });
    expect(hung.received).toHaveLength(2);
  });

  it('stops at once when the caller aborts, without another attempt', async () => {
    const { client, received } = await setup(() => 'hang', { maxAttempts: 3 });
    const controller = new AbortController();

    const call = client.call('GetSecretValue', {}, { abortSignal: controller.signal });
    await new Promise((resolve) => setTimeout(resolve, 50));
    controller.abort();

    await expect(call).rejects.toThrow();
    expect(received).toHaveLength(1);
  });

  it('corrects a skewed clock from the service\u2019s Date header and signs the retry with the service\u2019s time', async () => {
    const serverTime = new Date(Date.UTC(2026, 10, 25, 12, 17, 0));
    const { client, received } = await setup((request, index) =>
      index === 0
        ? { status: 400, headers: { date: serverTime.toUTCString() }, body: JSON.stringify({ __type: 'InvalidSignatureException', message: 'Signature expired' }) }
        : { status: 200, body: JSON.stringify({ signedAt: request.headers['x-amz-date'] }) },
    );

    await expect(client.call('GetSecretValue', {})).resolves.toEqual({ signedAt: '20261125T121700Z' });
    expect(received.map((request) => request.headers['x-amz-date'])).toEqual(['20261125T120000Z', '20261125T121700Z']);
  });

  it('does not retry a refused signature when the clocks agree: the credentials are wrong, not the time', async () => {
    const { client, received, clock } = await setup(() => ({
      status: 400,
      headers: { date: new Date(clock.now()).toUTCString() },
      body: '{"__type":"InvalidSignatureException"}',
    }));

    await expect(client.call('GetSecretValue', {})).rejects.toMatchObject({ name: 'InvalidSignatureException' });
    expect(received).toHaveLength(1);
  });

  it('learns the service\u2019s clock from a successful answer too, so the next call is signed right the first time, but not from a cached answer (Age)', async () => {
    const serverTime = new Date(Date.UTC(2026, 10, 25, 11, 50, 0));
    const { client, received } = await setup((_, index) => ({ status: 200, headers: { date: serverTime.toUTCString(), ...(index === 0 ? { age: '30' } : {}) }, body: '{}' }));

    await client.call('GetSecretValue', {});
    await client.call('GetSecretValue', {});
    await client.call('GetSecretValue', {});

    expect(received.map((request) => request.headers['x-amz-date'])).toEqual(['20261125T120000Z', '20261125T120000Z', '20261125T115000Z']);
  });

  it('retries any of the SDK\u2019s clock-skew errors (AccessDeniedException, say) once the clock was corrected, and an expired signature even without a Date header', async () => {
    const skewed = await setup((_, index) =>
      index === 0 ? { status: 403, headers: { date: new Date(Date.UTC(2026, 10, 25, 12, 9, 0)).toUTCString() }, body: '{"__type":"AccessDeniedException"}' } : { status: 200, body: '{}' },
    );
    await expect(skewed.client.call('GetSecretValue', {})).resolves.toEqual({});
    expect(skewed.received).toHaveLength(2);

    const expired = await setup((_, index) => (index === 0 ? { status: 400, body: JSON.stringify({ __type: 'InvalidSignatureException', message: 'Signature expired: 20261125T120000Z is now earlier than ...' }) } : { status: 200, body: '{}' }));
    await expect(expired.client.call('GetSecretValue', {})).resolves.toEqual({});
    expect(expired.received).toHaveLength(2);
  });

  it('replaces an unparsable 2xx answer by an error that does not quote it (it may hold a secret)', async () => {
    const { client } = await setup(() => ({ status: 200, body: '{"SecretString":"hunter2-secret-value' }));

    const error = (await client.call('GetSecretValue', {}).catch((caught: unknown) => caught)) as Error;

    expect(error).toMatchObject({ name: 'MalformedResponse' });
    expect(JSON.stringify({ message: error.message, stack: error.stack })).not.toContain('hunter2');
  });

  it('takes its endpoint from the config, else AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL, skipping an empty variable, and none when AWS_IGNORE_CONFIGURED_ENDPOINT_URLS is true', async () => {
    const configured = await setup(() => ({ status: 200, body: '{"from":"config"}' }));
    const own = await setup(() => ({ status: 200, body: '{"from":"own"}' }));
    const shared = await setup(() => ({ status: 200, body: '{"from":"shared"}' }));
    const client = (variables: NodeJS.ProcessEnv, config: AwsJsonClientConfig = {}) => {
      const built = new AwsJsonClient(SERVICE, { region: 'eu-west-1', credentials: CREDENTIALS, ...config }, { env: variables, clock: createFakeClock(), random: () => 0 });
      clients.push(built);
      return built;
    };
    const both = { AWS_ENDPOINT_URL_SECRETS_MANAGER: own.url, AWS_ENDPOINT_URL: shared.url };

    await expect(client(both, { endpoint: configured.url }).call('GetSecretValue', {})).resolves.toEqual({ from: 'config' });
    await expect(client(both).call('GetSecretValue', {})).resolves.toEqual({ from: 'own' });
    await expect(client({ AWS_ENDPOINT_URL: shared.url }).call('GetSecretValue', {})).resolves.toEqual({ from: 'shared' });
    await expect(client({ AWS_ENDPOINT_URL_SECRETS_MANAGER: '', AWS_ENDPOINT_URL: shared.url }).call('GetSecretValue', {})).resolves.toEqual({ from: 'shared' });
    expect(endpointFor(SERVICE, undefined, 'eu-west-1', { ...both, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' })).toBe('https://secretsmanager.eu-west-1.amazonaws.com');
    expect(endpointFor(SERVICE, configured.url, 'eu-west-1', { ...both, AWS_IGNORE_CONFIGURED_ENDPOINT_URLS: 'true' })).toBe(configured.url);
    expect(endpointFor(SERVICE, undefined, 'eu-west-1', { AWS_ENDPOINT_URL_SECRETS_MANAGER: '', AWS_ENDPOINT_URL: '' })).toBe('https://secretsmanager.eu-west-1.amazonaws.com');
  });

  const REGIONS = ['us-east-1', 'eu-west-1', 'ap-southeast-7', 'cn-north-1', 'cn-northwest-1', 'us-gov-west-1', 'us-gov-east-1', 'us-iso-east-1', 'us-isob-east-1', 'eu-isoe-west-1', 'us-isof-south-1', 'eusc-de-east-1'];
  it.each([
    ['Secrets Manager', SECRETS_MANAGER, SdkSecretsManagerClient],
    ['EventBridge', EVENTBRIDGE, SdkEventBridgeClient],
  ] as const)('gives %s the endpoint its SDK client\u2019s endpoint rules give, in every partition, with and without FIPS', (_, service, SdkClient) => {
    const sdk = new SdkClient({ region: 'us-east-1' });
    const rules = (region: string, fips: boolean) => new URL(sdk.config.endpointProvider({ Region: region, UseFIPS: fips, UseDualStack: false }).url.href).href;
    const ours = (region: string, fips: boolean) => new URL(defaultEndpoint(service, region, { AWS_USE_FIPS_ENDPOINT: String(fips) })).href;

    const differing = REGIONS.flatMap((region) => [false, true].filter((fips) => ours(region, fips) !== rules(region, fips)).map((fips) => `${region} fips=${fips}: ${ours(region, fips)} vs ${rules(region, fips)}`));

    expect(differing).toEqual([]);
    expect(ours('us-gov-west-1', true)).toBe(service === EVENTBRIDGE ? 'https://events.us-gov-west-1.amazonaws.com/' : 'https://secretsmanager-fips.us-gov-west-1.amazonaws.com/');
  });

  it('refuses an AWS_USE_FIPS_ENDPOINT it cannot read instead of quietly leaving FIPS out, as the SDK does', async () => {
    expect(() => defaultEndpoint(SECRETS_MANAGER, 'us-east-1', { AWS_USE_FIPS_ENDPOINT: 'TRUE' })).toThrow('AWS_USE_FIPS_ENDPOINT must be "true" or "false"');
    expect(defaultEndpoint(SECRETS_MANAGER, 'us-east-1', {})).toBe('https://secretsmanager.us-east-1.amazonaws.com');

    const client = new AwsJsonClient(SERVICE, { region: 'us-east-1', credentials: CREDENTIALS }, { env: { AWS_USE_FIPS_ENDPOINT: '1' } });
    await expect(client.call('GetSecretValue', {})).rejects.toThrow('AWS_USE_FIPS_ENDPOINT');
  });

  it('fails a call, not its construction, when there is no region', async () => {
    const client = new AwsJsonClient(SERVICE, { credentials: CREDENTIALS }, { env: {} });

    await expect(client.call('GetSecretValue', {})).rejects.toThrow('no region for secretsmanager: set AWS_REGION');
  });
});

describe('the Secrets Manager and EventBridge clients over it', () => {
  it('GetSecretValue: sends the command\u2019s input to secretsmanager.GetSecretValue', async () => {
    const stand = await endpoint(() => ({ status: 200, body: JSON.stringify({ SecretString: '{}', VersionId: 'v3', Name: 'apps/a' }) }));
    servers.push(stand);
    const client = new SecretsManagerClient({ region: 'us-east-1', endpoint: stand.url, credentials: CREDENTIALS });
    clients.push(client);

    await expect(client.send(new GetSecretValueCommand({ SecretId: 'apps/a', VersionStage: 'AWSPREVIOUS' }))).resolves.toEqual({ SecretString: '{}', VersionId: 'v3', Name: 'apps/a' });
    expect(stand.received[0]?.headers['x-amz-target']).toBe('secretsmanager.GetSecretValue');
    expect(JSON.parse(stand.received[0]?.body ?? '')).toEqual({ SecretId: 'apps/a', VersionStage: 'AWSPREVIOUS' });
    await expect(signatureHolds(stand.received[0] as Received, 'us-east-1', 'secretsmanager')).resolves.toBe(true);
  });

  it('PutEvents: sends AWSEvents.PutEvents signed for events, each Time as epoch seconds', async () => {
    const stand = await endpoint(() => ({ status: 200, body: JSON.stringify({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] }) }));
    servers.push(stand);
    const client = new EventBridgeClient({ region: 'us-east-1', endpoint: stand.url, credentials: CREDENTIALS });
    clients.push(client);
    const time = new Date('2026-12-01T00:00:00.500Z');

    const output = await client.send(new PutEventsCommand({ Entries: [{ EventBusName: 'ops', Source: 'wix-token-service', DetailType: 'InstanceInstalled', Detail: '{"a":1}', Time: time }] }));

    expect(output).toEqual({ FailedEntryCount: 0, Entries: [{ EventId: 'e1' }] });
    expect(stand.received[0]?.headers['x-amz-target']).toBe('AWSEvents.PutEvents');
    expect(JSON.parse(stand.received[0]?.body ?? '')).toEqual({ Entries: [{ EventBusName: 'ops', Source: 'wix-token-service', DetailType: 'InstanceInstalled', Detail: '{"a":1}', Time: time.getTime() / 1000 }] });
    await expect(signatureHolds(stand.received[0] as Received, 'us-east-1', 'events')).resolves.toBe(true);
  });
});
