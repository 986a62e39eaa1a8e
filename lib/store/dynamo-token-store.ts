import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import { DeleteCommand, GetCommand, PutCommand, QueryCommand, UpdateCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';

import { ServiceError } from '../errors';
import {
  ConflictReason,
  LeaseWaitTimeoutError,
  StaleEventError,
  StoreUnavailableError,
  TokenConflictError,
} from './errors';
import {
  A,
  cipherContext,
  DEFAULT_DUE_SHARDS,
  DUE_INDEX,
  dueShardOf,
  ExpressionBuilder,
  instancePk,
  keyFromPk,
  recordFromItem,
  statePk,
  ttlSeconds,
  updateExpression,
  type InstanceItem,
} from './item';
import { LAST_USED_RESOLUTION_MS } from './record';
import {
  GrantKind,
  InstanceStatus,
  type AcquireLeaseOptions,
  type AppInstalledEvent,
  type AppRemovedEvent,
  type DueItem,
  type DuePage,
  type FailureOutcome,
  type InstallTokens,
  type InstanceKey,
  type LeasedReschedule,
  type LeasedTokenWrite,
  type LeaseResult,
  type LifecycleResult,
  type QueryDueOptions,
  type TokenCipher,
  type TokenStore,
  type WaitForReleaseOptions,
} from './types';

/** What {@link createDynamoTokenStore} needs. */
export interface DynamoTokenStoreDeps {
  /** A DynamoDBDocumentClient (only `send` is used). */
  documentClient: Pick<DynamoDBDocumentClient, 'send'>;
  tableName: string;
  /** The token cipher of an app (its key ring comes with the app's secret). */
  cipherFor: (appId: string) => Promise<TokenCipher>;
  /** Epoch ms clock; defaults to Date.now. */
  now?: () => number;
  /** Due-index shards; defaults to 16. Every reader and writer of a table must agree (or readers use more). */
  shards?: number;
  /** Default lease length, ms; defaults to 10 s. */
  leaseTtlMs?: number;
  /** How long a tombstone stays before DynamoDB's TTL removes it, ms; defaults to 90 days. */
  tombstoneTtlMs?: number;
  /** Used by {@link TokenStore.waitForRelease} between polls; defaults to setTimeout. */
  sleep?: (ms: number) => Promise<void>;
}

/** The default lease length: well under any Lambda timeout that calls Wix. */
export const DEFAULT_LEASE_TTL_MS = 10_000;

/** Tombstones are kept this long, so a webhook retried days later still meets one. */
export const DEFAULT_TOMBSTONE_TTL_MS = 90 * 24 * 60 * 60 * 1000;

/** A race with another writer is retried this many times before giving up with the conflict. */
const INSTALL_ATTEMPTS = 3;

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
]);

/** Node's socket errors, which the SDK rethrows as they are once its retries are spent. */
const NETWORK_ERROR_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/**
 * The token store on DynamoDB (one table, see infra/dynamodb-table.yml and ./item for the layout).
 *
 * Tokens are encrypted with the app's cipher before they are written and decrypted when read; no
 * token, state value or envelope appears in an error this store throws.
 */
