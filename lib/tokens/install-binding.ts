import { createHash, timingSafeEqual } from 'node:crypto';

import { INSTALL_STATE_TTL_MS } from './install-state';

/**
 * The cookie that binds a state issued to a top-level navigation to the browser it was issued to
 * (RFC 9700 §4.7.1). One cookie per state, so two installs in one browser do not evict each other;
 * its name carries a label of the state (not secret), its value the state's browser tag (secret).
 */

/** Over https: `__Host-` and Secure; over plain http (npm start, infra/local) neither can work. */
export interface InstallCookiePolicy {
  secure: boolean;
}

/** The policy for a PUBLIC_URL: secure unless it is plain http. */
export function installCookiePolicy(publicUrl: string): InstallCookiePolicy {
  return { secure: new URL(publicUrl).protocol === 'https:' };
}

/** What the headers tell of how GET /install was loaded. */
export interface FetchMetadata {
  dest?: string;
  mode?: string;
}

/**
 * True only for a top-level navigation as the browser says it (Sec-Fetch-Dest `document`,
 * Sec-Fetch-Mode `navigate`). A framed load (`iframe`, `frame`, `embed`, `object`) may never send
 * a SameSite=Lax cookie back, and a browser without fetch metadata (Safari before 16.4, others
 * before 2020) or a non-browser says nothing: all of those get an unbound state, so no install
 * breaks; what that leaves open is in SECURITY.md.
 */
export function isTopLevelNavigation(metadata: FetchMetadata): boolean {
  return metadata.dest?.toLowerCase() === 'document' && metadata.mode?.toLowerCase() === 'navigate';
}

/** The cookie's name for a state id (the state less its MAC): a label, not a secret. */
export function installCookieName(policy: InstallCookiePolicy, stateId: string): string {
  const label = createHash('sha256').update(`label.${stateId}`, 'utf8').digest('base64url').slice(0, 16);
  return `${policy.secure ? '__Host-' : ''}wts-install-${label}`;
}

/** The Set-Cookie value GET /install answers a top-level navigation with. */
export function installCookie(policy: InstallCookiePolicy, stateId: string, browserTag: string): string {
  const attributes = [`Max-Age=${Math.floor(INSTALL_STATE_TTL_MS / 1000)}`, 'Path=/', 'HttpOnly', 'SameSite=Lax'];
  if (policy.secure) attributes.push('Secure');
  return [`${installCookieName(policy, stateId)}=${browserTag}`, ...attributes].join('; ');
}

/**
 * True when one of the request's cookies (`name=value` pairs, as API Gateway's `cookies`) is the
 * state's cookie with the expected tag. Compared in constant time.
 */
export function carriesBrowserTag(cookies: readonly string[], name: string, browserTag: string): boolean {
  const expected = Buffer.from(browserTag, 'utf8');
  let found = false;
  for (const pair of cookies) {
    const at = pair.indexOf('=');
    if (at < 0 || pair.slice(0, at).trim() !== name) continue;
    const given = Buffer.from(pair.slice(at + 1).trim(), 'utf8');
    if (given.length === expected.length && timingSafeEqual(given, expected)) found = true;
  }
  return found;
}

/** The request's cookies: API Gateway (payload v2) gives `cookies`; a `cookie` header otherwise. */
export function cookiesOf(event: { cookies?: string[]; headers?: Record<string, string | undefined> }): string[] {
  if (event.cookies !== undefined && event.cookies.length > 0) return event.cookies;
  return (event.headers?.['cookie'] ?? '').split(';').map((pair) => pair.trim()).filter((pair) => pair !== '');
}
