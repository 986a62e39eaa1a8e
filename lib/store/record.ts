import { lastUseWorthWriting } from './transitions';
import type { InstanceRecord } from './instance';

/** Returns the record without its tokens, for logs. */
export function withoutTokens(record: InstanceRecord): Omit<InstanceRecord, 'refreshToken' | 'accessToken'> {
  const { refreshToken: _refresh, accessToken: _access, ...rest } = record;
  return rest;
}

export { LAST_USED_RESOLUTION_MS } from './transitions';

/** True when a use at `now` is worth a write (the stored lastUsedAt is a minute old, or absent). */
export function shouldTouchLastUsed(record: Pick<InstanceRecord, 'lastUsedAt'>, now: number): boolean {
  return lastUseWorthWriting(record.lastUsedAt, now);
}
