import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { createLru } from './lru';

import {
  InstanceUninstalledError,
  InvalidRequestError,
  InvokeErrorName,
  ServiceUnavailableError,
  TokenClientError,
  WixRateLimitedError,
  TokenUnavailableError,
  WixRejectedError,
} from './errors';

// The error classes and their names are all public: ./errors holds nothing else.
export * from './errors';

/** An access token for one app instance, as `mint` returns it. */
export interface InstanceToken {
  accessToken: string;
  tokenType: 'Bearer';
  expiresAt: Date;
  instanceId: string;
  appId: string;
}

/** The part of `fetch` wixFetch uses. */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

export interface TokenClientOptions {
  /** The `mint` function's name or ARN (e.g. `wix-token-service-prod-mint`). */
  functionName: string;
  /** Defaults to a client with the SDK's own region and credentials. */
  lambda?: Pick<LambdaClient, 'send'>;
  /** How long before expiry a cached token stops being handed out. Default 60 s. */
  expiryMarginMs?: number;
  /** Tokens kept at most, a positive integer (RangeError otherwise); the least recently used go first. Default 1000. */
  maxCachedTokens?: number;
  now?: () => number;
  /** For wixFetch; defaults to the global `fetch`. */
  fetch?: FetchLike;
  /** For wixFetch's waits on 429; defaults to a timer. */
  sleep?: (ms: number) => Promise<void>;
}

export interface GetAccessTokenOptions {
  /** The app, when the token service serves several. */
  appId?: string;
  /** The token must stay valid at least this long (0-3600, default 300). */
  minValiditySeconds?: number;
  /** A token Wix refused (401): the service never answers it again, and neither does this client. */
  rejectedToken?: string;
}

export interface ElevateOptions {
  appId?: string;
  minValiditySeconds?: number;
}

export interface WixFetchInit extends RequestInit {
  appId?: string;
  /** How long 429s are waited out, from the call's start. Default 10 000 ms. */
  deadlineMs?: number;
}

export interface TokenClient {
  /**
   * An access token for `instanceId`: from this container's memory while it lasts, else from
   * the token service (one invoke, shared by concurrent callers asking for the same instance).
   *
   * @throws {InvalidRequestError} a bad instanceId, appId, minValiditySeconds or rejectedToken
   * @throws {InstanceUninstalledError} the app is not installed on the instance
   * @throws {WixRejectedError} Wix refused to issue a token for the instance
   * @throws {TokenUnavailableError} Wix is down and no valid token is stored: retry shortly
   * @throws {ServiceUnavailableError} the token service failed or could not be invoked
   */
  getAccessToken(instanceId: string, options?: GetAccessTokenOptions): Promise<InstanceToken>;
  /**
   * An app token for the instance behind a token a Wix frontend or dashboard extension sent
   * (verified by the service with Wix's Token Info). Trust the answer's `instanceId`, not the browser's.
   *
   * @throws {InvalidRequestError} a malformed token
   * @throws {WixRejectedError} Wix does not vouch for the token (inactive, another app's, no instance)
   */
  elevate(wixAccessToken: string, options?: ElevateOptions): Promise<InstanceToken>;
  /**
   * `fetch` to a Wix API as the app on `instanceId`. On a 401 the token is rejected once and the
   * call retried with a fresh one; a 429 is waited out per Retry-After until `deadlineMs`; a 403
   * (missing permission) is answered as it is. Other answers, 4xx and 5xx, are returned as they are.
   *
   * @throws {WixRateLimitedError} Wix still answered 429 at the deadline
   */
  wixFetch(instanceId: string, url: string, init?: WixFetchInit): Promise<Response>;
}

/** A `mint` failure as Lambda reports it. */
interface InvokeFailure {
  errorType?: unknown;
  errorMessage?: unknown;
  trace?: unknown;
}

const DEFAULT_MIN_VALIDITY_SECONDS = 300;
const DEFAULT_DEADLINE_MS = 10_000;
const MAX_REMEMBERED_REJECTIONS = 1000;

