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
 * (AWS_ENDPOINT_URL_<SERVICE>, AWS_ENDPOINT_URL, FIPS, the aws and aws-cn partitions), the
 * protocol's request and error shapes, the standard retry (throttling, 5xx, timeouts, with
 * jittered backoff) and the correction of a skewed clock. test/unit/lib/aws/json-client.test.ts
 * holds each of them to a loopback stand-in.
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

const THROTTLING = new Set(['ThrottlingException', 'Throttling', 'TooManyRequestsException', 'RequestLimitExceeded', 'RequestThrottled', 'RequestThrottledException', 'ThrottledException', 'LimitExceededException']);
const CLOCK_SKEW = new Set(['RequestTimeTooSkewed', 'RequestExpired', 'InvalidSignatureException', 'SignatureDoesNotMatch', 'AuthFailure', 'RequestInTheFuture']);
/** Network failures worth another attempt (the SDK's transient list, and its TimeoutError). */
const TRANSIENT_NETWORK = new Set(['TimeoutError', 'RequestTimeout', 'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT']);
/** The standard retry's backoff: full jitter over 100 ms doubling, at most 20 s. */
const BASE_DELAY_MS = 100;
const MAX_DELAY_MS = 20_000;
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
      let retryable: boolean;
      try {
        const signed = await signer.sign(request, { signingDate: new Date(this.deps.clock.now() + this.clockOffsetMs) });
        const { response } = await handler.handle(signed as HttpRequest, options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal });
        const text = Buffer.from(await streamCollector(response.body)).toString('utf8');
        if (response.statusCode >= 200 && response.statusCode < 300) return parseOutput<Output>(text, response.statusCode, response.headers, attempt);
        const error = serviceError(response.statusCode, response.headers, text, attempt);
        const skewed = CLOCK_SKEW.has(error.name) && this.correctClock(response.headers['date']);
        failure = error;
        retryable = skewed || THROTTLING.has(error.name) || response.statusCode === 429 || response.statusCode >= 500;
      } catch (error) {
        if (options.abortSignal?.aborted) throw error;
        failure = error;
        retryable = isTransientNetworkError(error);
      }
      if (!retryable || attempt >= maxAttempts) throw failure;
      await this.deps.clock.sleep(this.deps.random() * Math.min(MAX_DELAY_MS, BASE_DELAY_MS * 2 ** attempt), options.abortSignal);
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
    const url = new URL(this.config.endpoint ?? env[`AWS_ENDPOINT_URL_${this.service.endpointId}`] ?? env['AWS_ENDPOINT_URL'] ?? defaultEndpoint(this.service.signingName, region, env));
    const credentials = this.config.credentials ?? defaultProvider();
    const signer = new SignatureV4({ service: this.service.signingName, region, credentials, sha256: Sha256 });
    const { connectionTimeout, requestTimeout, throwOnRequestTimeout } = this.config.requestHandler ?? {};
    const handler = new NodeHttpHandler({ connectionTimeout, requestTimeout, throwOnRequestTimeout });
    const executionEnv = env['AWS_EXECUTION_ENV'];
    const userAgent = `wix-token-service md/nodejs#${process.versions.node} os/${process.platform}${executionEnv ? ` exec-env/${executionEnv}` : ''}`;
    return { url, signer, handler, userAgent };
  }

  /** Takes the service's clock when ours is off by more than the tolerance; whether a retry may help. */
  private correctClock(dateHeader: string | undefined): boolean {
    const serverTime = dateHeader === undefined ? Number.NaN : Date.parse(dateHeader);
    if (Number.isNaN(serverTime)) return false;
    const offset = serverTime - this.deps.clock.now();
    if (Math.abs(offset - this.clockOffsetMs) < SKEW_TOLERANCE_MS) return false;
    this.clockOffsetMs = offset;
    return true;
  }
}

/** `https://<service>[-fips].<region>.amazonaws.com[.cn]`, as the services' endpoint rules give it for the aws and aws-cn partitions. */
export function defaultEndpoint(service: string, region: string, env: NodeJS.ProcessEnv): string {
  const fips = env['AWS_USE_FIPS_ENDPOINT'] === 'true' ? '-fips' : '';
  const suffix = region.startsWith('cn-') ? 'amazonaws.com.cn' : 'amazonaws.com';
  return `https://${service}${fips}.${region}.${suffix}`;
}

/** The protocol's error: its type from the X-Amzn-ErrorType header or the body's `__type`, without namespace or URI. */
function serviceError(status: number, headers: Record<string, string | undefined>, text: string, attempts: number): AwsServiceError {
  let body: { __type?: unknown; code?: unknown; message?: unknown; Message?: unknown } = {};
  try {
    body = text === '' ? {} : (JSON.parse(text) as typeof body);
  } catch {
    // Not JSON (a proxy's page, say): the status says enough.
  }
  const raw = headers['x-amzn-errortype'] ?? (typeof body.__type === 'string' ? body.__type : typeof body.code === 'string' ? body.code : undefined);
  const name = raw?.split(':')[0]?.split('#').pop() || (status >= 500 ? 'InternalFailure' : 'UnknownError');
  const message = typeof body.message === 'string' ? body.message : typeof body.Message === 'string' ? body.Message : `HTTP ${status}`;
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

/** By name or code, not `instanceof Error`: Node's own errors may come from another realm (a VM context, as under jest). */
function isTransientNetworkError(error: unknown): boolean {
  if (typeof error !== 'object' || error === null) return false;
  const { name, code } = error as { name?: unknown; code?: unknown };
  return (typeof name === 'string' && TRANSIENT_NETWORK.has(name)) || (typeof code === 'string' && TRANSIENT_NETWORK.has(code));
}
