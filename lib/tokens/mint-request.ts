import { isGuid } from '../ids';
import { InvalidRequestError } from './errors';

const MAX_MIN_VALIDITY_SECONDS = 3600;
const DEFAULT_MIN_VALIDITY_SECONDS = 300;
const KNOWN_FIELDS = new Set(['instanceId', 'appId', 'minValiditySeconds']);

/** A checked mint request. */
export interface MintRequest {
  appId: string;
  instanceId: string;
  /** The token handed back stays valid at least this long. */
  minValidityMs: number;
}

/**
 * Checks a `mint` payload: `{instanceId, appId?, minValiditySeconds?}`.
 *
 * @param servedAppIds the apps this deployment serves; the first is used when `appId` is absent
 *   and it serves only one
 * @throws {InvalidRequestError} naming the first bad field; never echoing a value
 */
export function parseMintRequest(payload: unknown, servedAppIds: readonly string[]): MintRequest {
  const { key, fields } = readInstancePayload(payload, servedAppIds, KNOWN_FIELDS);
  return { ...key, minValidityMs: readMinValidity(fields['minValiditySeconds']) * 1000 };
}

/**
 * Checks the part every instance payload shares (`mint`, `refresh`): a JSON object with no
 * field outside `knownFields`, a GUID `instanceId` and an `appId` this deployment serves.
 *
 * @throws {InvalidRequestError} naming the first bad field; never echoing a value
 */
export function readInstancePayload(
  payload: unknown,
  servedAppIds: readonly string[],
  knownFields: ReadonlySet<string>,
): { key: { appId: string; instanceId: string }; fields: Record<string, unknown> } {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new InvalidRequestError('payload', 'must be a JSON object');
  }
  const fields = payload as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!knownFields.has(key)) throw new InvalidRequestError(safeFieldName(key), 'is not a known field');
  }

  const instanceId = fields['instanceId'];
  if (!isGuid(instanceId)) {
    throw new InvalidRequestError('instanceId', 'must be a GUID');
  }
  return { key: { appId: resolveAppId(fields['appId'], servedAppIds), instanceId: instanceId.toLowerCase() }, fields };
}

/** The app a request is for: the one it names, if served, or the only one served. */
export function resolveAppId(appId: unknown, servedAppIds: readonly string[]): string {
  if (appId === undefined || appId === null) {
    if (servedAppIds.length === 1) return servedAppIds[0] as string;
    throw new InvalidRequestError('appId', 'is required: this deployment serves several apps');
  }
  if (!isGuid(appId)) throw new InvalidRequestError('appId', 'must be a GUID');
  const normalised = appId.toLowerCase();
  if (!servedAppIds.includes(normalised)) throw new InvalidRequestError('appId', 'is not an app this deployment serves');
  return normalised;
}

function readMinValidity(value: unknown): number {
  if (value === undefined || value === null) return DEFAULT_MIN_VALIDITY_SECONDS;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > MAX_MIN_VALIDITY_SECONDS) {
    throw new InvalidRequestError('minValiditySeconds', `must be an integer from 0 to ${MAX_MIN_VALIDITY_SECONDS}`);
  }
  return value;
}

/** An unknown key is named in the error only if it looks like a field name, never echoed raw. */
function safeFieldName(key: string): string {
  return /^[A-Za-z][A-Za-z0-9_]{0,39}$/.test(key) ? key : 'payload';
}
