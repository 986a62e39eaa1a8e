import { Dependency, ErrorCategory, ServiceError } from '../errors';

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
  override readonly category = ErrorCategory.Refused;
  override readonly httpStatus = 404;

  constructor() {
    super('NOT_FOUND', 'No such route');
  }
}

/** A query the handler cannot read as one request (code `INVALID_REQUEST`, like the invoke error's). `field` says which. */
export class InvalidQueryError extends ServiceError {
  override readonly category = ErrorCategory.Refused;
  readonly field: string;

  constructor(field: string, reason: string) {
    super('INVALID_REQUEST', `${field} ${reason}`);
    this.field = field;
  }
}

type Presentation = Omit<HttpFailure, 'code'>;

const UNAVAILABLE: Presentation = {
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

/**
 * Each category's answer (see lib/errors): status, page and log level. A refused request is info,
 * a failing dependency warn or error, our own fault error.
 */
const BY_CATEGORY: Readonly<Record<ErrorCategory, Presentation>> = {
  [ErrorCategory.Refused]: { status: 400, title: 'Bad request', message: 'The request is not valid.', level: 'info' },
  [ErrorCategory.Gone]: { status: 410, title: 'Not installed', message: 'The app is not installed on this site. Install it again to use it.', level: 'info' },
  [ErrorCategory.Rejected]: { status: 502, title: 'Wix refused the installation', message: WIX_REFUSED_INSTALL, level: 'warn' },
  [ErrorCategory.Conflict]: {
    status: 409,
    title: 'Installation superseded',
    message: 'A newer installation of the app on this site has already completed. Nothing more to do here.',
    level: 'warn',
  },
  [ErrorCategory.Unavailable]: UNAVAILABLE,
  [ErrorCategory.Misconfigured]: UNAVAILABLE,
  [ErrorCategory.Internal]: INTERNAL_FAILURE,
};

/** Wix being down is a warning, and the page says who. */
const WIX_UNAVAILABLE: Partial<Presentation> = { message: 'Wix could not be reached. Please try again in a minute.', level: 'warn' };

const installRefused = (status: number): Partial<Presentation> => ({ title: status === 400 ? 'Bad request' : 'Installation refused', level: 'warn' });

/** Wix refusing the code the browser brought (a 400), or refusing us (a 502): start again from Wix. */
const wixRefusal = (error: ServiceError, base: Presentation): Partial<Presentation> =>
  base.status === 400
    ? { title: 'Installation refused', message: WIX_REFUSED_INSTALL, level: 'warn' }
    : { title: 'Wix refused the installation', message: WIX_REFUSED_INSTALL, level: error.category === ErrorCategory.Rejected ? 'warn' : 'error' };

/**
 * The pages that say more than their category's, by code. Every text is fixed, or (INVALID_REQUEST,
 * WEBHOOK_UNVERIFIED) our own message, whose field names and reasons are fixed strings in our code.
 */
const BY_CODE: Readonly<Record<string, (error: ServiceError, base: Presentation) => Partial<Presentation>>> = {
  NOT_FOUND: () => ({ title: 'Not found', message: 'There is no page here.' }),
  INVALID_REQUEST: (error) => ({ message: `The request is not valid: ${error.message}.` }),
  INSTALL_STATE_MISSING: (_, base) => ({ ...installRefused(base.status), message: 'The installation request has no state. Please start the installation again from Wix.' }),
  INSTALL_STATE_INVALID: (_, base) => ({ ...installRefused(base.status), message: 'The installation request could not be verified. Please start the installation again from Wix.' }),
  INSTALL_STATE_EXPIRED: (_, base) => ({ ...installRefused(base.status), message: 'The installation request has expired. Please start the installation again from Wix.' }),
  INSTALL_STATE_USED: (_, base) => ({
    ...installRefused(base.status),
    message: 'This installation request was already used. If the app is not installed yet, start the installation again from Wix.',
  }),
  INSTALL_STATE_OTHER_BROWSER: (_, base) => ({
    ...installRefused(base.status),
    message:
      'This installation was started in another browser, or this browser did not keep its cookie. Please start the installation again from Wix in this browser.',
  }),
  WEBHOOK_UNVERIFIED: (error) => ({ title: 'Unauthorized', message: error.message, level: 'warn' }),
  UNKNOWN_APP: () => ({ message: 'This app is not served here.' }),
  STALE_EVENT: (error) =>
    (error as { reason?: unknown }).reason === 'uninstalled'
      ? { message: 'The app was removed from this site after the installation was approved. Install it again to use it.' }
      : {},
  INSTALL_NOT_CONFIRMED: () => ({ message: 'Wix did not confirm this installation. Please start the installation again from Wix.', level: 'error' }),
  WIX_GRANT_INVALID: wixRefusal,
  WIX_BAD_REQUEST: wixRefusal,
  WIX_CREDENTIALS_REJECTED: wixRefusal,
};

/**
 * The one place that turns errors into HTTP statuses: by the error's category (and its own
 * `httpStatus`, if it names one), then its code's page if it has one. It reads only those fields,
 * so a new error class needs no line here. Anything without a category is a generic 500 whose
 * page says nothing about the error.
 */
export function httpFailureOf(error: unknown): HttpFailure {
  if (!(error instanceof ServiceError) || error.category === ErrorCategory.Internal) return INTERNAL_FAILURE;
  const category = BY_CATEGORY[error.category];
  const base: Presentation = {
    ...category,
    ...(error.category === ErrorCategory.Unavailable && error.dependency === Dependency.Wix ? WIX_UNAVAILABLE : {}),
    status: error.httpStatus ?? category.status,
  };
  return { ...base, ...BY_CODE[error.code]?.(error, base), code: error.code };
}

/**
 * What to log about an error: its name and code, a Wix request id, and for our own errors the
 * message (which by convention never carries a token, code, secret or state) and its own
 * `logFields()`. A foreign error's
 * message is left out: nobody vouches for what it quotes.
 */
export function describeError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { errorName: typeof error };
  const described: Record<string, unknown> = { errorName: error.name };
  if (error instanceof ServiceError) {
    described['errorCode'] = error.code;
    described['errorMessage'] = error.message;
    Object.assign(described, error.logFields());
  }
  return described;
}
