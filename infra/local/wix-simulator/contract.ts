/**
 * The simulator's public surface: its options, the running simulator's methods, its routes
 * and the lifetimes it enforces. The parts that implement it live beside this file.
 */
import type { Intercept } from './faults';
import type { WixErrorShape } from './replies';

export type { WixErrorShape } from './replies';

/** An app the simulator knows: its id (the OAuth `client_id`) and its secret. */
export interface SimulatedApp {
  appId: string;
  appSecret: string;
}

/** How {@link startWixSimulator} sets the simulator up. Every field is optional. */
export interface WixSimulatorOptions {
  /** Port to listen on; default 0, a random free port. */
  port?: number;
  /** Interface to listen on; default `127.0.0.1`. */
  host?: string;
  /** Apps known from the start. */
  apps?: SimulatedApp[];
  /** Clock in epoch milliseconds, default `Date.now`; tests pass a fake one to expire codes and tokens. */
  now?: () => number;
  /** Delay added to every response, in milliseconds; default 0. */
  latencyMs?: number;
  /** Source of randomness handed to interception hooks (probabilistic faults); default `mulberry32(42)`, so runs are reproducible. */
  random?: () => number;
  /** Shape of error bodies: RFC 6749 `{error, error_description}` (default) or Wix's `{message, details}`. */
  errorShape?: WixErrorShape;
  /** Add `expires_in: 300` to legacy grant answers; default false (Wix's samples show only two fields). */
  legacyExpiresIn?: boolean;
  /** The refresh_token grant hands back a new refresh token and retires the old one; default false (same one). */
  rotateRefreshTokens?: boolean;
  /** Token Info values as strings (`"true"`, `"1715096067"`) like the docs sample; default true. */
  tokenInfoAsStrings?: boolean;
  /**
   * The installer asks for consent first, as Wix's does: GET `/installer/install` answers a page
   * whose Allow button posts the form back, and only that POST issues the code and redirects.
   * Default false: the GET redirects at once (for fetch-driven tests and curl).
   */
  consentPage?: boolean;
}

/** Live call counters: all calls, per URL path and per `grant_type` found in the body. */
export interface CallCounts {
  total: number;
  byPath: Record<string, number>;
  byGrant: Record<string, number>;
}

/** A running simulator. Every method acts at once, on in-memory state. */
export interface WixSimulator {
  /** Base URL, e.g. `http://127.0.0.1:51234`; use it as both the Wix API and installer URL. */
  readonly url: string;
  /** Closes the server and destroys every open socket, hanging requests included. Idempotent. */
  stop(): Promise<void>;
  /** Adds an app, or replaces the secret of a known one. */
  addApp(app: SimulatedApp): void;
  /**
   * Rotates an app's secret: the old one is refused from now on, issued tokens stay valid.
   * @throws Error when the app is unknown.
   */
  setAppSecret(appId: string, appSecret: string): void;
  /**
   * Marks an instance installed (a random GUID when none is given) and returns its id.
   * @throws Error when the app is unknown.
   */
  install(appId: string, instanceId?: string): string;
  /** Removes the app from the instance: its codes, refresh tokens and access tokens die, for good. */
  uninstall(appId: string, instanceId: string): void;
  /** Whether the app is installed on the instance now. */
  isInstalled(appId: string, instanceId: string): boolean;
  /**
   * What the installer does on consent: installs the instance if needed and issues a code.
   * @throws Error when the app is unknown.
   */
  issueCode(appId: string, instanceId: string): string;
  /**
   * A token as a Wix frontend or dashboard extension carries it (a site owner's or visitor's),
   * for elevation tests: Token Info vouches for it while it lives and its app is installed on the
   * instance. `instanceId` undefined: a token issued outside any site (Token Info names no
   * instance). `active: false`: Token Info answers inactive (expired or revoked).
   */
  issueFrontendToken(appId: string, instanceId: string | undefined, options?: { active?: boolean; lifetimeSeconds?: number }): string;
  /** Changes the delay added to every response, in milliseconds. */
  setLatency(ms: number): void;
  /**
   * Adds an interception hook (see {@link Intercept}; {@link wixFaults} makes the common ones).
   * Hooks are asked in the order they were added; the first that intercepts a call wins.
   */
  intercept(hook: Intercept): void;
  /** Removes every interception hook. */
  clearIntercepts(): void;
  /** Live call counters, intercepted calls included. */
  readonly calls: CallCounts;
  /** Sets every counter in {@link calls} back to zero (the same object stays live). */
  resetCalls(): void;
  /** The `access_token` values received by `/installer/close-window`, in order. */
  readonly closedWindows: string[];
  /** How many access tokens, new refresh tokens and codes were issued. */
  readonly issued: { accessTokens: number; refreshTokens: number; codes: number };
  /** Every secret-ish value this simulator ever issued (codes, access tokens, refresh tokens) so tests can assert none of them leaks into logs or errors. */
  issuedSecrets(): string[];
  /** The refresh tokens Wix would accept for the instance now (none once uninstalled), for consistency checks. */
  liveRefreshTokens(appId: string, instanceId: string): string[];
  /**
   * What the simulator knows of a token it issued (read-only, for model-based tests): its kind,
   * instance, issue order (`seq`, one counter for every token issued) and whether Wix accepts it now.
   */
  describeToken(token: string): IssuedTokenDescription | undefined;
}

/** What {@link WixSimulator.describeToken} tells about an issued token; never the token itself. */
export interface IssuedTokenDescription {
  kind: 'access' | 'refresh';
  appId: string;
  instanceId: string;
  /** Issue order across every token the simulator issued, from 1. */
  seq: number;
  /** The install epoch it was issued in (bumped by every uninstall). */
  epoch: number;
  /** Wix accepts it now: installed in its epoch, not rotated away, not expired. */
  live: boolean;
  /** Access tokens only: issue and expiry time, epoch seconds. */
  iat?: number;
  exp?: number;
}

/** The authenticated Wix API route the simulator serves (issue 13). */
export const APP_INSTANCE_PATH = '/apps/v1/instance';

/** The routes the simulator serves. */
export const WixSimulatorPaths = {
  legacyAccess: '/oauth/access',
  token: '/oauth2/token',
  tokenInfo: '/oauth2/token-info',
  install: '/installer/install',
  /** Older form of the installer URL, same parameters. */
  legacyConsent: '/app-oauth-installation/consent',
  closeWindow: '/installer/close-window',
} as const;

/** The lifetimes the simulator enforces, as wix-oauth.md documents them. */
export const WixSimulatorLifetimes = {
  codeMs: 10 * 60 * 1000,
  legacyAccessTokenSeconds: 300,
  clientCredentialsSeconds: 14_400,
} as const;
