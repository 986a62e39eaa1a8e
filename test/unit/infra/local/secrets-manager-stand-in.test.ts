import {
  CreateSecretCommand,
  DescribeSecretCommand,
  GetSecretValueCommand,
  InternalServiceError,
  PutSecretValueCommand,
  ResourceExistsException,
  ResourceNotFoundException,
  SecretsManagerClient,
  SecretsManagerServiceException,
} from '@aws-sdk/client-secrets-manager';

import { startSecretsManagerStandIn, type SecretsManagerStandIn } from '../../../../infra/local/secrets-manager-stand-in';

const NAME = 'wix-token-service/apps/demo';

describe('startSecretsManagerStandIn', () => {
  let standIn: SecretsManagerStandIn;
  let client: SecretsManagerClient;

  beforeEach(async () => {
    standIn = await startSecretsManagerStandIn({ secrets: [{ name: NAME, value: '{"v":1}' }] });
    client = new SecretsManagerClient({
      region: 'us-east-1',
      credentials: { accessKeyId: 'x', secretAccessKey: 'x' },
      endpoint: standIn.url,
      maxAttempts: 1,
    });
  });

  afterEach(async () => {
    client.destroy();
    await standIn.stop();
  });

  async function sdkError(promise: Promise<unknown>): Promise<SecretsManagerServiceException> {
    const error = await promise.then(
      () => undefined,
      (caught: unknown) => caught,
    );
    if (!(error instanceof SecretsManagerServiceException)) throw new Error(`expected an SDK service error, got ${String(error)}`);
    return error;
  }

  async function raw(target: string | undefined, body: string): Promise<{ status: number; json: Record<string, unknown> }> {
    const headers: Record<string, string> = { 'content-type': 'application/x-amz-json-1.1' };
    if (target !== undefined) headers['x-amz-target'] = target;
    const response = await fetch(`${standIn.url}/`, { method: 'POST', headers, body });
    return { status: response.status, json: (await response.json()) as Record<string, unknown> };
  }

  it('listens on loopback', () => {
    expect(standIn.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('returns the AWSCURRENT version of a seeded secret by name', async () => {
    const result = await client.send(new GetSecretValueCommand({ SecretId: NAME }));

    expect(result.Name).toBe(NAME);
    expect(result.SecretString).toBe('{"v":1}');
    expect(result.VersionStages).toEqual(['AWSCURRENT']);
    expect(result.VersionId).toMatch(/^[0-9a-f-]{36}$/);
    expect(result.ARN).toMatch(new RegExp(`^arn:aws:secretsmanager:us-east-1:\\d{12}:secret:${NAME}-[0-9a-f]{6}$`));
    expect(result.CreatedDate).toBeInstanceOf(Date);
  });

  it('finds a secret by its full or partial ARN', async () => {
    const { ARN } = await client.send(new GetSecretValueCommand({ SecretId: NAME }));
    const partial = (ARN ?? '').replace(/-[0-9a-f]{6}$/, '');

    const byArn = await client.send(new GetSecretValueCommand({ SecretId: ARN }));
    const byPartialArn = await client.send(new GetSecretValueCommand({ SecretId: partial }));

    expect(byArn.SecretString).toBe('{"v":1}');
    expect(byPartialArn.SecretString).toBe('{"v":1}');
  });

  it('creates a secret with CreateSecret and refuses to create it twice', async () => {
    const created = await client.send(new CreateSecretCommand({ Name: 'other', SecretString: 'hello' }));
    const read = await client.send(new GetSecretValueCommand({ SecretId: 'other' }));

    const error = await sdkError(client.send(new CreateSecretCommand({ Name: 'other', SecretString: 'again' })));

    expect(read).toMatchObject({ SecretString: 'hello', VersionId: created.VersionId, ARN: created.ARN });
    expect(error).toBeInstanceOf(ResourceExistsException);
    expect(error.$metadata.httpStatusCode).toBe(400);
  });

  it('makes a PutSecretValue version AWSCURRENT and the old one AWSPREVIOUS', async () => {
    const first = await client.send(new GetSecretValueCommand({ SecretId: NAME }));

    const put = await client.send(new PutSecretValueCommand({ SecretId: NAME, SecretString: '{"v":2}' }));
    const current = await client.send(new GetSecretValueCommand({ SecretId: NAME }));
    const previous = await client.send(new GetSecretValueCommand({ SecretId: NAME, VersionStage: 'AWSPREVIOUS' }));

    expect(put.VersionStages).toEqual(['AWSCURRENT']);
    expect(current).toMatchObject({ SecretString: '{"v":2}', VersionId: put.VersionId, VersionStages: ['AWSCURRENT'] });
    expect(previous).toMatchObject({ SecretString: '{"v":1}', VersionId: first.VersionId, VersionStages: ['AWSPREVIOUS'] });
  });

  it('moves AWSPREVIOUS on a second rotation, keeping the oldest version readable by its id', async () => {
    const first = await client.send(new GetSecretValueCommand({ SecretId: NAME }));
    const second = await client.send(new PutSecretValueCommand({ SecretId: NAME, SecretString: '{"v":2}' }));
    standIn.putSecret(NAME, '{"v":3}');

    const previous = await client.send(new GetSecretValueCommand({ SecretId: NAME, VersionStage: 'AWSPREVIOUS' }));
    const oldest = await client.send(new GetSecretValueCommand({ SecretId: NAME, VersionId: first.VersionId }));
    const described = await client.send(new DescribeSecretCommand({ SecretId: NAME }));

    expect(previous).toMatchObject({ SecretString: '{"v":2}', VersionId: second.VersionId });
    expect(oldest).toMatchObject({ SecretString: '{"v":1}', VersionStages: [] });
    expect(Object.values(described.VersionIdsToStages ?? {}).sort()).toEqual([['AWSCURRENT'], ['AWSPREVIOUS']]);
    expect(described.VersionIdsToStages?.[second.VersionId ?? '']).toEqual(['AWSPREVIOUS']);
  });

  it('treats a repeated PutSecretValue with the same ClientRequestToken as idempotent, and a different value under it as a conflict', async () => {
    const token = 'a6b7c2d4-1111-4222-8333-444455556666';
    const first = await client.send(new PutSecretValueCommand({ SecretId: NAME, SecretString: '{"v":2}', ClientRequestToken: token }));
    const again = await client.send(new PutSecretValueCommand({ SecretId: NAME, SecretString: '{"v":2}', ClientRequestToken: token }));

    const error = await sdkError(client.send(new PutSecretValueCommand({ SecretId: NAME, SecretString: '{"v":9}', ClientRequestToken: token })));
    const previous = await client.send(new GetSecretValueCommand({ SecretId: NAME, VersionStage: 'AWSPREVIOUS' }));

    expect(first.VersionId).toBe(token);
    expect(again.VersionId).toBe(token);
    expect(error).toBeInstanceOf(ResourceExistsException);
    expect(previous.SecretString).toBe('{"v":1}');
  });

  it('answers ResourceNotFoundException for an unknown secret', async () => {
    const error = await sdkError(client.send(new GetSecretValueCommand({ SecretId: 'nope' })));

    expect(error).toBeInstanceOf(ResourceNotFoundException);
    expect(error.message).toBe("Secrets Manager can't find the specified secret.");
    expect(error.$metadata.httpStatusCode).toBe(400);
  });

  it('answers ResourceNotFoundException for AWSPREVIOUS of a secret with one version', async () => {
    const error = await sdkError(client.send(new GetSecretValueCommand({ SecretId: NAME, VersionStage: 'AWSPREVIOUS' })));

    expect(error).toBeInstanceOf(ResourceNotFoundException);
    expect(error.message).toContain('staging label: AWSPREVIOUS');
  });

  it('answers ResourceNotFoundException when the VersionId does not carry the requested stage', async () => {
    const { VersionId } = await client.send(new GetSecretValueCommand({ SecretId: NAME }));

    const error = await sdkError(client.send(new GetSecretValueCommand({ SecretId: NAME, VersionId, VersionStage: 'AWSPREVIOUS' })));

    expect(error).toBeInstanceOf(ResourceNotFoundException);
  });

  it('answers 503 while unavailable, so the SDK throws, and recovers when switched back', async () => {
    standIn.setUnavailable(true);
    const error = await sdkError(client.send(new GetSecretValueCommand({ SecretId: NAME })));

    standIn.setUnavailable(false);
    const after = await client.send(new GetSecretValueCommand({ SecretId: NAME }));

    expect(error.$metadata.httpStatusCode).toBe(503);
    expect(error.name).toBe('ServiceUnavailable');
    expect(after.SecretString).toBe('{"v":1}');
  });

  it('fails exactly the next n requests with InternalServiceError, or the type asked for', async () => {
    standIn.failNext(2);
    const first = await sdkError(client.send(new GetSecretValueCommand({ SecretId: NAME })));
    const second = await sdkError(client.send(new GetSecretValueCommand({ SecretId: NAME })));
    const third = await client.send(new GetSecretValueCommand({ SecretId: NAME }));
    standIn.failNext(1, 'ThrottlingException');
    const throttled = await sdkError(client.send(new GetSecretValueCommand({ SecretId: NAME })));

    expect(first).toBeInstanceOf(InternalServiceError);
    expect(first.$metadata.httpStatusCode).toBe(500);
    expect(second).toBeInstanceOf(InternalServiceError);
    expect(third.SecretString).toBe('{"v":1}');
    expect(throttled.name).toBe('ThrottlingException');
    expect(throttled.$metadata.httpStatusCode).toBe(400);
  });

  it('counts requests per operation, failed ones included, and resets the counts', async () => {
    await client.send(new GetSecretValueCommand({ SecretId: NAME }));
    await sdkError(client.send(new GetSecretValueCommand({ SecretId: 'nope' })));
    await client.send(new PutSecretValueCommand({ SecretId: NAME, SecretString: '{"v":2}' }));
    expect(standIn.calls).toEqual({ GetSecretValue: 2, PutSecretValue: 1 });

    standIn.resetCalls();
    expect(standIn.calls).toEqual({});
  });

  it('is reached through AWS_ENDPOINT_URL_SECRETS_MANAGER when no endpoint is configured', async () => {
    const saved = process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
    process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = standIn.url;
    try {
      const fromEnv = new SecretsManagerClient({ region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'x' }, maxAttempts: 1 });

      const result = await fromEnv.send(new GetSecretValueCommand({ SecretId: NAME }));
      fromEnv.destroy();

      expect(result.SecretString).toBe('{"v":1}');
    } finally {
      if (saved === undefined) delete process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER;
      else process.env.AWS_ENDPOINT_URL_SECRETS_MANAGER = saved;
    }
  });

  it('answers an unknown operation, a missing target and a non-JSON body in the AWS error shape', async () => {
    const unknown = await raw('secretsmanager.RotateSecret', '{}');
    const noTarget = await raw(undefined, '{}');
    const notJson = await raw('secretsmanager.GetSecretValue', '{"SecretId":');

    expect(unknown).toEqual({ status: 400, json: { __type: 'UnknownOperationException', message: 'The stand-in does not support RotateSecret.' } });
    expect(noTarget.status).toBe(400);
    expect(noTarget.json.__type).toBe('UnknownOperationException');
    expect(notJson).toEqual({ status: 400, json: { __type: 'SerializationException', message: 'The request body is not JSON.' } });
  });

  it('stops even while the SDK holds a keep-alive connection, and then refuses connections', async () => {
    await client.send(new GetSecretValueCommand({ SecretId: NAME }));
    const { url } = standIn;

    await standIn.stop();

    await expect(fetch(`${url}/`, { method: 'POST', body: '{}' })).rejects.toThrow();
    standIn = await startSecretsManagerStandIn();
  });
});
