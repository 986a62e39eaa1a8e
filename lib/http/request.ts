import { randomUUID } from 'node:crypto';

import type { APIGatewayProxyEventV2, Context } from 'aws-lambda';

import { InvalidQueryError } from './errors';

/** What the HTTP handlers use of the Lambda context (tests pass just these). */
export type HttpContext = Pick<Context, 'getRemainingTimeInMillis'> & Partial<Pick<Context, 'awsRequestId'>>;

/** The id shown on error pages and logged with the failure: the Lambda request id, or a random one. */
export function referenceIdOf(context: HttpContext): string {
  const id = context.awsRequestId;
  return typeof id === 'string' && /^[A-Za-z0-9-]{1,64}$/.test(id) ? id : randomUUID();
}

/** `GET /install`: the route key API Gateway matched, or the method and path when it has none. */
export function routeOf(event: APIGatewayProxyEventV2): string {
  if (event.routeKey && event.routeKey !== '$default') return event.routeKey;
  return `${event.requestContext?.http?.method ?? 'GET'} ${event.rawPath ?? '/'}`;
}

/**
 * Reads query parameters from the raw query string (API Gateway joins repeated parameters with
 * commas in `queryStringParameters`, which would hide a repeat). A parameter given more than once
 * is refused.
 */
export function queryReader(event: APIGatewayProxyEventV2): (name: string) => string | undefined {
  const params =
    event.rawQueryString !== undefined && event.rawQueryString !== ''
      ? new URLSearchParams(event.rawQueryString)
      : new URLSearchParams(
          Object.entries(event.queryStringParameters ?? {}).filter((entry): entry is [string, string] => entry[1] !== undefined),
        );
  return (name) => {
    const values = params.getAll(name);
    if (values.length > 1) throw new InvalidQueryError(name, 'is given more than once');
    return values[0];
  };
}

/** The request body as sent: base64-decoded when API Gateway encoded it, whatever the Content-Type. */
export function rawBodyOf(event: APIGatewayProxyEventV2): string {
  if (event.body === undefined || event.body === null) return '';
  return event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
}
