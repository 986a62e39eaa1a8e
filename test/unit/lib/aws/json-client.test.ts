import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { SignatureV4 } from '@smithy/signature-v4';

import { AwsJsonClient, AwsServiceError, defaultEndpoint, type AwsJsonClientConfig } from '../../../../lib/aws/json-client';
import { EventBridgeClient, PutEventsCommand } from '../../../../lib/events/eventbridge-client';
import { GetSecretValueCommand, SecretsManagerClient } from '../../../../lib/secrets/secrets-manager';
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

async function setup(answer: Answer, config: AwsJsonClientConfig = {}, env: NodeJS.ProcessEnv = {}) {
  const stand = await endpoint(answer);
  servers.push(stand);
  const clock = createFakeClock(Date.UTC(2026, 10, 25, 12, 0, 0));
  const client = new AwsJsonClient(SERVICE, { region: 'eu-west-1', endpoint: stand.url, credentials: CREDENTIALS, ...config }, { clock, random: () => 0.5, env });
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

  it('takes the error type from X-Amzn-ErrorType first, and names an empty 5xx InternalFailure', async () => {
    const byHeader = await setup(() => ({ status: 400, headers: { 'x-amzn-errortype': 'AccessDeniedException:http://internal.amazon.com/coral/' }, body: '{}' }));
    await expect(byHeader.client.call('GetSecretValue', {})).rejects.toMatchObject({ name: 'AccessDeniedException', message: 'HTTP 400' });

    const empty = await setup(() => ({ status: 503, body: '<html>busy</html>' }), { maxAttempts: 1 });
    await expect(empty.client.call('GetSecretValue', {})).rejects.toMatchObject({ name: 'InternalFailure', $fault: 'server', $metadata: { httpStatusCode: 503 } });
  });

  it('retries a 5xx and throttling with jittered, doubling backoff up to maxAttempts, then raises the last error', async () => {
    const { client, received, clock } = await setup(
      (_, index) => (index === 0 ? { status: 500, body: '{"__type":"InternalServiceError"}' } : { status: 400, body: '{"__type":"ThrottlingException","message":"Rate exceeded"}' }),
      { maxAttempts: 3 },
    );

    await expect(client.call('GetSecretValue', {})).rejects.toMatchObject({ name: 'ThrottlingException', $metadata: { attempts: 3 } });

    expect(received).toHaveLength(3);
    expect(received.map((request) => request.headers['amz-sdk-request'])).toEqual(['attempt=1; max=3', 'attempt=2; max=3', 'attempt=3; max=3']);
    expect(clock.sleeps).toEqual([100, 200]);
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

  it('replaces an unparsable 2xx answer by an error that does not quote it (it may hold a secret)', async () => {
    const { client } = await setup(() => ({ status: 200, body: '{"SecretString":"hunter2-secret-value' }));

    const error = (await client.call('GetSecretValue', {}).catch((caught: unknown) => caught)) as Error;

    expect(error).toMatchObject({ name: 'MalformedResponse' });
    expect(JSON.stringify({ message: error.message, stack: error.stack })).not.toContain('hunter2');
  });

  it('takes its endpoint from the config, else AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL', async () => {
    const own = await setup(() => ({ status: 200, body: '{"from":"own"}' }));
    const shared = await setup(() => ({ status: 200, body: '{"from":"shared"}' }));
    const env = (variables: NodeJS.ProcessEnv) =>
      new AwsJsonClient(SERVICE, { region: 'eu-west-1', credentials: CREDENTIALS }, { env: variables, clock: createFakeClock(), random: () => 0 });

    const byService = env({ AWS_ENDPOINT_URL_SECRETS_MANAGER: own.url, AWS_ENDPOINT_URL: shared.url });
    const byShared = env({ AWS_ENDPOINT_URL: shared.url });
    clients.push(byService, byShared);

    await expect(byService.call('GetSecretValue', {})).resolves.toEqual({ from: 'own' });
    await expect(byShared.call('GetSecretValue', {})).resolves.toEqual({ from: 'shared' });
  });

  it('derives the public endpoint per partition, with FIPS when AWS_USE_FIPS_ENDPOINT is true', () => {
    expect(defaultEndpoint('secretsmanager', 'us-east-1', {})).toBe('https://secretsmanager.us-east-1.amazonaws.com');
    expect(defaultEndpoint('events', 'us-gov-west-1', { AWS_USE_FIPS_ENDPOINT: 'true' })).toBe('https://events-fips.us-gov-west-1.amazonaws.com');
    expect(defaultEndpoint('events', 'cn-north-1', {})).toBe('https://events.cn-north-1.amazonaws.com.cn');
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
