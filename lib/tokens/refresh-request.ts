import type { InstanceKey } from '../store';
import { readInstancePayload } from './mint-request';

const KNOWN_FIELDS: ReadonlySet<string> = new Set(['instanceId', 'appId']);

/** What `refresh` was asked to do. */
export type RefreshRequest = { kind: 'sweep' } | { kind: 'instance'; key: InstanceKey };

/**
 * Reads a `refresh` event: an EventBridge scheduled event runs the sweep; anything else must be a
 * direct invoke payload `{instanceId, appId?}`.
 *
 * @param servedAppIds the apps this deployment serves; the first is used when `appId` is absent
 *   and it serves only one
 * @throws {InvalidRequestError} naming the first bad field; never echoing a value
 */
export function parseRefreshRequest(event: unknown, servedAppIds: readonly string[]): RefreshRequest {
  if (isScheduledEvent(event)) return { kind: 'sweep' };
  return { kind: 'instance', key: readInstancePayload(event, servedAppIds, KNOWN_FIELDS).key };
}

/** An EventBridge schedule's event (`source` aws.events, `detail-type` Scheduled Event). */
function isScheduledEvent(event: unknown): boolean {
  if (typeof event !== 'object' || event === null) return false;
  const fields = event as Record<string, unknown>;
  return fields['source'] === 'aws.events' && fields['detail-type'] === 'Scheduled Event';
}
