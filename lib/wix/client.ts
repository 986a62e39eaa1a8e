import { MAX_WIX_BODY_BYTES, readBoundedText } from './bounded-body';
import { WixErrorKind, WixOAuthError, WixResponseTooLargeError, WixUnavailableError, type WixOperation } from './errors';
import {
  describeFailure,
  errorFromResponse,
  parseAccessToken,
  parseLegacyTokens,
  parseRetryAfter,
  parseTokenInfo,
  type ResponseContext,
} from './responses';
import { systemClock, type Clock } from '../runtime/clock';
import type { AccessToken, AppCredentials, CallOptions, FetchLike, LegacyTokens, TokenInfo } from './types';

export const DEFAULT_WIX_API_URL = 'https://www.wixapis.com';

/** Reported before each retry, so a caller can log or count it; carries nothing secret. */
export interface RetryEvent {
  operation: WixOperation;
  /** The attempt that just failed, from 1. */
  attempt: number;
  delayMs: number;
  code: string;
  status?: number;
  requestId?: string;
}

export interface WixClientOptions {
  /** Default https://www.wixapis.com; the simulator's URL locally. */
  baseUrl?: string;
  fetch?: FetchLike;
  clock?: Clock;
  /** In [0, 1); drives the backoff jitter. */
  random?: () => number;
  /** Longest wait for one HTTP attempt, body included. Default 4000 ms. */
  attemptTimeoutMs?: number;
  /** HTTP attempts per call, first one included. Default 4. */
  maxAttempts?: number;
  /** Backoff cap for the first retry; doubles per retry up to `maxDelayMs`. Default 100 ms. */
  baseDelayMs?: number;
  /** Default 2000 ms. */
  maxDelayMs?: number;
  /** A Retry-After longer than this ends the call at once (the caller reschedules). Default 10 s. */
  maxRetryAfterMs?: number;
  /**
   * A retry starts only if at least this long is left before the deadline after its backoff.
   * Default 100 ms. A shorter attempt would only time out, hiding the real failure behind
   * WIX_TIMEOUT, and for a code exchange it could spend the code and lose the answer.
   */
  minAttemptMs?: number;
  onRetry?: (event: RetryEvent) => void;
}

/** Wix's OAuth token calls. Every method retries transient failures within the caller's deadline. */
export interface WixClient {
  /**
   * Exchanges an install's authorization code (legacy custom authentication).
   * @throws {WixGrantInvalidError} the code is unknown, expired or already used
   * @throws {WixCredentialsRejectedError} the app secret was refused
   * @throws {WixUnavailableError} Wix could not be reached in time; the code may be spent
   * @see https://dev.wix.com/docs/rest/app-management/oauth-2/request-an-access-token
   */
  exchangeCode(app: AppCredentials, code: string, options?: CallOptions): Promise<LegacyTokens>;
  /**
   * Gets a new legacy access token with the instance's refresh token.
   * @throws {WixGrantInvalidError} the refresh token is dead (the app was uninstalled)
   * @see https://dev.wix.com/docs/rest/app-management/oauth-2/refresh-an-access-token
   */
  refreshAccessToken(app: AppCredentials, refreshToken: string, options?: CallOptions): Promise<LegacyTokens>;
  /**
   * Mints a client-credentials access token for one app instance.
   * @throws {WixGrantInvalidError} the instance is not (or no longer) installed
   * @see https://dev.wix.com/docs/rest/api-reference/authorization/oauth-2/create-access-token
   */
  createAccessToken(app: AppCredentials, instanceId: string, options?: CallOptions): Promise<AccessToken>;
  /**
   * Asks Wix what an access token is (active, instance, app, expiry).
   * @see https://dev.wix.com/docs/rest/app-management/oauth-2/token-info
   */
  getTokenInfo(token: string, options?: CallOptions): Promise<TokenInfo>;
}

