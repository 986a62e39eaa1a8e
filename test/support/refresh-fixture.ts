import { randomUUID } from 'node:crypto';

import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { createRefreshHandler, type CountMetrics, type RefreshHandlerDeps } from '../../functions/refresh';
import type { DemoAppSecret } from '../../infra/local/demo-app';
import { IssuedKind, recordIssued } from '../../infra/local/issued-values';
import type { WixSimulator } from '../../infra/local/wix-simulator';
import { cipherSource } from '../../lib/runtime';
import {
  createDynamoTokenStore,
  DEFAULT_DUE_SHARDS,
  dueShardOf,
  GrantKind,
  InstanceStatus,
  type DynamoTokenStoreDeps,
  type InstanceKey,
  type TokenCipher,
  type TokenStore,
} from '../../lib/store';
import { cipherContext, instancePk, type InstanceItem } from '../../lib/store/item';
import { createWixClient, type FetchLike, type WixClient } from '../../lib/wix';
import { captureLogger, type CapturedLogger } from './mint-fixture';
import { memorySecrets } from './secrets';

/** Metrics as the handler published them, one entry per flush. */
export interface RecordedMetrics extends CountMetrics {
  flushes: Array<{ dimensions: Record<string, string>; counts: Record<string, number> }>;
}

export function recordMetrics(): RecordedMetrics {
  let dimensions: Record<string, string> = {};
  let counts: Record<string, number> = {};
  const flushes: RecordedMetrics['flushes'] = [];
  return {
    flushes,
    addDimension: (name, value) => {
      dimensions[name] = value;
    },
    addMetric: (name, _unit, value) => {
      counts[name] = (counts[name] ?? 0) + value;
    },
    publishStoredMetrics: () => {
      flushes.push({ dimensions, counts });
      dimensions = {};
      counts = {};
    },
  };
}

export interface RefreshContainerOptions {
  documentClient: Pick<DynamoDBDocumentClient, 'send'>;
  tableName: string;
  wixUrl: string;
  app: DemoAppSecret;
  logger?: CapturedLogger;
  /** The fetch the Wix client uses (a counting one, say). */
  fetch?: FetchLike;
  store?: Partial<DynamoTokenStoreDeps>;
  overrides?: Partial<RefreshHandlerDeps>;
}

/** One simulated `refresh` container: its own store, Wix client, secrets cache and metrics. */
export function refreshContainer(options: RefreshContainerOptions) {
  const secrets = memorySecrets([options.app]);
  const store = createDynamoTokenStore({
    documentClient: options.documentClient,
    tableName: options.tableName,
    cipherFor: cipherSource(secrets),
    ...options.store,
  });
  const logger = options.logger ?? captureLogger();
  const metrics = recordMetrics();
  const deps: RefreshHandlerDeps = {
    appIds: [options.app.appId],
    store,
    secrets,
    wix: createWixClient({ baseUrl: options.wixUrl, baseDelayMs: 5, maxDelayMs: 20, ...(options.fetch ? { fetch: options.fetch } : {}) }),
    now: Date.now,
    random: Math.random,
    newLeaseOwner: randomUUID,
    logger,
    metrics,
    concurrency: 16,
    ...options.overrides,
  };
  return { handler: createRefreshHandler(deps), deps, store, logger, metrics };
}

/** An EventBridge scheduled event, as Lambda receives it. */
export function scheduledEvent(): Record<string, unknown> {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: '123456789012',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: ['arn:aws:events:us-east-1:123456789012:rule/wix-token-service-dev-refresh'],
    detail: {},
  };
}

/**
 * Counts successful grants per instance at the HTTP level: client credentials by `instance_id`,
 * refresh_token grants by the refresh token's owner (learned from every answer that carries one).
 */
export function grantCounter(base: FetchLike = (input, init) => fetch(input, init)) {
  const owners = new Map<string, string>();
  const grants = new Map<string, number>();
  /** Instances whose refresh call the caller gave up on before its answer was read (its signal aborted). */
  const abandoned = new Set<string>();
  const counted: FetchLike = async (input, init) => {
    const sent = JSON.parse(String(init.body ?? '{}')) as Record<string, string>;
    const caller = sent.grant_type === 'refresh_token' ? owners.get(sent.refresh_token ?? '') : undefined;
    if (caller !== undefined) init.signal?.addEventListener('abort', () => abandoned.add(caller), { once: true });
    const response = await base(input, init);
    if (response.status !== 200) return response;
    let answer: Record<string, unknown>;
    try {
      answer = JSON.parse(await response.clone().text()) as Record<string, unknown>;
    } catch {
      return response;
    }
    if (typeof answer.access_token !== 'string') return response;
    const instanceId = sent.instance_id ?? owners.get(sent.refresh_token ?? '');
    if (instanceId === undefined) return response;
    if (sent.grant_type === 'refresh_token' || sent.grant_type === 'client_credentials') {
      grants.set(instanceId, (grants.get(instanceId) ?? 0) + 1);
    }
    if (typeof answer.refresh_token === 'string') owners.set(answer.refresh_token, instanceId);
    return response;
  };
  return {
    fetch: counted,
    grants,
    abandoned,
    /** Tells the counter whose refresh token this is (after a code exchange). */
    own(refreshToken: string, instanceId: string) {
      owners.set(refreshToken, instanceId);
    },
  };
}

