import type { ServiceLogger } from '../runtime/logger';
import type { InstanceRecord } from '../store';
import { InstanceStatus } from '../store';

/**
 * Lifecycle events for operators (EventBridge by default): one per transition of an instance,
 * emitted by the function that made it, never carrying a token.
 *
 * ```
 * install callback stored, AppInstalled applied ──────────▶ InstanceInstalled
 * AppRemoved applied ──────────────────────────────────────▶ InstanceUninstalled
 * failure recorded that marks needs_reauth (was not) ──────▶ InstanceNeedsReauth
 * failure recorded, the Nth in a row (N = failingAfter) ───▶ TokenRefreshFailing
 * token stored over needs_reauth or N+ failures in a row ──▶ InstanceRecovered
 * ```
 *
 * Each event's `id` is its type, the instance and the version the transition wrote, so a
 * redelivered webhook that finds its own write re-sends the same id: consumers de-duplicate on it.
 * Publishing is bounded in time and never fails the transition: an event that cannot be published
 * is logged (`lifecycle event not published`) with its id, never its record.
 */
export const LifecycleEventType = {
  InstanceInstalled: 'InstanceInstalled',
  InstanceUninstalled: 'InstanceUninstalled',
  InstanceNeedsReauth: 'InstanceNeedsReauth',
  InstanceRecovered: 'InstanceRecovered',
  TokenRefreshFailing: 'TokenRefreshFailing',
} as const;
export type LifecycleEventType = (typeof LifecycleEventType)[keyof typeof LifecycleEventType];

export interface LifecycleEvent {
  /** `<type>:<appId>#<instanceId>@<version>`: the same transition always gets the same id. */
  id: string;
  type: LifecycleEventType;
  appId: string;
  instanceId: string;
  /** ISO 8601, when the transition was made (this service's clock). */
  time: string;
  /** Why, in words and codes; never a token. */
  reason: string;
  /** The record's version the transition wrote. */
  version: number;
}

/** Where events go: EventBridge in AWS (./eventbridge), a log line locally (./log-publisher). */
export interface EventPublisher {
  /**
   * @param options.signal aborted when the sink stops waiting: a publisher stops its request then,
   *   so that nothing it started runs on into a later invocation of a thawed container
   * @throws anything; {@link EventSink} bounds and absorbs it
   */
  publish(events: readonly LifecycleEvent[], options?: { signal?: AbortSignal }): Promise<void>;
}

/** What the use cases call: never throws, never takes longer than its budget. */
export interface EventSink {
  emit(events: readonly LifecycleEvent[]): Promise<void>;
  /** Failures in a row after which TokenRefreshFailing is sent. */
  readonly failingAfter: number;
}

/** Failures in a row before TokenRefreshFailing, by default (the sweep's backoff makes 3 about 7 minutes). */
export const DEFAULT_FAILING_AFTER = 3;

/** How long a transition waits for its events, at most: the webhook answers Wix within 1250 ms. */
export const DEFAULT_PUBLISH_TIMEOUT_MS = 400;

export function createEventSink(deps: {
  publisher: EventPublisher;
  logger: Pick<ServiceLogger, 'warn'>;
  failingAfter?: number;
  timeoutMs?: number;
}): EventSink {
  const timeoutMs = deps.timeoutMs ?? DEFAULT_PUBLISH_TIMEOUT_MS;
  return {
    failingAfter: deps.failingAfter ?? DEFAULT_FAILING_AFTER,
    async emit(events) {
      if (events.length === 0) return;
      let timer: NodeJS.Timeout | undefined;
      const abandon = new AbortController();
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => {
          abandon.abort();
          reject(new Error(`timed out after ${timeoutMs} ms`));
        }, timeoutMs);
      });
      try {
        await Promise.race([deps.publisher.publish(events, { signal: abandon.signal }), timeout]);
      } catch (error) {
        deps.logger.warn('lifecycle event not published', {
          ids: events.map((event) => event.id),
          errorName: error instanceof Error ? error.name : typeof error,
          errorMessage: error instanceof Error ? error.message : undefined,
        });
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** No events (tests of other things, or an operator who switched them off). */
export const NO_EVENTS: EventSink = { failingAfter: Number.POSITIVE_INFINITY, emit: async () => undefined };

function event(type: LifecycleEventType, record: Pick<InstanceRecord, 'appId' | 'instanceId' | 'version'>, at: number, reason: string): LifecycleEvent {
  return {
    id: `${type}:${record.appId}#${record.instanceId}@${record.version}`,
    type,
    appId: record.appId,
    instanceId: record.instanceId,
    time: new Date(at).toISOString(),
    reason,
    version: record.version,
  };
}

/** After an install callback stored its tokens, or an AppInstalled / AppRemoved applied (or met its own earlier write). */
export function lifecycleEvents(
  cause: 'install callback' | 'AppInstalled' | 'AppRemoved',
  after: Pick<InstanceRecord, 'appId' | 'instanceId' | 'version'>,
  at: number,
): LifecycleEvent[] {
  const type = cause === 'AppRemoved' ? LifecycleEventType.InstanceUninstalled : LifecycleEventType.InstanceInstalled;
  return [event(type, after, at, cause)];
}

/** After a token write under the lease: recovered, when the record read was needs_reauth or failing. */
export function tokenWriteEvents(before: InstanceRecord, after: InstanceRecord, at: number, failingAfter: number): LifecycleEvent[] {
  const failures = before.lastError?.count ?? 0;
  if (before.status === InstanceStatus.NeedsReauth) return [event(LifecycleEventType.InstanceRecovered, after, at, 'a token was issued again after needs_reauth')];
  if (failures >= failingAfter) return [event(LifecycleEventType.InstanceRecovered, after, at, `a token was issued after ${failures} failures in a row`)];
  return [];
}

/** After a failure was recorded under the lease. */
export function failureEvents(before: InstanceRecord, after: InstanceRecord, at: number, failingAfter: number, code: string): LifecycleEvent[] {
  const events: LifecycleEvent[] = [];
  if (after.status === InstanceStatus.NeedsReauth && before.status !== InstanceStatus.NeedsReauth) {
    events.push(event(LifecycleEventType.InstanceNeedsReauth, after, at, `Wix refused the instance's grant (${code}): the site owner must reinstall`));
  }
  const failures = after.lastError?.count ?? 0;
  if (failures === failingAfter) events.push(event(LifecycleEventType.TokenRefreshFailing, after, at, `${failures} failures in a row, the last ${code}`));
  return events;
}
