import { randomUUID } from 'node:crypto';

import { ConflictReason, StaleEventError, TokenConflictError } from '../errors';
import { dueShardOf, instancePk, stateFromItem, ttlSeconds, type InstanceItem } from '../item';
import * as rules from '../transitions';
import { Refusal } from '../transitions';
import { InstanceStatus } from '../types';
import type { InstanceKey, TokenStore, WriteOptions } from '../types';
import type { StoreCore } from '../token-store';

/**
 * The lifecycle writes: the install callback's tokens (../transitions installCallback) and the
 * webhooks' AppInstalled and AppRemoved (../transitions/lifecycle), with the follow-up that puts an
 * installed instance back in the due index.
 */

/** A race with another install writer is retried this many times before giving up with the conflict. */
const INSTALL_ATTEMPTS = 3;

export type LifecycleMethods = Pick<TokenStore, 'storeInstallTokens' | 'recordAppInstalled' | 'recordAppRemoved'>;

export function lifecycleMethods(core: StoreCore): LifecycleMethods {
  const { engine, now, shards, tombstoneTtlMs, due, encrypt, run, toRecord, toRecordOrUndefined } = core;

  /**
   * After an AppInstalled: an active record that holds tokens but is out of the due index goes
   * back in it, due now (../transitions scheduleNow). Throws like any write, so the webhook is
   * answered 503 and redelivered, and the redelivery (a duplicate) tries again.
   */
  async function scheduleIfIdle(key: InstanceKey, item: InstanceItem, at: number): Promise<void> {
    const holdsTokens = item.refreshToken !== undefined || item.accessToken !== undefined;
    if (item.status !== InstanceStatus.Active || !holdsTokens || item.dueAt !== undefined) return;
    await run(key, rules.scheduleNow({ at, expectedVersion: item.version, due: { shard: dueShardOf(key, shards), dueAt: at } }));
  }

  return {
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
  };
}
