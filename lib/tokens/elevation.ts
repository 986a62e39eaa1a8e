import type { Clock } from '../runtime/clock';
import { createLru } from '../../packages/client/src/lru';
import { isGuid } from '../ids';
import type { ServiceLogger } from '../runtime/logger';
import { WixErrorKind, WixOAuthError, type TokenInfo, type WixClient } from '../wix';
import { WixRejectedError, TokenUnavailableError } from './errors';
import type { ElevationRequest, MintRequest } from './mint-request';
import { tokenHash } from './token-hash';

/**
 * Verified elevation: a token a Wix frontend or dashboard extension sent one of the app's own
 * backends becomes a trusted instance, the way @wix/sdk's AppStrategy `elevated()` does it, but
 * with Wix's answer shared per container. Token Info must call it active, issued for an app this
 * deployment serves (`clientId`), and naming an instance; anything else is WixRejected.
 *
 * ```
 * hash(token) known ──────────────────────────▶ its answer (until the token expires; a refusal for a minute)
 * a Token Info call for it in flight ─────────▶ that call's answer (a page's burst costs one call)
 * Token Info ──active, served app, instance──▶ the instance
 *            ├─ otherwise ────────────────────▶ WixRejected
 *            └─ Wix unreachable ──────────────▶ WixUnavailable (not remembered)
 * ```
 */
export interface Elevation {
  /**
   * The mint request for the instance behind `request.wixAccessToken`.
   * @throws {WixRejectedError} Token Info does not vouch for the token for a served app and an instance
   * @throws {TokenUnavailableError} Token Info could not be asked by `deadline`
   */
  resolve(request: ElevationRequest, deadline: number): Promise<MintRequest>;
}

export interface ElevationDeps {
  wix: Pick<WixClient, 'getTokenInfo'>;
  /** The apps this deployment serves (lower-case GUIDs). */
  appIds: readonly string[];
  now: Clock['now'];
  logger: Pick<ServiceLogger, 'info'>;
  /** Answers kept at most; the least recently used go first. Default 5000. */
  capacity?: number;
}

/** How long a refusal is remembered: a token does not become valid later, but a wrong guess costs little. */
const REFUSAL_MEMORY_MS = 60_000;
/** An answer without an expiry is kept this long. */
const DEFAULT_MEMORY_MS = 5 * 60_000;
/** Token Info gets at most this much of the invoke: the mint after it needs the rest. */
const TOKEN_INFO_TIMEOUT_MS = 3000;

type Verdict = { instance: { appId: string; instanceId: string }; until: number } | { refusal: string; until: number };

export function createElevation(deps: ElevationDeps): Elevation {
  const capacity = deps.capacity ?? 5000;
  const verdicts = createLru<string, Verdict>(capacity);
  const inFlight = new Map<string, Promise<Verdict>>();

  const remember = (hash: string, verdict: Verdict): void => verdicts.set(hash, verdict);

  const ask = async (token: string, deadline: number): Promise<Verdict> => {
    let info: TokenInfo;
    try {
      info = await deps.wix.getTokenInfo(token, { deadline: Math.min(deadline, deps.now() + TOKEN_INFO_TIMEOUT_MS) });
    } catch (error) {
      if (error instanceof WixOAuthError && error.kind !== WixErrorKind.Transient) {
        return { refusal: 'Wix refused to describe the token', until: deps.now() + REFUSAL_MEMORY_MS };
      }
      throw new TokenUnavailableError('Wix could not be asked about the token', { cause: error });
    }
    return judge(info, deps.appIds, deps.now());
  };

  return {
    async resolve(request, deadline) {
      const hash = tokenHash(request.wixAccessToken);
      let verdict = verdicts.get(hash);
      if (verdict !== undefined && verdict.until <= deps.now()) {
        verdicts.delete(hash);
        verdict = undefined;
      }
      if (verdict === undefined) {
        let pending = inFlight.get(hash);
        if (pending === undefined) {
          pending = ask(request.wixAccessToken, deadline).finally(() => inFlight.delete(hash));
          inFlight.set(hash, pending);
          verdict = await pending;
          remember(hash, verdict);
        } else {
          verdict = await pending;
        }
      }
      if ('refusal' in verdict) {
        deps.logger.info('elevation refused', { reason: verdict.refusal });
        throw new WixRejectedError(verdict.refusal);
      }
      if (request.appId !== undefined && request.appId !== verdict.instance.appId) {
        throw new WixRejectedError('the token was issued for another app');
      }
      const { wixAccessToken: _token, appId: _appId, ...options } = request;
      return { ...verdict.instance, ...options };
    },
  };
}

/** What Token Info's answer means for elevation; the reasons never quote the token. */
function judge(info: TokenInfo, appIds: readonly string[], now: number): Verdict {
  const refuse = (refusal: string): Verdict => ({ refusal, until: now + REFUSAL_MEMORY_MS });
  if (!info.active) return refuse('Wix says the token is not active');
  const appId = info.clientId?.toLowerCase();
  if (appId === undefined || !appIds.includes(appId)) return refuse('the token was not issued for an app this deployment serves');
  if (!isGuid(info.instanceId)) return refuse('the token names no app instance');
  if (info.expiresAt !== undefined && info.expiresAt <= now) return refuse('the token has expired');
  return { instance: { appId, instanceId: info.instanceId.toLowerCase() }, until: info.expiresAt ?? now + DEFAULT_MEMORY_MS };
}
