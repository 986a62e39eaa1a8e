/**
 * What the simulator answers, before it is written: a {@link Reply}, the page and error shapes
 * every part builds on, and {@link send}, the one place a reply becomes bytes on the wire.
 */
import { STATUS_CODES, type ServerResponse } from 'node:http';

/** Shape of the simulator's error bodies: RFC 6749 `{error, error_description}` or Wix's `{message, details}`. */
export type WixErrorShape = 'rfc6749' | 'wix';

/** An answer before it is sent: a JSON object, or raw text with its content type. */
export type Reply =
  | { kind: 'json'; status: number; body: Record<string, unknown>; headers?: Record<string, string> }
  | { kind: 'raw'; status: number; body: string; contentType?: string; headers?: Record<string, string> };

/** An OAuth error answer, before it is given a shape. */
export interface OAuthFailure {
  status: number;
  error: string;
  description: string;
  /** The request field at fault, for Wix's validationError shape. */
  field?: string;
}

export const JSON_TYPE = 'application/json; charset=utf-8';
const HTML_TYPE = 'text/html; charset=utf-8';

/** A successful token endpoint answer: JSON, never cached. */
export function tokenReply(body: Record<string, unknown>): Reply {
  return { kind: 'json', status: 200, body, headers: { 'cache-control': 'no-store' } };
}

/** An OAuth error answer in the configured shape. */
export function failReply(shape: WixErrorShape, failure: OAuthFailure): Reply {
  return { kind: 'json', status: failure.status, body: errorBody(shape, failure), headers: { 'cache-control': 'no-store' } };
}

export function methodNotAllowed(shape: WixErrorShape, allow: string): Reply {
  const reply = failReply(shape, { status: 405, error: 'method_not_allowed', description: `Use ${allow}` });
  return { ...reply, headers: { ...reply.headers, allow } };
}

export function htmlPage(status: number, title: string, text: string): Reply {
  // Only fixed strings go into pages: nothing from the request is echoed.
  const body = `<!DOCTYPE html><html><head><title>${title}</title></head><body><h1>${title}</h1><p>${text}</p></body></html>`;
  return { kind: 'raw', status, body, contentType: HTML_TYPE };
}

/** A whole HTML document whose parts the caller escaped. */
export function htmlDocument(body: string): Reply {
  return { kind: 'raw', status: 200, body, contentType: HTML_TYPE };
}

/** What a gateway in front of Wix answers for a 5xx: an HTML page, as Wix's edge does. */
export function serverErrorPage(status: number): Reply {
  return htmlPage(status, `${status} ${STATUS_CODES[status] ?? 'Error'}`, 'The server could not handle the request.');
}

/** The reason phrase of a status, for default error descriptions. */
export function reasonOf(status: number): string {
  return STATUS_CODES[status] ?? 'Error';
}

function errorBody(shape: WixErrorShape, failure: OAuthFailure): Record<string, unknown> {
  if (shape === 'rfc6749') return { error: failure.error, error_description: failure.description };
  if (failure.field !== undefined) {
    const violation = { field: failure.field, description: failure.description, violatedRule: 'REQUIRED_FIELD', ruleName: 'REQUIRED_FIELD', data: {} };
    return { message: failure.description, details: { validationError: { fieldViolations: [violation] } } };
  }
  return { message: failure.description, details: { applicationError: { code: failure.error, description: failure.description, data: {} } } };
}

export function send(res: ServerResponse, reply: Reply): void {
  if (res.destroyed || res.headersSent) return;
  const body = reply.kind === 'json' ? JSON.stringify(reply.body) : reply.body;
  const contentType = reply.kind === 'json' ? JSON_TYPE : reply.contentType;
  const headers: Record<string, string | number> = { ...reply.headers, 'content-length': Buffer.byteLength(body) };
  if (contentType !== undefined) headers['content-type'] = contentType;
  res.writeHead(reply.status, headers);
  res.end(body);
}
