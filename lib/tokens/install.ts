import type { Clock } from '../runtime/clock';
import { lifecycleEvents, type EventSink } from '../events';
import { createHash, randomBytes } from 'node:crypto';

import { categoryOf, Dependency, ErrorCategory, ServiceError } from '../errors';
import { isGuid } from '../ids';
import type { ServiceLogger } from '../runtime/logger';
import { withAppCredentials, type AppSecretsProvider } from '../secrets';
import { StoreUnavailableError, type InstallStateStore, type InstanceKey, type TokenStore } from '../store';
import { WixOAuthError, type LegacyTokens, type WixClient } from '../wix';
import { InvalidRequestError } from './errors';
import { carriesBrowserTag, installCookie, installCookiePolicy, installCookieName, isTopLevelNavigation, type FetchMetadata, type InstallCookiePolicy } from './install-binding';
import { InstallStateError, InstallStateFailure, issueBoundInstallState, issueInstallState, verifyInstallState, type VerifiedState } from './install-state';
import { resolveAppId } from './mint-request';
import { legacyHealthDueAt } from './refresh-policy';
import { retryWhileUnavailable } from './retry';

/** The Redirect URL's path under PUBLIC_URL; register `${PUBLIC_URL}/oauth/callback` with Wix. */
export const CALLBACK_PATH = '/oauth/callback';

/** Wix's install token and code are opaque; anything longer than this is not one of them. */
const MAX_OPAQUE_LENGTH = 4096;
/** Kept back from the callback's deadline for storing the tokens (and retrying the store). */
const STORE_RESERVE_MS = 2000;
/** The state is consumed before any Wix call, within this long (retried while the store is unavailable). */
const CONSUME_BUDGET_MS = 2000;

export interface InstallDeps {
  /** The apps this deployment serves (lower case); the first is not special. */
  appIds: readonly string[];
  /** WIX_INSTALLER_URL, no trailing slash. */
  installerUrl: string;
  /** PUBLIC_URL, no trailing slash: the Redirect URL is `${publicUrl}${CALLBACK_PATH}`. */
  publicUrl: string;
  /** The browser cookie's name and attributes; by PUBLIC_URL's scheme when not given. */
  cookiePolicy?: InstallCookiePolicy;
  secrets: AppSecretsProvider;
  store: Pick<TokenStore, 'storeInstallTokens'>;
  /** Where install states are consumed (single use). */
  states: InstallStateStore;
  wix: Pick<WixClient, 'exchangeCode' | 'getTokenInfo'>;
  now: Clock['now'];
  sleep: Clock['sleep'];
  /** Attributes never carry a code, token or state. */
  logger: Pick<ServiceLogger, 'info' | 'warn'>;
  /** Source of the state's nonce; crypto.randomBytes by default. */
  randomBytes?: (size: number) => Buffer;
  /** Lifecycle events (InstanceInstalled); none by default. */
  events?: EventSink;
}

/** Wix's Token Info did not vouch for the token the code exchange returned (code `INSTALL_NOT_CONFIRMED`). */
export class InstallNotConfirmedError extends ServiceError {
  override readonly category = ErrorCategory.Rejected;
  override readonly dependency = Dependency.Wix;
  constructor(reason: string) {
    super('INSTALL_NOT_CONFIRMED', `Wix did not confirm the installation: ${reason}`);
  }
}

/** GET /install as it arrives: every field is optional and unchecked. */
export interface InstallStartRequest {
  appId?: string;
  /** Wix's install token; absent when the install starts from our own site. */
  token?: string;
  /** Sec-Fetch-Dest / Sec-Fetch-Mode: a top-level navigation gets a state bound to its browser. */
  fetchMetadata?: FetchMetadata;
}

/** Where GET /install sends the browser, and what is safe to log about it. */
export interface InstallStarted {
  appId: string;
  /** `${installerUrl}/installer/install?...`: carries the state (and Wix's install token). */
  location: string;
  /** Whether Wix started the install (an install token came along) rather than our own site. */
  fromWix: boolean;
  /** Whether the state is bound to this browser (a top-level navigation). */
  bound: boolean;
  /** The Set-Cookie of a bound state (carries its browser tag: never log it). */
  cookie?: string;
}

/**
 * The App URL: where the installer should send the browser, with a fresh signed state.
 *
 * @throws {InvalidRequestError} the appId is missing (several apps served), malformed or not served; the token is too long
 * @throws {SecretsUnavailableError} / {AppSecretMalformedError} the app's secret cannot be read
 * @see https://dev.wix.com/docs/build-apps/develop-your-app/access/authentication/use-advanced-oauth
 */
