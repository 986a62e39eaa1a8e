import { systemClock, type Clock } from '../runtime/clock';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { GetCommand, PutCommand, DeleteCommand, QueryCommand, ScanCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';

import { StoreUnavailableError } from './errors';
import { compileWrite } from './expression';
import { A, DUE_INDEX, STATUS_INDEX, statePk, ttlSeconds, type InstanceItem } from './item';
import { createTokenStore, type ItemEngine, type TokenStoreDeps } from './token-store';
import type { InstallStateStore, TokenStore } from './types';

/** What {@link createDynamoTokenStore} needs. */
export interface DynamoTokenStoreDeps extends Omit<TokenStoreDeps, 'engine'> {
  /** A DynamoDBDocumentClient (only `send` is used). */
  documentClient: Pick<DynamoDBDocumentClient, 'send'>;
  tableName: string;
}

/** DynamoDB errors that mean "busy, try later" once the SDK's own retries are spent. */
const TRANSIENT_ERRORS = new Set([
  'ProvisionedThroughputExceededException',
  'ThrottlingException',
  'RequestLimitExceeded',
  'InternalServerError',
  'ServiceUnavailable',
  // The SDK's own timeouts (requestTimeout, connectionTimeout) and the service's.
  'TimeoutError',
  'RequestTimeout',
  'RequestTimeoutException',
  // A call abandoned at its time limit (WriteOptions.timeoutMs): it may or may not have been applied.
  'AbortError',
]);

/** Node's socket errors, which the SDK rethrows as they are once its retries are spent. */
const NETWORK_ERROR_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * The token store on DynamoDB (one table, see infra/dynamodb-table.yml and ./item for the layout):
 * ./token-store over an engine that compiles ./transitions into conditional UpdateItems.
 *
 * Tokens are encrypted with the app's cipher before they are written and decrypted when read; no
 * token, state value or envelope appears in an error this store throws.
 */
export function createDynamoTokenStore(deps: DynamoTokenStoreDeps): TokenStore {
  const { documentClient, tableName, ...rest } = deps;
  return createTokenStore({ ...rest, engine: dynamoEngine(documentClient, tableName) });
}

/** Runs one DynamoDB call, turning throttling, timeouts and network failures into StoreUnavailableError. */
async function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    const transient = transientErrorName(error);
    if (transient !== undefined) throw new StoreUnavailableError(transient, operation, error);
    throw error;
  }
}

/** The SDK's per-call options for a call given `timeoutMs`. */
function sendOptions(timeoutMs: number | undefined): { abortSignal?: AbortSignal } {
  if (timeoutMs === undefined) return {};
  return { abortSignal: AbortSignal.timeout(Math.max(1, Math.ceil(timeoutMs))) };
}

function dynamoEngine(documentClient: Pick<DynamoDBDocumentClient, 'send'>, tableName: string): ItemEngine {
  const send = documentClient.send.bind(documentClient) as (command: unknown, options?: unknown) => Promise<Record<string, unknown>>;
  return {
    async get(pk, options) {
      const projection = options.projection;
      const output = await call('getInstance', () =>
        send(
          new GetCommand({
            TableName: tableName,
            Key: { [A.pk]: pk },
            ConsistentRead: options.consistent,
            ...(projection === undefined
              ? {}
              : {
                  ProjectionExpression: projection.map((name) => `#${name}`).join(', '),
                  ExpressionAttributeNames: Object.fromEntries(projection.map((name) => [`#${name}`, name])),
                }),
          }),
          sendOptions(options.timeoutMs),
        ),
      );
      return output['Item'] as InstanceItem | undefined;
    },

    async write(operation, pk, condition, update, options) {
      const compiled = compileWrite(condition, update);
      try {
        const output = await call(operation, () =>
          send(
            new UpdateCommand({
              TableName: tableName,
              Key: { [A.pk]: pk },
              ...compiled,
              ...(options.returnItem ? { ReturnValues: 'ALL_NEW', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } : {}),
            }),
            sendOptions(options.timeoutMs),
          ),
        );
        return { ok: true, item: output['Attributes'] as InstanceItem | undefined };
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
        return { ok: false, item: oldItem(error) };
      }
    },

    async queryDueShard(shard, dueBy, limit, startKey) {
      const output = await call('queryDue', () =>
        send(
          new QueryCommand({
            TableName: tableName,
            IndexName: DUE_INDEX,
            KeyConditionExpression: '#dueShard = :shard AND #dueAt <= :now',
            ExpressionAttributeNames: { '#dueShard': A.dueShard, '#dueAt': A.dueAt },
            ExpressionAttributeValues: { ':shard': shard, ':now': dueBy },
            Limit: limit,
            ExclusiveStartKey: startKey,
          }),
        ),
      );
      const items: { pk: string; dueAt: number }[] = [];
      for (const raw of (output['Items'] ?? []) as Record<string, unknown>[]) {
        const pk = raw[A.pk];
        const dueAt = raw[A.dueAt];
        if (typeof pk === 'string' && typeof dueAt === 'number') items.push({ pk, dueAt });
      }
      const lastKey = output['LastEvaluatedKey'] as Record<string, unknown> | undefined;
      return lastKey === undefined ? { items } : { items, lastKey };
    },

    async scanEnvelopes(pkPrefix, limit, startKey) {
      // Install states have no version: the filter leaves them out (they are read, and paid for, all the same).
      const output = await call('scanEnvelopes', () =>
        send(
          new ScanCommand({
            TableName: tableName,
            ProjectionExpression: '#pk, #version, #refreshToken, #accessToken',
            FilterExpression: pkPrefix === undefined ? 'attribute_exists(#version)' : 'attribute_exists(#version) AND begins_with(#pk, :prefix)',
            ExpressionAttributeNames: { '#pk': A.pk, '#version': A.version, '#refreshToken': A.refreshToken, '#accessToken': A.accessToken },
            ...(pkPrefix === undefined ? {} : { ExpressionAttributeValues: { ':prefix': pkPrefix } }),
            Limit: limit,
            ExclusiveStartKey: startKey,
            ConsistentRead: true,
          }),
        ),
      );
      const items = ((output['Items'] ?? []) as InstanceItem[]).filter((raw) => typeof raw.pk === 'string' && typeof raw.version === 'number');
      const lastKey = output['LastEvaluatedKey'] as Record<string, unknown> | undefined;
      return lastKey === undefined ? { items } : { items, lastKey };
    },

    async queryStatus(status, pkPrefix, page) {
      const query = {
        TableName: tableName,
        IndexName: STATUS_INDEX,
        KeyConditionExpression: pkPrefix === undefined ? '#status = :status' : '#status = :status AND begins_with(#pk, :prefix)',
        ExpressionAttributeNames: { '#status': A.status, ...(pkPrefix === undefined ? {} : { '#pk': A.pk }) },
        ExpressionAttributeValues: { ':status': status, ...(pkPrefix === undefined ? {} : { ':prefix': pkPrefix }) },
      };
      if (page === 'count') {
        // A count reads every key of the state (KEYS_ONLY, 1 MB a page) but returns none.
        let count = 0;
        let startKey: Record<string, unknown> | undefined;
        do {
          const output = await call('countStatus', () => send(new QueryCommand({ ...query, Select: 'COUNT', ExclusiveStartKey: startKey })));
          count += (output['Count'] as number | undefined) ?? 0;
          startKey = output['LastEvaluatedKey'] as Record<string, unknown> | undefined;
        } while (startKey !== undefined);
        return { pks: [], count };
      }
      const output = await call('queryStatus', () => send(new QueryCommand({ ...query, Limit: page.limit, ExclusiveStartKey: page.startKey })));
      const pks: string[] = [];
      for (const raw of (output['Items'] ?? []) as Record<string, unknown>[]) {
        if (typeof raw[A.pk] === 'string') pks.push(raw[A.pk] as string);
      }
      const lastKey = output['LastEvaluatedKey'] as Record<string, unknown> | undefined;
      return lastKey === undefined ? { pks, count: pks.length } : { pks, count: pks.length, lastKey };
    },
  };
}

