import { ConfigError } from '../errors';
import { isGuid } from '../ids';

/**
 * The service's settings. Only names, ARNs and URLs live in the environment; secret values
 * come from Secrets Manager.
 */
export interface Config {
  /** WIX_API_URL: Wix's API host, or the simulator's. */
  wixApiUrl: string;
  /** WIX_INSTALLER_URL: where the installer and close-window pages live. */
  wixInstallerUrl: string;
  /** PUBLIC_URL: the base URL Wix reaches this service on (the Redirect URL is under it). */
  publicUrl: string;
  /** TOKENS_TABLE: the DynamoDB table of tokens. */
  tokensTable: string;
  /** WIX_APP_IDS: the Wix apps this deployment serves, comma-separated; the first is the default. */
  appIds: readonly string[];
  /** APP_SECRET_PREFIX: an app's secret is named `${prefix}${appId}` in Secrets Manager. */
  appSecretPrefix: string;
  /**
   * MINT_RECHECK_SECONDS (default 0, at most 3600): how long a warm mint serves a token from
   * memory before it reads the instance's status again. 0 reads it on every call (read your
   * uninstall); more saves that read at the cost of a window in which an uninstall goes unseen.
   */
  mintRecheckMs: number;
  /**
   * LIFECYCLE_EVENTS (default `eventbridge`): where lifecycle events go (lib/events):
   * `eventbridge` (the bus EVENT_BUS_NAME, default `default`), `log` (printed, for the local
   * stack) or `off`.
   */
  lifecycleEvents: 'eventbridge' | 'log' | 'off';
  eventBusName: string;
  /** REFRESH_FAILING_AFTER (default 3, 1 to 100): failures in a row before TokenRefreshFailing. */
  refreshFailingAfter: number;
}

type Env = Record<string, string | undefined>;

/**
 * Reads and checks the environment once; call at cold start, never per request.
 * @throws {ConfigError} naming the first missing or malformed variable (never its value)
 */
export function loadConfig(env: Env = process.env): Config {
  const appIds = required(env, 'WIX_APP_IDS')
    .split(',')
    .map((id) => id.trim())
    .filter((id) => id !== '');
  if (appIds.length === 0) throw new ConfigError('WIX_APP_IDS', 'lists no app id');
  for (const appId of appIds) {
    if (!isGuid(appId)) throw new ConfigError('WIX_APP_IDS', 'holds a value that is not a GUID');
  }
  return {
    wixApiUrl: url(env, 'WIX_API_URL', 'https://www.wixapis.com'),
    wixInstallerUrl: url(env, 'WIX_INSTALLER_URL', 'https://www.wix.com'),
    publicUrl: url(env, 'PUBLIC_URL', 'http://localhost:3000'),
    tokensTable: required(env, 'TOKENS_TABLE'),
    appIds: appIds.map((id) => id.toLowerCase()),
    appSecretPrefix: required(env, 'APP_SECRET_PREFIX'),
    mintRecheckMs: seconds(env, 'MINT_RECHECK_SECONDS', 0, 3600) * 1000,
    lifecycleEvents: oneOf(env, 'LIFECYCLE_EVENTS', ['eventbridge', 'log', 'off'] as const, 'eventbridge'),
    eventBusName: env['EVENT_BUS_NAME']?.trim() || 'default',
    refreshFailingAfter: count(env, 'REFRESH_FAILING_AFTER', 3, 1, 100),
  };
}

function oneOf<T extends string>(env: Env, name: string, allowed: readonly T[], fallback: T): T {
  const value = env[name]?.trim();
  if (!value) return fallback;
  if (!(allowed as readonly string[]).includes(value)) throw new ConfigError(name, `is not one of ${allowed.join(', ')}`);
  return value as T;
}

function count(env: Env, name: string, fallback: number, min: number, max: number): number {
  const value = env[name]?.trim();
  if (!value) return fallback;
  if (!/^[0-9]{1,3}$/.test(value) || Number(value) < min || Number(value) > max) throw new ConfigError(name, `is not a whole number from ${min} to ${max}`);
  return Number(value);
}

function seconds(env: Env, name: string, fallback: number, max: number): number {
  const value = env[name]?.trim();
  if (!value) return fallback;
  if (!/^[0-9]{1,5}$/.test(value) || Number(value) > max) throw new ConfigError(name, `is not a whole number of seconds from 0 to ${max}`);
  return Number(value);
}

function required(env: Env, name: string): string {
  const value = env[name]?.trim();
  if (!value) throw new ConfigError(name, 'is not set');
  return value;
}

function url(env: Env, name: string, fallback: string): string {
  const value = env[name]?.trim() || fallback;
  let parsed: URL;
  try {
    parsed = new URL(value);
  } catch {
    throw new ConfigError(name, 'is not a URL');
  }
  if (parsed.protocol !== 'https:' && parsed.protocol !== 'http:') throw new ConfigError(name, 'is not an http(s) URL');
  return value.replace(/\/+$/, '');
}
