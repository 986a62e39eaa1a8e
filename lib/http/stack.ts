import type { APIGatewayProxyEventV2 } from 'aws-lambda';

import type { ServiceLogger } from '../runtime/logger';
import { describeError, INTERNAL_FAILURE } from './errors';
import { referenceIdOf, type HttpContext } from './request';
import { htmlPage, PAGE_STYLE_HASH, type HttpResult } from './responses';

/** An HTTP API (payload v2) handler as the functions export it. */
export type HttpHandler = (event: APIGatewayProxyEventV2, context: HttpContext) => Promise<HttpResult>;

/**
 * The security headers of every answer: helmet's defaults as @middy/http-security-headers writes
 * them, less what would break the Wix install. The consent window is closed by Wix across origins
 * (so COOP is `unsafe-none`, on every answer, not only on HTML), and some install paths load our
 * pages in an iframe (so no X-Frame-Options, no CSP frame-ancestors, and a CORP that lets Wix
 * embed the page); no COEP, Report-To, Reporting-Endpoints, X-Powered-By or X-XSS-Protection.
 * The pages are static text and one inline stylesheet, allowed by its hash: no script and no
 * subresource is needed, so none is allowed (`default-src 'none'`).
 *
 * Written out rather than computed by middy at each cold start: the middy stack (core, header
 * normaliser, security headers) cost install and webhooks about 2 ms of their first invoke
 * (bench/bundles, README). test/unit/lib/http/stack.test.ts holds the exact values.
 */
const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Cross-Origin-Opener-Policy': 'unsafe-none',
  'Origin-Agent-Cluster': '?1',
  'Referrer-Policy': 'no-referrer',
  'Strict-Transport-Security': 'max-age=15552000; includeSubDomains; preload',
  'X-Content-Type-Options': 'nosniff',
  'X-DNS-Prefetch-Control': 'off',
  'X-Download-Options': 'noopen',
  'X-Permitted-Cross-Domain-Policies': 'none',
};

/** Features an HTML page of ours may use: none (helmet's list, as middy writes it). */
const PERMISSIONS =
  'accelerometer ambient-light-sensor autoplay battery camera cross-origin-isolated display-capture document-domain encrypted-media ' +
  'execution-while-not-rendered execution-while-out-of-viewport fullscreen geolocation gyroscope keyboard-map magnetometer microphone midi ' +
  'navigation-override payment picture-in-picture publickey-credentials-get screen-wake-lock sync-xhr usb web-share xr-spatial-tracking ' +
  'clipboard-read clipboard-write gamepad speaker-selection conversion-measurement focus-without-user-activation hid idle-detection ' +
  'interest-cohort serial sync-script trust-token-redemption window-placement vertical-scroll';

/** What HTML answers carry besides {@link SECURITY_HEADERS}. */
const HTML_SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'Content-Security-Policy': `default-src 'none'; style-src ${PAGE_STYLE_HASH}; base-uri 'none'; form-action 'none'; require-trusted-types-for 'script'; trusted-types 'none'; sandbox; upgrade-insecure-requests`,
  'Cross-Origin-Resource-Policy': 'cross-origin',
  'Permissions-Policy': PERMISSIONS.split(' ').map((feature) => `${feature}=()`).join(', '),
};

/**
 * The time before the invocation's end at which a handler still running is given up, so that its
 * answer is the generic 500 page rather than Lambda's timeout (middy's `timeoutEarlyInMillis`).
 */
const TIMEOUT_EARLY_MS = 5;

/**
 * Wraps a handler as the middy stack did (@middy/core with http-header-normalizer and
 * http-security-headers, replaced by this for its cold start): request header names lower-cased;
 * the security headers on every answer; and a last resort that turns anything escaping the
 * handler (a bug, or the early timeout, a `TimeoutError`) into a generic 500 page, logged, rather
 * than letting it reach API Gateway (or serverless-offline, which would answer 200).
 */
export function httpStack(handler: HttpHandler, logger: Pick<ServiceLogger, 'error'>): HttpHandler {
  return async (event, context) => {
    normalizeHeaders(event);
    let response: HttpResult;
    let timer: NodeJS.Timeout | undefined;
    try {
      const answers = [handler(event, context)];
      if (typeof context.getRemainingTimeInMillis === 'function') {
        answers.push(
          new Promise<never>((_, reject) => {
            timer = setTimeout(() => reject(timeoutError()), context.getRemainingTimeInMillis() - TIMEOUT_EARLY_MS);
          }),
        );
      }
      response = normalizeResponse(await Promise.race(answers));
    } catch (error) {
      const referenceId = referenceIdOf(context);
      logger.error('request failed', { referenceId, ...describeError(error) });
      const { status, title, message } = INTERNAL_FAILURE;
      response = htmlPage({ status, title, message, referenceId });
    } finally {
      clearTimeout(timer);
    }
    return withSecurityHeaders(response);
  };
}

/** Header names lower-cased in place, a later spelling of a name winning (as middy's normaliser). */
function normalizeHeaders(event: APIGatewayProxyEventV2 & { multiValueHeaders?: Record<string, unknown> }): void {
  for (const field of ['headers', 'multiValueHeaders'] as const) {
    const headers = event[field] as Record<string, unknown> | undefined;
    if (!headers) continue;
    const normalized: Record<string, unknown> = {};
    for (const name of Object.keys(headers)) normalized[name.toLowerCase()] = headers[name];
    (event as unknown as Record<string, unknown>)[field] = normalized;
  }
}

/** A handler's result as an HTTP answer (middy's normalizeHttpResponse). */
function normalizeResponse(result: unknown): HttpResult {
  let response = result as Partial<HttpResult> | undefined;
  if (response === undefined || response === null) response = {};
  else if (response.statusCode === undefined && response.body === undefined && response.headers === undefined) {
    response = { statusCode: 200, body: response as unknown as string };
  }
  response.statusCode ??= 500;
  response.headers ??= {};
  return response as HttpResult;
}

function withSecurityHeaders(response: HttpResult): HttpResult {
  const contentType = response.headers['Content-Type'] ?? response.headers['content-type'];
  const html = typeof contentType === 'string' && contentType.includes('text/html');
  response.headers = { ...response.headers, ...SECURITY_HEADERS, ...(html ? HTML_SECURITY_HEADERS : {}) };
  return response;
}

/** What middy threw for a handler still running at the early timeout. */
function timeoutError(): Error {
  const error = new Error('[AbortError]: The operation was aborted.', { cause: { package: '@middy/core' } });
  error.name = 'TimeoutError';
  return error;
}
