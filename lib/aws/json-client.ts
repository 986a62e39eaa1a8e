/**
 * One AWS call over the JSON 1.1 protocol (Secrets Manager's GetSecretValue, EventBridge's
 * PutEvents), signed with SigV4 and sent with the SDK's own signer, HTTP handler and credential
 * chain: the parts every function already loads for its DynamoDB client.
 *
 * Why not the SDK's clients for these two: a client package is its whole service model (the
 * schemas of every operation and error, the endpoint rules, the aggregated client), 25 KiB
 * minified for Secrets Manager and 44 KiB for EventBridge, and esbuild inlines it even where it is
 * imported lazily, so every cold start parsed about 70 KiB for two operations (bench/bundles). What
 * the clients add on top of the shared parts is small and written here once: the endpoint
 * (AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, FIPS, every partition), the protocol's request
 * and error shapes, the SDK's standard retry (its error lists, its backoff and the Retry-After
 * hint) and the correction of a skewed clock. test/unit/lib/aws/json-client.test.ts holds each of
 * them to a loopback stand-in, and the endpoints to the SDK clients' own endpoint rules.
 */
import { defaultProvider } from '@aws-sdk/credential-provider-node';
import { Sha256 } from '@smithy/core/checksum';
import { HttpRequest } from '@smithy/core/protocols';
import { NodeHttpHandler, streamCollector } from '@smithy/node-http-handler';
import { SignatureV4 } from '@smithy/signature-v4';
import type { AwsCredentialIdentity, AwsCredentialIdentityProvider } from '@smithy/types';

import { systemClock, type Clock } from '../runtime/clock';

/** One service, as the JSON 1.1 protocol and its endpoints name it. */
export interface AwsJsonService {
  /** SigV4's service name, which is also the endpoint's host prefix: `secretsmanager`, `events`. */
  readonly signingName: string;
  /** The X-Amz-Target prefix: `secretsmanager`, `AWSEvents`. */
  readonly targetPrefix: string;
  /** The service's part of AWS_ENDPOINT_URL_<ID>: `SECRETS_MANAGER`, `EVENTBRIDGE`. */
  readonly endpointId: string;
  /** The service's endpoint rules give its standard GovCloud endpoints for FIPS (EventBridge's do). */
  readonly fipsInGovCloudIsStandard?: boolean;
}

/** The subset of an SDK client's configuration these calls take, under the same names. */
export interface AwsJsonClientConfig {
  region?: string;
  endpoint?: string;
  credentials?: AwsCredentialIdentity | AwsCredentialIdentityProvider;
  /** Attempts per call, the first included (default 3, the SDK's standard retry). */
  maxAttempts?: number;
  requestHandler?: { connectionTimeout?: number; requestTimeout?: number; throwOnRequestTimeout?: boolean };
}

/** What AWS answered with an error, shaped as the SDK's service exceptions are (name, $fault, $metadata). */
export class AwsServiceError extends Error {
  readonly $fault: 'client' | 'server';
  readonly $metadata: { httpStatusCode: number; requestId?: string; attempts: number };

  constructor(name: string, message: string, status: number, requestId: string | undefined, attempts: number) {
    super(message);
    this.name = name;
    this.$fault = status >= 500 ? 'server' : 'client';
    this.$metadata = { httpStatusCode: status, ...(requestId === undefined ? {} : { requestId }), attempts };
  }
}

