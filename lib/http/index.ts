/** The HTTP pieces the API functions share: the handler stack, requests, responses and error mapping. */
export { describeError, httpFailureOf, InvalidQueryError, RouteNotFoundError } from './errors';
export { failureResponse } from './failure';
export type { FailureOptions } from './failure';
export type { HttpFailure } from './errors';
export { queryReader, rawBodyOf, referenceIdOf, routeOf } from './request';
export type { HttpContext } from './request';
export { escapeHtml, htmlPage, jsonResponse, redirect } from './responses';
export type { HtmlPage, HttpResult } from './responses';
export { httpStack } from './stack';
export type { HttpHandler } from './stack';
