import middy from '@middy/core';
import httpHeaderNormalizer from '@middy/http-header-normalizer';
import httpSecurityHeaders from '@middy/http-security-headers';
import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

import { describeError, INTERNAL_FAILURE } from './errors';
import { referenceIdOf, type HttpContext } from './request';
import { htmlPage, PAGE_STYLE_HASH, type HttpResult } from './responses';

/** An HTTP API (payload v2) handler as the functions export it. */
export type HttpHandler = (event: APIGatewayProxyEventV2, context: HttpContext) => Promise<HttpResult>;

/** The logging the stack needs for what escapes a handler. */
export interface StackLogger {
  error(message: string, attributes?: Record<string, unknown>): void;
}

/**
 * Helmet's defaults, less what would break the Wix install: the consent window is closed by Wix
 * across origins (so COOP is `unsafe-none`), and some install paths load our pages in an iframe
 * (so no X-Frame-Options, no CSP frame-ancestors, and a CORP that lets Wix embed the page).
 * The pages are static text and one inline stylesheet, allowed by its hash: no script and no
 * subresource is needed, so none is allowed (`default-src 'none'`).
 */
const SECURITY_HEADERS = {
  frameOptions: false,
  crossOriginOpenerPolicy: { policy: 'unsafe-none' },
  crossOriginEmbedderPolicy: false,
  crossOriginResourcePolicy: { policy: 'cross-origin' },
  contentSecurityPolicy: { 'style-src': PAGE_STYLE_HASH, 'frame-ancestors': '', 'navigate-to': '', 'report-to': '' },
  reportTo: false,
  reportingEndpoints: false,
  // Would add headers with undefined values; we set neither header anyway.
  poweredBy: false,
  xssProtection: false,
} as const;

/**
 * Wraps a handler in the shared middy stack: header normalisation, security headers on every
 * answer (COOP `unsafe-none` on redirects and JSON too, since helmet sets it on HTML only), and a
 * last resort that turns anything escaping the handler (a bug, middy's early timeout) into a
 * generic 500 page rather than letting it reach API Gateway (or serverless-offline, which would
 * answer 200).
 */
export function httpStack(handler: HttpHandler, logger: StackLogger): HttpHandler {
  const stack = middy(async (event: APIGatewayProxyEventV2, context: Context) => handler(event, context))
    .use(httpHeaderNormalizer())
    .use(httpSecurityHeaders(SECURITY_HEADERS))
    .use({
      after: openerPolicy,
      onError: async (request) => {
        if (request.response) openerPolicy(request);
      },
    })
    .use({
      onError: async (request) => {
        const referenceId = referenceIdOf(request.context);
        logger.error('request failed', { referenceId, ...describeError(request.error) });
        const { status, title, message } = INTERNAL_FAILURE;
        request.response = htmlPage({ status, title, message, referenceId });
      },
    });
  return stack as unknown as HttpHandler;
}

function openerPolicy(request: { response: HttpResult | null }): void {
  if (request.response) request.response.headers = { ...request.response.headers, 'Cross-Origin-Opener-Policy': 'unsafe-none' };
}
