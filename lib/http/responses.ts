import { createHash } from 'node:crypto';
import { STATUS_CODES } from 'node:http';

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

/** The name the pages show, so a site owner knows whose page this is. */
export const PRODUCT_NAME = 'Wix Token Service';

/**
 * The pages' one stylesheet, inline: no external fetch, nothing for the CSP to allow but this text
 * (its hash, {@link PAGE_STYLE_HASH}). Readable on a phone: the viewport meta tag, a fluid card
 * and system fonts.
 */
export const PAGE_STYLE = [
  'body{margin:0;padding:0 1rem;background:#f3f4f6;color:#1f2937;font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}',
  'main{max-width:34rem;margin:12vh auto 2rem;padding:1.5rem 1.5rem 1.25rem;background:#fff;border-top:4px solid #b91c1c;border-radius:10px;box-shadow:0 1px 3px rgba(0,0,0,.12)}',
  '.product{margin:0 0 .25rem;color:#1d4ed8;font-size:.8rem;font-weight:600;letter-spacing:.06em;text-transform:uppercase}',
  'h1{margin:0 0 .75rem;font-size:1.5rem;line-height:1.25}',
  'p{margin:0 0 .75rem}',
  '.next{padding:.75rem 1rem;background:#eff6ff;border-radius:6px}',
  '.ref{margin:1.25rem 0 0;color:#4b5563;font-size:.85rem}',
  'code{font:.85rem ui-monospace,Menlo,Consolas,monospace;overflow-wrap:anywhere}',
  '@media (max-width:30rem){body{padding:0}main{margin:0;min-height:100vh;box-sizing:border-box;border-radius:0;box-shadow:none}}',
].join('');

/** The CSP source that allows {@link PAGE_STYLE} and nothing else: `'sha256-<base64>'`. */
export const PAGE_STYLE_HASH = `'sha256-${createHash('sha256').update(PAGE_STYLE, 'utf8').digest('base64')}'`;

/** A page shown to the person installing the app. */
export interface HtmlPage {
  status: number;
  title: string;
  /** What happened. */
  message: string;
  /** What to do next; by default, by the status: try again later (5xx), or ask for help with the reference (4xx). */
  next?: string;
  /** Printed on the page and logged with the failure, so support can find one from the other. */
  referenceId?: string;
}

const NEXT_AFTER_OUR_FAILURE = 'Wait a minute and try again. If it keeps failing, contact the app\u2019s support and quote the reference below.';
const NEXT_AFTER_REFUSAL = 'If you need help, contact the app\u2019s support and quote the reference below.';

/**
 * A small self-contained HTML page: the product's name, what happened, what to do next, the HTTP
 * status and the reference id. Every value is escaped, and none should come from the request.
 */
export function htmlPage(page: HtmlPage): HttpResult {
  const status = `HTTP ${page.status} ${STATUS_CODES[page.status] ?? ''}`.trim();
  const reference = page.referenceId === undefined ? '' : ` \u00b7 Reference: <code>${escapeHtml(page.referenceId)}</code>`;
  const next = page.next ?? (page.status >= 500 ? NEXT_AFTER_OUR_FAILURE : NEXT_AFTER_REFUSAL);
  const title = escapeHtml(page.title);
  const body =
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">' +
    '<meta name="viewport" content="width=device-width, initial-scale=1"><meta name="robots" content="noindex">' +
    `<title>${title}</title><style>${PAGE_STYLE}</style></head><body><main>` +
    `<div class="product">${escapeHtml(PRODUCT_NAME)}</div><h1>${title}</h1><p class="message">${escapeHtml(page.message)}</p>` +
    `<p class="next"><strong>What to do next:</strong> ${escapeHtml(next)}</p>` +
    `<p class="ref">${escapeHtml(status)}${reference}</p></main></body></html>`;
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
