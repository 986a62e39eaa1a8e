import { DecryptionError } from '../crypto';
import { ServiceError } from '../errors';
import { AppSecretMalformedError, SecretsUnavailableError, UnknownAppError } from '../secrets';
import { LeaseWaitTimeoutError, StaleEventError, StoreUnavailableError, TokenConflictError } from '../store';
import { InvalidRequestError } from '../tokens/errors';
import { InstallNotConfirmedError } from '../tokens/install';
import { InstallStateError, InstallStateFailure } from '../tokens/install-state';
import { WebhookVerificationError } from '../tokens/webhook';
import { WixErrorKind, WixOAuthError } from '../wix';

/**
 * How an error is answered over HTTP. `title` and `message` are fixed text, safe for any page;
 * nothing in them comes from the request.
 */
export interface HttpFailure {
  status: number;
  /** Stable, for the JSON body and the log line. */
  code: string;
  title: string;
  message: string;
  /** How loudly to log it: a refused request is info, a failing dependency warn, our own fault error. */
  level: 'info' | 'warn' | 'error';
}

/** No route of this function matches the request (code `NOT_FOUND`). */
export class RouteNotFoundError extends ServiceError {
  constructor() {
    super('NOT_FOUND', 'No such route');
  }
}

const UNAVAILABLE: Omit<HttpFailure, 'code'> = {
  status: 503,
  title: 'Temporarily unavailable',
  message: 'The service could not complete this step just now. Please try again in a minute.',
  level: 'error',
};

/** What anything unexpected is answered with: a generic 500 that says nothing about the error. */
export const INTERNAL_FAILURE: Readonly<HttpFailure> = Object.freeze({
  status: 500,
  code: 'INTERNAL_ERROR',
  title: 'Something went wrong',
  message: 'The request could not be completed. Please try again later.',
  level: 'error',
});

const WIX_REFUSED_INSTALL = 'Wix did not accept this installation. Please start the installation again from Wix.';

const STATE_MESSAGES: Record<InstallStateFailure, string> = {
  missing: 'The installation request has no state. Please start the installation again from Wix.',
  invalid: 'The installation request could not be verified. Please start the installation again from Wix.',
  expired: 'The installation request has expired. Please start the installation again from Wix.',
  used: 'This installation request was already used. If the app is not installed yet, start the installation again from Wix.',
  other_browser:
    'This installation was started in another browser, or this browser did not keep its cookie. Please start the installation again from Wix in this browser.',
};

/**
 * The one place that turns errors into HTTP statuses. Anything not listed is a generic 500 whose
 * page says nothing about the error.
 */
export function httpFailureOf(error: unknown): HttpFailure {
  if (error instanceof RouteNotFoundError) {
    return { status: 404, code: error.code, title: 'Not found', message: 'There is no page here.', level: 'info' };
  }
  if (error instanceof InvalidRequestError) {
    // Field names and reasons are fixed strings in our code, never request values.
    return { status: 400, code: error.code, title: 'Bad request', message: `The request is not valid: ${error.message}.`, level: 'info' };
  }
  if (error instanceof InstallStateError) {
    const status = error.reason === InstallStateFailure.Missing ? 400 : 403;
    return { status, code: error.code, title: status === 400 ? 'Bad request' : 'Installation refused', message: STATE_MESSAGES[error.reason], level: 'warn' };
  }
  if (error instanceof WebhookVerificationError) {
    return { status: 401, code: error.code, title: 'Unauthorized', message: error.message, level: 'warn' };
  }
  if (error instanceof UnknownAppError) {
    return { status: 400, code: error.code, title: 'Bad request', message: 'This app is not served here.', level: 'info' };
  }
  if (error instanceof StaleEventError) {
    return {
      status: 409,
      code: error.code,
      title: 'Installation superseded',
      message:
        error.reason === 'uninstalled'
          ? 'The app was removed from this site after the installation was approved. Install it again to use it.'
          : 'A newer installation of the app on this site has already completed. Nothing more to do here.',
      level: 'warn',
    };
  }
  if (error instanceof WixOAuthError) {
    if (error.kind === WixErrorKind.Transient) {
      return { ...UNAVAILABLE, code: error.code, message: 'Wix could not be reached. Please try again in a minute.', level: 'warn' };
    }
    if (error.operation === 'authorization_code' && (error.kind === WixErrorKind.GrantInvalid || error.kind === WixErrorKind.BadRequest)) {
      // Wix refused the code the browser brought (unknown, expired, used, or not even of a form it
      // validates): the request's fault, not ours or Wix's, so no 5xx (which anyone could otherwise
      // cause at will). The code is the only value of the request in that call.
      return { status: 400, code: error.code, title: 'Installation refused', message: WIX_REFUSED_INSTALL, level: 'warn' };
    }
    return {
      status: 502,
      code: error.code,
      title: 'Wix refused the installation',
      message: WIX_REFUSED_INSTALL,
      level: error.kind === WixErrorKind.GrantInvalid ? 'warn' : 'error',
    };
  }
  if (error instanceof InstallNotConfirmedError) {
    return {
      status: 502,
      code: error.code,
      title: 'Wix refused the installation',
      message: 'Wix did not confirm this installation. Please start the installation again from Wix.',
      level: 'error',
    };
  }
  if (
    error instanceof StoreUnavailableError ||
    error instanceof TokenConflictError ||
    error instanceof LeaseWaitTimeoutError ||
    error instanceof SecretsUnavailableError ||
    error instanceof AppSecretMalformedError ||
    error instanceof DecryptionError
  ) {
    return { ...UNAVAILABLE, code: error.code };
  }
  return INTERNAL_FAILURE;
}

/**
 * What to log about an error: its name and code, a Wix request id, and for our own errors the
 * message (which by convention never carries a token, code, secret or state). A foreign error's
 * message is left out: nobody vouches for what it quotes.
 */
export function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { errorName: typeof error };
  const described: Record<string, unknown> = { errorName: error.name };
  if (error instanceof ServiceError) {
    described['errorCode'] = error.code;
    described['errorMessage'] = error.message;
  }
  if (error instanceof WixOAuthError) {
    described['wixStatus'] = error.status;
    described['wixError'] = error.error;
    described['wixRequestId'] = error.requestId;
  }
  if (error instanceof WebhookVerificationError && error.joseCode !== undefined) described['joseCode'] = error.joseCode;
  return described;
}
