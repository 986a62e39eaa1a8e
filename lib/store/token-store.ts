import { randomUUID } from 'node:crypto';

import { ENVELOPE_VERSION, envelopeKeyId, type TokenField } from '../crypto';
import { ServiceError } from '../errors';
import { systemClock } from '../runtime/clock';
import { ConflictReason, LeaseWaitTimeoutError, StaleEventError, StoreUnavailableError, TokenConflictError } from './errors';
import type { Condition, Update } from './expression';
import { A, cipherContext, DEFAULT_DUE_SHARDS, dueShardOf, instancePk, keyFromPk, lastErrorOf, recordFromItem, stateFromItem, ttlSeconds, type InstanceItem } from './item';
import * as rules from './transitions';
import { Refusal, type DuePlacement, type Transition } from './transitions';
import { InstanceStatus } from './types';
import type {
  DueItem,
  DuePage,
  EnvelopeKeyIds,
  ImportOutcome,
  InstanceDescription,
  KeyIdPage,
  RewrapOutcome,
  InstanceKey,
  InstanceRecord,
  InstanceStatusView,
  StatusPage,
  LeaseResult,
  TokenCipher,
  TokenStore,
  WriteOptions,
} from './types';

/**
 * What a store needs from the database underneath: read an item, make one conditional write,
 * read one shard of the due index. ./dynamo-token-store and ./memory-token-store provide one
 * each; everything that decides anything is here and in ./transitions.
 */
export interface ItemEngine {
  get(pk: string, options: { consistent: boolean; projection?: readonly string[]; timeoutMs?: number }): Promise<InstanceItem | undefined>;
  /**
   * Applies `update` when `condition` holds; otherwise says so with the item as it stood. Throws
   * StoreUnavailableError for a failure that may or may not have written.
   */
  write(
    operation: string,
    pk: string,
    condition: Condition,
    update: Update,
    options: { timeoutMs?: number; returnItem: boolean },
  ): Promise<{ ok: true; item: InstanceItem | undefined } | { ok: false; item: InstanceItem | undefined }>;
  /** Due items of one shard with dueAt <= now, in due order, at most `limit`, after `startKey`. */
  queryDueShard(
    shard: string,
    now: number,
    limit: number,
    startKey: Record<string, unknown> | undefined,
  ): Promise<{ items: { pk: string; dueAt: number }[]; lastKey?: Record<string, unknown> }>;
  /**
   * Instance keys in one status (the sparse status index), whose pk starts with `pkPrefix`, in pk
   * order: at most `limit` after `startKey`, or with `count` only how many there are.
   */
  queryStatus(
    status: string,
    pkPrefix: string | undefined,
    page: { limit: number; startKey: Record<string, unknown> | undefined } | 'count',
  ): Promise<{ pks: string[]; count: number; lastKey?: Record<string, unknown> }>;
  /**
   * One page of a full scan of instance items (of one app, if `pkPrefix`), with only the key, the
   * version and the two envelopes; `limit` items read at most. For operator jobs only: a scan reads
   * the whole table.
   */
  scanEnvelopes(
    pkPrefix: string | undefined,
    limit: number,
    startKey: Record<string, unknown> | undefined,
  ): Promise<{ items: Pick<InstanceItem, 'pk' | 'version' | 'refreshToken' | 'accessToken'>[]; lastKey?: Record<string, unknown> }>;
}

export interface TokenStoreDeps {
  engine: ItemEngine;
  /** The token cipher of an app (its key ring comes with the app's secret). */
  cipherFor: (appId: string) => Promise<TokenCipher>;
  /** Epoch ms clock; defaults to systemClock's. */
  now?: () => number;
  /** Due-index shards; defaults to 16. Every reader and writer of a table must agree (or readers use more). */
  shards?: number;
  /** Default lease length, ms; defaults to {@link DEFAULT_LEASE_TTL_MS}. */
  leaseTtlMs?: number;
  /** How long a tombstone stays before DynamoDB's TTL removes it, ms; defaults to 90 days. */
  tombstoneTtlMs?: number;
  /** Used by {@link TokenStore.waitForRelease} between polls; defaults to setTimeout. */
  sleep?: (ms: number) => Promise<void>;
  /**
   * How far other containers' clocks may be from this one's, ms: someone else's lease is over by
   * this clock only this long after its expiry (or once watched for a whole lease length).
   * Defaults to {@link rules.LEASE_CLOCK_SKEW_MS} (10 s); tests of other things may set it lower.
   */
  clockSkewMs?: number;
}

