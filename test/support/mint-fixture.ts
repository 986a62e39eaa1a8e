import { randomUUID } from 'node:crypto';

import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { createMintHandler, type MintHandlerDeps } from '../../functions/mint';
import type { DemoAppSecret } from '../../infra/local/demo-app';
import { cipherSource, systemClock, type ServiceLogger } from '../../lib/runtime';
import type { AppSecretsProvider } from '../../lib/secrets';
import { createDynamoTokenStore, type TokenStore } from '../../lib/store';
import { createTokenCache } from '../../lib/tokens/token-cache';
import { createElevation } from '../../lib/tokens/elevation';
import { createRejectedTokens } from '../../lib/tokens/rejected-tokens';
import { createWixClient } from '../../lib/wix';
import { auditText } from './log-audit';
import { memorySecrets } from './secrets';

/** One app's credentials in memory: the one fake of ./secrets over a single app (kept for bench/ and status.test). */
export const staticSecrets = (app: DemoAppSecret): AppSecretsProvider => memorySecrets([app]);

/** Every log line a handler wrote, as JSON, so tests can search them for secrets (and the suite's log audit does). */
export interface CapturedLogger extends ServiceLogger {
  lines: string[];
}

export function captureLogger(): CapturedLogger {
  const lines: string[] = [];
  const write = (level: string) => (message: string, attributes?: Record<string, unknown>) => {
    const line = JSON.stringify({ level, message, ...attributes });
    lines.push(line);
    auditText('a handler log line (captureLogger)', line);
  };
  return { lines, info: write('INFO'), warn: write('WARN'), error: write('ERROR') };
}

/** A document client that records the name of every command it sends. */
export function countingClient(client: Pick<DynamoDBDocumentClient, 'send'>, calls: string[]): Pick<DynamoDBDocumentClient, 'send'> {
  return {
    send: ((command: { constructor: { name: string } }) => {
      calls.push(command.constructor.name.replace(/Command$/, ''));
      return (client.send as (command: unknown) => Promise<unknown>)(command);
    }) as DynamoDBDocumentClient['send'],
  };
}

/**
 * Where a test's container runs: its DynamoDB Local table, every call counted into `calls`, and the
 * simulator and app it serves; spread into mintContainer or refreshContainer.
 */
export function countedSetting(
  table: { documentClient: Pick<DynamoDBDocumentClient, 'send'>; tableName: string },
  calls: string[],
  setting: { wixUrl: string; app: DemoAppSecret; logger?: CapturedLogger },
) {
  return { documentClient: countingClient(table.documentClient, calls), tableName: table.tableName, ...setting };
}

export interface ContainerOptions {
  documentClient: Pick<DynamoDBDocumentClient, 'send'>;
  tableName: string;
  wixUrl: string;
  app: DemoAppSecret;
  logger?: CapturedLogger;
  /** The store's lease length (every container of one deployment has the same). */
  leaseTtlMs?: number;
  overrides?: Partial<MintHandlerDeps>;
}

/** One simulated Lambda container: its own memory cache, store, Wix client and secrets cache. */
export function mintContainer(options: ContainerOptions): { handler: ReturnType<typeof createMintHandler>; store: TokenStore } {
  const secrets = memorySecrets([options.app]);
  const store = createDynamoTokenStore({
    documentClient: options.documentClient,
    tableName: options.tableName,
    cipherFor: cipherSource(secrets),
    sleep: systemClock.sleep,
    ...(options.leaseTtlMs === undefined ? {} : { leaseTtlMs: options.leaseTtlMs }),
  });
  const wix = createWixClient({ baseUrl: options.wixUrl, baseDelayMs: 5, maxDelayMs: 20 });
  const logger = options.logger ?? captureLogger();
  const handler = createMintHandler({
    appIds: [options.app.appId],
    store,
    secrets,
    wix,
    elevation: createElevation({ wix, appIds: [options.app.appId], now: Date.now, logger }),
    cache: createTokenCache(),
    rejected: createRejectedTokens(),
    now: Date.now,
    random: Math.random,
    newLeaseOwner: randomUUID,
    logger,
    leasePollMs: 20,
    ...options.overrides,
  });
  return { handler, store };
}

/** A Lambda context with `ms` left. */
export function lambdaContext(ms = 10_000) {
  const end = Date.now() + ms;
  return { getRemainingTimeInMillis: () => end - Date.now() };
}
