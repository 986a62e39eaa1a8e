import { ErrorCategory, ServiceError } from '../errors';
import type { ServiceLogger } from '../runtime/logger';
import { InvokeError, ServiceUnavailableError } from './errors';

/**
 * What a directly invoked function throws: a documented error as it is (a warning when it says
 * something is down, `unavailable`; an error when its cause is our own misconfiguration),
 * anything else logged and replaced by a generic ServiceUnavailable, so an invoker never sees an
 * internal message.
 */
export function toContractError(error: unknown, logger: ServiceLogger, attributes: Record<string, unknown>): Error {
  if (error instanceof InvokeError) {
    const cause = error.cause instanceof ServiceError ? error.cause.code : undefined;
    const line = { ...attributes, errorType: error.name, code: error.code, reason: error.message, ...(cause ? { cause } : {}) };
    // Our own misconfiguration (a key missing from the ring, a tampered record) needs an operator: an error.
    if (error.cause instanceof ServiceError && error.cause.category === ErrorCategory.Misconfigured) logger.error('invoke refused', line);
    else if (error.category === ErrorCategory.Unavailable) logger.warn('invoke refused', line);
    else logger.info('invoke refused', line);
    return error;
  }
  logger.error('invoke failed', { ...attributes, error: describe(error) });
  return new ServiceUnavailableError('internal error');
}

/** Name, code and message of an unexpected error; our own errors carry no secret in these. */
function describe(error: unknown): Record<string, unknown> {
  if (error instanceof ServiceError) return { name: error.name, code: error.code, message: error.message };
  if (error instanceof Error) return { name: error.name };
  return { name: typeof error };
}
