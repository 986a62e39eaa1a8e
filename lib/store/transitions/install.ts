import { A, type InstanceItem } from '../item';
import { and, eq, ge, le, missing, ne, not, or, type Update } from '../expression';
import { GrantKind, InstanceStatus } from '../types';
import { dueAssignments, ERROR_ATTRIBUTES, Refusal, to, type DuePlacement, type Stamp, type Transition } from './guards';

/**
 * The install callback's write (lib/tokens/install): the tokens of a code exchange. Its rule is in
 * the table of ../transitions.
 */

export interface InstallCallbackInput extends Stamp {
  appId: string;
  instanceId: string;
  /** Unique per install callback (its state's hash): a retried write finds its own mark. */
  installId: string;
  refreshToken: string;
  accessToken: string;
  accessTokenExpiresAt: number;
  /** Wix's clock: the exchanged token's issue time, epoch ms. */
  installedAt: number;
  due: DuePlacement;
}

/**
 * The tokens of a code exchange: creates the record or replaces the refresh token (a reinstall),
 * reviving a tombstone older than the install. A compare-and-set on the version read (`current`),
 * because what it writes depends on it (the newest event time, the next version); a caller that
 * meets `version` reads again and retries.
 *
 * ```
 * installId is this callback's ──────────────▶ applied (its own earlier write; its answer was lost)
 * tombstone with lastEventAt >= installedAt ──▶ uninstalled (the removal followed the consent)
 * lastInstallAt > installedAt ────────────────▶ superseded (a newer install's tokens are stored)
 * otherwise ──────────────────────────────────▶ write; lastEventAt = max(lastEventAt, installedAt)
 * ```
 */
export function installCallback(current: InstanceItem | undefined, input: InstallCallbackInput): Transition {
  const removedAfter = (item: InstanceItem | undefined) =>
    item?.status === InstanceStatus.Uninstalled && (item.lastEventAt ?? 0) >= input.installedAt;
  // Strictly newer: Wix's times are whole seconds, and of two installs in one second the one
  // whose callback comes last is the one the site owner just finished.
  const newerStored = (item: InstanceItem | undefined) => item?.lastInstallAt !== undefined && item.lastInstallAt > input.installedAt;
  const refused = (item: InstanceItem | undefined): Refusal => {
    if (item?.installId === input.installId) return Refusal.Applied;
    if (removedAfter(item)) return Refusal.Uninstalled;
    if (newerStored(item)) return Refusal.Superseded;
    return Refusal.Version;
  };
  const due = dueAssignments(input.due);
  const update: Update = {
    set: {
      appId: to(input.appId),
      instanceId: to(input.instanceId),
      status: to(InstanceStatus.Active),
      grantKind: to(GrantKind.Legacy),
      refreshToken: to(input.refreshToken),
      accessToken: to(input.accessToken),
      accessTokenExpiresAt: to(input.accessTokenExpiresAt),
      refreshedAt: to(input.at),
      version: to((current?.version ?? 0) + 1),
      createdAt: { ifMissing: input.at },
      updatedAt: to(input.at),
      lastEventAt: to(Math.max(current?.lastEventAt ?? input.installedAt, input.installedAt)),
      lastInstallAt: to(input.installedAt),
      installId: to(input.installId),
      writer: to(input.installId),
      ...due.set,
    },
    remove: [A.ttl, ...ERROR_ATTRIBUTES, ...due.remove],
  };
  const unchanged = current === undefined ? missing(A.pk) : eq(A.version, current.version);
  return {
    name: 'installCallback',
    condition: and(
      unchanged,
      // Not this callback's own write already (a retry whose first answer was lost).
      or(missing(A.installId), ne(A.installId, input.installId)),
      not(and(eq(A.status, InstanceStatus.Uninstalled), ge(A.lastEventAt, input.installedAt))),
      or(missing(A.lastInstallAt), le(A.lastInstallAt, input.installedAt)),
    ),
    update,
    refused,
  };
}
