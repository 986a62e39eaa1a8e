import type { ServiceLogger } from '../runtime/logger';
import { describeError, httpFailureOf } from './errors';
import { htmlPage, jsonResponse, type HttpResult } from './responses';

export interface FailureOptions {
  /** Shown to the caller and logged, to tie the two together. */
  referenceId: string;
  /** Any level: the failure's own ({@link httpFailureOf}). */
  logger: ServiceLogger;
  /** `html` for people (the install pages), `json` for machines (webhooks). */
  format: 'html' | 'json';
  /** Safe context for the log line (route, app, instance); never a request value that may be secret. */
  attributes?: Record<string, unknown>;
}

/**
 * Logs a failure once, at the level it deserves, and answers it: an HTML page with the reference
 * id, or `{"error", "message", "referenceId"}`. Neither carries the error's own text unless it is
 * one of our fixed messages (see {@link httpFailureOf}).
 */
export function failureResponse(error: unknown, options: FailureOptions): HttpResult {
  const failure = httpFailureOf(error);
  options.logger[failure.level](failure.status >= 500 ? 'request failed' : 'request refused', {
    referenceId: options.referenceId,
    status: failure.status,
    code: failure.code,
    ...options.attributes,
    ...describeError(error),
  });
  if (options.format === 'json') {
    return jsonResponse(failure.status, { error: failure.code, message: failure.message, referenceId: options.referenceId });
  }
  return htmlPage({ status: failure.status, title: failure.title, message: failure.message, referenceId: options.referenceId });
}
