import { Dependency, ErrorCategory, ServiceError } from '../errors';
import {
  InstanceUninstalledError,
  InvalidRequestError,
  InvokeError,
  ServiceUnavailableError,
  TokenUnavailableError,
  WixRejectedError,
} from './errors';

/** How a request refused by a dependency reads as InvalidRequest, by its code: `[field, reason]`. */
const REFUSED_FIELDS: Readonly<Record<string, readonly [string, string]>> = {
  UNKNOWN_APP: ['appId', 'is not an app this deployment serves'],
};

/**
 * Each category as the invoke contract says it (see ServiceError's categories). `internal` has
 * no row: such an error goes out as it is, for ./invoke-guard to log and hide.
 */
const INVOKE_ERROR_OF: Readonly<Record<ErrorCategory, ((error: ServiceError) => InvokeError) | undefined>> = {
  [ErrorCategory.Refused]: (error) => {
    const [field, reason] = REFUSED_FIELDS[error.code] ?? ['request', 'was refused'];
    return new InvalidRequestError(field, reason);
  },
  [ErrorCategory.Gone]: () => new InstanceUninstalledError(),
  [ErrorCategory.Rejected]: (error) => new WixRejectedError('Wix refused to issue a token for this instance', { cause: error }),
  [ErrorCategory.Conflict]: unavailable,
  [ErrorCategory.Unavailable]: (error) =>
    error.dependency === Dependency.Wix ? new TokenUnavailableError(`Wix is unavailable (${error.code})`, { cause: error }) : unavailable(error),
  // Not about the instance (a wrong or half-rotated app secret, say): a caller that drops sites on
  // WixRejected must not drop them all for it.
  [ErrorCategory.Misconfigured]: unavailable,
  [ErrorCategory.Internal]: undefined,
};

/** A ServiceUnavailable that says more than which code, by the code. */
const UNAVAILABLE_REASONS: Readonly<Record<string, string>> = {
  WIX_CREDENTIALS_REJECTED: "Wix refused the app's credentials",
  WIX_BAD_REQUEST: 'Wix refused the token request as malformed',
};

function unavailable(error: ServiceError): InvokeError {
  return new ServiceUnavailableError(UNAVAILABLE_REASONS[error.code] ?? `a dependency is unavailable (${error.code})`, { cause: error });
}

/** What mint throws for an error: a documented invoke error as it is, or the one its category says. */
export function toInvokeError(error: unknown): Error {
  if (error instanceof InvokeError) return error;
  const invokeError = error instanceof ServiceError ? INVOKE_ERROR_OF[error.category]?.(error) : undefined;
  if (invokeError !== undefined) return invokeError;
  return error instanceof Error ? error : new Error(String(error));
}

/**
 * `unavailable` errors of a dependency that are no outage: the record moved on under us (an
 * uninstall, another writer) or a wait for another minter ran out, where the last token seen may
 * no longer be the one to serve.
 */
const NOT_AN_OUTAGE: ReadonlySet<string> = new Set(['TOKEN_CONFLICT', 'LEASE_WAIT_TIMEOUT', 'ROTATED_TOKEN_LOST']);

/**
 * Failures after which a still-valid stored token beats an error: Wix, the store or Secrets
 * Manager being down (a dependency's `unavailable`), not a refusal, not a conflict and not our
 * own misconfiguration.
 */
export function isOutage(error: unknown): boolean {
  return (
    error instanceof ServiceError &&
    error.category === ErrorCategory.Unavailable &&
    error.dependency !== undefined &&
    !NOT_AN_OUTAGE.has(error.code)
  );
}
