import { createPublicKey } from 'node:crypto';

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
  /**
   * WIX_WEBHOOK_PUBLIC_KEYS (optional, webhooks only): each served app's webhook public key, as
   * `<appId>=<base64 of the key's DER, the PEM body>` pairs, comma-separated; here as PEM by app id.
   * When set, webhooks verifies with these and never reads an app's secret (whose IAM grant the
   * stack then withholds, infra/iam.yml); absent, the key comes from the secret as before.
   */
  webhookPublicKeys?: Readonly<Record<string, string>>;
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
  const served = appIds.map((id) => id.toLowerCase());
  const webhookPublicKeys = webhookKeys(env, served);
  return {
    ...(webhookPublicKeys === undefined ? {} : { webhookPublicKeys }),
    wixApiUrl: url(env, 'WIX_API_URL', 'https://www.wixapis.com'),
    wixInstallerUrl: url(env, 'WIX_INSTALLER_URL', 'https://www.wix.com'),
    publicUrl: url(env, 'PUBLIC_URL', 'http://localhost:3000'),
    tokensTable: required(env, 'TOKENS_TABLE'),
    appIds: served,
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

/** WIX_WEBHOOK_PUBLIC_KEYS: one RSA public key per served app, or undefined when unset. */
function webhookKeys(env: Env, served: readonly string[]): Readonly<Record<string, string>> | undefined {
  const name = 'WIX_WEBHOOK_PUBLIC_KEYS';
  const value = env[name]?.trim();
  if (!value) return undefined;
  const keys: Record<string, string> = {};
  for (const pair of value.split(',').map((part) => part.trim()).filter((part) => part !== '')) {
    const at = pair.indexOf('=');
    const appId = at > 0 ? pair.slice(0, at).trim().toLowerCase() : '';
    if (!isGuid(appId)) throw new ConfigError(name, 'holds a pair that does not start with an app id (a GUID) and =');
    if (!served.includes(appId)) throw new ConfigError(name, 'names an app that is not in WIX_APP_IDS');
    if (keys[appId] !== undefined) throw new ConfigError(name, 'names an app twice');
    const pem = rsaPublicKeyPem(pair.slice(at + 1));
    if (pem === undefined) throw new ConfigError(name, 'holds a key that is not the base64 DER of an RSA public key (the body of its PEM)');
    keys[appId] = pem;
  }
  if (served.some((appId) => keys[appId] === undefined)) throw new ConfigError(name, 'has no key for an app of WIX_APP_IDS');
  return Object.freeze(keys);
}

/** The PEM (SPKI) of an RSA public key given as base64 DER, or undefined when it is not one. */
function rsaPublicKeyPem(base64: string): string | undefined {
  const body = base64.replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(body)) return undefined;
  try {
    const key = createPublicKey({ key: Buffer.from(body, 'base64'), format: 'der', type: 'spki' });
    if (key.asymmetricKeyType !== 'rsa') return undefined;
    return key.export({ format: 'pem', type: 'spki' }).toString();
  } catch {
    return undefined;
  }
}