export function createDynamoTokenStore(deps: DynamoTokenStoreDeps): TokenStore {
  const { documentClient, tableName, cipherFor } = deps;
  const now = deps.now ?? Date.now;
  const shards = deps.shards ?? DEFAULT_DUE_SHARDS;
  const leaseTtlMs = deps.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  const tombstoneTtlMs = deps.tombstoneTtlMs ?? DEFAULT_TOMBSTONE_TTL_MS;
  const sleep = deps.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  if (!Number.isInteger(shards) || shards < 1) throw new TypeError('shards must be a positive integer');

  /**
   * Runs one DynamoDB call, turning throttling, timeouts and network failures into
   * StoreUnavailableError; everything else is rethrown. A write that timed out may still have
   * been applied: the conditional writes make a retry of it safe.
   */
  async function call<T>(operation: string, run: () => Promise<T>): Promise<T> {
    try {
      return await run();
    } catch (error) {
      const transient = transientErrorName(error);
      if (transient !== undefined) throw new StoreUnavailableError(transient, operation, error);
      throw error;
    }
  }

  /** The UpdateItem of one instance record under a condition; `returnItems` asks for ALL_NEW / ALL_OLD. */
  function sendConditionalUpdate(operation: string, key: InstanceKey, x: ExpressionBuilder, update: string, condition: string, returnItems: boolean) {
    return call(operation, () =>
      documentClient.send(
        new UpdateCommand({
          TableName: tableName,
          Key: { [A.pk]: instancePk(key) },
          UpdateExpression: update,
          ConditionExpression: condition,
          ExpressionAttributeNames: x.names,
          ExpressionAttributeValues: x.valuesOrUndefined(),
          ...(returnItems ? { ReturnValues: 'ALL_NEW', ReturnValuesOnConditionCheckFailure: 'ALL_OLD' } : {}),
        }),
      ),
    );
  }

  /** A conditional UpdateItem returning ALL_NEW, or the item as it stood when the condition failed. */
  async function conditionalUpdate(
    operation: string,
    key: InstanceKey,
    x: ExpressionBuilder,
    update: string,
    condition: string,
  ): Promise<{ ok: true; item: InstanceItem } | { ok: false; item: InstanceItem | undefined }> {
    try {
      const output = await sendConditionalUpdate(operation, key, x, update, condition, true);
      return { ok: true, item: output.Attributes as InstanceItem };
    } catch (error) {
      if (!isConditionFailure(error)) throw error;
      return { ok: false, item: oldItem(error) };
    }
  }

  /** A conditional update that returns nothing: true when applied, false when its condition failed. */
  async function tryUpdate(operation: string, key: InstanceKey, x: ExpressionBuilder, update: string, condition: string): Promise<boolean> {
    try {
      await sendConditionalUpdate(operation, key, x, update, condition, false);
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  const toRecord = (item: InstanceItem) => recordFromItem(item, cipherFor);
  const toRecordOrUndefined = async (item: InstanceItem | undefined) => (item === undefined ? undefined : toRecord(item));

  /** SET/REMOVE parts that put an instance in the due index at `dueAt`, or take it out. */
  function dueParts(x: ExpressionBuilder, key: InstanceKey, dueAt: number | null, sets: string[], removes: string[]) {
    if (dueAt === null) {
      removes.push(x.n(A.dueShard), x.n(A.dueAt));
    } else {
      sets.push(`${x.n(A.dueShard)} = ${x.v(dueShardOf(key, shards))}`, `${x.n(A.dueAt)} = ${x.v(dueAt)}`);
    }
  }

  const errorAttributes = (x: ExpressionBuilder) => [x.n(A.errorKind), x.n(A.errorCode), x.n(A.errorAt), x.n(A.errorCount)];

  /**
   * The condition of every write made under a lease:
   *
   * ```
   * version = expected  AND  leaseOwner = me  AND  leaseExpiresAt > now
   *   \ nobody wrote since   \ still mine        \ not expired (a taker-over may be coming)
   * ```
   */
  function holderCondition(x: ExpressionBuilder, owner: string, expectedVersion: number, at: number): string {
    return (
      `${x.n(A.version)} = ${x.v(expectedVersion)} AND ${x.n(A.leaseOwner)} = ${x.v(owner)} ` +
      `AND ${x.n(A.leaseExpiresAt)} > ${x.v(at)}`
    );
  }

  async function holderConflict(
    key: InstanceKey,
    item: InstanceItem | undefined,
    expectedVersion: number,
  ): Promise<TokenConflictError> {
    if (item === undefined) return new TokenConflictError(key, ConflictReason.NotFound, undefined);
    const reason = item.version !== expectedVersion ? ConflictReason.Version : ConflictReason.LeaseLost;
    return new TokenConflictError(key, reason, await toRecord(item));
  }

  async function getInstance(key: InstanceKey, options?: { consistentRead?: boolean }) {
    const output = await call('getInstance', () =>
      documentClient.send(
        new GetCommand({
          TableName: tableName,
          Key: { [A.pk]: instancePk(key) },
          ConsistentRead: options?.consistentRead ?? false,
        }),
      ),
    );
    return toRecordOrUndefined(output.Item as InstanceItem | undefined);
  }

  return {
    getInstance,

    async storeInstallTokens(key, tokens: InstallTokens) {
      const cipher = await cipherFor(key.appId);
      const context = cipherContext(key);
      const refreshEnvelope = cipher.encrypt(tokens.refreshToken, context);
      const accessEnvelope = cipher.encrypt(tokens.accessToken, context);

      const first = await call('storeInstallTokens', () =>
        documentClient.send(new GetCommand({ TableName: tableName, Key: { [A.pk]: instancePk(key) }, ConsistentRead: true })),
      );
      let current = first.Item as InstanceItem | undefined;

      for (let attempt = 1; ; attempt++) {
        // A tombstone at or after the callback is an uninstall that followed the consent: it wins.
        // An older one is the previous install's, and this install revives the instance.
        if (current?.status === InstanceStatus.Uninstalled && (current.lastEventAt ?? 0) >= tokens.installedAt) {
          throw new StaleEventError(key, tokens.installedAt, current.lastEventAt);
        }
        // The tokens of a newer install are stored already: this callback is the older one.
        // (The version condition below makes this check hold against a concurrent writer too.)
        if (current?.lastInstallAt !== undefined && current.lastInstallAt >= tokens.installedAt) {
          throw new StaleEventError(key, tokens.installedAt, current.lastInstallAt, 'superseded');
        }
        const at = now();
        const x = new ExpressionBuilder();
        const lastEventAt = Math.max(current?.lastEventAt ?? tokens.installedAt, tokens.installedAt);
        const sets = [
          `${x.n(A.appId)} = ${x.v(key.appId)}`,
          `${x.n(A.instanceId)} = ${x.v(key.instanceId)}`,
          `${x.n(A.status)} = ${x.v(InstanceStatus.Active)}`,
          `${x.n(A.grantKind)} = ${x.v(GrantKind.Legacy)}`,
          `${x.n(A.refreshToken)} = ${x.v(refreshEnvelope)}`,
          `${x.n(A.accessToken)} = ${x.v(accessEnvelope)}`,
          `${x.n(A.accessTokenExpiresAt)} = ${x.v(tokens.accessTokenExpiresAt)}`,
          `${x.n(A.version)} = ${x.v((current?.version ?? 0) + 1)}`,
          `${x.n(A.createdAt)} = if_not_exists(${x.n(A.createdAt)}, ${x.v(at)})`,
          `${x.n(A.updatedAt)} = ${x.v(at)}`,
          `${x.n(A.lastEventAt)} = ${x.v(lastEventAt)}`,
          `${x.n(A.lastInstallAt)} = ${x.v(tokens.installedAt)}`,
        ];
        const removes = [x.n(A.ttl), ...errorAttributes(x)];
        dueParts(x, key, tokens.refreshDueAt, sets, removes);
        // Create, or replace exactly the version read: a concurrent writer sends us round again.
        const condition =
          current === undefined ? `attribute_not_exists(${x.n(A.pk)})` : `${x.n(A.version)} = ${x.v(current.version)}`;

        const result = await conditionalUpdate('storeInstallTokens', key, x, updateExpression(sets, removes), condition);
        if (result.ok) return toRecord(result.item);
        if (attempt >= INSTALL_ATTEMPTS) {
          throw new TokenConflictError(key, ConflictReason.Version, await toRecordOrUndefined(result.item));
        }
        current = result.item;
      }
    },

    async acquireLease(key, options: AcquireLeaseOptions): Promise<LeaseResult> {
      const at = now();
      const lease = { owner: options.owner, expiresAt: at + (options.ttlMs ?? leaseTtlMs) };
      const x = new ExpressionBuilder();
      const sets = [`${x.n(A.leaseOwner)} = ${x.v(lease.owner)}`, `${x.n(A.leaseExpiresAt)} = ${x.v(lease.expiresAt)}`];
      if (options.createIfMissing === true) {
        const ifNew = (attribute: string, value: unknown) =>
          `${x.n(attribute)} = if_not_exists(${x.n(attribute)}, ${x.v(value)})`;
        sets.push(
          ifNew(A.appId, key.appId),
          ifNew(A.instanceId, key.instanceId),
          ifNew(A.status, InstanceStatus.Active),
          ifNew(A.grantKind, GrantKind.ClientCredentials),
          ifNew(A.version, 0),
          ifNew(A.createdAt, at),
          ifNew(A.updatedAt, at),
        );
      }
      // Free = nobody holds it, or the holder's time is up (it died: take over), or it is ours already.
      const free =
        `(attribute_not_exists(${x.n(A.leaseOwner)}) OR ${x.n(A.leaseOwner)} = ${x.v(lease.owner)} ` +
        `OR ${x.n(A.leaseExpiresAt)} <= ${x.v(at)})`;
      const usable = `${x.n(A.status)} <> ${x.v(InstanceStatus.Uninstalled)} AND ${free}`;
      const condition =
        options.createIfMissing === true
          ? `attribute_not_exists(${x.n(A.pk)}) OR (${usable})`
          : `attribute_exists(${x.n(A.pk)}) AND ${usable}`;

      const result = await conditionalUpdate('acquireLease', key, x, updateExpression(sets, []), condition);
      if (result.ok) return { acquired: true, lease, record: await toRecord(result.item) };
      if (result.item === undefined) return { acquired: false, reason: 'not_found' };
      const record = await toRecord(result.item);
      if (record.status === InstanceStatus.Uninstalled) return { acquired: false, reason: 'uninstalled', record };
      if (record.lease === undefined) {
        // The condition is evaluated on exactly this item, so a missing lease cannot fail it.
        throw new ServiceError('STORE_INVARIANT', `Lease refused on instance ${key.instanceId} without a holder`);
      }
      return { acquired: false, reason: 'held', holder: record.lease, record };
    },

    async storeLeasedTokens(key, write: LeasedTokenWrite) {
      const cipher = await cipherFor(key.appId);
      const context = cipherContext(key);
      const at = now();
      const x = new ExpressionBuilder();
      const sets = [
        `${x.n(A.accessToken)} = ${x.v(cipher.encrypt(write.accessToken, context))}`,
        `${x.n(A.accessTokenExpiresAt)} = ${x.v(write.accessTokenExpiresAt)}`,
        `${x.n(A.status)} = ${x.v(InstanceStatus.Active)}`,
        `${x.n(A.version)} = ${x.v(write.expectedVersion + 1)}`,
        `${x.n(A.updatedAt)} = ${x.v(at)}`,
      ];
      if (write.refreshToken !== undefined) {
        sets.push(`${x.n(A.refreshToken)} = ${x.v(cipher.encrypt(write.refreshToken, context))}`);
      }
      if (write.grantKind !== undefined) sets.push(`${x.n(A.grantKind)} = ${x.v(write.grantKind)}`);
      if (write.lastUsedAt !== undefined) sets.push(`${x.n(A.lastUsedAt)} = ${x.v(write.lastUsedAt)}`);
      const removes = [x.n(A.leaseOwner), x.n(A.leaseExpiresAt), ...errorAttributes(x)];
      dueParts(x, key, write.refreshDueAt, sets, removes);

      const condition =
        write.evenIfLeaseLost === true
          ? `${x.n(A.version)} = ${x.v(write.expectedVersion)}`
          : holderCondition(x, write.owner, write.expectedVersion, at);
      const result = await conditionalUpdate('storeLeasedTokens', key, x, updateExpression(sets, removes), condition);
      if (result.ok) return toRecord(result.item);
      throw await holderConflict(key, result.item, write.expectedVersion);
    },

    async recordFailure(key, failure: FailureOutcome) {
      const at = now();
      const x = new ExpressionBuilder();
      const sets = [
        `${x.n(A.errorKind)} = ${x.v(failure.error.kind)}`,
        `${x.n(A.errorCode)} = ${x.v(failure.error.code)}`,
        `${x.n(A.errorAt)} = ${x.v(failure.at)}`,
        `${x.n(A.errorCount)} = if_not_exists(${x.n(A.errorCount)}, ${x.v(0)}) + ${x.v(1)}`,
        `${x.n(A.version)} = ${x.v(failure.expectedVersion + 1)}`,
        `${x.n(A.updatedAt)} = ${x.v(at)}`,
      ];
      if (failure.needsReauth === true) sets.push(`${x.n(A.status)} = ${x.v(InstanceStatus.NeedsReauth)}`);
      const removes = [x.n(A.leaseOwner), x.n(A.leaseExpiresAt)];
      dueParts(x, key, failure.retryAt, sets, removes);

      const condition = holderCondition(x, failure.owner, failure.expectedVersion, at);
      const result = await conditionalUpdate('recordFailure', key, x, updateExpression(sets, removes), condition);
      if (result.ok) return toRecord(result.item);
      throw await holderConflict(key, result.item, failure.expectedVersion);
    },

    async releaseLease(key, owner) {
      const x = new ExpressionBuilder();
      const update = updateExpression([], [x.n(A.leaseOwner), x.n(A.leaseExpiresAt)]);
      return tryUpdate('releaseLease', key, x, update, `${x.n(A.leaseOwner)} = ${x.v(owner)}`);
    },

    async rescheduleLeased(key, write: LeasedReschedule) {
      const at = now();
      const x = new ExpressionBuilder();
      const sets: string[] = [];
      const removes = [x.n(A.leaseOwner), x.n(A.leaseExpiresAt)];
      dueParts(x, key, write.refreshDueAt, sets, removes);

      const condition = holderCondition(x, write.owner, write.expectedVersion, at);
      const result = await conditionalUpdate('rescheduleLeased', key, x, updateExpression(sets, removes), condition);
      if (result.ok) return toRecord(result.item);
      throw await holderConflict(key, result.item, write.expectedVersion);
    },

    async waitForRelease(key, options: WaitForReleaseOptions) {
      // Bounded by a number of polls, not by the clock, so an injected clock cannot stall it.
      const polls = Math.max(1, Math.ceil(options.timeoutMs / options.intervalMs));
      for (let poll = 0; poll < polls; poll++) {
        await sleep(options.intervalMs);
        const record = await getInstance(key, { consistentRead: true });
        if (record === undefined) return undefined;
        if (record.version > options.sinceVersion) return record;
        if (record.lease === undefined || record.lease.expiresAt <= now()) return record;
      }
      throw new LeaseWaitTimeoutError(key, options.timeoutMs);
    },

    async touchLastUsed(key, usedAt) {
      const x = new ExpressionBuilder();
      // The condition repeats shouldTouchLastUsed so racing containers still write once a minute.
      const condition =
        `attribute_exists(${x.n(A.pk)}) AND ${x.n(A.status)} <> ${x.v(InstanceStatus.Uninstalled)} AND ` +
        `(attribute_not_exists(${x.n(A.lastUsedAt)}) OR ${x.n(A.lastUsedAt)} <= ${x.v(usedAt - LAST_USED_RESOLUTION_MS)})`;
      return tryUpdate('touchLastUsed', key, x, `SET ${x.n(A.lastUsedAt)} = ${x.v(usedAt)}`, condition);
    },

    async recordAppInstalled(key, event: AppInstalledEvent): Promise<LifecycleResult> {
      const at = now();
      const x = new ExpressionBuilder();
      const sets = [
        `${x.n(A.appId)} = ${x.v(key.appId)}`,
        `${x.n(A.instanceId)} = ${x.v(key.instanceId)}`,
        `${x.n(A.status)} = ${x.v(InstanceStatus.Active)}`,
        // Keeps legacy when a refresh token is held; a tombstone or a new item gets client_credentials.
        `${x.n(A.grantKind)} = if_not_exists(${x.n(A.grantKind)}, ${x.v(GrantKind.ClientCredentials)})`,
        `${x.n(A.version)} = if_not_exists(${x.n(A.version)}, ${x.v(0)}) + ${x.v(1)}`,
        `${x.n(A.createdAt)} = if_not_exists(${x.n(A.createdAt)}, ${x.v(at)})`,
        `${x.n(A.updatedAt)} = ${x.v(at)}`,
        `${x.n(A.lastEventAt)} = ${x.v(event.eventAt)}`,
      ];
      if (event.originInstanceId !== undefined) {
        sets.push(`${x.n(A.originInstanceId)} = ${x.v(event.originInstanceId)}`);
      }
      const removes = [x.n(A.ttl), ...errorAttributes(x)];
      // Strictly newer only: on a tie with a removal, the removal wins.
      const condition =
        `attribute_not_exists(${x.n(A.lastEventAt)}) OR ${x.n(A.lastEventAt)} < ${x.v(event.eventAt)}`;

      const result = await conditionalUpdate('recordAppInstalled', key, x, updateExpression(sets, removes), condition);
      if (result.ok) return { outcome: 'applied', record: await toRecord(result.item) };
      const record = await toRecord(result.item as InstanceItem);
      const duplicate = record.lastEventAt === event.eventAt && record.status !== InstanceStatus.Uninstalled;
      return { outcome: duplicate ? 'duplicate' : 'stale', record };
    },

    async recordAppRemoved(key, event: AppRemovedEvent): Promise<LifecycleResult> {
      const at = now();
      const x = new ExpressionBuilder();
      const sets = [
        `${x.n(A.appId)} = ${x.v(key.appId)}`,
        `${x.n(A.instanceId)} = ${x.v(key.instanceId)}`,
        `${x.n(A.status)} = ${x.v(InstanceStatus.Uninstalled)}`,
        // No refresh token survives a tombstone, so a revived instance starts on client credentials.
        `${x.n(A.grantKind)} = ${x.v(GrantKind.ClientCredentials)}`,
        `${x.n(A.version)} = if_not_exists(${x.n(A.version)}, ${x.v(0)}) + ${x.v(1)}`,
        `${x.n(A.createdAt)} = if_not_exists(${x.n(A.createdAt)}, ${x.v(at)})`,
        `${x.n(A.updatedAt)} = ${x.v(at)}`,
        `${x.n(A.lastEventAt)} = ${x.v(event.eventAt)}`,
        `${x.n(A.ttl)} = ${x.v(ttlSeconds(at + tombstoneTtlMs))}`,
      ];
      const removes = [
        x.n(A.refreshToken),
        x.n(A.accessToken),
        x.n(A.accessTokenExpiresAt),
        x.n(A.dueShard),
        x.n(A.dueAt),
        x.n(A.leaseOwner),
        x.n(A.leaseExpiresAt),
        ...errorAttributes(x),
      ];
      // Newer, or the same time as an install (a removal wins the tie); never over an equal tombstone.
      const condition =
        `attribute_not_exists(${x.n(A.lastEventAt)}) OR ${x.n(A.lastEventAt)} < ${x.v(event.eventAt)} OR ` +
        `(${x.n(A.lastEventAt)} = ${x.v(event.eventAt)} AND ${x.n(A.status)} <> ${x.v(InstanceStatus.Uninstalled)})`;

      const result = await conditionalUpdate('recordAppRemoved', key, x, updateExpression(sets, removes), condition);
      if (result.ok) return { outcome: 'applied', record: await toRecord(result.item) };
      const record = await toRecord(result.item as InstanceItem);
      const duplicate = record.lastEventAt === event.eventAt && record.status === InstanceStatus.Uninstalled;
      return { outcome: duplicate ? 'duplicate' : 'stale', record };
    },

    async queryDue(options: QueryDueOptions): Promise<DuePage> {
      if (!Number.isInteger(options.limit) || options.limit < 1) throw new TypeError('limit must be a positive integer');
      const position = options.cursor === undefined ? freshWalk(options.startShard ?? 0, shards) : decodeCursor(options.cursor, shards);
      const items: DueItem[] = [];
      let { done, lastKey } = position;

      // Walk the shards in order from `start`, each to its end (or until the page is full).
      while (done < shards && items.length < options.limit) {
        const shard = String((position.start + done) % shards);
        const x = new ExpressionBuilder();
        const output = await call('queryDue', () =>
          documentClient.send(
            new QueryCommand({
              TableName: tableName,
              IndexName: DUE_INDEX,
              KeyConditionExpression: `${x.n(A.dueShard)} = ${x.v(shard)} AND ${x.n(A.dueAt)} <= ${x.v(options.now)}`,
              ExpressionAttributeNames: x.names,
              ExpressionAttributeValues: x.values,
              Limit: options.limit - items.length,
              ExclusiveStartKey: lastKey,
            }),
          ),
        );
        for (const raw of output.Items ?? []) {
          const key = typeof raw[A.pk] === 'string' ? keyFromPk(raw[A.pk]) : undefined;
          if (key !== undefined && typeof raw[A.dueAt] === 'number') items.push({ ...key, dueAt: raw[A.dueAt] });
        }
        if (output.LastEvaluatedKey === undefined) {
          done += 1;
          lastKey = undefined;
        } else {
          lastKey = output.LastEvaluatedKey;
        }
      }
      const page: DuePage = { items };
      if (done < shards) page.cursor = encodeCursor({ start: position.start, done, lastKey });
      return page;
    },

    async consumeState(stateId, expiresAt) {
      if (expiresAt <= now()) return false;
      const x = new ExpressionBuilder();
      try {
        await call('consumeState', () =>
          documentClient.send(
            new PutCommand({
              TableName: tableName,
              Item: { [A.pk]: statePk(stateId), [A.expiresAt]: expiresAt, [A.ttl]: ttlSeconds(expiresAt) },
              ConditionExpression: `attribute_not_exists(${x.n(A.pk)})`,
              ExpressionAttributeNames: x.names,
            }),
          ),
        );
        return true;
      } catch (error) {
        if (isConditionFailure(error)) return false;
        throw error;
      }
    },

    async releaseState(stateId) {
      await call('releaseState', () =>
        documentClient.send(new DeleteCommand({ TableName: tableName, Key: { [A.pk]: statePk(stateId) } })),
      );
    },
  };
}

interface WalkPosition {
  /** The shard the walk started from. */
  start: number;
  /** Shards read to the end. */
  done: number;
  /** Where to resume in shard (start + done) % shards. */
  lastKey: Record<string, unknown> | undefined;
}

function freshWalk(startShard: number, shards: number): WalkPosition {
  if (!Number.isInteger(startShard) || startShard < 0) throw new TypeError('startShard must be a non-negative integer');
  return { start: startShard % shards, done: 0, lastKey: undefined };
}

function encodeCursor(position: WalkPosition): string {
  return Buffer.from(JSON.stringify({ s: position.start, d: position.done, k: position.lastKey }), 'utf8').toString(
    'base64url',
  );
}

function decodeCursor(cursor: string, shards: number): WalkPosition {
  const invalid = () => new ServiceError('INVALID_CURSOR', 'The due-index cursor is not one this store wrote');
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (typeof parsed !== 'object' || parsed === null) throw invalid();
  const { s, d, k } = parsed as { s?: unknown; d?: unknown; k?: unknown };
  if (!Number.isInteger(s) || !Number.isInteger(d) || (s as number) < 0 || (d as number) < 0 || (d as number) > shards) {
    throw invalid();
  }
  if (k !== undefined && (typeof k !== 'object' || k === null)) throw invalid();
  return { start: (s as number) % shards, done: d as number, lastKey: k as Record<string, unknown> | undefined };
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
