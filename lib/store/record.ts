import type { InstanceRecord } from './types';

/** Returns the record without its tokens, for logs. */
export function withoutTokens(record: InstanceRecord): Omit<InstanceRecord, 'refreshToken' | 'accessToken'> {
  const { refreshToken: _refresh, accessToken: _access, ...rest } = record;
  return rest;
}

/**
 * lastUsedAt is kept to this resolution: at most one write per instance per minute, so a busy
 * instance does not pay a write per mint.
 */
export const LAST_USED_RESOLUTION_MS = 60_000;

/** True when a use at `now` is worth a write (the stored lastUsedAt is a minute old, or absent). */
export function shouldTouchLastUsed(record: Pick<InstanceRecord, 'lastUsedAt'>, now: number): boolean {
  return record.lastUsedAt === undefined || record.lastUsedAt <= now - LAST_USED_RESOLUTION_MS;
}
