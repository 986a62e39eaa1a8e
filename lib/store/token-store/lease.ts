import { StoreUnavailableError, LeaseWaitTimeoutError } from '../errors';
import { ServiceError } from '../../errors';
import type { TokenField } from '../../crypto';
import { dueShardOf, instancePk, type InstanceItem } from '../item';
import * as rules from '../transitions';
import { Refusal, type DuePlacement } from '../transitions';
import type { LeaseResult, TokenStore } from '../types';
import type { StoreCore } from '../token-store';

/**
 * The lease and its holder's writes (mint and the refresh sweep): taking, waiting out and giving up
 * the lease, the token, failure and reschedule writes under it (../transitions/lease), and the two
 * writes made without it (../transitions/without-lease).
 */

/** The last poll of a wait gets at least this long to answer. */
const LAST_POLL_MS = 100;

export type LeaseMethods = Pick<
  TokenStore,
  | 'acquireLease'
  | 'storeLeasedTokens'
  | 'storeRotatedTokens'
  | 'recordFailure'
  | 'releaseLease'
  | 'rescheduleLeased'
  | 'deferDue'
  | 'waitForRelease'
  | 'touchLastUsed'
>;

export function leaseMethods(core: StoreCore): LeaseMethods {
  const { engine, now, shards, leaseTtlMs, skewMs, sleep, due, encrypt, run, holderWrite, toRecord, toRecordOrUndefined } = core;

  return {
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
  };
}

function tokenWriteInput(
  write: import('../types').LeasedTokenWrite,
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