interface Request<T> {
  operation: WixOperation;
  path: string;
  body: Record<string, string>;
  /** Values in `body` that must never be echoed anywhere. */
  secrets: string[];
  parse: (body: string, context: ResponseContext) => T;
  /**
   * Whether a 2xx with an unusable body may be retried. Not for code exchange: that answer
   * means the code was spent, and a retry would only turn the failure into invalid_grant.
   */
  retryUnusableSuccess: boolean;
}

/** Each Wix operation: where it is sent, how its answer is read, whether an unusable 2xx is retried. */
const ENDPOINTS = {
  authorization_code: { operation: 'authorization_code', path: '/oauth/access', parse: parseLegacyTokens, retryUnusableSuccess: false },
  refresh_token: { operation: 'refresh_token', path: '/oauth/access', parse: parseLegacyTokens, retryUnusableSuccess: true },
  client_credentials: { operation: 'client_credentials', path: '/oauth2/token', parse: parseAccessToken, retryUnusableSuccess: true },
  token_info: { operation: 'token_info', path: '/oauth2/token-info', parse: parseTokenInfo, retryUnusableSuccess: true },
} as const satisfies Record<WixOperation, Omit<Request<unknown>, 'body' | 'secrets'>>;

/**
 * Builds the grant library. Nothing here reads the environment or logs; lib/config and the
 * caller decide both.
 */
