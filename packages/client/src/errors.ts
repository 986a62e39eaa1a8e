/**
 * The errors this client throws. The invoke errors mirror, by `name`, the ones the token service's
 * `mint` throws: {@link InvokeErrorName} (./invoke-error-name) is the one table of those names,
 * which the service's lib/tokens/errors imports too. No message ever carries a token.
 */
import { InvokeErrorName } from './invoke-error-name';

export { InvokeErrorName };

/** The base of every error this client throws; `code` is stable. */
export class TokenClientError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** The request was malformed, or names an app the deployment does not serve. `field` says which. */
export class InvalidRequestError extends TokenClientError {
  override readonly name = InvokeErrorName.InvalidRequest;
  readonly field: string;

  constructor(field: string, reason: string) {
    super('INVALID_REQUEST', `${field} ${reason}`);
    this.field = field;
  }
}

/** The app was removed from this instance; only a new install brings it back. */
export class InstanceUninstalledError extends TokenClientError {
  override readonly name = InvokeErrorName.InstanceUninstalled;

  constructor() {
    super('INSTANCE_UNINSTALLED', 'the app is not installed on this instance');
  }
}

/** Wix refused to issue a token for this instance, or does not vouch for the token given to `elevate`. */
export class WixRejectedError extends TokenClientError {
  override readonly name = InvokeErrorName.WixRejected;

  constructor(reason: string, options?: { cause?: unknown }) {
    super('WIX_REJECTED', reason, options);
  }
}

/**
 * errorType `WixUnavailable`: no token could be had, Wix could not be reached in time and nothing
 * valid was stored; try again shortly.
 */
export class TokenUnavailableError extends TokenClientError {
  override readonly name = InvokeErrorName.WixUnavailable;

  constructor(reason: string, options?: { cause?: unknown }) {
    super('WIX_UNAVAILABLE', reason, options);
  }
}

/** @deprecated the old name of {@link TokenUnavailableError}, kept for existing callers. */
export const WixUnavailableInvokeError = TokenUnavailableError;
/** @deprecated the old name of {@link TokenUnavailableError}, kept for existing callers. */
export type WixUnavailableInvokeError = TokenUnavailableError;

/** The token service failed or could not be invoked: try again shortly. */
export class ServiceUnavailableError extends TokenClientError {
  override readonly name = InvokeErrorName.ServiceUnavailable;

  constructor(reason: string, options?: { cause?: unknown }) {
    super('SERVICE_UNAVAILABLE', reason, options);
  }
}

/** wixFetch: Wix kept answering 429 past the caller's deadline. */
export class WixRateLimitedError extends TokenClientError {
  override readonly name = 'WixRateLimited';
  /** When Wix last asked to be called again, if it said. */
  readonly retryAt: Date | undefined;

  constructor(retryAt: Date | undefined) {
    super('WIX_RATE_LIMITED', 'Wix kept answering 429 until the deadline');
    this.retryAt = retryAt;
  }
}