/**
 * The default lease length: half of mint's timeout (10 s), so a waiter can outlast a dead
 * holder's lease, take it over and still mint in time; long enough for a Wix call of 3.5 s and
 * the write after it (lib/tokens/refresh-policy LEASE_WRITE_MARGIN_MS).
 */
export const DEFAULT_LEASE_TTL_MS = 5000;

/** Tombstones are kept this long, so a webhook retried days later still meets one. */
export const DEFAULT_TOMBSTONE_TTL_MS = 90 * 24 * 60 * 60 * 1000;

/** The last poll of a wait gets at least this long to answer. */
const LAST_POLL_MS = 100;

/** A race with another install writer is retried this many times before giving up with the conflict. */
const INSTALL_ATTEMPTS = 3;

/** The attributes of the status projection ({@link TokenStore.getStatus}). */
const STATUS_PROJECTION = [A.appId, A.instanceId, A.status, A.version, A.lastUsedAt, A.errorKind, A.errorCode, A.errorAt, A.errorCount] as const;

/** What {@link TokenStore.describeInstance} reads: every attribute but the two token envelopes. */
const DESCRIPTION_PROJECTION = [
  ...STATUS_PROJECTION,
  A.grantKind,
  A.accessTokenExpiresAt,
  A.refreshedAt,
  A.dueAt,
  A.createdAt,
  A.updatedAt,
  A.lastEventAt,
] as const;

/**
 * A token store over an {@link ItemEngine}: encrypts and decrypts, carries out the transitions of
 * ./transitions and turns their refusals into the outcomes the use cases branch on.
 */