export function createWixClient(options: WixClientOptions = {}): WixClient {
  const baseUrl = (options.baseUrl ?? DEFAULT_WIX_API_URL).replace(/\/+$/, '');
  const fetchImpl: FetchLike = options.fetch ?? ((input, init) => fetch(input, init));
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? 4000;
  const maxAttempts = Math.max(1, options.maxAttempts ?? 4);
  const baseDelayMs = options.baseDelayMs ?? 100;
  const maxDelayMs = options.maxDelayMs ?? 2000;
  const maxRetryAfterMs = options.maxRetryAfterMs ?? 10_000;
  const minAttemptMs = options.minAttemptMs ?? 100;

  async function call<T>(request: Request<T>, callOptions: CallOptions = {}): Promise<T> {
    const deadline = callOptions.deadline ?? Number.POSITIVE_INFINITY;
    // For a code exchange, the first failure that may have reached Wix: if a retry is then told
    // invalid_grant, the code was most likely spent by that attempt, and the truthful answer is
    // "Wix unavailable", not "bad code".
    let ambiguousFailure: WixOAuthError | undefined;

    for (let attempt = 1; ; attempt++) {
      const error = await attemptOnce(request, attempt, deadline, callOptions.signal);
      if (!(error instanceof WixOAuthError)) return error.value;
      error.attempts = attempt;

      if (
        request.operation === 'authorization_code' &&
        error.kind === WixErrorKind.GrantInvalid &&
        ambiguousFailure !== undefined
      ) {
        ambiguousFailure.attempts = attempt;
        throw ambiguousFailure;
      }
      if (!error.retryable || error.code === 'WIX_ABORTED') throw error;
      if (error.code === 'WIX_MALFORMED_RESPONSE' && !request.retryUnusableSuccess) throw error;
      ambiguousFailure ??= error;

      if (error.retryAfterMs !== undefined && error.retryAfterMs > maxRetryAfterMs) throw error;
      const delayMs = error.retryAfterMs ?? Math.floor(random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));
      if (attempt >= maxAttempts || clock.now() + delayMs + minAttemptMs > deadline) throw error;

      options.onRetry?.({
        operation: request.operation,
        attempt,
        delayMs,
        code: error.code,
        ...(error.status === undefined ? {} : { status: error.status }),
        ...(error.requestId === undefined ? {} : { requestId: error.requestId }),
      });
      try {
        await clock.sleep(delayMs, callOptions.signal);
      } catch {
        throw error;
      }
    }
  }

  /** One HTTP attempt: the parsed value, or the error describing why it failed. */
  async function attemptOnce<T>(
    request: Request<T>,
    attempt: number,
    deadline: number,
    callerSignal: AbortSignal | undefined,
  ): Promise<{ value: T } | WixOAuthError> {
    const { operation } = request;
    const timeoutMs = Math.min(attemptTimeoutMs, deadline - clock.now());
    if (timeoutMs <= 0) {
      return new WixUnavailableError('WIX_DEADLINE_EXCEEDED', describeFailure(operation, 'no time left before the deadline', undefined), {
        operation,
        attempts: attempt,
      });
    }
    if (callerSignal?.aborted) {
      return new WixUnavailableError('WIX_ABORTED', describeFailure(operation, 'aborted by the caller', undefined), { operation });
    }

    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(), timeoutMs);
    const signal = callerSignal ? AbortSignal.any([timeout.signal, callerSignal]) : timeout.signal;
    let response: Response;
    let text: string | undefined;
    try {
      response = await fetchImpl(`${baseUrl}${request.path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', accept: 'application/json' },
        body: JSON.stringify(request.body),
        signal,
      });
      text = await readBoundedText(response);
    } catch (cause) {
      const [code, what] = timeout.signal.aborted
        ? ['WIX_TIMEOUT', `no answer within ${timeoutMs} ms`]
        : callerSignal?.aborted
          ? ['WIX_ABORTED', 'aborted by the caller']
          : ['WIX_NETWORK_ERROR', `network error (${networkErrorCode(cause)})`];
      // The cause is kept for its stack, but only after checking it does not carry the request.
      return new WixUnavailableError(code, describeFailure(operation, what, undefined), { operation, cause: safeCause(cause) });
    } finally {
      clearTimeout(timer);
    }

    if (text === undefined) {
      return new WixResponseTooLargeError(describeFailure(operation, `a body over ${MAX_WIX_BODY_BYTES} bytes (HTTP ${response.status})`, response.headers.get('x-wix-request-id') ?? undefined), {
        operation,
        status: response.status,
      });
    }
    const receivedAt = clock.now();
    const context: ResponseContext = {
      operation,
      status: response.status,
      requestId: response.headers.get('x-wix-request-id') ?? undefined,
      receivedAt,
      sentSecrets: request.secrets,
    };
    if (response.status < 200 || response.status > 299) {
      return errorFromResponse(text, context, parseRetryAfter(response.headers.get('retry-after'), receivedAt));
    }
    try {
      return { value: request.parse(text, context) };
    } catch (error) {
      if (error instanceof WixOAuthError) return error;
      throw error;
    }
  }

  return {
    exchangeCode: (app, code, callOptions) =>
      call(
        { ...ENDPOINTS.authorization_code, body: { grant_type: 'authorization_code', client_id: app.appId, client_secret: app.appSecret, code }, secrets: [app.appSecret, code] },
        callOptions,
      ),
    refreshAccessToken: (app, refreshToken, callOptions) =>
      call(
        {
          ...ENDPOINTS.refresh_token,
          body: { grant_type: 'refresh_token', client_id: app.appId, client_secret: app.appSecret, refresh_token: refreshToken },
          secrets: [app.appSecret, refreshToken],
        },
        callOptions,
      ),
    createAccessToken: (app, instanceId, callOptions) =>
      call(
        { ...ENDPOINTS.client_credentials, body: { grant_type: 'client_credentials', client_id: app.appId, client_secret: app.appSecret, instance_id: instanceId }, secrets: [app.appSecret] },
        callOptions,
      ),
    getTokenInfo: (token, callOptions) => call({ ...ENDPOINTS.token_info, body: { token }, secrets: [token] }, callOptions),
  };
}

function networkErrorCode(cause: unknown): string {
  const inner = (cause as { cause?: { code?: unknown } } | undefined)?.cause;
  if (inner && typeof inner.code === 'string') return inner.code;
  if (cause instanceof Error) return cause.name;
  return 'unknown';
}

/** fetch's errors name the URL at most; anything else is reduced to its name and code. */
function safeCause(cause: unknown): unknown {
  if (!(cause instanceof Error)) return undefined;
  const reduced = new Error(`${cause.name}: ${networkErrorCode(cause)}`);
  reduced.name = cause.name;
  return reduced;
}
