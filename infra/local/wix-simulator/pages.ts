/**
 * The installer pages of the legacy install flow: `/installer/install` (and its older form),
 * with or without a consent page, and `/installer/close-window`.
 */
import { IssuedKind, recordIssued } from '../issued-values';
import { htmlDocument, htmlPage, type Reply } from './replies';
import type { SimulatorState } from './state';

const CONSENT_FIELDS = ['token', 'appId', 'redirectUrl', 'state', 'instanceId'] as const;

/**
 * The installer: with `ask`, the consent page (an Allow button posting the same parameters
 * back); once consented, installs the instance, issues a code and redirects to `redirectUrl`.
 */
export function installer(state: SimulatorState, params: URLSearchParams, step: 'ask' | 'consented'): Reply {
  const appId = params.get('appId');
  if (!appId || !state.apps.has(appId)) return htmlPage(400, 'Bad request', 'Unknown or missing appId.');
  const target = parseHttpUrl(params.get('redirectUrl'));
  if (!target) return htmlPage(400, 'Bad request', 'redirectUrl must be an absolute http(s) URL.');

  // What the service sent through the browser: the audit looks for these in the logs too.
  recordIssued(IssuedKind.InstallState, params.get('state'));
  recordIssued(IssuedKind.InstallToken, params.get('token'));
  if (step === 'ask') return consentPage(params);
  // instanceId in the query is a simulator-only convenience: the real installer picks the site.
  const instanceId = state.install(appId, params.get('instanceId') || undefined);
  const code = state.issueCode(appId, instanceId);
  target.searchParams.set('code', code);
  const stateParam = params.get('state');
  if (stateParam !== null) target.searchParams.set('state', stateParam);
  target.searchParams.set('instanceId', instanceId);
  return { kind: 'raw', status: 302, body: '', headers: { location: target.href } };
}

/** Where the app's redirect ends: records the `access_token` it received. */
export function closeWindow(closedWindows: string[], params: URLSearchParams): Reply {
  const token = params.get('access_token');
  if (!token) return htmlPage(400, 'Bad request', 'access_token is missing.');
  closedWindows.push(token);
  return htmlPage(200, 'Installation complete', 'You can close this window.');
}

/** The installer's consent page: which app asks, and an Allow button that posts the parameters back. */
function consentPage(params: URLSearchParams): Reply {
  const hidden = CONSENT_FIELDS.flatMap((name) => {
    const value = params.get(name);
    return value === null ? [] : [`<input type="hidden" name="${name}" value="${escapeHtml(value)}">`];
  }).join('');
  return htmlDocument(
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">' +
      '<title>Add app to your site</title></head><body><main><h1>Add app to your site</h1>' +
      `<p>App <code>${escapeHtml(params.get('appId') ?? '')}</code> asks to access your site.</p>` +
      `<form method="post">${hidden}<button type="submit" name="decision" value="allow">Allow</button></form></main></body></html>`,
  );
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (character) => `&#${character.charCodeAt(0)};`);
}

function parseHttpUrl(value: string | null): URL | undefined {
  if (!value) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:' ? url : undefined;
  } catch {
    return undefined;
  }
}