export async function startInstall(deps: InstallDeps, request: InstallStartRequest): Promise<InstallStarted> {
  const appId = resolveAppId(request.appId === '' ? undefined : request.appId, deps.appIds);
  const token = request.token === '' ? undefined : request.token;
  if (token !== undefined && token.length > MAX_OPAQUE_LENGTH) throw new InvalidRequestError('token', 'is too long');

  const random = deps.randomBytes ?? randomBytes;
  const bound = isTopLevelNavigation(request.fetchMetadata ?? {});
  let state: string;
  let cookie: string | undefined;
  if (bound) {
    const issued = await issueBoundInstallState(deps, appId, random);
    state = issued.state;
    cookie = installCookie(cookiePolicyOf(deps), stateIdOf(state), issued.browserTag);
  } else {
    state = await issueInstallState(deps, appId, random);
  }
  const target = new URL(`${deps.installerUrl}/installer/install`);
  if (token !== undefined) target.searchParams.set('token', token);
  target.searchParams.set('appId', appId);
  target.searchParams.set('redirectUrl', `${deps.publicUrl}${CALLBACK_PATH}`);
  target.searchParams.set('state', state);
  return { appId, location: target.href, fromWix: token !== undefined, bound, ...(cookie === undefined ? {} : { cookie }) };
}

function cookiePolicyOf(deps: Pick<InstallDeps, 'cookiePolicy' | 'publicUrl'>): InstallCookiePolicy {
  return deps.cookiePolicy ?? installCookiePolicy(deps.publicUrl);
}

/** Everything but the MAC: what {@link VerifiedState.id} is. */
function stateIdOf(state: string): string {
  return state.slice(0, state.lastIndexOf('.'));
}

/** GET /oauth/callback as it arrives: every field is optional and unchecked. */
export interface InstallCallbackRequest {
  code?: string;
  state?: string;
  instanceId?: string;
  /** The request's cookies (`name=value`): a bound state's callback must bring its own. */
  cookies?: readonly string[];
}

export interface InstallCompleted extends InstanceKey {
  /** `${installerUrl}/installer/close-window?access_token=...`: carries the access token. */
  location: string;
  /** The stored record's version (1 for a first install). */
  version: number;
}

/**
 * The Redirect URL: checks the state, exchanges the code, stores the tokens, and only then says
 * where to close the consent window.
 *
 * ```
 * state ok? ──no──▶ InstallStateError (nothing consumed)
 *   │
 * bound state and not this browser's cookie? ──▶ InstallStateError(other_browser): nothing spent
 *   │
 * consume state ──already used──▶ InstallStateError(used): a reload never reaches Wix or the store
 *   │
 * exchange code ──transient──▶ release the state, rethrow: a reload may try again with the same code
 *   │          └─refused────▶ rethrow; the state stays spent (the code is dead anyway)
 * Token Info: the token is for this app and the instanceId the browser sent
 *   │
 * storeInstallTokens at the token's issue time (Wix's clock), retried while the store is unavailable
 *   │
 * close-window URL
 * ```
 *
 * The state is consumed before the exchange so that two callbacks with one state (a reload, a
 * replay) can never both reach the store: only one of them consumes it (a retry of
 * the same callback, whose first answer was lost, recognises its own mark). The instanceId
 * in the query is the browser's word, so the token Wix returned is checked with Token Info before
 * anything is stored under it (otherwise a code from one site could overwrite another site's
 * refresh token).
 *
 * @param options.deadline epoch ms by which the answer must be ready
 * @throws {InvalidRequestError} code or instanceId missing or malformed; the instanceId is not the code's
 * @throws {InstallStateError} state missing, invalid, expired or used
 * @throws {WixOAuthError} the exchange or Token Info failed (`kind` says how)
 * @throws {InstallNotConfirmedError} Token Info did not vouch for the token
 * @throws {StaleEventError} the app was uninstalled from the instance after this consent
 * @throws {StoreUnavailableError} / {TokenConflictError} the tokens could not be stored
 */
