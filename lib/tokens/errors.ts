import { ServiceError } from '../errors';

/**
 * The errors `mint` and `refresh` throw to their invokers. Their `name` is the contract: Lambda
 * reports it as the invoke's `errorType`, and lib/client turns it back into these classes.
 */
export const InvokeErrorName = {
  InvalidRequest: 'InvalidRequest',
  InstanceUninstalled: 'InstanceUninstalled',
  WixRejected: 'WixRejected',
  WixUnavailable: 'WixUnavailable',
  ServiceUnavailable: 'ServiceUnavailable',
} as const;
export type InvokeErrorName = (typeof InvokeErrorName)[keyof typeof InvokeErrorName];

/** The base of every documented invoke error; only these reach an invoker as they are. */
export abstract class InvokeError extends ServiceError {
  abstract override readonly name: InvokeErrorName;
}

/** The payload is malformed, or names an app this deployment does not serve. `field` says which. */
export class InvalidRequestError extends InvokeError {
  override readonly name = InvokeErrorName.InvalidRequest;
  readonly field: string;

  constructor(field: string, reason: string) {
    super('INVALID_REQUEST', `${field} ${reason}`);
    this.field = field;
  }
}

/** The app was removed from this instance; only a new install brings it back. */
export class InstanceUninstalledError extends InvokeError {
  override readonly name = InvokeErrorName.InstanceUninstalled;

  constructor() {
    super('INSTANCE_UNINSTALLED', 'the app is not installed on this instance');
  }
}

/** Wix refused to issue a token for this instance (it is gone, or the app's secret was refused). */
export class WixRejectedError extends InvokeError {
  override readonly name = InvokeErrorName.WixRejected;

  constructor(reason: string, options?: { cause?: unknown }) {
    super('WIX_REJECTED', reason, options);
  }
}

/** Wix could not be reached in time and no still-valid token was stored: try again shortly. */
export class WixUnavailableInvokeError extends InvokeError {
  override readonly name = InvokeErrorName.WixUnavailable;

  constructor(reason: string, options?: { cause?: unknown }) {
    super('WIX_UNAVAILABLE', reason, options);
  }
}

/** The token store or the app's secrets could not be read in time: try again shortly. */
export class ServiceUnavailableError extends InvokeError {
  override readonly name = InvokeErrorName.ServiceUnavailable;

  constructor(reason: string, options?: { cause?: unknown }) {
    super('SERVICE_UNAVAILABLE', reason, options);
  }
}