/** Builds a client for the token service's `mint` function; build it once per container. */
export function createTokenClient(options: TokenClientOptions): TokenClient {
  const lambda = options.lambda ?? new LambdaClient({});
  const now = options.now ?? Date.now;
  const marginMs = options.expiryMarginMs ?? 60_000;
  const capacity = options.maxCachedTokens ?? 1000;
  const doFetch: FetchLike = options.fetch ?? ((url, init) => fetch(url, init));
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms)));
  const cache = createLru<string, InstanceToken>(capacity);
  /** Invokes under way, keyed by instance, by the validity asked for and by the token rejected. */
  const inFlight = new Map<string, Promise<InstanceToken>>();
  /** Tokens callers said Wix refused: never handed out again from this client's memory. */
  const rejected = createLru<string, true>(MAX_REMEMBERED_REJECTIONS);

  async function invoke(payload: Record<string, unknown>): Promise<InstanceToken> {
    let response;
    try {
      response = await lambda.send(
        new InvokeCommand({ FunctionName: options.functionName, Payload: new TextEncoder().encode(JSON.stringify(payload)) }),
      );
    } catch (error) {
      throw new ServiceUnavailableError(`the token service could not be invoked (${(error as Error).name})`, { cause: error });
    }
    const body = parsePayload(response.Payload);
    if (response.FunctionError !== undefined) throw errorFromFailure(body as InvokeFailure | undefined);
    return toInstanceToken(body);
  }

  function remember(key: string, token: InstanceToken): void {
    if (!rejected.has(token.accessToken)) cache.set(key, token);
  }

  function reject(token: string): void {
    rejected.set(token, true);
    for (const [key, cached] of [...cache.entries()]) if (cached.accessToken === token) cache.delete(key);
  }

  const client: TokenClient = {
    async getAccessToken(instanceId, callOptions = {}) {
      const minValiditySeconds = callOptions.minValiditySeconds ?? DEFAULT_MIN_VALIDITY_SECONDS;
      const key = cacheKey(callOptions.appId, instanceId);
      const rejectedToken = callOptions.rejectedToken;
      if (rejectedToken !== undefined) reject(rejectedToken);
      const cached = cache.get(key);
      if (cached && cached.expiresAt.getTime() - Math.max(marginMs, minValiditySeconds * 1000) > now()) {
        remember(key, cached);
        return copyOf(cached);
      }

      // Callers share an invoke only when they ask for the same validity: a caller that needs an
      // hour must not be handed the answer to one that asked for a minute. Callers rejecting the
      // same token share one invoke; one that rejects is never handed a plain invoke's answer.
      const flightKey = `${key}#${minValiditySeconds}#${rejectedToken === undefined ? '' : `r:${rejectedToken}`}`;
      const pending = inFlight.get(flightKey);
      if (pending) return copyOf(await pending);
      const payload: Record<string, unknown> = { instanceId };
      if (callOptions.appId !== undefined) payload['appId'] = callOptions.appId;
      if (callOptions.minValiditySeconds !== undefined) payload['minValiditySeconds'] = callOptions.minValiditySeconds;
      if (rejectedToken !== undefined) payload['rejectedToken'] = rejectedToken;
      const request = invoke(payload)
        .then((token) => {
          if (token.instanceId.toLowerCase() !== instanceId.toLowerCase()) {
            throw new ServiceUnavailableError('the token service answered for another instance');
          }
          if (rejected.has(token.accessToken)) throw new ServiceUnavailableError('the token service answered a rejected token');
          remember(key, token);
          return token;
        })
        .finally(() => inFlight.delete(flightKey));
      inFlight.set(flightKey, request);
      return copyOf(await request);
    },

    async elevate(wixAccessToken, callOptions = {}) {
      const payload: Record<string, unknown> = { wixAccessToken };
      if (callOptions.appId !== undefined) payload['appId'] = callOptions.appId;
      if (callOptions.minValiditySeconds !== undefined) payload['minValiditySeconds'] = callOptions.minValiditySeconds;
      const token = await invoke(payload);
      if (rejected.has(token.accessToken)) throw new ServiceUnavailableError('the token service answered a rejected token');
      remember(cacheKey(callOptions.appId, token.instanceId), token);
      return copyOf(token);
    },

    async wixFetch(instanceId, url, init = {}) {
      const { appId, deadlineMs = DEFAULT_DEADLINE_MS, ...requestInit } = init;
      const deadline = now() + deadlineMs;
      const tokenOptions: GetAccessTokenOptions = appId === undefined ? {} : { appId };
      let token = (await client.getAccessToken(instanceId, tokenOptions)).accessToken;
      let reminted = false;
      for (;;) {
        const headers = new Headers(requestInit.headers);
        // Wix takes the bare token, no `Bearer ` prefix (as @wix/sdk sends it).
        headers.set('Authorization', token);
        const response = await doFetch(url, { ...requestInit, headers });
        if (response.status === 401 && !reminted) {
          reminted = true;
          await response.body?.cancel();
          token = (await client.getAccessToken(instanceId, { ...tokenOptions, rejectedToken: token })).accessToken;
          continue;
        }
        if (response.status === 429) {
          const retryAt = retryAfter(response.headers.get('retry-after'), now());
          const at = retryAt?.getTime() ?? now() + 1000;
          if (at > deadline) {
            await response.body?.cancel();
            throw new WixRateLimitedError(retryAt);
          }
          await response.body?.cancel();
          await sleep(Math.max(0, at - now()));
          continue;
        }
        return response;
      }
    },
  };
  return client;
}

const defaultClients = new Map<string, TokenClient>();

function defaultClient(functionName: string): TokenClient {
  let client = defaultClients.get(functionName);
  if (client === undefined) {
    client = createTokenClient({ functionName });
    defaultClients.set(functionName, client);
  }
  return client;
}