// The lists below are the SDK's (@smithy/core's service-error-classification), so that a call
// retries exactly where the SDK's client would.
const THROTTLING = new Set([
  'BandwidthLimitExceeded', 'EC2ThrottledException', 'LimitExceededException', 'PriorRequestNotComplete',
  'ProvisionedThroughputExceededException', 'RequestLimitExceeded', 'RequestThrottled', 'RequestThrottledException',
  'SlowDown', 'ThrottledException', 'Throttling', 'ThrottlingException', 'TooManyRequestsException', 'TransactionInProgressException',
]);
const CLOCK_SKEW = new Set(['AccessDeniedException', 'AuthFailure', 'InvalidSignatureException', 'RequestExpired', 'RequestInTheFuture', 'RequestTimeTooSkewed', 'SignatureDoesNotMatch']);
const TRANSIENT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeoutException']);
const TRANSIENT_STATUSES = new Set([500, 502, 503, 504]);
/** Node's timeout and network error codes: a reset, a refused or unreachable host, a failed DNS lookup. */
const TRANSIENT_CODES = new Set(['ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);
/** The standard retry's backoff: full jitter over a doubling base, 50 ms (1 s after throttling), at most 20 s. */
const BASE_DELAY_MS = 50;
const THROTTLING_BASE_DELAY_MS = 1000;
const MAX_DELAY_MS = 20_000;
/** A Retry-After hint may lengthen a delay by at most this much. */
const MAX_RETRY_AFTER_EXTRA_MS = 5000;
/** A clock this far from the service's is corrected from the service's Date header. */
const SKEW_TOLERANCE_MS = 4 * 60_000;

export interface AwsJsonClientDeps {
  clock?: Pick<Clock, 'now' | 'sleep'>;
  random?: () => number;
  env?: NodeJS.ProcessEnv;
}

/** A client of one service: `call('GetSecretValue', input)` answers the operation's output, or throws an {@link AwsServiceError}. */
export class AwsJsonClient {
  private readonly service: AwsJsonService;
  private readonly config: AwsJsonClientConfig;
  private readonly deps: Required<AwsJsonClientDeps>;
  private resolved?: { url: URL; signer: SignatureV4; handler: NodeHttpHandler; userAgent: string };
  /** How far this machine's clock is behind the service's, learnt from a refused signature. */
  private clockOffsetMs = 0;

  constructor(service: AwsJsonService, config: AwsJsonClientConfig = {}, deps: AwsJsonClientDeps = {}) {
    this.service = service;
    this.config = config;
    this.deps = { clock: deps.clock ?? systemClock, random: deps.random ?? Math.random, env: deps.env ?? process.env };
  }

  async call<Output>(operation: string, input: unknown, options: { abortSignal?: AbortSignal } = {}): Promise<Output> {
    const { url, signer, handler, userAgent } = (this.resolved ??= this.resolve());
    const body = JSON.stringify(input);
    const maxAttempts = Math.max(1, this.config.maxAttempts ?? 3);
    for (let attempt = 1; ; attempt += 1) {
      const request = new HttpRequest({
        protocol: url.protocol,
        hostname: url.hostname,
        ...(url.port === '' ? {} : { port: Number(url.port) }),
        path: url.pathname,
        method: 'POST',
        headers: {
          host: url.host,
          'content-type': 'application/x-amz-json-1.1',
          'x-amz-target': `${this.service.targetPrefix}.${operation}`,
          'content-length': String(Buffer.byteLength(body)),
          'user-agent': userAgent,
          'amz-sdk-request': `attempt=${attempt}; max=${maxAttempts}`,
        },
        body,
      });
      let failure: unknown;
      let retry: Retry = 'no';
      let retryAfterMs: number | undefined;
      try {
        const signed = await signer.sign(request, { signingDate: new Date(this.deps.clock.now() + this.clockOffsetMs) });
        const { response } = await handler.handle(signed as HttpRequest, options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal });
        const text = Buffer.from(await streamCollector(response.body)).toString('utf8');
        const corrected = this.correctClock(response.headers);
        if (response.statusCode >= 200 && response.statusCode < 300) return parseOutput<Output>(text, response.statusCode, response.headers, attempt);
        const error = serviceError(response.statusCode, response.headers, text, attempt);
        failure = error;
        retry = retryAfterAnswer(error, corrected);
        retryAfterMs = retryAfterHintMs(response.headers, this.deps.clock.now());
      } catch (error) {
        if (options.abortSignal?.aborted) throw error;
        failure = error;
        if (isTransientNetworkError(error)) retry = 'transient';
      }
      if (retry === 'no' || attempt >= maxAttempts) throw failure;
      await this.deps.clock.sleep(delayBeforeRetry(retry, attempt, this.deps.random(), retryAfterMs), options.abortSignal);
    }
  }

  /** Closes the kept-alive connections, as the SDK clients' `destroy` does. */
  destroy(): void {
    this.resolved?.handler.destroy();
    this.resolved = undefined;
  }

  /** Endpoint, signer and handler, on the first call (a function that never calls pays nothing). */
  private resolve() {
    const { env } = this.deps;
    const region = this.config.region ?? env['AWS_REGION'] ?? env['AWS_DEFAULT_REGION'];
    if (!region) throw new Error(`no region for ${this.service.signingName}: set AWS_REGION`);
    const url = new URL(endpointFor(this.service, this.config.endpoint, region, env));
    const credentials = this.config.credentials ?? defaultProvider();
    const signer = new SignatureV4({ service: this.service.signingName, region, credentials, sha256: Sha256 });
    const { connectionTimeout, requestTimeout, throwOnRequestTimeout } = this.config.requestHandler ?? {};
    const handler = new NodeHttpHandler({ connectionTimeout, requestTimeout, throwOnRequestTimeout });
    const executionEnv = env['AWS_EXECUTION_ENV'];
    const userAgent = `wix-token-service md/nodejs#${process.versions.node} os/${process.platform}${executionEnv ? ` exec-env/${executionEnv}` : ''}`;
    return { url, signer, handler, userAgent };
  }

  /**
   * Takes the service's clock from any answer's Date header (not a cached answer's, which carries
   * an Age) when ours is off from it by more than the tolerance; whether it did.
   */
  private correctClock(headers: Record<string, string | undefined>): boolean {
    const dateHeader = headers['date'];
    if (dateHeader === undefined || headers['age'] !== undefined) return false;
    const serverTime = Date.parse(dateHeader);
    if (Number.isNaN(serverTime)) return false;
    const offset = serverTime - this.deps.clock.now();
    if (Math.abs(offset - this.clockOffsetMs) < SKEW_TOLERANCE_MS) return false;
    this.clockOffsetMs = offset;
    return true;
  }
}

/**
 * The client's endpoint, else AWS_ENDPOINT_URL_<SERVICE>, else AWS_ENDPOINT_URL, else the public
 * one. An empty variable is no endpoint, as the SDK reads it, and AWS_IGNORE_CONFIGURED_ENDPOINT_URLS
 * sets both variables aside.
 */
export function endpointFor(service: Pick<AwsJsonService, 'signingName' | 'endpointId' | 'fipsInGovCloudIsStandard'>, endpoint: string | undefined, region: string, env: NodeJS.ProcessEnv): string {
  if (endpoint !== undefined) return endpoint;
  const configured = env['AWS_IGNORE_CONFIGURED_ENDPOINT_URLS'] === 'true' ? undefined : env[`AWS_ENDPOINT_URL_${service.endpointId}`] || env['AWS_ENDPOINT_URL'];
  return configured || defaultEndpoint(service, region, env);
}

/** Whether the SDK's standard retry tries again, and after which backoff. */
type Retry = 'no' | 'transient' | 'throttling';

/** The standard retry's rule for a service's error answer (a network failure is {@link isTransientNetworkError}'s). */
function retryAfterAnswer(error: AwsServiceError, clockCorrected: boolean): Retry {
  const status = error.$metadata.httpStatusCode;
  if (THROTTLING.has(error.name) || status === 429) return 'throttling';
  if (TRANSIENT_STATUSES.has(status) || TRANSIENT_NAMES.has(error.name)) return 'transient';
  const signatureExpired = error.name === 'InvalidSignatureException' && error.message.includes('Signature expired');
  if (CLOCK_SKEW.has(error.name) && (clockCorrected || signatureExpired)) return 'transient';
  return 'no';
}

/** Full jitter over the doubling base (`draw` in [0, 1)), lengthened to a Retry-After hint by at most 5 s. */
function delayBeforeRetry(retry: Exclude<Retry, 'no'>, attempt: number, draw: number, retryAfterMs: number | undefined): number {
  const base = retry === 'throttling' ? THROTTLING_BASE_DELAY_MS : BASE_DELAY_MS;
  const backoff = Math.floor(draw * Math.min(MAX_DELAY_MS, base * 2 ** (attempt - 1)));
  return retryAfterMs === undefined ? backoff : Math.max(backoff, Math.min(retryAfterMs, backoff + MAX_RETRY_AFTER_EXTRA_MS));
}

/** Each partition's DNS suffix, by its regions' prefix (the SDK's partitions table); any other region is in `aws`. */
const PARTITION_SUFFIXES: ReadonlyArray<readonly [RegExp, string]> = [
  [/^cn-/, 'amazonaws.com.cn'],
  [/^us-iso-/, 'c2s.ic.gov'],
  [/^us-isob-/, 'sc2s.sgov.gov'],
  [/^eu-isoe-/, 'cloud.adc-e.uk'],
  [/^us-isof-/, 'csp.hci.ic.gov'],
  [/^eusc-/, 'amazonaws.eu'],
];

/** `https://<service>[-fips].<region>.<partition's suffix>`, as the services' endpoint rules give it. */
export function defaultEndpoint(service: Pick<AwsJsonService, 'signingName' | 'fipsInGovCloudIsStandard'>, region: string, env: NodeJS.ProcessEnv): string {
  const fipsSetting = env['AWS_USE_FIPS_ENDPOINT'];
  if (fipsSetting !== undefined && fipsSetting !== 'true' && fipsSetting !== 'false') {
    // As the SDK does: a FIPS setting it cannot read must not quietly send calls to a non-FIPS endpoint.
    throw new Error('AWS_USE_FIPS_ENDPOINT must be "true" or "false"');
  }
  const standardIsFips = service.fipsInGovCloudIsStandard === true && region.startsWith('us-gov-');
  const fips = fipsSetting === 'true' && !standardIsFips ? '-fips' : '';
  const suffix = PARTITION_SUFFIXES.find(([prefix]) => prefix.test(region))?.[1] ?? 'amazonaws.com';
  return `https://${service.signingName}${fips}.${region}.${suffix}`;
}

/** How long the service asked to be left alone (Retry-After in seconds or as a date, or x-amz-retry-after in ms). */
function retryAfterHintMs(headers: Record<string, string | undefined>, now: number): number | undefined {
  const amz = headers['x-amz-retry-after'];
  if (amz !== undefined && amz.trim() !== '' && Number.isFinite(Number(amz))) return Math.max(0, Number(amz));
  const standard = headers['retry-after']?.trim();
  if (standard === undefined || standard === '') return undefined;
  if (/^\d+(\.\d+)?$/.test(standard)) return Number(standard) * 1000;
  const at = Date.parse(standard);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The protocol's error: its type from the body's `__type` or `code`, or the X-Amzn-ErrorType header, without namespace or URI. */
function serviceError(status: number, headers: Record<string, string | undefined>, text: string, attempts: number): AwsServiceError {
  let body: Record<string, unknown> = {};
  try {
    const parsed: unknown = text === '' ? {} : JSON.parse(text);
    // `null`, a number or a list is no error document: the status says enough.
    if (typeof parsed === 'object' && parsed !== null && !Array.isArray(parsed)) body = parsed as Record<string, unknown>;
  } catch {
    // Not JSON (a proxy's page, say): the status says enough.
  }
  // The JSON RPC protocols' order, as the SDK reads it: the body's __type, its `code` (any case), the header.
  const codeKey = Object.keys(body).find((key) => key.toLowerCase() === 'code');
  const raw = [body['__type'], codeKey === undefined ? undefined : body[codeKey], headers['x-amzn-errortype']].find((value) => typeof value === 'string' || typeof value === 'number');
  // Sanitized as the SDK does: `aws.protocoltests#Name:http://internal/uri,Other` is `Name`.
  const name = String(raw ?? '').split(',')[0]?.split(':')[0]?.split('#').pop()?.trim() || (status >= 500 ? 'InternalFailure' : 'UnknownError');
  const message = [body['message'], body['Message']].find((value): value is string => typeof value === 'string') ?? `HTTP ${status}`;
  return new AwsServiceError(name, message, status, headers['x-amzn-requestid'], attempts);
}

/** A 2xx answer's body. A parse error is replaced: its message quotes the text, which may hold a secret. */
function parseOutput<Output>(text: string, status: number, headers: Record<string, string | undefined>, attempts: number): Output {
  try {
    return (text === '' ? {} : JSON.parse(text)) as Output;
  } catch {
    throw new AwsServiceError('MalformedResponse', `the answer (HTTP ${status}) is not JSON`, status, headers['x-amzn-requestid'], attempts);
  }
}

/**
 * By name or code, and through the error's causes as the SDK looks (ten deep), not by
 * `instanceof Error`: Node's own errors may come from another realm (a VM context, as under jest).
 */
export function isTransientNetworkError(error: unknown, depth = 0): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, code, cause } = error as { name?: unknown; code?: unknown; cause?: unknown };
  if (name === 'AbortError') return false;
  if ((typeof name === 'string' && TRANSIENT_NAMES.has(name)) || (typeof code === 'string' && TRANSIENT_CODES.has(code))) return true;
  return depth < 10 && isTransientNetworkError(cause, depth + 1);
}
