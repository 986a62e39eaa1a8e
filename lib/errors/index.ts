/**
 * The base of every error the service throws on purpose.
 *
 * `code` is stable and documented: callers branch on it, never on `message`.
 * `name` is what Lambda reports as an invoke's `errorType`, so subclasses set it.
 * Messages never carry a token, code, secret or state value.
 */
export class ServiceError extends Error {
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.code = code;
  }
}

/** A required setting is missing or malformed; names the variable, never its value. */
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
