import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';

import { ServiceError } from '../errors';
import {
  InstanceUninstalledError,
  InvalidRequestError,
  InvokeErrorName,
  ServiceUnavailableError,
  WixRejectedError,
  WixUnavailableInvokeError,
} from '../tokens/errors';

export {
  InstanceUninstalledError,
  InvalidRequestError,
  InvokeErrorName,
  ServiceUnavailableError,
  WixRejectedError,
  WixUnavailableInvokeError,
};

/** An access token for one app instance, as `mint` returns it. */
export interface InstanceToken {
  accessToken: string;
  tokenType: 'Bearer';
  expiresAt: Date;
  instanceId: string;
  appId: string;
}

export interface TokenClientOptions {
  /** The `mint` function's name or ARN (e.g. `wix-token-service-prod-mint`). */
  functionName: string;
  /** Defaults to a client with the SDK's own region and credentials. */
  lambda?: Pick<LambdaClient, 'send'>;
  /** How long before expiry a cached token stops being handed out. Default 60 s. */
  expiryMarginMs?: number;
  /** Tokens kept at most; the least recently used go first. Default 1000. */
  maxCachedTokens?: number;
  now?: () => number;
}

export interface GetAccessTokenOptions {
  /** The app, when the token service serves several. */
  appId?: string;
  /** The token must stay valid at least this long (0-3600, default 300). */
  minValiditySeconds?: number;
}

export interface TokenClient {
  /**
   * An access token for `instanceId`: from this container's memory while it lasts, else from
   * the token service (one invoke, shared by concurrent callers asking for the same instance).
   *
   * @throws {InvalidRequestError} a bad instanceId, appId or minValiditySeconds
   * @throws {InstanceUninstalledError} the app is not installed on the instance
   * @throws {WixRejectedError} Wix refused to issue a token for the instance
   * @throws {WixUnavailableInvokeError} Wix is down and no valid token is stored: retry shortly
   * @throws {ServiceUnavailableError} the token service failed or could not be invoked, or Wix
   *   refused the app's own credentials
   */
  getAccessToken(instanceId: string, options?: GetAccessTokenOptions): Promise<InstanceToken>;
}

/** A `mint` failure as Lambda reports it. */
interface InvokeFailure {
  errorType?: unknown;
  errorMessage?: unknown;
  trace?: unknown;
}

const DEFAULT_MIN_VALIDITY_SECONDS = 300;

/** Builds a client for the token service's `mint` function; build it once per container. */
export function createTokenClient(options: TokenClientOptions): TokenClient {
  const lambda = options.lambda ?? new LambdaClient({});
  const now = options.now ?? Date.now;
  const marginMs = options.expiryMarginMs ?? 60_000;
  const capacity = options.maxCachedTokens ?? 1000;
  const cache = new Map<string, InstanceToken>();
  /** Invokes under way, keyed by instance and by the validity asked for. */
  const inFlight = new Map<string, Promise<InstanceToken>>();

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
    cache.delete(key);
    cache.set(key, token);
    if (cache.size > capacity) cache.delete(cache.keys().next().value as string);
  }

  return {
    async getAccessToken(instanceId, callOptions = {}) {
      const minValiditySeconds = callOptions.minValiditySeconds ?? DEFAULT_MIN_VALIDITY_SECONDS;
      const key = `${callOptions.appId?.toLowerCase() ?? ''}#${instanceId.toLowerCase()}`;
      const cached = cache.get(key);
      if (cached && cached.expiresAt.getTime() - Math.max(marginMs, minValiditySeconds * 1000) > now()) {
        remember(key, cached);
        return copyOf(cached);
      }

      // Callers share an invoke only when they ask for the same validity: a caller that needs an
      // hour must not be handed the answer to one that asked for a minute.
      const flightKey = `${key}#${minValiditySeconds}`;
      const pending = inFlight.get(flightKey);
      if (pending) return copyOf(await pending);
      const payload: Record<string, unknown> = { instanceId };
      if (callOptions.appId !== undefined) payload['appId'] = callOptions.appId;
      if (callOptions.minValiditySeconds !== undefined) payload['minValiditySeconds'] = callOptions.minValiditySeconds;
      const request = invoke(payload)
        .then((token) => {
          if (token.instanceId.toLowerCase() !== instanceId.toLowerCase()) {
            throw new ServiceUnavailableError('the token service answered for another instance');
          }
          remember(key, token);
          return token;
        })
        .finally(() => inFlight.delete(flightKey));
      inFlight.set(flightKey, request);
      return copyOf(await request);
    },
  };
}

const defaultClients = new Map<string, TokenClient>();

/**
 * {@link TokenClient.getAccessToken} on a client kept per function name for the container's life.
 *
 * @example
 * const { accessToken } = await getAccessToken(instanceId, { functionName: process.env.TOKEN_FUNCTION! });
 */
export function getAccessToken(instanceId: string, options: GetAccessTokenOptions & { functionName: string }): Promise<InstanceToken> {
  let client = defaultClients.get(options.functionName);
  if (client === undefined) {
    client = createTokenClient({ functionName: options.functionName });
    defaultClients.set(options.functionName, client);
  }
  return client.getAccessToken(instanceId, options);
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
function errorFromFailure(failure: InvokeFailure | undefined): ServiceError {
  const message = typeof failure?.errorMessage === 'string' ? failure.errorMessage : 'the token service failed';
  let name = typeof failure?.errorType === 'string' ? failure.errorType : undefined;
  if (name === undefined || !isContractName(name)) {
    const firstTrace = Array.isArray(failure?.trace) && typeof failure.trace[0] === 'string' ? failure.trace[0] : '';
    name = /^(\w+):/.exec(firstTrace)?.[1];
  }
  switch (name) {
    case InvokeErrorName.InvalidRequest: {
      // mint's message is `<field> <reason>`.
      const [field, ...reason] = typeof failure?.errorMessage === 'string' ? failure.errorMessage.split(' ') : [];
      return field ? new InvalidRequestError(field, reason.join(' ')) : new InvalidRequestError('payload', 'was refused');
    }
    case InvokeErrorName.InstanceUninstalled:
      return new InstanceUninstalledError();
    case InvokeErrorName.WixRejected:
      return new WixRejectedError(message);
    case InvokeErrorName.WixUnavailable:
      return new WixUnavailableInvokeError(message);
    default:
      // Timeouts, out-of-memory and anything unforeseen: the message is the runtime's, not ours.
      return new ServiceUnavailableError(name === InvokeErrorName.ServiceUnavailable ? message : 'the token service failed');
  }
}

function isContractName(name: string): boolean {
  return (Object.values(InvokeErrorName) as string[]).includes(name);
}
