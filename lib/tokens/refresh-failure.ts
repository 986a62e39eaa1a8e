import { Dependency, ErrorCategory, ServiceError } from '../errors';
import { WixErrorKind, WixOAuthError } from '../wix';
import { FailureClass, type RefreshOutcome } from './refresh-summary';

/**
 * How refresh counts a failure: by the error's dependency and category (see lib/errors), so an
 * error class that declares them needs no line here.
 */

/** A failed Wix call's failure class, by its kind. */
export const WIX_FAILURES: Readonly<Record<WixErrorKind, FailureClass>> = {
  [WixErrorKind.Transient]: FailureClass.Transient,
  [WixErrorKind.GrantInvalid]: FailureClass.GrantInvalid,
  [WixErrorKind.CredentialsRejected]: FailureClass.CredentialsRejected,
  [WixErrorKind.BadRequest]: FailureClass.BadRequest,
};

/** The failure class of a dependency's error, by the dependency; a few codes are counted apart. */
const FAILURE_OF_DEPENDENCY: Readonly<Record<Exclude<Dependency, 'wix'>, FailureClass>> = {
  [Dependency.Store]: FailureClass.Store,
  [Dependency.Secrets]: FailureClass.Secrets,
  [Dependency.Crypto]: FailureClass.Decryption,
};
/** A Wix error that is no failed call (none reaches refresh today), by what it means. */
const FAILURE_OF_WIX_CATEGORY: Readonly<Record<Exclude<ErrorCategory, 'internal'>, FailureClass>> = {
  [ErrorCategory.Refused]: FailureClass.BadRequest,
  [ErrorCategory.Gone]: FailureClass.GrantInvalid,
  [ErrorCategory.Rejected]: FailureClass.GrantInvalid,
  [ErrorCategory.Conflict]: FailureClass.Conflict,
  [ErrorCategory.Unavailable]: FailureClass.Transient,
  [ErrorCategory.Misconfigured]: FailureClass.CredentialsRejected,
};
const FAILURE_OF_CODE: Readonly<Record<string, FailureClass>> = {
  TOKEN_CONFLICT: FailureClass.Conflict,
  ROTATED_TOKEN_LOST: FailureClass.RotatedTokenLost,
};

/**
 * The failed outcome of an error thrown outside a Wix call: any error of a dependency that is
 * not `internal` is one, so a new one never aborts a sweep. Anything else (a bug, or a refusal
 * of no dependency's) is rethrown.
 */
export function failureOf(error: unknown): RefreshOutcome {
  if (!(error instanceof ServiceError) || error.category === ErrorCategory.Internal || error.dependency === undefined) throw error;
  const failed = (failure: FailureClass): RefreshOutcome => ({ status: 'failed', failure, code: error.code, needsReauth: false });
  if (error instanceof WixOAuthError) return failed(WIX_FAILURES[error.kind]);
  if (FAILURE_OF_CODE[error.code] !== undefined) return failed(FAILURE_OF_CODE[error.code] as FailureClass);
  return failed(error.dependency === Dependency.Wix ? FAILURE_OF_WIX_CATEGORY[error.category] : FAILURE_OF_DEPENDENCY[error.dependency]);
}