/**
 * {@link TokenClient.getAccessToken} on a client kept per function name for the container's life.
 *
 * @example
 * const { accessToken } = await getAccessToken(instanceId, { functionName: process.env.TOKEN_FUNCTION! });
 */
export function getAccessToken(instanceId: string, options: GetAccessTokenOptions & { functionName: string }): Promise<InstanceToken> {
  return defaultClient(options.functionName).getAccessToken(instanceId, options);
}

/** {@link TokenClient.elevate} on the container's client for `functionName`. */
export function elevate(wixAccessToken: string, options: ElevateOptions & { functionName: string }): Promise<InstanceToken> {
  return defaultClient(options.functionName).elevate(wixAccessToken, options);
}

/** {@link TokenClient.wixFetch} on the container's client for `functionName`. */
export function wixFetch(instanceId: string, url: string, init: WixFetchInit & { functionName: string }): Promise<Response> {
  const { functionName, ...rest } = init;
  return defaultClient(functionName).wixFetch(instanceId, url, rest);
}

/** Retry-After as seconds or as an HTTP date; undefined when absent or unreadable. */
export function retryAfter(value: string | null, nowMs: number): Date | undefined {
  if (value === null || value.trim() === '') return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return new Date(nowMs + Number(trimmed) * 1000);
  const date = Date.parse(trimmed);
  return Number.isNaN(date) ? undefined : new Date(Math.max(date, nowMs));
}

function cacheKey(appId: string | undefined, instanceId: string): string {
  return `${appId?.toLowerCase() ?? ''}#${instanceId.toLowerCase()}`;
}

/** A caller gets its own object: changing its `expiresAt` must not change what the cache holds. */
function copyOf(token: InstanceToken): InstanceToken {
  return { ...token, expiresAt: new Date(token.expiresAt.getTime()) };
}

function parsePayload(payload: Uint8Array | undefined): unknown {
  if (payload === undefined || payload.length === 0) return undefined;
  try {
    return JSON.parse(new TextDecoder().decode(payload));
  } catch {
    return undefined;
  }
}

function toInstanceToken(body: unknown): InstanceToken {
  const value = (body ?? {}) as Record<string, unknown>;
  const expiresAt = typeof value['expiresAt'] === 'string' ? new Date(value['expiresAt']) : undefined;
  if (
    typeof value['accessToken'] !== 'string' ||
    expiresAt === undefined ||
    Number.isNaN(expiresAt.getTime()) ||
    typeof value['instanceId'] !== 'string' ||
    typeof value['appId'] !== 'string'
  ) {
    throw new ServiceUnavailableError('the token service answered with an unexpected shape');
  }
  return { accessToken: value['accessToken'], tokenType: 'Bearer', expiresAt, instanceId: value['instanceId'], appId: value['appId'] };
}

/**
 * Rebuilds the typed error `mint` threw. Real Lambda puts its name in `errorType`;
 * serverless-offline reports every error as `Error` and the name only as `Name: message` on the
 * first trace line, so both are read.
 */
function errorFromFailure(failure: InvokeFailure | undefined): TokenClientError {
  const message = typeof failure?.errorMessage === 'string' ? failure.errorMessage : 'the token service failed';
  let name = typeof failure?.errorType === 'string' ? failure.errorType : undefined;
  if (name === undefined || !isContractName(name)) {
    const firstTrace = Array.isArray(failure?.trace) && typeof failure.trace[0] === 'string' ? failure.trace[0] : '';
    name = /^(\w+):/.exec(firstTrace)?.[1];
  }
  const rebuild = name !== undefined && isContractName(name) ? REBUILD[name] : undefined;
  // Timeouts, out-of-memory and anything unforeseen: the message is the runtime's, not ours.
  return rebuild ? rebuild(message, failure) : new ServiceUnavailableError('the token service failed');
}

/** Each errorType of the contract back to its class: one row per name. */
const REBUILD: Record<InvokeErrorName, (message: string, failure: InvokeFailure | undefined) => TokenClientError> = {
  [InvokeErrorName.InvalidRequest]: (_message, failure) => {
    // mint's message is `<field> <reason>`.
    const [field, ...reason] = typeof failure?.errorMessage === 'string' ? failure.errorMessage.split(' ') : [];
    return field ? new InvalidRequestError(field, reason.join(' ')) : new InvalidRequestError('payload', 'was refused');
  },
  [InvokeErrorName.InstanceUninstalled]: () => new InstanceUninstalledError(),
  [InvokeErrorName.WixRejected]: (message) => new WixRejectedError(message),
  [InvokeErrorName.WixUnavailable]: (message) => new TokenUnavailableError(message),
  [InvokeErrorName.ServiceUnavailable]: (message) => new ServiceUnavailableError(message),
};

function isContractName(name: string): name is InvokeErrorName {
  return (Object.values(InvokeErrorName) as string[]).includes(name);
}