export function createTokenStore(deps: TokenStoreDeps): TokenStore {
  const { engine, cipherFor } = deps;
  const now = deps.now ?? systemClock.now;
  const shards = deps.shards ?? DEFAULT_DUE_SHARDS;
  const leaseTtlMs = deps.leaseTtlMs ?? DEFAULT_LEASE_TTL_MS;
  const tombstoneTtlMs = deps.tombstoneTtlMs ?? DEFAULT_TOMBSTONE_TTL_MS;
  const sleep = deps.sleep ?? systemClock.sleep;
  const skewMs = deps.clockSkewMs ?? rules.LEASE_CLOCK_SKEW_MS;
  if (!Number.isInteger(shards) || shards < 1) throw new TypeError('shards must be a positive integer');

  const toRecord = (item: InstanceItem) => recordFromItem(item, cipherFor);
  const toRecordOrUndefined = async (item: InstanceItem | undefined) => (item === undefined ? undefined : toRecord(item));
  const due = (key: InstanceKey, dueAt: number | null): DuePlacement => (dueAt === null ? null : { shard: dueShardOf(key, shards), dueAt });

  async function encrypt(key: InstanceKey) {
    const cipher = await cipherFor(key.appId);
    const context = cipherContext(key);
    return (plaintext: string, field: TokenField) => cipher.encrypt(plaintext, context, field);
  }

  /** Carries out a transition: the new item, or the refusal and the item as it stood. */
  async function run<R extends Refusal>(
    key: InstanceKey,
    transition: Transition<R>,
    options: WriteOptions = {},
  ): Promise<{ ok: true; item: InstanceItem } | { ok: false; refusal: R; item: InstanceItem | undefined }> {
    const result = await engine.write(transition.name, instancePk(key), transition.condition, transition.update, {
      returnItem: true,
      ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
    });
    if (result.ok) return { ok: true, item: result.item as InstanceItem };
    return { ok: false, refusal: transition.refused(result.item), item: result.item };
  }

  /** A versioned write by a lease holder (or a rotated token's writer): the record, or a conflict. */
  async function holderWrite(key: InstanceKey, transition: Transition, options?: WriteOptions): Promise<InstanceRecord> {
    const result = await run(key, transition, options);
    if (result.ok) return toRecord(result.item);
    if (result.refusal === Refusal.Applied && result.item !== undefined) return toRecord(result.item);
    throw new TokenConflictError(key, conflictReason(result.refusal), await toRecordOrUndefined(result.item));
  }

  /**
   * After an AppInstalled: an active record that holds tokens but is out of the due index goes
   * back in it, due now (./transitions scheduleNow). Throws like any write, so the webhook is
   * answered 503 and redelivered, and the redelivery (a duplicate) tries again.
   */
  async function scheduleIfIdle(key: InstanceKey, item: InstanceItem, at: number): Promise<void> {
    const holdsTokens = item.refreshToken !== undefined || item.accessToken !== undefined;
    if (item.status !== InstanceStatus.Active || !holdsTokens || item.dueAt !== undefined) return;
    await run(key, rules.scheduleNow({ at, expectedVersion: item.version, due: { shard: dueShardOf(key, shards), dueAt: at } }));
  }

  async function getInstance(key: InstanceKey, options?: { consistentRead?: boolean }) {
    return toRecordOrUndefined(await engine.get(instancePk(key), { consistent: options?.consistentRead ?? false }));
  }

  return {
    getInstance,

    async getStatus(key): Promise<InstanceStatusView | undefined> {
      const item = await engine.get(instancePk(key), { consistent: true, projection: STATUS_PROJECTION });
      if (item === undefined) return undefined;
      const view: InstanceStatusView = { appId: item.appId, instanceId: item.instanceId, status: item.status, version: item.version };
      if (item.lastUsedAt !== undefined) view.lastUsedAt = item.lastUsedAt;
      const lastError = lastErrorOf(item);
      if (lastError !== undefined) view.lastError = lastError;
      return view;
    },

    async describeInstance(key): Promise<InstanceDescription | undefined> {
      const item = await engine.get(instancePk(key), { consistent: true, projection: DESCRIPTION_PROJECTION });
      if (item === undefined) return undefined;
      const description: InstanceDescription = {
        appId: item.appId,
        instanceId: item.instanceId,
        status: item.status,
        grantKind: item.grantKind,
        version: item.version,
        createdAt: item.createdAt,
        updatedAt: item.updatedAt,
      };
      if (item.accessTokenExpiresAt !== undefined) description.accessTokenExpiresAt = item.accessTokenExpiresAt;
      if (item.refreshedAt !== undefined) description.refreshedAt = item.refreshedAt;
      if (item.dueAt !== undefined) description.refreshDueAt = item.dueAt;
      if (item.lastUsedAt !== undefined) description.lastUsedAt = item.lastUsedAt;
      if (item.lastEventAt !== undefined) description.lastEventAt = item.lastEventAt;
      const lastError = lastErrorOf(item);
      if (lastError !== undefined) description.lastError = lastError;
      return description;
    },

    async listByStatus(query): Promise<StatusPage> {
      const prefix = query.appId === undefined ? undefined : `${query.appId}#`;
      const startKey = query.cursor === undefined ? undefined : decodeStatusCursor(query.cursor, query.status);
      const page = await engine.queryStatus(query.status, prefix, { limit: query.limit, startKey });
      const instances = page.pks.map(keyFromPk).filter((key): key is InstanceKey => key !== undefined);
      return page.lastKey === undefined ? { instances } : { instances, cursor: encodeStatusCursor(page.lastKey) };
    },

    async countByStatus(query) {
      const prefix = query.appId === undefined ? undefined : `${query.appId}#`;
      const counts = {} as Record<InstanceStatus, number>;
      for (const status of Object.values(InstanceStatus)) counts[status] = (await engine.queryStatus(status, prefix, 'count')).count;
      return counts;
    },

    async storeInstallTokens(key, tokens, options) {
      const seal = await encrypt(key);
      const input = {
        ...key,
        installId: tokens.installId ?? randomUUID(),
        refreshToken: seal(tokens.refreshToken, 'refreshToken'),
        accessToken: seal(tokens.accessToken, 'accessToken'),
        accessTokenExpiresAt: tokens.accessTokenExpiresAt,
        installedAt: tokens.installedAt,
        due: due(key, tokens.refreshDueAt),
      };
      // One time limit for the read and every write below, not one each.
      const until = options?.timeoutMs === undefined ? undefined : now() + options.timeoutMs;
      const left = (): WriteOptions => (until === undefined ? {} : { timeoutMs: Math.max(1, until - now()) });
      let current = await engine.get(instancePk(key), { consistent: true, ...left() });
      for (let attempt = 1; ; attempt++) {
        const result = await run(key, rules.installCallback(current, { ...input, at: now() }), left());
        if (result.ok) return toRecord(result.item);
        switch (result.refusal) {
          case Refusal.Applied:
            return toRecord(result.item as InstanceItem);
          case Refusal.Uninstalled:
            throw new StaleEventError(key, tokens.installedAt, result.item?.lastEventAt);
          case Refusal.Superseded:
            throw new StaleEventError(key, tokens.installedAt, result.item?.lastInstallAt, 'superseded');
        }
        // Another writer got in between the read and the write: go round on what it left.
        if (attempt >= INSTALL_ATTEMPTS) throw new TokenConflictError(key, ConflictReason.Version, await toRecordOrUndefined(result.item));
        current = result.item;
      }
    },

    async acquireLease(key, options): Promise<LeaseResult> {
      const at = now();
      const lengthMs = options.ttlMs ?? leaseTtlMs;
      const lease = { owner: options.owner, expiresAt: at + lengthMs, lengthMs };
      const transition = rules.acquireLease({
        ...key,
        at,
        skewMs,
        ...lease,
        createIfMissing: options.createIfMissing === true,
        ...(options.takeOver === undefined ? {} : { takeOver: options.takeOver }),
      });
      const result = await run(key, transition);
      if (result.ok) return { acquired: true, lease, record: await toRecord(result.item) };
      if (result.refusal === Refusal.NotFound) return { acquired: false, reason: 'not_found' };
      const record = await toRecord(result.item as InstanceItem);
      if (result.refusal === Refusal.Uninstalled) return { acquired: false, reason: 'uninstalled', record };
      if (record.lease === undefined) {
        // The condition is evaluated on exactly this item, so a missing lease cannot fail it.
        throw new ServiceError('STORE_INVARIANT', `Lease refused on instance ${key.instanceId} without a holder`);
      }
      return { acquired: false, reason: 'held', holder: record.lease, record };
    },

    async storeLeasedTokens(key, write, options) {
      const seal = await encrypt(key);
      return holderWrite(key, rules.leasedTokenWrite({ ...tokenWriteInput(write, seal, due(key, write.refreshDueAt)), at: now() }), options);
    },

    async storeRotatedTokens(key, write, options) {
      const seal = await encrypt(key);
      const input = { ...tokenWriteInput(write, seal, due(key, write.refreshDueAt)), at: now(), skewMs };
      return holderWrite(key, rules.rotatedTokenWrite(write.liveHolder === undefined ? input : { ...input, liveHolder: write.liveHolder }), options);
    },

    async recordFailure(key, failure, options) {
      const transition = rules.leasedFailure({
        owner: failure.owner,
        expectedVersion: failure.expectedVersion,
        at: now(),
        error: failure.error,
        failedAt: failure.at,
        due: due(key, failure.retryAt),
        needsReauth: failure.needsReauth === true,
      });
      return holderWrite(key, transition, options);
    },

    async releaseLease(key, owner, options) {
      return (await run(key, rules.releaseLease({ owner }), options)).ok;
    },

    async rescheduleLeased(key, write, options) {
      const transition = rules.leasedReschedule({
        owner: write.owner,
        expectedVersion: write.expectedVersion,
        at: now(),
        due: due(key, write.refreshDueAt),
        ...(write.lastUsedAtRead === undefined ? {} : { lastUsedAtRead: write.lastUsedAtRead }),
      });
      return holderWrite(key, transition, options);
    },

    async deferDue(key, move) {
      return (await run(key, rules.deferDue({ at: now(), skewMs, ...move }))).ok;
    },

    async waitForRelease(key, options) {
      const until = now() + options.timeoutMs;
      // The lease being watched and since when, by this store's clock: one lease unchanged for a
      // whole lease length is over whatever its holder's clock says.
      let watched: { owner: string; expiresAt: number; since: number } | undefined;
      for (;;) {
        const left = until - now();
        if (left <= 0) throw new LeaseWaitTimeoutError(key, options.timeoutMs);
        await sleep(Math.min(options.intervalMs, left));
        // The read too is bounded by the wait (give or take one short read): a hung poll must not
        // carry the waiter past it.
        let item: InstanceItem | undefined;
        try {
          item = await engine.get(instancePk(key), { consistent: true, timeoutMs: Math.max(LAST_POLL_MS, until - now()) });
        } catch (error) {
          if (error instanceof StoreUnavailableError && now() >= until) throw new LeaseWaitTimeoutError(key, options.timeoutMs);
          throw error;
        }
        const record = await toRecordOrUndefined(item);
        if (record === undefined) return undefined;
        if (record.version > options.sinceVersion) return record;
        const lease = record.lease;
        if (lease === undefined || lease.expiresAt <= now() - skewMs) return record;
        if (watched === undefined || watched.owner !== lease.owner || watched.expiresAt !== lease.expiresAt) {
          watched = { ...lease, since: now() };
        } else if (now() - watched.since >= Math.max(leaseTtlMs, lease.lengthMs ?? 0)) {
          return record;
        }
      }
    },

    async touchLastUsed(key, usedAt) {
      return (await run(key, rules.touchLastUsed({ usedAt, due: { shard: dueShardOf(key, shards), dueAt: usedAt } }))).ok;
    },

    // The lifecycle writes answer the record without its tokens (stateFromItem): no cipher, no decrypt.
    async recordAppInstalled(key, event) {
      const at = now();
      const transition = rules.appInstalled({
        ...key,
        at,
        eventAt: event.eventAt,
        ...(event.originInstanceId === undefined ? {} : { originInstanceId: event.originInstanceId }),
      });
      const result = await run(key, transition);
      const item = result.item as InstanceItem;
      if (result.ok || result.refusal === Refusal.Duplicate) await scheduleIfIdle(key, item, at);
      return { outcome: result.ok ? 'applied' : result.refusal, record: stateFromItem(item) };
    },

    async recordAppRemoved(key, event) {
      const at = now();
      const result = await run(key, rules.appRemoved({ ...key, at, eventAt: event.eventAt, purgeAtSeconds: ttlSeconds(at + tombstoneTtlMs) }));
      return { outcome: result.ok ? 'applied' : result.refusal, record: stateFromItem(result.item as InstanceItem) };
    },

    async scanKeyIds(query): Promise<KeyIdPage> {
      if (!Number.isInteger(query.limit) || query.limit < 1) throw new TypeError('limit must be a positive integer');
      const prefix = query.appId === undefined ? undefined : `${query.appId}#`;
      const startKey = query.cursor === undefined ? undefined : decodeScanCursor(query.cursor);
      const page = await engine.scanEnvelopes(prefix, query.limit, startKey);
      const items: EnvelopeKeyIds[] = [];
      for (const raw of page.items) {
        const key = keyFromPk(raw.pk);
        if (key === undefined) continue;
        const item: EnvelopeKeyIds = { ...key, version: raw.version };
        if (raw.refreshToken !== undefined) item.refreshTokenKeyId = envelopeKeyId(raw.refreshToken) ?? UNREADABLE_KEY_ID;
        if (raw.accessToken !== undefined) item.accessTokenKeyId = envelopeKeyId(raw.accessToken) ?? UNREADABLE_KEY_ID;
        items.push(item);
      }
      return page.lastKey === undefined ? { items } : { items, cursor: encodeScanCursor(page.lastKey) };
    },

    async rewrapTokens(key, target): Promise<RewrapOutcome> {
      const item = await engine.get(instancePk(key), { consistent: true, projection: [A.pk, A.version, A.refreshToken, A.accessToken] });
      if (item === undefined) return 'absent';
      const due = (envelope: string | undefined) => {
        if (envelope === undefined) return false;
        const keyId = envelopeKeyId(envelope);
        // An envelope whose key id cannot be read is left as it is, not re-wrapped blind.
        if (keyId === undefined) return false;
        // A v1 envelope (not bound to its field) is rewritten as v2 even under the current key.
        if (keyId === target.currentKeyId) return !envelope.startsWith(`${ENVELOPE_VERSION}.`) && target.fromKeyId === undefined;
        return target.fromKeyId === undefined || keyId === target.fromKeyId;
      };
      const rewrapRefresh = due(item.refreshToken);
      const rewrapAccess = due(item.accessToken);
      if (!rewrapRefresh && !rewrapAccess) return 'current';
      const cipher = await cipherFor(key.appId);
      const context = cipherContext(key);
      const rewrap = (envelope: string, field: TokenField) => {
        const sealed = cipher.encrypt(cipher.decrypt(envelope, context, field), context, field);
        if (envelopeKeyId(sealed) !== target.currentKeyId) {
          throw new ServiceError('KEY_RING_MISMATCH', `The app's key ring does not encrypt under key ${target.currentKeyId}`);
        }
        return sealed;
      };
      const read = {
        version: item.version,
        ...(item.refreshToken === undefined ? {} : { refreshToken: item.refreshToken }),
        ...(item.accessToken === undefined ? {} : { accessToken: item.accessToken }),
      };
      const transition = rules.rewrapTokens({
        read,
        ...(rewrapRefresh ? { refreshToken: rewrap(item.refreshToken as string, 'refreshToken') } : {}),
        ...(rewrapAccess ? { accessToken: rewrap(item.accessToken as string, 'accessToken') } : {}),
      });
      const result = await engine.write(transition.name, instancePk(key), transition.condition, transition.update, { returnItem: false });
      if (result.ok) return 'rewrapped';
      return 'changed';
    },

    async importTokens(key, tokens): Promise<ImportOutcome> {
      const seal = await encrypt(key);
      const current = await engine.get(instancePk(key), { consistent: true });
      const transition = rules.importTokens({
        ...key,
        at: now(),
        skewMs,
        importId: tokens.importId,
        expectedVersion: current?.version,
        grantKind: tokens.grantKind,
        ...(tokens.refreshToken === undefined ? {} : { refreshToken: seal(tokens.refreshToken, 'refreshToken') }),
        accessToken: seal(tokens.accessToken, 'accessToken'),
        accessTokenExpiresAt: tokens.accessTokenExpiresAt,
        due: due(key, tokens.refreshDueAt),
      });
      const result = await run(key, transition);
      if (result.ok || result.refusal === Refusal.Applied) return { outcome: 'imported' };
      return { outcome: 'skipped', reason: result.refusal };
    },

    async queryDue(options): Promise<DuePage> {
      if (!Number.isInteger(options.limit) || options.limit < 1) throw new TypeError('limit must be a positive integer');
      const position = options.cursor === undefined ? freshWalk(options.startShard ?? 0, shards) : decodeCursor(options.cursor, shards);
      const items: DueItem[] = [];
      let { done, lastKey } = position;

      // Walk the shards in order from `start`, each to its end (or until the page is full).
      while (done < shards && items.length < options.limit) {
        const shard = String((position.start + done) % shards);
        const page = await engine.queryDueShard(shard, options.now, options.limit - items.length, lastKey);
        for (const raw of page.items) {
          const key = keyFromPk(raw.pk);
          if (key !== undefined) items.push({ ...key, dueAt: raw.dueAt });
        }
        if (page.lastKey === undefined) {
          done += 1;
          lastKey = undefined;
        } else {
          lastKey = page.lastKey;
        }
      }
      const result: DuePage = { items };
      if (done < shards) result.cursor = encodeCursor({ start: position.start, done, lastKey });
      return result;
    },
  };
}