export async function completeInstall(
  deps: InstallDeps,
  request: InstallCallbackRequest,
  options: { deadline: number },
): Promise<InstallCompleted> {
  if (request.state === undefined || request.state === '') throw new InstallStateError(InstallStateFailure.Missing);
  const code = request.code;
  if (code === undefined || code === '') throw new InvalidRequestError('code', 'is missing');
  if (code.length > MAX_OPAQUE_LENGTH) throw new InvalidRequestError('code', 'is too long');
  if (request.instanceId === undefined || request.instanceId === '') throw new InvalidRequestError('instanceId', 'is missing');
  if (!isGuid(request.instanceId)) throw new InvalidRequestError('instanceId', 'must be a GUID');
  const instanceId = request.instanceId.toLowerCase();

  const state = await verifyInstallState(deps, request.state);
  if (state.bound && !carriesBrowserTag(request.cookies ?? [], installCookieName(cookiePolicyOf(deps), state.id), state.browserTag ?? '')) {
    // Checked before the consume: a leaked callback URL opened elsewhere spends nothing, and the
    // site owner's own browser can still complete it.
    throw new InstallStateError(InstallStateFailure.OtherBrowser);
  }
  const key: InstanceKey = { appId: state.appId, instanceId };
  // This callback's own mark on the state: a retried consume whose answer was lost finds it.
  const consumer = (deps.randomBytes ?? randomBytes)(16).toString('hex');
  const consumeDeadline = Math.min(options.deadline - STORE_RESERVE_MS, deps.now() + CONSUME_BUDGET_MS);
  const consumed = await retryWhileUnavailable(deps, (attempt) => deps.states.consume(state.id, state.expiresAt, consumer, attempt), {
    deadline: consumeDeadline,
    onRetry: (attempt, delayMs, error) => deps.logger.warn('retrying the install state consume', { ...key, attempt, delayMs, awsErrorName: error.awsErrorName }),
  });
  if (!consumed) throw new InstallStateError(InstallStateFailure.Used);

  const wixDeadline = options.deadline - STORE_RESERVE_MS;
  const tokens = await exchange(deps, key, code, { state, consumer }, wixDeadline);
  const installedAt = await confirmInstance(deps, key, tokens.accessToken, wixDeadline);

  const record = await retryWhileUnavailable(
    deps,
    (attempt) =>
      deps.store.storeInstallTokens(
        key,
        {
          refreshToken: tokens.refreshToken,
          accessToken: tokens.accessToken,
          accessTokenExpiresAt: tokens.expiresAt,
          installedAt,
          // One install callback, one mark: its retries (and the SDK's) recognise their own write.
          installId: createHash('sha256').update(state.id, 'utf8').digest('base64url'),
          // The legacy access token lives five minutes and is not kept warm; the sweep's daily health
          // pass of the refresh token is the next look at this instance.
          refreshDueAt: legacyHealthDueAt(deps.now(), key),
        },
        attempt,
      ),
    {
      deadline: options.deadline,
      onRetry: (attempt, delayMs, error) => deps.logger.warn('retrying the install token store', { ...key, attempt, delayMs, awsErrorName: error.awsErrorName }),
    },
  );

  await deps.events?.emit(lifecycleEvents('install callback', record, deps.now()));

  const target = new URL(`${deps.installerUrl}/installer/close-window`);
  target.searchParams.set('access_token', tokens.accessToken);
  return { ...key, location: target.href, version: record.version };
}

async function exchange(
  deps: InstallDeps,
  key: InstanceKey,
  code: string,
  { state, consumer }: { state: VerifiedState; consumer: string },
  deadline: number,
): Promise<LegacyTokens> {
  try {
    return await withAppCredentials(deps.secrets, key.appId, (credentials) => deps.wix.exchangeCode(credentials, code, { deadline }));
  } catch (error) {
    if (spentNothing(error)) {
      // Give the state back so that reloading the callback (same code) can try again.
      try {
        await deps.states.release(state.id, consumer);
        deps.logger.info('install state released after a transient failure', { ...key });
      } catch (releaseError) {
        if (!(releaseError instanceof StoreUnavailableError)) throw releaseError;
        deps.logger.warn('install state could not be released', { ...key, code: releaseError.code });
      }
    }
    throw error;
  }
}

/** True when the exchange failed in a way that may have left the code unused. */
function spentNothing(error: unknown): boolean {
  // A 2xx with an unusable body (WIX_MALFORMED_RESPONSE) means Wix spent the code.
  if (error instanceof WixOAuthError) return error.category === ErrorCategory.Unavailable && error.code !== 'WIX_MALFORMED_RESPONSE';
  // Failed before Wix was called (the app's secret could not be read): the code is unspent.
  const category = categoryOf(error);
  return category === ErrorCategory.Unavailable || category === ErrorCategory.Misconfigured;
}

/**
 * Checks with Token Info that the new token is this app's, for the instance the browser named, and
 * returns the install's time on Wix's clock: the token's issue time, which is what the install is
 * ordered by against webhook `iat` (both Wix's clock, both whole seconds). Without an `iat` (Wix
 * documents one, so this should not happen) the install is ordered by this service's clock, and
 * that is logged.
 */
async function confirmInstance(deps: InstallDeps, key: InstanceKey, accessToken: string, deadline: number): Promise<number> {
  const info = await deps.wix.getTokenInfo(accessToken, { deadline });
  if (!info.active) throw new InstallNotConfirmedError('the new access token is not active');
  if (info.instanceId === undefined) throw new InstallNotConfirmedError('Token Info names no instance');
  if (info.instanceId.toLowerCase() !== key.instanceId || (info.clientId !== undefined && info.clientId.toLowerCase() !== key.appId)) {
    throw new InvalidRequestError('instanceId', 'does not match the installation code');
  }
  if (info.issuedAt !== undefined) return info.issuedAt;
  deps.logger.warn("Token Info gave no issue time: the install is ordered by this service's clock", { ...key });
  return deps.now();
}
