import { A } from '../item';
import { and, eq, exists, le, missing, or, type Attribute, type Condition } from '../expression';
import { GrantKind, InstanceStatus } from '../types';
import { dueAssignments, ERROR_ATTRIBUTES, notTombstone, Refusal, to, type DuePlacement, type LeaseJudgement, type Transition } from './guards';

/**
 * The operator's writes (infra/ops, lib/ops): re-wrapping token envelopes under the ring's current
 * key, and importing an existing install. Their rules are in the table of ../transitions.
 */

export interface RewrapInput {
  /** What was read: the version and the exact envelopes (absent: the attribute was missing). */
  read: { version: number; refreshToken?: string; accessToken?: string };
  /** The same plaintexts under the ring's current key; only the envelopes being replaced. */
  refreshToken?: string;
  accessToken?: string;
}

const sameAs = (attribute: Attribute, value: string | undefined): Condition => (value === undefined ? missing(attribute) : eq(attribute, value));

/**
 * Replaces token envelopes by envelopes of the same tokens under another key. It changes no token,
 * so it bumps no version and leaves the lease alone: a holder that read the record before it still
 * writes. Its own condition is therefore the exact ciphertexts read (and the version): any token
 * write since the read changed an envelope, and the re-wrap is refused rather than putting back an
 * older token.
 */
export function rewrapTokens(input: RewrapInput): Transition<'not_found' | 'version'> {
  return {
    name: 'rewrapTokens',
    condition: and(exists(A.pk), eq(A.version, input.read.version), sameAs(A.refreshToken, input.read.refreshToken), sameAs(A.accessToken, input.read.accessToken)),
    update: {
      set: {
        ...(input.refreshToken === undefined ? {} : { refreshToken: to(input.refreshToken) }),
        ...(input.accessToken === undefined ? {} : { accessToken: to(input.accessToken) }),
      },
      remove: [],
    },
    refused: (item) => (item === undefined ? Refusal.NotFound : Refusal.Version),
  };
}

export interface ImportInput extends LeaseJudgement {
  appId: string;
  instanceId: string;
  /** Unique per import run and line: a retried write finds its own mark. */
  importId: string;
  /** The version of the bare record read, or undefined when none was. */
  expectedVersion: number | undefined;
  grantKind: GrantKind;
  /** Envelopes (already encrypted); refreshToken only for a legacy grant. */
  refreshToken?: string;
  accessToken: string;
  accessTokenExpiresAt: number;
  due: DuePlacement;
}

/**
 * An existing install brought in by the operator, its tokens checked with Wix just before. It only
 * fills in what nothing newer has written: no record, or a bare one (created by a mint or an
 * AppInstalled, holding no token) still at the version read and not leased by a live holder.
 * A record holding tokens, or a tombstone, is never overwritten.
 *
 * ```
 * writer is this import ─────────────▶ applied (its own earlier write; its answer was lost)
 * tombstone ─────────────────────────▶ uninstalled
 * holds a token ─────────────────────▶ superseded
 * live lease ────────────────────────▶ held
 * otherwise (version moved) ─────────▶ version
 * ```
 */
export function importTokens(input: ImportInput): Transition<'applied' | 'uninstalled' | 'superseded' | 'held' | 'version'> {
  const due = dueAssignments(input.due);
  const bare = and(
    eq(A.version, input.expectedVersion ?? -1),
    notTombstone,
    missing(A.refreshToken),
    missing(A.accessToken),
    or(missing(A.leaseOwner), le(A.leaseExpiresAt, input.at - input.skewMs)),
  );
  return {
    name: 'importTokens',
    condition: input.expectedVersion === undefined ? missing(A.pk) : bare,
    update: {
      set: {
        appId: to(input.appId),
        instanceId: to(input.instanceId),
        status: to(InstanceStatus.Active),
        grantKind: to(input.grantKind),
        ...(input.refreshToken === undefined ? {} : { refreshToken: to(input.refreshToken) }),
        accessToken: to(input.accessToken),
        accessTokenExpiresAt: to(input.accessTokenExpiresAt),
        refreshedAt: to(input.at),
        version: to((input.expectedVersion ?? 0) + 1),
        createdAt: { ifMissing: input.at },
        updatedAt: to(input.at),
        writer: to(input.importId),
        ...due.set,
      },
      remove: [A.ttl, ...ERROR_ATTRIBUTES, ...due.remove],
    },
    refused: (item) => {
      if (item?.writer === input.importId) return Refusal.Applied;
      if (item?.status === InstanceStatus.Uninstalled) return Refusal.Uninstalled;
      if (item?.refreshToken !== undefined || item?.accessToken !== undefined) return Refusal.Superseded;
      if (item !== undefined && item.version === input.expectedVersion && item.leaseOwner !== undefined) return Refusal.Held;
      return Refusal.Version;
    },
  };
}
