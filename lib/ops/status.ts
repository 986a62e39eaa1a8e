import { ServiceError } from '../errors';
import { InstanceStatus, StoreUnavailableError, type InstanceDescription, type InstanceKey, type TokenStore } from '../store';
import { InvalidRequestError, ServiceUnavailableError } from '../tokens/errors';
import { readInstancePayload, readObject, resolveAppId } from '../tokens/mint-request';

/**
 * What an operator asks `status` (the function and `npm run ops -- status`): one instance's
 * state, or a page of the instances in one state with counts by state. Never a token: the store
 * reads a projection without the token envelopes and nothing here can decrypt.
 */
export type StatusRequest =
  | { kind: 'instance'; key: InstanceKey }
  | { kind: 'state'; state: InstanceStatus; appId?: string; limit: number; cursor?: string };

export interface InstanceStatusAnswer {
  appId: string;
  instanceId: string;
  /** `unknown`: no record (never installed here, or purged after its tombstone expired). */
  status: InstanceStatus | 'unknown';
  grantKind?: string;
  /** ISO 8601 times, absent when never set. */
  accessTokenExpiresAt?: string;
  lastRefreshedAt?: string;
  nextDueAt?: string;
  lastUsedAt?: string;
  lastEventAt?: string;
  lastFailure?: { class: string; code: string; at: string; consecutive: number };
  createdAt?: string;
  updatedAt?: string;
}

export interface StatePageAnswer {
  state: InstanceStatus;
  appId?: string;
  instances: InstanceKey[];
  /** Pass back as `cursor` for the next page; absent on the last. */
  cursor?: string;
  counts: Record<InstanceStatus, number>;
}

const KNOWN_INSTANCE_FIELDS: ReadonlySet<string> = new Set(['instanceId', 'appId']);
const KNOWN_STATE_FIELDS: ReadonlySet<string> = new Set(['state', 'appId', 'cursor', 'limit']);
const DEFAULT_PAGE = 100;
const MAX_PAGE = 1000;
const STATES = new Set<string>(Object.values(InstanceStatus));

/**
 * Reads a `status` payload: `{instanceId, appId?}` or `{state, appId?, cursor?, limit?}`.
 * @throws {InvalidRequestError} naming the first bad field; never echoing a value
 */
export function parseStatusRequest(payload: unknown, servedAppIds: readonly string[]): StatusRequest {
  const fields = typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? (payload as Record<string, unknown>) : undefined;
  if (fields?.['state'] === undefined) return { kind: 'instance', key: readInstancePayload(payload, servedAppIds, KNOWN_INSTANCE_FIELDS).key };
  readObject(payload, KNOWN_STATE_FIELDS);
  const state = fields['state'];
  if (typeof state !== 'string' || !STATES.has(state)) throw new InvalidRequestError('state', `must be one of ${[...STATES].join(', ')}`);
  const request: StatusRequest = { kind: 'state', state: state as InstanceStatus, limit: readLimit(fields['limit']) };
  if (fields['appId'] !== undefined) request.appId = resolveAppId(fields['appId'], servedAppIds);
  const cursor = fields['cursor'];
  if (cursor !== undefined) {
    if (typeof cursor !== 'string' || cursor.length === 0 || cursor.length > 2048) throw new InvalidRequestError('cursor', 'must be a cursor from an earlier page');
    request.cursor = cursor;
  }
  return request;
}

function readLimit(value: unknown): number {
  if (value === undefined) return DEFAULT_PAGE;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > MAX_PAGE) {
    throw new InvalidRequestError('limit', `must be an integer from 1 to ${MAX_PAGE}`);
  }
  return value;
}

export type StatusStore = Pick<TokenStore, 'describeInstance' | 'listByStatus' | 'countByStatus'>;

/**
 * Answers a status request.
 * @throws {InvalidRequestError} a cursor this deployment did not write for that state
 * @throws {ServiceUnavailableError} DynamoDB could not be read
 */
export async function answerStatus(store: StatusStore, request: StatusRequest): Promise<InstanceStatusAnswer | StatePageAnswer> {
  try {
    if (request.kind === 'instance') return describe(request.key, await store.describeInstance(request.key));
    const appId = request.appId === undefined ? {} : { appId: request.appId };
    const [page, counts] = await Promise.all([
      store.listByStatus({ status: request.state, limit: request.limit, ...appId, ...(request.cursor === undefined ? {} : { cursor: request.cursor }) }),
      store.countByStatus(appId),
    ]);
    return { state: request.state, ...appId, instances: page.instances, ...(page.cursor === undefined ? {} : { cursor: page.cursor }), counts };
  } catch (error) {
    if (error instanceof ServiceError && error.code === 'INVALID_CURSOR') throw new InvalidRequestError('cursor', 'is not one this deployment wrote for that state');
    if (error instanceof StoreUnavailableError) throw new ServiceUnavailableError(`the store is unavailable (${error.code})`, { cause: error });
    throw error;
  }
}

function describe(key: InstanceKey, found: InstanceDescription | undefined): InstanceStatusAnswer {
  if (found === undefined) return { ...key, status: 'unknown' };
  const times = {
    accessTokenExpiresAt: found.accessTokenExpiresAt,
    lastRefreshedAt: found.refreshedAt,
    nextDueAt: found.refreshDueAt,
    lastUsedAt: found.lastUsedAt,
    lastEventAt: found.lastEventAt,
    createdAt: found.createdAt,
    updatedAt: found.updatedAt,
  };
  const answer: InstanceStatusAnswer = { appId: found.appId, instanceId: found.instanceId, status: found.status, grantKind: found.grantKind };
  for (const [field, ms] of Object.entries(times) as Array<[keyof typeof times, number | undefined]>) {
    if (ms !== undefined) answer[field] = new Date(ms).toISOString();
  }
  if (found.lastError !== undefined) {
    const { kind, code, at, count } = found.lastError;
    answer.lastFailure = { class: kind, code, at: new Date(at).toISOString(), consecutive: count };
  }
  return answer;
}
