import { A } from '../item';
import { and, eq, lt, missing, ne, or } from '../expression';
import { GrantKind, InstanceStatus } from '../types';
import { ERROR_ATTRIBUTES, LEASE_ATTRIBUTES, Refusal, to, type Stamp, type Transition } from './guards';

/**
 * The webhooks' writes (lib/tokens/webhook): AppInstalled, AppRemoved and the follow-up that puts an
 * installed instance back in the due index. Their rules are in the table of ../transitions.
 */

export interface LifecycleEventInput extends Stamp {
  appId: string;
  instanceId: string;
  /** Wix's clock: the webhook's `iat`, epoch ms. */
  eventAt: number;
}

/**
 * AppInstalled: an active instance, its grant kind kept (a refresh token held stays legacy), else
 * client credentials. Strictly newer events only: on a tie with a removal, the removal wins.
 *
 * Tokens are kept: Wix does not say whether AppInstalled is sent before or after the install
 * callback's code exchange, and the refresh token that exchange stored must never be dropped. A
 * record that keeps tokens but left the due index (it was needs_reauth, which this clears) is
 * then put back by {@link scheduleNow}, so the next sweep looks at what it holds.
 */
export function appInstalled(input: LifecycleEventInput & { originInstanceId?: string }): Transition<'duplicate' | 'stale'> {
  return {
    name: 'appInstalled',
    condition: or(missing(A.lastEventAt), lt(A.lastEventAt, input.eventAt)),
    update: {
      set: {
        appId: to(input.appId),
        instanceId: to(input.instanceId),
        status: to(InstanceStatus.Active),
        grantKind: { ifMissing: GrantKind.ClientCredentials },
        version: { add: 1, from: 0 },
        createdAt: { ifMissing: input.at },
        updatedAt: to(input.at),
        lastEventAt: to(input.eventAt),
        ...(input.originInstanceId === undefined ? {} : { originInstanceId: to(input.originInstanceId) }),
      },
      remove: [A.ttl, ...ERROR_ATTRIBUTES],
    },
    refused: (item) =>
      item?.lastEventAt === input.eventAt && item.status !== InstanceStatus.Uninstalled ? Refusal.Duplicate : Refusal.Stale,
  };
}

/**
 * AppRemoved: a tombstone. Tokens, lease and due time go; the item is purged at `purgeAt`.
 * Newer events apply, and so does one equal to an install's (a removal wins a tie).
 */
export function appRemoved(input: LifecycleEventInput & { purgeAtSeconds: number }): Transition<'duplicate' | 'stale'> {
  return {
    name: 'appRemoved',
    condition: or(
      missing(A.lastEventAt),
      lt(A.lastEventAt, input.eventAt),
      and(eq(A.lastEventAt, input.eventAt), ne(A.status, InstanceStatus.Uninstalled)),
    ),
    update: {
      set: {
        appId: to(input.appId),
        instanceId: to(input.instanceId),
        status: to(InstanceStatus.Uninstalled),
        // No refresh token survives a tombstone, so a revived instance starts on client credentials.
        grantKind: to(GrantKind.ClientCredentials),
        version: { add: 1, from: 0 },
        createdAt: { ifMissing: input.at },
        updatedAt: to(input.at),
        lastEventAt: to(input.eventAt),
        ttl: to(input.purgeAtSeconds),
      },
      remove: [A.refreshToken, A.accessToken, A.accessTokenExpiresAt, A.dueShard, A.dueAt, ...LEASE_ATTRIBUTES, ...ERROR_ATTRIBUTES],
    },
    refused: (item) =>
      item?.lastEventAt === input.eventAt && item.status === InstanceStatus.Uninstalled ? Refusal.Duplicate : Refusal.Stale,
  };
}

/**
 * Puts an active instance that holds tokens but is out of the due index back in it, due now,
 * provided nothing was written since it was read (`expectedVersion`); the follow-up of
 * {@link appInstalled}, repeated when the webhook is redelivered.
 */
export function scheduleNow(input: Stamp & { expectedVersion: number; due: { shard: string; dueAt: number } }): Transition<'stale'> {
  return {
    name: 'scheduleNow',
    condition: and(eq(A.version, input.expectedVersion), eq(A.status, InstanceStatus.Active), missing(A.dueAt)),
    update: { set: { dueShard: to(input.due.shard), dueAt: to(input.due.dueAt) }, remove: [] },
    refused: () => Refusal.Stale,
  };
}
