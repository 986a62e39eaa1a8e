import {
  WixBadRequestError,
  WixCredentialsRejectedError,
  WixErrorKind,
  WixGrantInvalidError,
  WixMalformedResponseError,
  WixOAuthError,
  WixUnavailableError,
  type WixOperation,
} from './errors';
import type { AccessToken, LegacyTokens, TokenInfo } from './types';

/**
 * Lifetime assumed when a token response carries no `expires_in`: the shortest life Wix
 * documents (legacy access tokens, 5 minutes). Guessing long would serve dead tokens.
 */
export const DEFAULT_EXPIRES_IN_SECONDS = 300;

/** Longest error description kept; Wix's are short, anything longer is noise or an echo. */
const MAX_DESCRIPTION_LENGTH = 300;

/** An error code looks like `invalid_grant` or `INSTANCE_NOT_FOUND`; anything else is not kept verbatim. */
const ERROR_CODE = /^[A-Za-z0-9_.-]{1,64}$/;

/** What a response handler needs besides the body. */
export interface ResponseContext {
  operation: WixOperation;
  status: number;
  requestId: string | undefined;
  /** Epoch ms when the response arrived; `expires_in` counts from here. */
  receivedAt: number;
  /** Every secret value sent in the request, redacted from anything Wix echoes back. */
  sentSecrets: readonly string[];
}

type JsonObject = Record<string, unknown>;

/** Parses an /oauth/access success body (authorization_code or refresh_token). */
export function parseLegacyTokens(body: string, context: ResponseContext): LegacyTokens {
  const json = parseJsonObject(body, context);
  return {
    accessToken: requireToken(json, 'access_token', body, context),
    refreshToken: requireToken(json, 'refresh_token', body, context),
    expiresAt: context.receivedAt + readExpiresIn(json, body, context) * 1000,
  };
}

/** Parses an /oauth2/token success body (client_credentials). */
export function parseAccessToken(body: string, context: ResponseContext): AccessToken {
  const json = parseJsonObject(body, context);
  const tokenType = json['token_type'];
  if (tokenType !== undefined && (typeof tokenType !== 'string' || tokenType.toLowerCase() !== 'bearer')) {
    throw malformed('token_type is not "Bearer"', body, context);
  }
  return {
    accessToken: requireToken(json, 'access_token', body, context),
    tokenType: 'Bearer',
    expiresAt: context.receivedAt + readExpiresIn(json, body, context) * 1000,
  };
}

/**
 * Parses a Token Info body. Wix's docs show every value as a string (`"active": "true"`,
 * `"exp": "1715096067"`) while its SDK types them as booleans and numbers: accept both.
 */
export function parseTokenInfo(body: string, context: ResponseContext): TokenInfo {
  const json = parseJsonObject(body, context);
  const active = json['active'];
  let isActive: boolean;
  if (active === true || active === 'true') isActive = true;
  else if (active === false || active === 'false' || active === undefined) isActive = false;
  else throw malformed('active is neither a boolean nor "true"/"false"', body, context);

  const info: TokenInfo = { active: isActive };
  for (const [wire, field] of [
    ['subjectType', 'subjectType'],
    ['subjectId', 'subjectId'],
    ['clientId', 'clientId'],
    ['siteId', 'siteId'],
    ['instanceId', 'instanceId'],
  ] as const) {
    const value = json[wire];
    if (value === undefined || value === null) continue;
    if (typeof value !== 'string') throw malformed(`${wire} is not a string`, body, context);
    info[field] = value;
  }
  for (const [wire, field] of [
    ['exp', 'expiresAt'],
    ['iat', 'issuedAt'],
  ] as const) {
    const value = json[wire];
    if (value === undefined || value === null) continue;
    const seconds = toSeconds(value);
    if (seconds === undefined) throw malformed(`${wire} is not a number of seconds`, body, context);
    info[field] = seconds * 1000;
  }
  return info;
}

/**
 * Turns a non-2xx answer into the error the rest of the service decides on. Reads both error
 * shapes Wix may send: RFC 6749 `{error, error_description}` and Wix's
 * `{message, details: {applicationError | validationError}}`.
 *
 * @see https://dev.wix.com/docs/rest/articles/getting-started/errors
 */
export function errorFromResponse(body: string, context: ResponseContext, retryAfterMs: number | undefined): WixOAuthError {
  const { error: rawError, description, validation } = readErrorBody(body);
  const kind = classify(context.status, rawError, validation, context.operation);
  // The code goes into the message, so it gets the same care as the description: Wix could echo
  // a value we sent in it as well.
  const error = rawError === undefined ? undefined : safeErrorCode(rawError, context.sentSecrets);
  const details = {
    operation: context.operation,
    status: context.status,
    error,
    errorDescription: description === undefined ? undefined : redact(description, context.sentSecrets),
    requestId: context.requestId,
    retryAfterMs,
    body,
  };
  const message = describeFailure(context.operation, `HTTP ${context.status}${error ? ` ${error}` : ''}`, context.requestId);
  switch (kind) {
    case WixErrorKind.Transient:
      return new WixUnavailableError(context.status === 429 ? 'WIX_RATE_LIMITED' : 'WIX_SERVER_ERROR', message, details);
    case WixErrorKind.CredentialsRejected:
      return new WixCredentialsRejectedError(message, details);
    case WixErrorKind.GrantInvalid:
      return new WixGrantInvalidError(message, details);
    case WixErrorKind.BadRequest:
      return new WixBadRequestError(message, details);
  }
}

