import { systemClock, type Clock } from '../runtime/clock';
import { UNREADABLE_KEY_ID, type TokenStore } from '../store';

/**
 * The operator's key jobs (`npm run ops -- keys` and `rewrap`): which token key ids the table
 * still holds, and re-encrypting what an old key holds under the ring's current one.
 *
 * Both walk the table with a Scan (the instance items carry no index by key id): a full pass reads
 * every item once, about 0.5 KB each, so 1 million instances are ~500 MB read, ~62,500 read
 * capacity units strongly consistent (~$0.016 on demand at $0.25 per million RRUs) and a few
 * minutes at the default page size. `rewrap` also writes each item it re-encrypts once (1 WCU per
 * 1 KB: ~$1.25 per million items on demand), paced by `ratePerSecond`.
 */

/** How many items each key id holds, per token field. */
export interface KeyCounts {
  /** Instance items scanned (tombstones and bare records included). */
  items: number;
  refreshToken: Record<string, number>;
  accessToken: Record<string, number>;
}

/** The default scan page. */
export const DEFAULT_SCAN_PAGE = 100;

/** Counts every instance item's envelopes by key id (of one app, if named); never decrypts. */
export async function countKeys(store: TokenStore, query: { appId?: string; pageSize?: number }): Promise<KeyCounts> {
  const counts: KeyCounts = { items: 0, refreshToken: {}, accessToken: {} };
  let cursor: string | undefined;
  do {
    const page = await store.scanKeyIds({ ...(query.appId === undefined ? {} : { appId: query.appId }), limit: query.pageSize ?? DEFAULT_SCAN_PAGE, ...(cursor === undefined ? {} : { cursor }) });
    for (const item of page.items) {
      counts.items += 1;
      if (item.refreshTokenKeyId !== undefined) counts.refreshToken[item.refreshTokenKeyId] = (counts.refreshToken[item.refreshTokenKeyId] ?? 0) + 1;
      if (item.accessTokenKeyId !== undefined) counts.accessToken[item.accessTokenKeyId] = (counts.accessToken[item.accessTokenKeyId] ?? 0) + 1;
    }
    cursor = page.cursor;
  } while (cursor !== undefined);
  return counts;
}

export interface RewrapOptions {
  appId?: string;
  /** The current key id of an app's ring; undefined for an app this deployment does not serve (its items are left alone). */
  currentKeyIdFor: (appId: string) => Promise<string | undefined>;
  /** Only envelopes under this key id (default: any key id but the current one). */
  fromKeyId?: string;
  /** At most this many re-wrap writes a second (default 25). */
  ratePerSecond?: number;
  /** Where a previous run stopped (its last printed cursor). */
  cursor?: string;
  pageSize?: number;
  /** Stop after this many pages (the summary carries the cursor to resume from). */
  maxPages?: number;
  /** Told after every page: how far the job got and where to resume. */
  onProgress?: (progress: RewrapSummary) => void;
  now?: Clock['now'];
  sleep?: Clock['sleep'];
}

export interface RewrapSummary {
  scanned: number;
  rewrapped: number;
  /** Items whose envelopes were under the current key (or not under `fromKeyId`) already. */
  current: number;
  /** Items of apps this deployment does not serve, left alone. */
  unserved: number;
  /** Items a token write kept changing under the re-wrap; a later run picks them up. */
  busy: number;
  /** Items with an envelope whose key id cannot be read (not a format this code knows), left alone. */
  unreadable: number;
  /** Where to resume; absent when the scan reached the end. */
  cursor?: string;
}

/** A token write racing a re-wrap is retried on a fresh read this many times. */
const REWRAP_ATTEMPTS = 3;

/**
 * Re-encrypts, under each app's current key, every instance item with an envelope under another
 * key id (or under `fromKeyId`). Each item is one conditional write on the version and the exact
 * envelopes read (lib/store/transitions rewrapTokens), bumping no version and leaving the lease:
 * safe while the service serves, and a token written meanwhile is never replaced by an older one.
 */
export async function rewrap(store: TokenStore, options: RewrapOptions): Promise<RewrapSummary> {
  const now = options.now ?? systemClock.now;
  const sleep = options.sleep ?? systemClock.sleep;
  const rate = options.ratePerSecond ?? 25;
  if (!(rate > 0)) throw new TypeError('ratePerSecond must be positive');
  const interval = 1000 / rate;
  let nextWriteAt = now();
  const paced = async () => {
    const wait = nextWriteAt - now();
    if (wait > 0) await sleep(wait);
    nextWriteAt = Math.max(now(), nextWriteAt) + interval;
  };
  const ringOf = new Map<string, Promise<string | undefined>>();
  const summary: RewrapSummary = { scanned: 0, rewrapped: 0, current: 0, unserved: 0, busy: 0, unreadable: 0 };
  let cursor = options.cursor;
  let pages = 0;
  do {
    const page = await store.scanKeyIds({ ...(options.appId === undefined ? {} : { appId: options.appId }), limit: options.pageSize ?? DEFAULT_SCAN_PAGE, ...(cursor === undefined ? {} : { cursor }) });
    for (const item of page.items) {
      summary.scanned += 1;
      if (!ringOf.has(item.appId)) ringOf.set(item.appId, options.currentKeyIdFor(item.appId));
      const currentKeyId = await ringOf.get(item.appId);
      if (currentKeyId === undefined) {
        summary.unserved += 1;
        continue;
      }
      if (item.refreshTokenKeyId === UNREADABLE_KEY_ID || item.accessTokenKeyId === UNREADABLE_KEY_ID) {
        summary.unreadable += 1;
        continue;
      }
      const old = (keyId: string | undefined) => keyId !== undefined && keyId !== currentKeyId && (options.fromKeyId === undefined || keyId === options.fromKeyId);
      if (!old(item.refreshTokenKeyId) && !old(item.accessTokenKeyId)) {
        summary.current += 1;
        continue;
      }
      const key = { appId: item.appId, instanceId: item.instanceId };
      const target = { currentKeyId, ...(options.fromKeyId === undefined ? {} : { fromKeyId: options.fromKeyId }) };
      let outcome = 'changed';
      for (let attempt = 0; attempt < REWRAP_ATTEMPTS && outcome === 'changed'; attempt++) {
        await paced();
        outcome = await store.rewrapTokens(key, target);
      }
      if (outcome === 'rewrapped') summary.rewrapped += 1;
      else if (outcome === 'changed') summary.busy += 1;
      // 'current' (a token write re-encrypted it meanwhile) and 'absent' (purged) need nothing.
      else summary.current += 1;
    }
    cursor = page.cursor;
    pages += 1;
    const progress: RewrapSummary = { ...summary, ...(cursor === undefined ? {} : { cursor }) };
    options.onProgress?.(progress);
  } while (cursor !== undefined && (options.maxPages === undefined || pages < options.maxPages));
  return { ...summary, ...(cursor === undefined ? {} : { cursor }) };
}
