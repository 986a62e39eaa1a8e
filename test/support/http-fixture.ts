import { createMemoryInstallStateStore } from '../../lib/store';
import { randomUUID } from 'node:crypto';

import type { APIGatewayProxyEventV2 } from 'aws-lambda';
import { SignJWT, importPKCS8 } from 'jose';

import { createInstallHandler, type InstallHandlerDeps } from '../../functions/install';
import type { DemoAppSecret } from '../../infra/local/demo-app';
import { IssuedKind, recordIssued } from '../../infra/local/issued-values';
import { systemClock } from '../../lib/runtime';
import type { AppSecretsProvider } from '../../lib/secrets';
import { createWixClient } from '../../lib/wix';

/** The request context API Gateway (as serverless-offline fills it) gives an HTTP API event for `method path`. */
export function requestContext(method: string, path: string, userAgent = 'jest'): APIGatewayProxyEventV2['requestContext'] {
  return {
    accountId: 'offlineContext_accountId',
    apiId: 'offlineContext_apiId',
    domainName: 'localhost',
    domainPrefix: 'localhost',
    http: { method, path, protocol: 'HTTP/1.1', sourceIp: '127.0.0.1', userAgent },
    requestId: randomUUID(),
    routeKey: `${method} ${path}`,
    stage: '$default',
    time: new Date().toISOString(),
    timeEpoch: Date.now(),
  };
}

/** An HTTP API (payload v2) event as API Gateway builds it for `method path?query`. */
export function httpEvent(
  method: string,
  path: string,
  options: { query?: string | Record<string, string>; body?: string; isBase64Encoded?: boolean; headers?: Record<string, string>; cookies?: string[] } = {},
): APIGatewayProxyEventV2 {
  const rawQueryString =
    options.query === undefined ? '' : typeof options.query === 'string' ? options.query : new URLSearchParams(options.query).toString();
  const parsed = new URLSearchParams(rawQueryString);
  const queryStringParameters: Record<string, string> = {};
  for (const name of new Set(parsed.keys())) queryStringParameters[name] = parsed.getAll(name).join(',');
  return {
    version: '2.0',
    routeKey: `${method} ${path}`,
    rawPath: path,
    rawQueryString,
    headers: { host: 'localhost:3000', ...options.headers },
    ...(options.cookies === undefined ? {} : { cookies: options.cookies }),
    ...(rawQueryString === '' ? {} : { queryStringParameters }),
    requestContext: requestContext(method, path),
    ...(options.body === undefined ? {} : { body: options.body }),
    isBase64Encoded: options.isBase64Encoded ?? false,
  };
}

/**
 * A GET event built from a URL's path and query (e.g. a Location header). The code and state it
 * carries are recorded for the log audit.
 */
export function eventFromUrl(url: string, options: { cookies?: string[] } = {}): APIGatewayProxyEventV2 {
  const parsed = new URL(url);
  recordIssued(IssuedKind.AuthorizationCode, parsed.searchParams.get('code'));
  recordIssued(IssuedKind.InstallState, parsed.searchParams.get('state'));
  return httpEvent('GET', parsed.pathname, { query: parsed.search.replace(/^\?/, ''), ...options });
}

/** A Lambda context with `ms` left and a request id. */
export function httpContext(ms = 10_000, awsRequestId: string = randomUUID()) {
  const end = Date.now() + ms;
  return { awsRequestId, getRemainingTimeInMillis: () => end - Date.now() };
}

/** Kept for the callers that import the fake from here; the one fake lives in ./secrets. */
export { memorySecrets } from './secrets';

/** What goes into a webhook's envelope (wix-oauth.md §6). */
export interface WebhookEvent {
  eventType: string;
  instanceId?: string;
  /** The payload, serialised as the envelope's `data` string; a string is used as is. */
  data?: Record<string, unknown> | string;
}

/** Signs a webhook JWT the way Wix does: RS256 with the app's private key, `data` a JSON string. */
export async function signWebhook(
  app: Pick<DemoAppSecret, 'webhookPrivateKey'>,
  event: WebhookEvent,
  options: { iat?: number; exp?: number; claims?: Record<string, unknown> } = {},
): Promise<string> {
  const iat = options.iat ?? Math.floor(Date.now() / 1000);
  const envelope = {
    eventType: event.eventType,
    ...(event.instanceId === undefined ? {} : { instanceId: event.instanceId }),
    ...(event.data === undefined ? {} : { data: typeof event.data === 'string' ? event.data : JSON.stringify(event.data) }),
  };
  const key = await importPKCS8(app.webhookPrivateKey, 'RS256');
  return new SignJWT({ data: JSON.stringify(envelope), ...options.claims })
    .setProtectedHeader({ alg: 'RS256', kid: 'test-key' })
    .setIssuedAt(iat)
    .setExpirationTime(options.exp ?? iat + 300_000)
    .sign(key);
}

/** An unsigned JWT (`alg: none`) with the given claims. */
export function unsignedJwt(claims: Record<string, unknown>): string {
  const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url');
  return `${part({ alg: 'none', typ: 'JWT' })}.${part(claims)}.`;
}

/**
 * The `install` handler as the tests build it: served apps from `secrets`, the simulator as both
 * Wix API and installer, fast retries; anything in `overrides` replaces the default.
 */
export function installHandler(options: {
  appIds: string[];
  wixUrl: string;
  secrets: AppSecretsProvider;
  store: InstallHandlerDeps['store'];
  /** Where install states are consumed; a fresh in-memory one by default. */
  states?: InstallHandlerDeps['states'];
  overrides?: Partial<InstallHandlerDeps>;
}) {
  return createInstallHandler({
    appIds: options.appIds,
    installerUrl: options.wixUrl,
    publicUrl: 'http://localhost:3000',
    secrets: options.secrets,
    store: options.store,
    states: options.states ?? createMemoryInstallStateStore(),
    wix: createWixClient({ baseUrl: options.wixUrl, baseDelayMs: 5, maxDelayMs: 20 }),
    now: systemClock.now,
    sleep: systemClock.sleep,
    logger: { info: () => undefined, warn: () => undefined, error: () => undefined },
    ...options.overrides,
  });
}
