/**
 * What an error means for whoever called us: the one sorting every mapper reads (HTTP statuses in
 * lib/http, the invoke contract in lib/tokens/invoke-errors, refresh's failure classes), so a new
 * error class only has to declare its category.
 *
 * | category        | means for the caller                                   | HTTP | invoke errorType     |
 * |-----------------|--------------------------------------------------------|------|----------------------|
 * | `refused`       | the request is at fault: change it, do not retry it    | 400  | InvalidRequest       |
 * | `gone`          | the app is not installed on the instance any more      | 410  | InstanceUninstalled  |
 * | `rejected`      | Wix refused the instance on the merits                 | 502  | WixRejected          |
 * | `conflict`      | a newer change superseded this one: nothing to do      | 409  | ServiceUnavailable   |
 * | `unavailable`   | a dependency is down, throttled or raced: retry later  | 503  | ServiceUnavailable (WixUnavailable when `dependency` is `wix`) |
 * | `misconfigured` | the service's own setup is wrong: an operator must act | 503  | ServiceUnavailable   |
 * | `internal`      | a bug, or an error nobody sorted: said as little as possible | 500 | ServiceUnavailable (logged as an error) |
 *
 * An error may name a different HTTP status (`httpStatus`, say a 401) within its category's meaning.
 */
export const ErrorCategory = {
  Refused: 'refused',
  Gone: 'gone',
  Rejected: 'rejected',
  Conflict: 'conflict',
  Unavailable: 'unavailable',
  Misconfigured: 'misconfigured',
  Internal: 'internal',
} as const;
export type ErrorCategory = (typeof ErrorCategory)[keyof typeof ErrorCategory];

/** The dependency an error comes from, when it comes from one; refresh counts failures by it. */
export const Dependency = {
  Wix: 'wix',
  Store: 'store',
  Secrets: 'secrets',
  Crypto: 'crypto',
} as const;
export type Dependency = (typeof Dependency)[keyof typeof Dependency];

/** The category of anything thrown: `internal` for whatever is not one of our errors. */
export function categoryOf(error: unknown): ErrorCategory {
  return error instanceof ServiceError ? error.category : ErrorCategory.Internal;
}

/**
 * The base of every error the service throws on purpose.
 *
 * `code` is stable and documented: callers branch on it, never on `message`.
 * `name` is what Lambda reports as an invoke's `errorType`, so subclasses set it.
 * `category` is what it means for a caller (see {@link ErrorCategory}); a subclass that declares
 * none is `internal`.
 * Messages never carry a token, code, secret or state value.
 */
export class ServiceError extends Error {
  readonly code: string;
  readonly category: ErrorCategory = ErrorCategory.Internal;
  readonly dependency: Dependency | undefined = undefined;
  /** The HTTP status, when the category's default does not fit (a 401, 403, 404, or a Wix refusal's 502). */
  readonly httpStatus: number | undefined = undefined;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }

  /** Log attributes beyond name, code and message; none of them a token, code, secret or state. */
  logFields(): Record<string, unknown> {
    return {};
  }
}

/**
 * An error that says which of a known set of failures it is: `reason`, one of a module's `as const`
 * values, safe to log and to branch on. Abstract: only its subclasses are thrown.
 */
export abstract class ReasonedError<R extends string> extends ServiceError {
  readonly reason: R;

  constructor(code: string, reason: R, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.reason = reason;
  }
}

/** A request refused (`refused`: change it, do not retry it) for one of a known set of reasons. Abstract. */
export abstract class RefusalError<R extends string> extends ReasonedError<R> {
  override readonly category = ErrorCategory.Refused;
}

/** A required setting is missing or malformed; names the variable, never its value. Thrown at start-up: `internal`. */
export class ConfigError extends ServiceError {
  readonly variable: string;

  constructor(variable: string, reason: string) {
    super('CONFIG_INVALID', `${variable} ${reason}`);
    this.variable = variable;
  }
}

/**
 * Attaches a value to an error without making it enumerable, so neither
 * JSON.stringify, a structured logger nor util.inspect's default view prints it.
 */
export function attachHidden<T extends object>(target: T, key: string, value: unknown): T {
  Object.defineProperty(target, key, { value, enumerable: false, writable: false, configurable: true });
  return target;
}