function tokenWriteInput(
  write: import('./types').LeasedTokenWrite,
  seal: (plaintext: string, field: TokenField) => string,
  placement: DuePlacement,
): Omit<rules.TokenWriteInput, 'at'> {
  return {
    owner: write.owner,
    expectedVersion: write.expectedVersion,
    accessToken: seal(write.accessToken, 'accessToken'),
    accessTokenExpiresAt: write.accessTokenExpiresAt,
    due: placement,
    ...(write.refreshToken === undefined ? {} : { refreshToken: seal(write.refreshToken, 'refreshToken') }),
    ...(write.grantKind === undefined ? {} : { grantKind: write.grantKind }),
    ...(write.lastUsedAt === undefined ? {} : { lastUsedAt: write.lastUsedAt }),
    ...(write.lastUsedAtRead === undefined ? {} : { lastUsedAtRead: write.lastUsedAtRead }),
  };
}

function conflictReason(refusal: Refusal): ConflictReason {
  switch (refusal) {
    case Refusal.NotFound:
      return ConflictReason.NotFound;
    case Refusal.LeaseLost:
      return ConflictReason.LeaseLost;
    case Refusal.Uninstalled:
      return ConflictReason.Uninstalled;
    default:
      return ConflictReason.Version;
  }
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
  return Buffer.from(JSON.stringify({ s: position.start, d: position.done, k: position.lastKey }), 'utf8').toString('base64url');
}