/** Runs `task(i)` for i in [0, count) with at most `concurrency` at once. */
export async function inPool(count: number, concurrency: number, task: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(count, concurrency) }, async () => {
      while (next < count) await task(next++);
    }),
  );
}

/** Stores on one table with a chosen clock (for records created in the past). */
export function storeMaker(documentClient: Pick<DynamoDBDocumentClient, 'send'>, tableName: string, app: DemoAppSecret) {
  const cipherFor = cipherSource(memorySecrets([app]));
  return (now: () => number = Date.now): TokenStore => createDynamoTokenStore({ documentClient, tableName, cipherFor, now });
}

export interface SeedOptions {
  /** When the instance is due. */
  dueAt: number;
  /** Last use; none when absent. */
  lastUsedAt?: number;
  /** When the record was created and (legacy) installed. Default now. */
  createdAt?: number;
}

/**
 * A legacy instance installed at the simulator (a real refresh token from a code exchange) and
 * stored as the install callback stores it.
 */
export async function seedLegacy(
  sim: WixSimulator,
  wix: Pick<WixClient, 'exchangeCode'>,
  makeStore: (now: () => number) => TokenStore,
  app: DemoAppSecret,
  options: SeedOptions,
): Promise<InstanceKey & { refreshToken: string }> {
  const key = { appId: app.appId, instanceId: randomUUID() };
  const code = sim.issueCode(app.appId, key.instanceId);
  const tokens = await wix.exchangeCode({ appId: app.appId, appSecret: app.appSecret }, code);
  const createdAt = options.createdAt ?? Date.now();
  const store = makeStore(() => createdAt);
  await store.storeInstallTokens(key, {
    refreshToken: tokens.refreshToken,
    accessToken: tokens.accessToken,
    accessTokenExpiresAt: tokens.expiresAt,
    installedAt: createdAt,
    refreshDueAt: options.dueAt,
  });
  if (options.lastUsedAt !== undefined) await store.touchLastUsed(key, options.lastUsedAt);
  return { ...key, refreshToken: tokens.refreshToken };
}

/** A client-credentials instance installed at the simulator, with a stored (fake) token due at `dueAt`. */
export async function seedClientCredentials(
  sim: WixSimulator,
  makeStore: (now: () => number) => TokenStore,
  app: DemoAppSecret,
  options: SeedOptions,
): Promise<InstanceKey> {
  const key = { appId: app.appId, instanceId: sim.install(app.appId) };
  const store = makeStore(() => options.createdAt ?? Date.now());
  const owner = randomUUID();
  const lease = await store.acquireLease(key, { owner, createIfMissing: true, ttlMs: 3_600_000 });
  if (!lease.acquired) throw new Error(`arrange: no lease (${lease.reason})`);
  const accessToken = `OauthNG.JWS.seeded-${randomUUID()}`;
  recordIssued(IssuedKind.AccessToken, accessToken);
  await store.storeLeasedTokens(key, {
    owner,
    expectedVersion: lease.record.version,
    accessToken,
    accessTokenExpiresAt: options.dueAt + 15 * 60_000,
    refreshDueAt: options.dueAt,
    ...(options.lastUsedAt === undefined ? {} : { lastUsedAt: options.lastUsedAt }),
  });
  return key;
}

/** One record for {@link bulkSeed}. */
export interface BulkInstance {
  key: InstanceKey;
  grantKind: GrantKind;
  /** Legacy only: stored encrypted. */
  refreshToken?: string;
  /** Absent: not in the due index. */
  dueAt?: number;
  lastUsedAt?: number;
  createdAt?: number;
}

/**
 * Writes bare active records straight to the table with BatchWriteItem (25 a call), in the
 * store's item layout: for seeding thousands of instances fast. No access token is stored.
 */
export async function bulkSeed(
  documentClient: Pick<DynamoDBDocumentClient, 'send'>,
  tableName: string,
  cipher: TokenCipher,
  instances: readonly BulkInstance[],
  concurrency = 8,
): Promise<void> {
  const items = instances.map((instance): InstanceItem => {
    const createdAt = instance.createdAt ?? Date.now();
    const item: InstanceItem = {
      pk: instancePk(instance.key),
      appId: instance.key.appId,
      instanceId: instance.key.instanceId,
      status: InstanceStatus.Active,
      grantKind: instance.grantKind,
      version: 1,
      createdAt,
      updatedAt: createdAt,
    };
    if (instance.refreshToken !== undefined) item.refreshToken = cipher.encrypt(instance.refreshToken, cipherContext(instance.key), 'refreshToken');
    if (instance.lastUsedAt !== undefined) item.lastUsedAt = instance.lastUsedAt;
    if (instance.dueAt !== undefined) {
      item.dueShard = dueShardOf(instance.key, DEFAULT_DUE_SHARDS);
      item.dueAt = instance.dueAt;
    }
    return item;
  });
  const batches = Math.ceil(items.length / 25);
  await inPool(batches, concurrency, async (index) => {
    let requests = items.slice(index * 25, index * 25 + 25).map((Item) => ({ PutRequest: { Item } }));
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt > 0) await new Promise((resolve) => setTimeout(resolve, 20 * attempt));
      const output = await documentClient.send(new BatchWriteCommand({ RequestItems: { [tableName]: requests } }));
      requests = (output.UnprocessedItems?.[tableName] ?? []) as typeof requests;
    }
  });
}
