import { systemClock, type Clock } from '../runtime/clock';
import { randomUUID } from 'node:crypto';

import { isGuid } from '../ids';
import { GrantKind, InstanceStatus, type InstanceKey, type TokenStore } from '../store';
import { clientCredentialsDueAt, legacyHealthDueAt } from '../tokens/refresh-policy';
import { WixCredentialsRejectedError, WixGrantInvalidError, WixOAuthError, type AppCredentials, type WixClient } from '../wix';

/**
 * `npm run ops -- import <file.jsonl>`: existing installs brought in, one
 * `{"instanceId", "refreshToken"?}` a line.
 *
 * Each line is checked before anything is written: an instance already holding tokens, or a
 * tombstone, is skipped without a Wix call (so a second run of the same file spends no refresh
 * token); otherwise the refresh token is used once with Wix (a line without one: one
 * client-credentials grant for the instance) and what Wix hands back, the rotated refresh token
 * and the access token, is stored encrypted by lib/store/transitions importTokens, which only
 * writes over no record or a bare one. No token appears in the summary: lines are named by number.
 */
export interface ImportSummary {
  imported: number;
  /** Lines whose token Wix refused (dead refresh token, or the instance is not installed). */
  refused: number[];
  /** Lines that are not `{"instanceId": GUID, "refreshToken"?: string}`. */
  malformed: number[];
  /** Lines whose instance is already present (tokens or a tombstone), or written meanwhile. */
  skipped: number[];
  /** Lines Wix could not be asked about (unavailable, malformed answer): run the file again later. */
  failed: number[];
}

export interface ImportDeps {
  store: TokenStore;
  wix: Pick<WixClient, 'refreshAccessToken' | 'createAccessToken'>;
  /** The app's credentials (app id and secret); the store encrypts with the app's key ring. */
  credentials: AppCredentials;
  now?: Clock['now'];
  /** Distinguishes this run's writes (a retried write recognises its own); a random one by default. */
  runId?: string;
}

type Line = { instanceId: string; refreshToken?: string };

/** A line's content, or undefined when malformed (never says why in terms of its values). */
export function parseImportLine(text: string): Line | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return undefined;
  const { instanceId, refreshToken, ...rest } = parsed as Record<string, unknown>;
  if (Object.keys(rest).length > 0 || !isGuid(instanceId)) return undefined;
  if (refreshToken !== undefined && (typeof refreshToken !== 'string' || refreshToken.trim() === '')) return undefined;
  return refreshToken === undefined ? { instanceId: instanceId.toLowerCase() } : { instanceId: instanceId.toLowerCase(), refreshToken };
}

/**
 * Imports the lines of a JSONL file (blank lines ignored; numbered from 1).
 * @throws {WixCredentialsRejectedError} when Wix refuses the app's secret: nothing more can be checked.
 * Other Wix failures (unavailable, a malformed answer) mark the line `failed`; anything else is rethrown.
 */
export async function importInstalls(deps: ImportDeps, text: string): Promise<ImportSummary> {
  const now = deps.now ?? systemClock.now;
  const runId = deps.runId ?? randomUUID();
  const summary: ImportSummary = { imported: 0, refused: [], malformed: [], skipped: [], failed: [] };
  const lines = text.split(/\r?\n/);
  for (const [index, raw] of lines.entries()) {
    const number = index + 1;
    if (raw.trim() === '') continue;
    const line = parseImportLine(raw);
    if (line === undefined) {
      summary.malformed.push(number);
      continue;
    }
    const key: InstanceKey = { appId: deps.credentials.appId, instanceId: line.instanceId };
    const present = await deps.store.describeInstance(key);
    if (present !== undefined && (present.status === InstanceStatus.Uninstalled || present.accessTokenExpiresAt !== undefined)) {
      summary.skipped.push(number);
      continue;
    }
    let checked: { grantKind: GrantKind; refreshToken?: string; accessToken: string; expiresAt: number };
    try {
      if (line.refreshToken !== undefined) {
        const tokens = await deps.wix.refreshAccessToken(deps.credentials, line.refreshToken);
        checked = { grantKind: GrantKind.Legacy, refreshToken: tokens.refreshToken, accessToken: tokens.accessToken, expiresAt: tokens.expiresAt };
      } else {
        const token = await deps.wix.createAccessToken(deps.credentials, line.instanceId);
        checked = { grantKind: GrantKind.ClientCredentials, accessToken: token.accessToken, expiresAt: token.expiresAt };
      }
    } catch (error) {
      if (error instanceof WixCredentialsRejectedError || !(error instanceof WixOAuthError)) throw error;
      if (error instanceof WixGrantInvalidError) summary.refused.push(number);
      else summary.failed.push(number);
      continue;
    }
    const result = await deps.store.importTokens(key, {
      importId: `import:${runId}:${line.instanceId}`,
      grantKind: checked.grantKind,
      ...(checked.refreshToken === undefined ? {} : { refreshToken: checked.refreshToken }),
      accessToken: checked.accessToken,
      accessTokenExpiresAt: checked.expiresAt,
      refreshDueAt: checked.grantKind === GrantKind.Legacy ? legacyHealthDueAt(now(), key) : clientCredentialsDueAt(checked.expiresAt, key),
    });
    if (result.outcome === 'imported') summary.imported += 1;
    else summary.skipped.push(number);
  }
  return summary;
}