function decodeCursor(cursor: string, shards: number): WalkPosition {
  const invalid = () => new ServiceError('INVALID_CURSOR', 'The due-index cursor is not one this store wrote');
  const parsed = cursorJson(cursor, invalid);
  if (typeof parsed !== 'object' || parsed === null) throw invalid();
  const { s, d, k } = parsed as { s?: unknown; d?: unknown; k?: unknown };
  if (!Number.isInteger(s) || !Number.isInteger(d) || (s as number) < 0 || (d as number) < 0 || (d as number) > shards) {
    throw invalid();
  }
  if (k !== undefined && (typeof k !== 'object' || k === null)) throw invalid();
  return { start: (s as number) % shards, done: d as number, lastKey: k as Record<string, unknown> | undefined };
}

/** A status-index cursor: the index's last key, as base64url JSON; checked on the way back in. */
function encodeStatusCursor(lastKey: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify({ s: lastKey[A.status], p: lastKey[A.pk] })).toString('base64url');
}

function decodeStatusCursor(cursor: string, status: string): Record<string, unknown> {
  const invalid = () => new ServiceError('INVALID_CURSOR', 'The status cursor is not one this store wrote for that state');
  const decoded = cursorJson(cursor, invalid);
  const { s, p } = (decoded ?? {}) as { s?: unknown; p?: unknown };
  if (s !== status || typeof p !== 'string' || keyFromPk(p) === undefined) throw invalid();
  return { [A.status]: s, [A.pk]: p };
}

/** The key id reported for an envelope whose key id cannot be read (not one this cipher wrote). */
export const UNREADABLE_KEY_ID = '(unreadable)';

/** A scan cursor: the scan's last key (an instance pk), as base64url JSON; checked on the way back in. */
function encodeScanCursor(lastKey: Record<string, unknown>): string {
  return Buffer.from(JSON.stringify({ p: lastKey[A.pk] })).toString('base64url');
}

function decodeScanCursor(cursor: string): Record<string, unknown> {
  const invalid = () => new ServiceError('INVALID_CURSOR', 'The scan cursor is not one this store wrote');
  const decoded = cursorJson(cursor, invalid);
  const { p } = (decoded ?? {}) as { p?: unknown };
  if (typeof p !== 'string' || p === '') throw invalid();
  return { [A.pk]: p };
}

/** A cursor's JSON (base64url), or the caller's own INVALID_CURSOR error for anything that is not. */
function cursorJson(cursor: string, invalid: () => ServiceError): unknown {
  try {
    return JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
}
