import { systemClock, type Clock } from '../runtime/clock';
import { lifecycleEvents, type EventSink } from '../events';
import { isGuid } from '../ids';
import type { ServiceLogger } from '../runtime/logger';
import type { InstanceKey, LifecycleResult, TokenStore } from '../store';
import { InvalidRequestError } from './errors';
import { parseEventPayload, unpackEnvelope, type WebhookVerifier } from './webhook';

/** Wix's lifecycle JWTs are well under 4 KB; refuse a body that cannot be one before parsing it. */
const MAX_JWT_LENGTH = 64 * 1024;

/** The lifecycle events this service acts on; any other type is acknowledged and ignored. */
export const LifecycleEventType = {
  AppInstalled: 'AppInstalled',
  AppRemoved: 'AppRemoved',
} as const;
export type LifecycleEventType = (typeof LifecycleEventType)[keyof typeof LifecycleEventType];

/** What became of a webhook; every one of these is answered 200. */
export type WebhookOutcome = 'applied' | 'duplicate' | 'stale' | 'ignored';

export interface LifecycleDeps {
  verify: WebhookVerifier;
  store: Pick<TokenStore, 'recordAppInstalled' | 'recordAppRemoved'>;
  /** Attributes never carry the JWT or its claims. */
  logger: Pick<ServiceLogger, 'info'>;
  /** Lifecycle events (InstanceInstalled, InstanceUninstalled), sent once the event applied; none by default. */
  events?: EventSink;
  now?: Clock['now'];
}

export interface WebhookReceipt {
  outcome: WebhookOutcome;
  /** The event type when it is one we know, `other` otherwise (never an unchecked value). */
  eventType: LifecycleEventType | 'other';
  appId: string;
  instanceId?: string;
}

/**
 * Handles one App Instance Installed / App Removed webhook: verifies the body (the JWT), unpacks the
 * envelope and applies the event in order. The event's time is the JWT's `iat` (Wix's clock), so
 * the store can tell a late or retried delivery from a newer event: an AppRemoved followed by an
 * older AppInstalled stays removed, and a newer AppInstalled revives the instance.
 *
 * @throws {WebhookVerificationError} the JWT's signature, algorithm or times are refused
 * @throws {InvalidRequestError} the body is not a JWT, or its envelope is malformed
 * @throws {StoreUnavailableError} / {SecretsUnavailableError} a dependency failed (Wix will retry)
 * @see https://dev.wix.com/docs/rest/app-management/app-instance/instance-app-removed
 */
export async function receiveWebhook(deps: LifecycleDeps, body: string): Promise<WebhookReceipt> {
  const jwt = body.trim();
  if (jwt === '') throw new InvalidRequestError('body', 'is empty');
  if (jwt.length > MAX_JWT_LENGTH) throw new InvalidRequestError('body', 'is too large');
  const { appId, claims, issuedAt } = await deps.verify(jwt);
  const envelope = unpackEnvelope(claims);

  if (envelope.eventType !== LifecycleEventType.AppInstalled && envelope.eventType !== LifecycleEventType.AppRemoved) {
    deps.logger.info('webhook ignored: not a lifecycle event', { appId, eventType: printable(envelope.eventType) });
    return { outcome: 'ignored', eventType: 'other', appId };
  }

  const instanceId = requiredGuid(envelope.instanceId, 'data.instanceId');
  const payload = parseEventPayload(envelope);
  const payloadAppId = payload['appId'];
  if (payloadAppId !== undefined && (typeof payloadAppId !== 'string' || payloadAppId.toLowerCase() !== appId)) {
    throw new InvalidRequestError('data.data.appId', 'is not the app whose key signed the webhook');
  }
  const key: InstanceKey = { appId, instanceId };

  let result: LifecycleResult;
  if (envelope.eventType === LifecycleEventType.AppInstalled) {
    const originInstanceId = optionalGuid(payload['originInstanceId'], 'data.data.originInstanceId');
    result = await deps.store.recordAppInstalled(key, { eventAt: issuedAt, ...(originInstanceId === undefined ? {} : { originInstanceId }) });
  } else {
    result = await deps.store.recordAppRemoved(key, { eventAt: issuedAt });
  }
  if (result.outcome === 'applied') await deps.events?.emit(lifecycleEvents(envelope.eventType, result.record, (deps.now ?? systemClock.now)()));
  return { outcome: result.outcome, eventType: envelope.eventType, ...key };
}

/** A GUID field, lower-cased. */
function requiredGuid(value: unknown, field: string): string {
  const id = optionalGuid(value, field);
  if (id === undefined) throw new InvalidRequestError(field, 'is missing');
  return id;
}

/** A GUID field, lower-cased; undefined when absent (null or empty counts as absent). */
function optionalGuid(value: unknown, field: string): string | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  if (!isGuid(value)) throw new InvalidRequestError(field, 'must be a GUID');
  return value.toLowerCase();
}

/** An event type for a log line: Wix's names are short identifiers; anything else is not printed. */
function printable(eventType: string): string {
  return /^[A-Za-z0-9_.]{1,64}$/.test(eventType) ? eventType : '(unprintable)';
}
