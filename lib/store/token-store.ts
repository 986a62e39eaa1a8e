import type { TokenField } from '../crypto';
import { systemClock } from '../runtime/clock';
import { ConflictReason, TokenConflictError } from './errors';
import type { Condition, Update } from './expression';
import { cipherContext, DEFAULT_DUE_SHARDS, dueShardOf, instancePk, recordFromItem, type InstanceItem } from './item';
import * as rules from './transitions';
import { Refusal, type DuePlacement, type Transition } from './transitions';
import type { InstanceKey, InstanceRecord, TokenCipher, TokenStore, WriteOptions } from './types';
import { leaseMethods } from './token-store/lease';
import { lifecycleMethods } from './token-store/lifecycle';
import { operatorMethods } from './token-store/operator';
import { readMethods } from './token-store/reads';

export { UNREADABLE_KEY_ID } from './token-store/operator';

/**
 * What a store needs from the database underneath: read an item, make one conditional write,
 * read one shard of the due index. ./dynamo-token-store and ./memory-token-store provide one
 * each; everything that decides anything is here (with ./token-store/) and in ./transitions.
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

/**
 * What every part of the store (./token-store/: reads, lease, lifecycle, operator) works with: the
 * engine, the settings with their defaults, and carrying out a transition.
 */
export interface StoreCore {
  engine: ItemEngine;
  cipherFor: (appId: string) => Promise<TokenCipher>;
  now: () => number;
  shards: number;
  leaseTtlMs: number;
  tombstoneTtlMs: number;
  sleep: (ms: number) => Promise<void>;
  skewMs: number;
  toRecord: (item: InstanceItem) => Promise<InstanceRecord>;
  toRecordOrUndefined: (item: InstanceItem | undefined) => Promise<InstanceRecord | undefined>;
  due: (key: InstanceKey, dueAt: number | null) => DuePlacement;
  encrypt: (key: InstanceKey) => Promise<(plaintext: string, field: TokenField) => string>;
  /** Carries out a transition: the new item, or the refusal and the item as it stood. */
  run<R extends Refusal>(
    key: InstanceKey,
    transition: Transition<R>,
    options?: WriteOptions,
  ): Promise<{ ok: true; item: InstanceItem } | { ok: false; refusal: R; item: InstanceItem | undefined }>;
  /** A versioned write by a lease holder (or a rotated token's writer): the record, or a conflict. */
  holderWrite: (key: InstanceKey, transition: Transition, options?: WriteOptions) => Promise<InstanceRecord>;
}

/**
 * A token store over an {@link ItemEngine}: encrypts and decrypts, carries out the transitions of
 * ./transitions and turns their refusals into the outcomes the use cases branch on. Its methods are
 * in ./token-store/, one file per writer: reads, lease (mint and the sweep), lifecycle (install
 * callback and webhooks), operator (infra/ops).
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

  const core: StoreCore = { engine, cipherFor, now, shards, leaseTtlMs, tombstoneTtlMs, sleep, skewMs, toRecord, toRecordOrUndefined, due, encrypt, run, holderWrite };
  return { ...readMethods(core), ...leaseMethods(core), ...lifecycleMethods(core), ...operatorMethods(core) };
}

/** The conflict a holder's refused write reports; any other refusal means someone wrote since the read. */
const CONFLICT_REASONS: Partial<Record<Refusal, ConflictReason>> = {
  [Refusal.NotFound]: ConflictReason.NotFound,
  [Refusal.LeaseLost]: ConflictReason.LeaseLost,
  [Refusal.Uninstalled]: ConflictReason.Uninstalled,
};

function conflictReason(refusal: Refusal): ConflictReason {
  return CONFLICT_REASONS[refusal] ?? ConflictReason.Version;
}
