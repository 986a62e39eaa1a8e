import { attachHidden, Dependency, ErrorCategory, ServiceError } from '../errors';

/**
 * How the rest of the service should react to a failed Wix call.
 *
 * - `transient`: try again later (network, timeout, 429, 5xx, an unreadable success body).
 * - `credentials_rejected`: the app id or secret was refused (invalid_client): the secret is wrong or rotated.
 * - `grant_invalid`: the code, refresh token or instance is no longer valid (invalid_grant, uninstalled).
 * - `bad_request`: we sent something Wix will never accept; retrying the same call cannot help.
 */
export const WixErrorKind = {
  Transient: 'transient',
  CredentialsRejected: 'credentials_rejected',
  GrantInvalid: 'grant_invalid',
  BadRequest: 'bad_request',
} as const;
export type WixErrorKind = (typeof WixErrorKind)[keyof typeof WixErrorKind];

/** The Wix operation that failed; safe to log. */
export type WixOperation = 'authorization_code' | 'refresh_token' | 'client_credentials' | 'token_info';

export interface WixErrorDetails {
  operation: WixOperation;
  /** HTTP status, absent when no response arrived. */
  status?: number;
  /** RFC 6749 `error`, or Wix's applicationError code. */
  error?: string;
  /** RFC 6749 `error_description` or Wix's `message`, with every value we sent redacted. */
  errorDescription?: string;
  /** The `x-wix-request-id` response header, for Wix support. */
  requestId?: string;
  /** How long Wix asked us to wait (Retry-After), in milliseconds. */
  retryAfterMs?: number;
  /** How many HTTP attempts were made before giving up. */
  attempts?: number;
  /** The raw response body; kept off enumerable properties so it cannot reach a log. */
  body?: string;
  cause?: unknown;
}

/** Any failed call to Wix's OAuth endpoints. Branch on `kind`; log freely: no secret is on it. */
export class WixOAuthError extends ServiceError {
  override readonly category: ErrorCategory;
  override readonly dependency = Dependency.Wix;
  override readonly httpStatus: number | undefined;
  readonly kind: WixErrorKind;
  readonly operation: WixOperation;
  readonly status: number | undefined;
  readonly error: string | undefined;
  readonly errorDescription: string | undefined;
  readonly requestId: string | undefined;
  readonly retryAfterMs: number | undefined;
  attempts: number;
  /** Not enumerable: see {@link WixErrorDetails.body}. */
  declare readonly body: string | undefined;

  constructor(kind: WixErrorKind, code: string, message: string, details: WixErrorDetails) {
    super(code, message, details.cause === undefined ? undefined : { cause: details.cause });
    this.kind = kind;
    this.operation = details.operation;
    this.category = categoryOf(kind, details.operation);
    // Wix refusing us (our secret, or a request of ours) on a page: a 502, not our 503.
    this.httpStatus = this.category === ErrorCategory.Misconfigured ? 502 : undefined;
    this.status = details.status;
    this.error = details.error;
    this.errorDescription = details.errorDescription;
    this.requestId = details.requestId;
    this.retryAfterMs = details.retryAfterMs;
    this.attempts = details.attempts ?? 1;
    attachHidden(this, 'body', details.body);
  }

  override logFields(): Record<string, unknown> {
    return { wixStatus: this.status, wixError: this.error, wixRequestId: this.requestId };
  }

  /** True when the same call may succeed later. */
  get retryable(): boolean {
    return this.kind === WixErrorKind.Transient;
  }
}

/**
 * What a failed Wix call means for our caller. Wix refusing the code the browser brought (unknown,
 * expired, used, or not even of a form it validates) is that request's fault (`refused`), which
 * nobody can turn into a 5xx at will; Wix refusing the instance otherwise is `rejected`; Wix
 * refusing our secret or our request is ours to fix (`misconfigured`).
 */
function categoryOf(kind: WixErrorKind, operation: WixOperation): ErrorCategory {
  switch (kind) {
    case WixErrorKind.Transient:
      return ErrorCategory.Unavailable;
    case WixErrorKind.GrantInvalid:
      return operation === 'authorization_code' ? ErrorCategory.Refused : ErrorCategory.Rejected;
    case WixErrorKind.BadRequest:
      return operation === 'authorization_code' ? ErrorCategory.Refused : ErrorCategory.Misconfigured;
    case WixErrorKind.CredentialsRejected:
      return ErrorCategory.Misconfigured;
  }
}

/** Network failure, timeout, 429 or 5xx: retry later. */
export class WixUnavailableError extends WixOAuthError {
  constructor(code: string, message: string, details: WixErrorDetails) {
    super(WixErrorKind.Transient, code, message, details);
  }
}

/** A success status whose body is not a valid token response (HTML, not JSON, missing or mistyped fields). */
export class WixMalformedResponseError extends WixOAuthError {
  constructor(message: string, details: WixErrorDetails, code = 'WIX_MALFORMED_RESPONSE') {
    super(WixErrorKind.Transient, code, message, details);
  }
}

/** A body longer than ./bounded-body's cap: no OAuth answer is that long, so it is an unusable one (read no further). */
export class WixResponseTooLargeError extends WixMalformedResponseError {
  constructor(message: string, details: WixErrorDetails) {
    super(message, details, 'WIX_RESPONSE_TOO_LARGE');
  }
}

/** invalid_client: the app id or app secret was refused. Try the previous secret version, then alarm. */
export class WixCredentialsRejectedError extends WixOAuthError {
  constructor(message: string, details: WixErrorDetails) {
    super(WixErrorKind.CredentialsRejected, 'WIX_CREDENTIALS_REJECTED', message, details);
  }
}

/** invalid_grant or an equivalent refusal: the code, refresh token or instance is no longer valid. */
export class WixGrantInvalidError extends WixOAuthError {
  constructor(message: string, details: WixErrorDetails) {
    super(WixErrorKind.GrantInvalid, 'WIX_GRANT_INVALID', message, details);
  }
}

/** Wix refused the request itself (invalid_request, unsupported_grant_type, validation). */
export class WixBadRequestError extends WixOAuthError {
  constructor(message: string, details: WixErrorDetails) {
    super(WixErrorKind.BadRequest, 'WIX_BAD_REQUEST', message, details);
  }
}
