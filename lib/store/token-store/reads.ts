import { A, instancePk, keyFromPk, lastErrorOf, requiredFieldsOf } from '../item';
import { InstanceStatus } from '../types';
import type { DueItem, DuePage, InstanceDescription, InstanceKey, InstanceStatusView, StatusPage, TokenStore } from '../types';
import type { StoreCore } from '../token-store';
import { decodeCursor, decodeStatusCursor, encodeCursor, encodeStatusCursor, freshWalk } from './cursors';

/**
 * The store's reads: one instance (whole, its status, or its description without tokens), the
 * status index, and the due index the refresh sweep walks. No write here.
 */

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

export type ReadMethods = Pick<TokenStore, 'getInstance' | 'getStatus' | 'describeInstance' | 'listByStatus' | 'countByStatus' | 'queryDue'>;

export function readMethods(core: StoreCore): ReadMethods {
  const { engine, shards, toRecordOrUndefined } = core;

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
      const description: InstanceDescription = requiredFieldsOf(item);
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
