import { Dependency, ErrorCategory, ServiceError } from '../errors';
// The names are the contract the client rebuilds errors from: one table, the client's. Only that
// file of the client's (not its index, which pulls in the Lambda SDK, nor its error classes).
import { InvokeErrorName } from '../../packages/client/src/invoke-error-name';

export { InvokeErrorName };

/**
 * The errors `mint` and `refresh` throw to their invokers. Their `name` is the contract: Lambda
 * reports it as the invoke's `errorType`, and lib/client turns it back into its own classes of
 * the same names (packages/client/src/errors). ./invoke-errors turns any other error into one of
 * these by its category.
 */
export abstract class InvokeError extends ServiceError {
  abstract override readonly name: InvokeErrorName;
}

/** The payload is malformed, or names an app this deployment does not serve. `field` says which. */
export class InvalidRequestError extends InvokeError {
  override readonly name = InvokeErrorName.InvalidRequest;
  override readonly category = ErrorCategory.Refused;
  readonly field: string;

  constructor(field: string, reason: string) {
    super('INVALID_REQUEST', `${field} ${reason}`);
    this.field = field;
  }
}

/** The app was removed from this instance; only a new install brings it back. */
export class InstanceUninstalledError extends InvokeError {
  override readonly name = InvokeErrorName.InstanceUninstalled;
  override readonly category = ErrorCategory.Gone;

  constructor() {
    super('INSTANCE_UNINSTALLED', 'the app is not installed on this instance');
  }
}

/** An invoke error about Wix: what refresh counts by dependency. Not exported: only its subclasses are thrown. */
abstract class WixInvokeError extends InvokeError {
  override readonly dependency = Dependency.Wix;
}

/** Wix refused to issue a token for this instance (it is gone, or the app's secret was refused). */
export class WixRejectedError extends WixInvokeError {
  override readonly name = InvokeErrorName.WixRejected;
  override readonly category = ErrorCategory.Rejected;

  constructor(reason: string, options?: { cause?: unknown }) {
    super('WIX_REJECTED', reason, options);
  }
}

/**
 * errorType `WixUnavailable`: no token could be had, Wix could not be reached in time and nothing
 * valid was stored; try again shortly. (lib/wix's WixUnavailableError is the failed Wix call itself.)
 */
export class TokenUnavailableError extends WixInvokeError {
  override readonly name = InvokeErrorName.WixUnavailable;
  override readonly category = ErrorCategory.Unavailable;

  constructor(reason: string, options?: { cause?: unknown }) {
    super('WIX_UNAVAILABLE', reason, options);
  }
}

/** The token store or the app's secrets could not be read in time: try again shortly. */
export class ServiceUnavailableError extends InvokeError {
  override readonly name = InvokeErrorName.ServiceUnavailable;
  override readonly category = ErrorCategory.Unavailable;

  constructor(reason: string, options?: { cause?: unknown }) {
    super('SERVICE_UNAVAILABLE', reason, options);
  }
}
