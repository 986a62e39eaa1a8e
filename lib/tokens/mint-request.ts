import { isGuid } from '../ids';
import { InvalidRequestError } from './errors';
import { tokenHash } from './token-hash';

const MAX_MIN_VALIDITY_SECONDS = 3600;
const DEFAULT_MIN_VALIDITY_SECONDS = 300;
/** The longest token string mint takes (the contract in DESIGN.md). */
export const MAX_TOKEN_LENGTH = 4096;
const KNOWN_FIELDS = new Set(['instanceId', 'wixAccessToken', 'appId', 'minValiditySeconds', 'rejectedToken']);

/** What every checked mint request carries besides the instance. */
interface MintOptions {
  /** The token handed back stays valid at least this long. */
  minValidityMs: number;
  /** The hash (./token-hash) of a token the caller says Wix refused; the token itself is dropped. */
  rejectedTokenHash?: string;
}

/** A checked mint request for a named instance. */
export interface MintRequest extends MintOptions {
  appId: string;
  instanceId: string;
}

/** A checked mint request that names its instance by a Wix frontend's token (verified elevation). */
export interface ElevationRequest extends MintOptions {
  wixAccessToken: string;
  /** The app the caller expects the token to be for; any served app when absent. */
  appId?: string;
}

/**
 * Checks a `mint` payload: `{instanceId | wixAccessToken, appId?, minValiditySeconds?, rejectedToken?}`.
 *
 * @param servedAppIds the apps this deployment serves; the first is used when `appId` is absent
 *   and it serves only one
 * @throws {InvalidRequestError} naming the first bad field; never echoing a value
 */
export function parseMintRequest(payload: unknown, servedAppIds: readonly string[]): MintRequest | ElevationRequest {
  // Checked in a fixed order (the instance, then the options), so the error names the first bad field.
  const fields = readObject(payload, KNOWN_FIELDS);
  const target = readTarget(fields, servedAppIds);
  const options: MintOptions = { minValidityMs: readMinValidity(fields['minValiditySeconds']) * 1000 };
  if (fields['rejectedToken'] !== undefined) options.rejectedTokenHash = tokenHash(readToken('rejectedToken', fields['rejectedToken']));
  return { ...target, ...options };
}

/** Who the token is for: a named instance, or the instance behind a frontend's token. */
function readTarget(fields: Record<string, unknown>, servedAppIds: readonly string[]): { appId: string; instanceId: string } | { wixAccessToken: string; appId?: string } {
  if (fields['wixAccessToken'] === undefined) return readInstanceKey(fields, servedAppIds);
  if (fields['instanceId'] !== undefined) throw new InvalidRequestError('wixAccessToken', 'cannot be given with instanceId');
  const wixAccessToken = readToken('wixAccessToken', fields['wixAccessToken']);
  const appId = fields['appId'] === undefined || fields['appId'] === null ? undefined : resolveAppId(fields['appId'], servedAppIds);
  return appId === undefined ? { wixAccessToken } : { wixAccessToken, appId };
}

/**
 * A token field: a non-empty string of at most {@link MAX_TOKEN_LENGTH} visible ASCII characters
 * (Wix's tokens are base64url and dots), never echoed.
 */
function readToken(field: string, value: unknown): string {
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(value)) {
    throw new InvalidRequestError(field, `must be a token: 1 to ${MAX_TOKEN_LENGTH} visible ASCII characters`);
  }
  return value;
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
  const fields = readObject(payload, knownFields);
  return { key: readInstanceKey(fields, servedAppIds), fields };
}

/** A JSON object with no field outside `knownFields`. @throws {InvalidRequestError} naming the first unknown field, never echoing it */
export function readObject(payload: unknown, knownFields: ReadonlySet<string>): Record<string, unknown> {
  if (typeof payload !== 'object' || payload === null || Array.isArray(payload)) {
    throw new InvalidRequestError('payload', 'must be a JSON object');
  }
  const fields = payload as Record<string, unknown>;
  for (const key of Object.keys(fields)) {
    if (!knownFields.has(key)) throw new InvalidRequestError(safeFieldName(key), 'is not a known field');
  }
  return fields;
}

function readInstanceKey(fields: Record<string, unknown>, servedAppIds: readonly string[]): { appId: string; instanceId: string } {
  const instanceId = fields['instanceId'];
  if (!isGuid(instanceId)) {
    throw new InvalidRequestError('instanceId', 'must be a GUID');
  }
  return { appId: resolveAppId(fields['appId'], servedAppIds), instanceId: instanceId.toLowerCase() };
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
