import { DynamoDBClient, ProvisionedThroughputExceededException } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';

import { createDynamoInstallStateStore, createDynamoTokenStore, StoreUnavailableError, type InstallStateStore, type TokenStore } from '../../../../lib/store';

const key = { appId: 'app-1', instanceId: 'instance-1' };
const NOW = Date.UTC(2030, 0, 1);

/** An error shaped like the SDK's service exceptions, by name only. */
function awsError(name: string): Error {
  return Object.assign(new Error(`${name} from DynamoDB`), { name, $metadata: { httpStatusCode: 400, attempts: 3 } });
}

describe('createDynamoTokenStore error mapping', () => {
  const ddb = mockClient(DynamoDBDocumentClient);
  let store: TokenStore;
  let states: InstallStateStore;
  let cipherCalls: number;

  beforeEach(() => {
    ddb.reset();
    cipherCalls = 0;
    const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' }));
    states = createDynamoInstallStateStore({ documentClient, tableName: 'tokens', now: () => NOW });
    store = createDynamoTokenStore({
      documentClient,
      tableName: 'tokens',
      cipherFor: async () => {
        cipherCalls += 1;
        return { encrypt: (plaintext) => `enc(${plaintext.length})`, decrypt: () => 'plain' };
      },
      now: () => NOW,
    });
  });

  afterAll(() => {
    ddb.restore();
  });

  /** The method, the operation its error names (a write names its transition, lib/store/transitions), the call. */
  const operations: Array<[string, string, () => Promise<unknown>]> = [
    ['getInstance', 'getInstance', () => store.getInstance(key)],
    ['acquireLease', 'acquireLease', () => store.acquireLease(key, { owner: 'o' })],
    ['touchLastUsed', 'touchLastUsed', () => store.touchLastUsed(key, NOW)],
    ['recordAppRemoved', 'appRemoved', () => store.recordAppRemoved(key, { eventAt: NOW })],
    ['queryDue', 'queryDue', () => store.queryDue({ now: NOW, limit: 10 })],
    ['deferDue', 'deferDue', () => store.deferDue(key, { seenDueAt: NOW, dueAt: NOW + 1000 })],
    ['consume', 'consumeState', () => states.consume('state', NOW + 1000, 'consumer')],
    ['release', 'releaseState', () => states.release('state', 'consumer')],
  ];

  describe.each(['ProvisionedThroughputExceededException', 'ThrottlingException', 'RequestLimitExceeded'])(
    'when DynamoDB answers %s after the SDK retries',
    (name) => {
      it.each(operations)('%s throws StoreUnavailableError (category unavailable) with the SDK error as cause', async (_method, operation, run) => {
        const sdkError = awsError(name);
        ddb
          .on(GetCommand)
          .rejects(sdkError)
          .on(UpdateCommand)
          .rejects(sdkError)
          .on(QueryCommand)
          .rejects(sdkError)
          .on(PutCommand)
          .rejects(sdkError)
          .on(DeleteCommand)
          .rejects(sdkError);

        const error = await run().catch((e: unknown) => e);

        expect(error).toBeInstanceOf(StoreUnavailableError);
        expect(error).toMatchObject({ code: 'STORE_UNAVAILABLE', category: 'unavailable', awsErrorName: name });
        expect((error as Error).message).toBe(`Token store unavailable during ${operation}: ${name}`);
        expect((error as Error).cause).toBe(sdkError);
      });
    },
  );

  it.each([
    ['the SDK timing out', Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError' }), 'TimeoutError'],
    ['a reset socket', Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }), 'ECONNRESET'],
    ['a refused connection', Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:8000'), { code: 'ECONNREFUSED' }), 'ECONNREFUSED'],
  ])('issue 8: maps %s after the SDK retries to StoreUnavailableError, not an unknown error (a 500, a killed sweep)', async (_name, sdkError, awsErrorName) => {
    ddb.on(UpdateCommand).rejects(sdkError);

    const error = await store.acquireLease(key, { owner: 'o' }).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(error).toMatchObject({ awsErrorName });
    expect((error as Error).message).not.toContain('127.0.0.1');
  });

  it('maps the SDK exception class itself, not only a look-alike', async () => {
    ddb.on(GetCommand).rejects(new ProvisionedThroughputExceededException({ message: 'slow down', $metadata: {} }));

    await expect(store.getInstance(key)).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('rethrows an unknown error unchanged', async () => {
    const unknown = awsError('ResourceNotFoundException');
    ddb.on(GetCommand).rejects(unknown);

    await expect(store.getInstance(key)).rejects.toBe(unknown);
  });

  it('throws StoreUnavailableError when the first read of the install store is throttled', async () => {
    ddb.on(GetCommand).rejects(awsError('ThrottlingException'));

    const error = await store
      .storeInstallTokens(key, { refreshToken: 'r', accessToken: 'a', accessTokenExpiresAt: NOW, installedAt: NOW, refreshDueAt: null })
      .catch((e: unknown) => e);

    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(cipherCalls).toBe(1);
  });

  it('refuses an expired install state without calling DynamoDB', async () => {
    const consumed = await states.consume('state', NOW, 'consumer');

    expect(consumed).toBe(false);
    expect(ddb.calls()).toHaveLength(0);
  });

  it('asks for the old item on a failed condition, so a conflict needs no second read', async () => {
    ddb.on(UpdateCommand).resolves({ Attributes: { ...key, pk: 'app-1#instance-1', status: 'active', grantKind: 'legacy', version: 1, createdAt: NOW, updatedAt: NOW } });

    await store.acquireLease(key, { owner: 'o' });

    const input = ddb.commandCalls(UpdateCommand)[0]?.args[0].input;
    expect(input).toMatchObject({ ReturnValues: 'ALL_NEW', ReturnValuesOnConditionCheckFailure: 'ALL_OLD', TableName: 'tokens' });
  });

  it('lets a consume refused by another consumer answer false, not throw', async () => {
    ddb.on(PutCommand).rejects(awsError('ConditionalCheckFailedException'));

    await expect(states.consume('state', NOW + 1000, 'consumer')).resolves.toBe(false);
  });

  it('consumes a state under its hash, recognising only the same consumer', async () => {
    ddb.on(PutCommand).resolves({});

    await states.consume('the-state', NOW + 1000, 'consumer-1');

    const input = ddb.commandCalls(PutCommand)[0]?.args[0].input;
    expect(input?.Item).toMatchObject({ consumer: 'consumer-1', stateExpiresAt: NOW + 1000, ttl: Math.ceil((NOW + 1000) / 1000) });
    expect(JSON.stringify(input)).not.toContain('the-state');
    expect(input?.ConditionExpression).toBe('attribute_not_exists(#pk) OR #consumer = :consumer');
    expect(input?.ExpressionAttributeValues).toEqual({ ':consumer': 'consumer-1' });
  });

  it('treats a release refused by the condition (not our state) as a no-op', async () => {
    ddb.on(DeleteCommand).rejects(awsError('ConditionalCheckFailedException'));

    await expect(states.release('state', 'consumer')).resolves.toBeUndefined();
  });

  it('refuses app or instance ids that would make an ambiguous key', async () => {
    await expect(store.getInstance({ appId: 'a#b', instanceId: 'c' })).rejects.toThrow('contain no #');
    expect(ddb.calls()).toHaveLength(0);
  });
});
