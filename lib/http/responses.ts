import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

/** What the HTTP handlers answer: always a status, string headers and a string body. */
export interface HttpResult extends APIGatewayProxyStructuredResultV2 {
  statusCode: number;
  headers: Record<string, string>;
  body: string;
}

/** The headers every answer of ours carries: nothing here is worth caching, least of all a token. */
const NO_STORE = { 'Cache-Control': 'no-store' } as const;

const HTML_ESCAPES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Escapes text for an HTML element or a quoted attribute. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => HTML_ESCAPES[character] as string);
}

/** A page shown to the person installing the app. */
export interface HtmlPage {
  status: number;
  title: string;
  message: string;
  /** Printed on the page and logged with the failure, so support can find one from the other. */
  referenceId?: string;
}

/** A small self-contained HTML page; every value is escaped, and none should come from the request. */
export function htmlPage(page: HtmlPage): HttpResult {
  const reference =
    page.referenceId === undefined ? '' : `<p>Reference: <code>${escapeHtml(page.referenceId)}</code></p>`;
  const title = escapeHtml(page.title);
  const body =
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">' +
    `<title>${title}</title></head><body><main><h1>${title}</h1><p>${escapeHtml(page.message)}</p>${reference}</main></body></html>`;
  return { statusCode: page.status, headers: { 'Content-Type': 'text/html; charset=utf-8', ...NO_STORE }, body };
}

/** A 302 to a URL built from configuration (never from the request). */
export function redirect(location: string): HttpResult {
  return { statusCode: 302, headers: { Location: location, ...NO_STORE }, body: '' };
}

/** A small JSON answer, for machine callers (Wix's webhooks). */
export function jsonResponse(status: number, body: Record<string, unknown>): HttpResult {
  return { statusCode: status, headers: { 'Content-Type': 'application/json; charset=utf-8', ...NO_STORE }, body: JSON.stringify(body) };
}
