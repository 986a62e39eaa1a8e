import { systemClock, type Clock } from '../runtime/clock';
import { applyUpdate, evaluate } from './expression';
import { A, keyFromPk, statePk, type InstanceItem } from './item';
import { createTokenStore, type ItemEngine, type TokenStoreDeps } from './token-store';
import type { InstallStateStore, TokenStore } from './types';

/**
 * The token store in memory: the same ./token-store and ./transitions as DynamoDB's, over a Map
 * that evaluates each transition's condition and update itself. For unit tests of the use cases
 * and for local experiments; the contract suite (test/contract/token-store) runs against both.
 */
export interface MemoryTokenStore extends TokenStore {
  /** The stored items (ciphertexts as DynamoDB would hold them), by partition key; for tests. */
  readonly items: ReadonlyMap<string, Readonly<InstanceItem>>;
}

export function createMemoryTokenStore(deps: Omit<TokenStoreDeps, 'engine'>): MemoryTokenStore {
  const items = new Map<string, InstanceItem>();
  return { ...createTokenStore({ ...deps, engine: memoryEngine(items) }), items };
}

const copy = (item: InstanceItem | undefined): InstanceItem | undefined => (item === undefined ? undefined : { ...item });

/** The engine under {@link createMemoryTokenStore}, over `items`; for tests that need several stores on one Map. */
export function memoryEngine(items: Map<string, InstanceItem>): ItemEngine {
  return {
    async get(pk, options) {
      const item = items.get(pk);
      if (item === undefined || options.projection === undefined) return copy(item);
      const projected: Record<string, unknown> = {};
      for (const name of options.projection) {
        const value = (item as unknown as Record<string, unknown>)[name];
        if (value !== undefined) projected[name] = value;
      }
      return projected as unknown as InstanceItem;
    },

    async write(_operation, pk, condition, update) {
      const before = items.get(pk);
      // The key is always there, as DynamoDB sees it: `attribute_exists(pk)` means the item exists.
      if (!evaluate(condition, before)) return { ok: false, item: copy(before) };
      const after = { ...applyUpdate(before, update), [A.pk]: pk } as InstanceItem;
      items.set(pk, after);
      return { ok: true, item: copy(after) };
    },

    async queryDueShard(shard, now, limit, startKey) {
      const after = startKey as { pk: string; dueAt: number } | undefined;
      const due = [...items.values()]
        .filter((item) => item.dueShard === shard && item.dueAt !== undefined && item.dueAt <= now)
        .map((item) => ({ pk: item.pk, dueAt: item.dueAt as number }))
        .sort((a, b) => a.dueAt - b.dueAt || (a.pk < b.pk ? -1 : a.pk > b.pk ? 1 : 0))
        .filter((item) => after === undefined || item.dueAt > after.dueAt || (item.dueAt === after.dueAt && item.pk > after.pk));
      const page = due.slice(0, limit);
      const last = page[page.length - 1];
      return due.length > limit && last !== undefined ? { items: page, lastKey: { ...last } } : { items: page };
    },

    async scanEnvelopes(pkPrefix, limit, startKey) {
      const after = startKey?.['pk'] as string | undefined;
      const all = [...items.values()]
        .filter((item) => keyFromPk(item.pk) !== undefined && (pkPrefix === undefined || item.pk.startsWith(pkPrefix)))
        .sort((a, b) => (a.pk < b.pk ? -1 : a.pk > b.pk ? 1 : 0))
        .filter((item) => after === undefined || item.pk > after);
      const page = all.slice(0, limit).map(({ pk, version, refreshToken, accessToken }) => ({
        pk,
        version,
        ...(refreshToken === undefined ? {} : { refreshToken }),
        ...(accessToken === undefined ? {} : { accessToken }),
      }));
      const last = page[page.length - 1];
      return all.length > limit && last !== undefined ? { items: page, lastKey: { pk: last.pk } } : { items: page };
    },

    async queryStatus(status, pkPrefix, page) {
      const pks = [...items.values()]
        .filter((item) => item.status === status && (pkPrefix === undefined || item.pk.startsWith(pkPrefix)))
        .map((item) => item.pk)
        .sort();
      if (page === 'count') return { pks: [], count: pks.length };
      const after = page.startKey?.['pk'] as string | undefined;
      const rest = after === undefined ? pks : pks.filter((pk) => pk > after);
      const slice = rest.slice(0, page.limit);
      const last = slice[slice.length - 1];
      return rest.length > page.limit && last !== undefined ? { pks: slice, count: slice.length, lastKey: { status, pk: last } } : { pks: slice, count: slice.length };
    },
  };
}

/** Install states in memory, with the same single-use and own-retry rules as DynamoDB's. */
export function createMemoryInstallStateStore(deps: { now?: Clock['now'] } = {}): InstallStateStore & { readonly size: number } {
  const now = deps.now ?? systemClock.now;
  const consumed = new Map<string, { consumer: string; expiresAt: number }>();
  return {
    get size() {
      return consumed.size;
    },
    async consume(stateId, expiresAt, consumer) {
      if (expiresAt <= now()) return false;
      const pk = statePk(stateId);
      const held = consumed.get(pk);
      if (held !== undefined && held.consumer !== consumer) return false;
      consumed.set(pk, { consumer, expiresAt });
      return true;
    },
    async release(stateId, consumer) {
      const pk = statePk(stateId);
      if (consumed.get(pk)?.consumer === consumer) consumed.delete(pk);
    },
  };
}
