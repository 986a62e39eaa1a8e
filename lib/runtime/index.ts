import { createEventSink, NO_EVENTS, type EventSink } from '../events';
import { eventBridgePublisher } from '../events/eventbridge';
import { logPublisher } from '../events/log-publisher';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { Config } from '../config';
import { createTokenCipher, type KeyRing, type TokenCipher } from '../crypto';
import { ServiceError } from '../errors';
import { createAppSecretsProvider, type AppSecretsProvider } from '../secrets';
import { SecretsManagerClient } from '../secrets/secrets-manager';
import { createDynamoInstallStateStore, createDynamoTokenStore, type InstallStateStore, type TokenStore } from '../store';
import { createWixClient, type WixClient } from '../wix';
import { createJsonLogger, type ServiceLogger } from './logger';

export { systemClock, type Clock } from './clock';
export { createJsonLogger, LogLevel, type JsonLoggerOptions, type ServiceLogger } from './logger';
export { createEmfMetrics, METRICS_NAMESPACE, MetricUnit, type EmfMetrics, type EmfMetricsOptions } from './metrics';

/**
 * The SDK waits forever for an answer by default; a hung DynamoDB, Secrets Manager or EventBridge
 * call would then carry an invocation past its timeout with nothing logged. DynamoDB answers in
 * milliseconds: a second is a failure (a transient StoreUnavailableError), not a slow answer.
 */
const AWS_CALL_TIMEOUTS = { connectionTimeout: 500, requestTimeout: 1000, throwOnRequestTimeout: true } as const;

/**
 * One SDK retry per DynamoDB call, so a call costs at most about 2 × 1.5 s. The writes that
 * matter (the one after a Wix call, the install's) are retried by lib/tokens within the time
 * kept for them, each attempt cut off at that deadline (WriteOptions.timeoutMs).
 */
const DYNAMODB_MAX_ATTEMPTS = 2;

/** The real adapters, built once per container from the configuration. */
export interface Runtime {
  config: Config;
  logger: ServiceLogger;
  secrets: AppSecretsProvider;
  store: TokenStore;
  /** The install states (single use), on the same table. */
  states: InstallStateStore;
  wix: WixClient;
  /** Lifecycle events, as configured (LIFECYCLE_EVENTS). */
  events: EventSink;
}

/**
 * Wires the adapters the functions share. The AWS clients take their endpoints from the SDK's
 * own variables (AWS_ENDPOINT_URL_DYNAMODB, AWS_ENDPOINT_URL_SECRETS_MANAGER), which is how the
 * local stack and the tests point them at loopback stand-ins.
 */
export interface RuntimeOptions {
  /**
   * `none`: the store is built without the token cipher, so it never reads a key ring and any
   * token read or write fails ({@link NoTokenCipherError}). For a function that only records
   * lifecycle events (webhooks). Default `app-secret`: each app's key ring from its secret.
   */
  tokenCipher?: 'app-secret' | 'none';
}

/** A token was to be sealed or opened by a function built without the token cipher (a bug, not an outage). */
export class NoTokenCipherError extends ServiceError {
  constructor(serviceName: string) {
    super('NO_TOKEN_CIPHER', `${serviceName} is built without the token cipher: it neither reads nor writes tokens`);
  }
}

export function createRuntime(config: Config, serviceName: string, options: RuntimeOptions = {}): Runtime {
  const logger = createJsonLogger({ serviceName });
  const secrets = createAppSecretsProvider({
    // Cheap to build: it resolves its endpoint and signer on the first secret read.
    client: new SecretsManagerClient({ requestHandler: AWS_CALL_TIMEOUTS }),
    secretIdFor: (appId) => (config.appIds.includes(appId) ? `${config.appSecretPrefix}${appId}` : undefined),
    logger,
  });
  const documentClient = DynamoDBDocumentClient.from(new DynamoDBClient({ requestHandler: AWS_CALL_TIMEOUTS, maxAttempts: DYNAMODB_MAX_ATTEMPTS }), {
    marshallOptions: { removeUndefinedValues: true },
  });
  const cipherFor =
    options.tokenCipher === 'none' ? () => Promise.reject(new NoTokenCipherError(serviceName)) : cipherSource(secrets);
  const store = createDynamoTokenStore({ documentClient, tableName: config.tokensTable, cipherFor });
  const states = createDynamoInstallStateStore({ documentClient, tableName: config.tokensTable });
  const wix = createWixClient({
    baseUrl: config.wixApiUrl,
    onRetry: (event) => logger.warn('retrying a Wix call', { ...event }),
  });
  const events =
    config.lifecycleEvents === 'off'
      ? NO_EVENTS
      : createEventSink({
          publisher: config.lifecycleEvents === 'log' ? logPublisher(logger) : eventBridgePublisher({ busName: config.eventBusName, clientConfig: { requestHandler: AWS_CALL_TIMEOUTS } }),
          logger,
          failingAfter: config.refreshFailingAfter,
        });
  return { config, logger, secrets, store, states, wix, events };
}

/** An app's token cipher, rebuilt only when its key ring changes (a new secret version). */
export function cipherSource(secrets: AppSecretsProvider): (appId: string) => Promise<TokenCipher> {
  const ciphers = new WeakMap<KeyRing, TokenCipher>();
  return async (appId) => {
    const { tokenKeys } = await secrets.get(appId);
    let cipher = ciphers.get(tokenKeys);
    if (cipher === undefined) {
      cipher = createTokenCipher(tokenKeys);
      ciphers.set(tokenKeys, cipher);
    }
    return cipher;
  };
}

/**
 * A handler built on its first invocation and reused after: the cold start pays for wiring,
 * no request does, and importing the module (as the tests do) needs no environment.
 */
export function lazyHandler<E, C, R>(build: () => (event: E, context: C) => Promise<R>): (event: E, context: C) => Promise<R> {
  let built: ((event: E, context: C) => Promise<R>) | undefined;
  return (event, context) => {
    built ??= build();
    return built(event, context);
  };
}