/** The one-line, secret-free message every Wix error carries. */
export function describeFailure(operation: WixOperation, what: string, requestId: string | undefined): string {
  return `Wix ${operation} failed: ${what}${requestId ? ` (x-wix-request-id ${requestId})` : ''}`;
}

/** Parses a Retry-After header (delta seconds or an HTTP date) into milliseconds from `now`. */
export function parseRetryAfter(header: string | null, now: number): number | undefined {
  if (header === null) return undefined;
  const trimmed = header.trim();
  if (/^\d+(\.\d+)?$/.test(trimmed)) return Math.round(Number(trimmed) * 1000);
  // An HTTP date names its month; Date.parse alone would also take "-1" or "7 8" for a date.
  if (!/[A-Za-z]{3}/.test(trimmed)) return undefined;
  const date = Date.parse(trimmed);
  if (Number.isNaN(date)) return undefined;
  return Math.max(0, date - now);
}

/** Replaces every value we sent (longer than three characters) wherever it appears in `text`. */
export function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) {
    if (secret.length > 3) result = result.split(secret).join('[redacted]');
  }
  return result.length > MAX_DESCRIPTION_LENGTH ? `${result.slice(0, MAX_DESCRIPTION_LENGTH)}…` : result;
}

/** An error code as Wix sent it when it looks like one and echoes nothing we sent; else a placeholder. */
function safeErrorCode(code: string, secrets: readonly string[]): string {
  if (secrets.some((secret) => secret.length > 3 && code.includes(secret))) return '[redacted]';
  return ERROR_CODE.test(code) ? code : '[unrecognised]';
}

function classify(status: number, error: string | undefined, validation: boolean, operation: WixOperation): WixErrorKind {
  if (status === 429 || status === 408 || status >= 500) return WixErrorKind.Transient;
  switch (error?.toLowerCase()) {
    case 'invalid_client':
    case 'unauthorized_client':
      return WixErrorKind.CredentialsRejected;
    case 'invalid_grant':
      return WixErrorKind.GrantInvalid;
    case 'invalid_request':
    case 'unsupported_grant_type':
    case 'invalid_scope':
      return WixErrorKind.BadRequest;
  }
  if (validation) return WixErrorKind.BadRequest;
  // Token Info sends no app credentials, so its 401 cannot mean a refused app secret.
  if (status === 401) return operation === 'token_info' ? WixErrorKind.BadRequest : WixErrorKind.CredentialsRejected;
  // wix-oauth.md §4: a bare 400/403/404 from a grant means the code, refresh token or instance is gone.
  if ((status === 400 || status === 403 || status === 404) && operation !== 'token_info') return WixErrorKind.GrantInvalid;
  return WixErrorKind.BadRequest;
}

function readErrorBody(body: string): { error?: string; description?: string; validation: boolean } {
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    return { validation: false };
  }
  if (!isObject(json)) return { validation: false };
  if (typeof json['error'] === 'string') {
    const description = json['error_description'];
    return { error: json['error'], description: typeof description === 'string' ? description : undefined, validation: false };
  }
  const message = typeof json['message'] === 'string' ? json['message'] : undefined;
  const details = isObject(json['details']) ? json['details'] : {};
  const applicationError = isObject(details['applicationError']) ? details['applicationError'] : undefined;
  const code = applicationError && typeof applicationError['code'] === 'string' ? applicationError['code'] : undefined;
  const appDescription =
    applicationError && typeof applicationError['description'] === 'string' ? applicationError['description'] : undefined;
  return { error: code, description: appDescription ?? message, validation: isObject(details['validationError']) };
}

function parseJsonObject(body: string, context: ResponseContext): JsonObject {
  if (body.trim() === '') throw malformed('the body is empty', body, context);
  if (/^\s*</.test(body)) throw malformed('the body is HTML, not JSON', body, context);
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw malformed('the body is not JSON', body, context);
  }
  if (!isObject(json)) throw malformed('the body is not a JSON object', body, context);
  return json;
}

function requireToken(json: JsonObject, field: string, body: string, context: ResponseContext): string {
  const value = json[field];
  if (value === undefined || value === null) throw malformed(`${field} is missing`, body, context);
  if (typeof value !== 'string') throw malformed(`${field} is not a string`, body, context);
  if (value.trim() === '') throw malformed(`${field} is empty`, body, context);
  return value;
}

function readExpiresIn(json: JsonObject, body: string, context: ResponseContext): number {
  const value = json['expires_in'];
  if (value === undefined || value === null) return DEFAULT_EXPIRES_IN_SECONDS;
  const seconds = toSeconds(value);
  if (seconds === undefined || seconds <= 0) throw malformed('expires_in is not a positive number of seconds', body, context);
  return seconds;
}

function toSeconds(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined;
  if (typeof value === 'string' && /^\d+(\.\d+)?$/.test(value.trim())) return Number(value);
  return undefined;
}

function malformed(reason: string, body: string, context: ResponseContext): WixMalformedResponseError {
  return new WixMalformedResponseError(
    describeFailure(context.operation, `HTTP ${context.status} with an unusable body: ${reason}`, context.requestId),
    { operation: context.operation, status: context.status, requestId: context.requestId, body },
  );
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