/** What {@link createDynamoInstallStateStore} needs. */
export interface DynamoInstallStateStoreDeps {
  documentClient: Pick<DynamoDBDocumentClient, 'send'>;
  tableName: string;
  now?: Clock['now'];
}

/**
 * Install states on DynamoDB: one item per consumed state, keyed by its hash (the table never holds
 * a state value), naming its consumer so a retried write recognises itself, purged by TTL.
 */
export function createDynamoInstallStateStore(deps: DynamoInstallStateStoreDeps): InstallStateStore {
  const { documentClient, tableName } = deps;
  const now = deps.now ?? systemClock.now;
  const send = documentClient.send.bind(documentClient) as (command: unknown, options?: unknown) => Promise<unknown>;
  return {
    async consume(stateId, expiresAt, consumer, options) {
      if (expiresAt <= now()) return false;
      try {
        await call('consumeState', () =>
          send(
            new PutCommand({
              TableName: tableName,
              Item: { [A.pk]: statePk(stateId), stateExpiresAt: expiresAt, consumer, [A.ttl]: ttlSeconds(expiresAt) },
              // Single use, except for the consumer itself: its earlier attempt's answer was lost.
              ConditionExpression: 'attribute_not_exists(#pk) OR #consumer = :consumer',
              ExpressionAttributeNames: { '#pk': A.pk, '#consumer': 'consumer' },
              ExpressionAttributeValues: { ':consumer': consumer },
            }),
            sendOptions(options?.timeoutMs),
          ),
        );
        return true;
      } catch (error) {
        if (isConditionFailure(error)) return false;
        throw error;
      }
    },

    async release(stateId, consumer, options) {
      try {
        await call('releaseState', () =>
          send(
            new DeleteCommand({
              TableName: tableName,
              Key: { [A.pk]: statePk(stateId) },
              ConditionExpression: '#consumer = :consumer',
              ExpressionAttributeNames: { '#consumer': 'consumer' },
              ExpressionAttributeValues: { ':consumer': consumer },
            }),
            sendOptions(options?.timeoutMs),
          ),
        );
      } catch (error) {
        if (!isConditionFailure(error)) throw error;
      }
    },
  };
}

function errorName(error: unknown): string | undefined {
  return typeof error === 'object' && error !== null && typeof (error as { name?: unknown }).name === 'string'
    ? (error as { name: string }).name
    : undefined;
}

/** The name to report for a transient DynamoDB failure, or undefined when it is not one. */
function transientErrorName(error: unknown): string | undefined {
  const name = errorName(error);
  if (name !== undefined && TRANSIENT_ERRORS.has(name)) return name;
  const code = typeof error === 'object' && error !== null ? (error as { code?: unknown }).code : undefined;
  if (typeof code === 'string' && NETWORK_ERROR_CODES.has(code)) return code;
  return undefined;
}

function isConditionFailure(error: unknown): boolean {
  return errorName(error) === 'ConditionalCheckFailedException';
}

/** The item a failed condition returned (ReturnValuesOnConditionCheckFailure: ALL_OLD), unmarshalled. */
function oldItem(error: unknown): InstanceItem | undefined {
  const raw = (error as { Item?: Record<string, AttributeValue> }).Item;
  return raw === undefined ? undefined : (unmarshall(raw) as InstanceItem);
}
