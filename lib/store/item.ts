import { createHash } from 'node:crypto';

import type { GrantKind, InstanceKey, InstanceRecord, InstanceStatus, LastError } from './instance';
import type { InstanceState, TokenCipher } from './types';

/**
 * The stored shape of an instance record. Tokens are AES-256-GCM envelopes (lib/crypto) bound to
 * `appId#instanceId` and (v2) to the field they are stored in; times are epoch ms except `ttl`, which DynamoDB wants in epoch seconds.
 *
 * ```
 * pk                    S  "<appId>#<instanceId>"          table key
 * appId, instanceId     S
 * status                S  active | needs_reauth | uninstalled
 * grantKind             S  legacy | client_credentials
 * refreshToken          S  envelope            (legacy only; removed by a tombstone)
 * accessToken           S  envelope            (removed by a tombstone)
 * accessTokenExpiresAt  N
 * refreshedAt           N  when the last token write happened (this service's clock)
 * version               N  +1 on every token/status write
 * leaseOwner            S  } present while leased
 * leaseExpiresAt        N  }  (by the holder's clock)
 * leaseMs               N  }  its length, so a waiter knows how long to watch it
 * lastUsedAt            N  minute resolution
 * dueShard              S  } due-index keys, present only while there is something to refresh
 * dueAt                 N  }
 * errorKind, errorCode  S  } the last failure; flat so errorCount can be incremented in place
 * errorAt, errorCount   N  }
 * createdAt, updatedAt  N
 * lastEventAt           N  newest lifecycle event time applied
 * lastInstallAt         N  Wix's issue time of the install callback's token whose tokens are stored
 * originInstanceId      S  AppInstalled of a duplicated site
 * installId             S  the install callback whose tokens are stored (a hash of its state)
 * writer                S  who made the last versioned write (a lease owner or an installId)
 * ttl                   N  tombstones only (epoch s)
 * ```
 */
export interface InstanceItem {
  pk: string;
  appId: string;
  instanceId: string;
  status: InstanceStatus;
  grantKind: GrantKind;
  refreshToken?: string;
  accessToken?: string;
  accessTokenExpiresAt?: number;
  refreshedAt?: number;
  version: number;
  leaseOwner?: string;
  leaseExpiresAt?: number;
  leaseMs?: number;
  lastUsedAt?: number;
  dueShard?: string;
  dueAt?: number;
  errorKind?: string;
  errorCode?: string;
  errorAt?: number;
  errorCount?: number;
  createdAt: number;
  updatedAt: number;
  lastEventAt?: number;
  lastInstallAt?: number;
  originInstanceId?: string;
  installId?: string;
  writer?: string;
  ttl?: number;
}

/** The attribute names, so expressions never spell one wrong. */
export const A = {
  pk: 'pk',
  appId: 'appId',
  instanceId: 'instanceId',
  status: 'status',
  grantKind: 'grantKind',
  refreshToken: 'refreshToken',
  accessToken: 'accessToken',
  accessTokenExpiresAt: 'accessTokenExpiresAt',
  refreshedAt: 'refreshedAt',
  version: 'version',
  leaseOwner: 'leaseOwner',
  leaseExpiresAt: 'leaseExpiresAt',
  leaseMs: 'leaseMs',
  lastUsedAt: 'lastUsedAt',
  dueShard: 'dueShard',
  dueAt: 'dueAt',
  errorKind: 'errorKind',
  errorCode: 'errorCode',
  errorAt: 'errorAt',
  errorCount: 'errorCount',
  createdAt: 'createdAt',
  updatedAt: 'updatedAt',
  lastEventAt: 'lastEventAt',
  lastInstallAt: 'lastInstallAt',
  originInstanceId: 'originInstanceId',
  installId: 'installId',
  writer: 'writer',
  ttl: 'ttl',
} as const satisfies Record<string, string>;

/** The sparse GSI the sweep reads; defined in infra/dynamodb-table.yml. */
export const DUE_INDEX = 'due-index';

/** The GSI `status` reads: instance records by status (install states carry none); infra/dynamodb-table.yml. */
export const STATUS_INDEX = 'status-index';

/** The default number of due-index shards. Readers must use at least the writers' count: only ever raise it. */
export const DEFAULT_DUE_SHARDS = 16;

/** The partition key of an instance record. */
export function instancePk(key: InstanceKey): string {
  if (key.appId === '' || key.instanceId === '' || key.appId.includes('#') || key.instanceId.includes('#')) {
    throw new TypeError('appId and instanceId must be non-empty and contain no #');
  }
  return `${key.appId}#${key.instanceId}`;
}

/** Reads an instance key back from a partition key; undefined for other items (install states). */
export function keyFromPk(pk: string): InstanceKey | undefined {
  const at = pk.indexOf('#');
  if (at <= 0 || pk.startsWith(STATE_PREFIX)) return undefined;
  return { appId: pk.slice(0, at), instanceId: pk.slice(at + 1) };
}

const STATE_PREFIX = 'state#';

/** The partition key of a consumed install state: hashed, so the table never holds a state value. */
export function statePk(stateId: string): string {
  return `${STATE_PREFIX}${createHash('sha256').update(stateId, 'utf8').digest('hex')}`;
}

/** The encryption context (associated data) of an instance's tokens. */
export function cipherContext(key: InstanceKey): string {
  return `${key.appId}#${key.instanceId}`;
}

/** Which due-index shard an instance lives in: stable, spread evenly by a hash of its key. */
export function dueShardOf(key: InstanceKey, shards: number): string {
  const digest = createHash('sha256').update(cipherContext(key), 'utf8').digest();
  return String(digest.readUInt32BE(0) % shards);
}

/** Epoch ms to the epoch seconds DynamoDB's TTL reads (rounded up, so never early). */
export function ttlSeconds(epochMs: number): number {
  return Math.ceil(epochMs / 1000);
}

/** The last failure an item records (its flat error attributes), if any. */
export function lastErrorOf(item: Pick<InstanceItem, 'errorKind' | 'errorCode' | 'errorAt' | 'errorCount'>): LastError | undefined {
  if (item.errorKind === undefined || item.errorCode === undefined || item.errorAt === undefined) return undefined;
  return { kind: item.errorKind, code: item.errorCode, at: item.errorAt, count: item.errorCount ?? 1 };
}

/**
 * Turns a stored item into the domain record without its tokens, and without the cipher: the
 * envelopes are neither opened nor copied (the lifecycle writes answer this).
 */
export function stateFromItem(item: InstanceItem): InstanceState {
  const { record, holdsTokens } = fieldsOf(item);
  return { ...record, holdsTokens };
}

/**
 * Turns a stored item into the domain record, decrypting its tokens. `cipherFor` is only called
 * when there is something to decrypt, so tombstones and bare records cost no key lookup.
 */
export async function recordFromItem(
  item: InstanceItem,
  cipherFor: (appId: string) => Promise<TokenCipher>,
): Promise<InstanceRecord> {
  const { record, holdsTokens } = fieldsOf(item);
  if (holdsTokens) {
    const cipher = await cipherFor(item.appId);
    const context = cipherContext({ appId: item.appId, instanceId: item.instanceId });
    if (item.refreshToken !== undefined) record.refreshToken = cipher.decrypt(item.refreshToken, context, 'refreshToken');
    if (item.accessToken !== undefined) record.accessToken = cipher.decrypt(item.accessToken, context, 'accessToken');
  }
  return record;
}

/** The fields every stored instance has: its key, status, grant kind, version and times (the record's and the description's start). */
export function requiredFieldsOf(item: InstanceItem): Pick<InstanceRecord, 'appId' | 'instanceId' | 'status' | 'grantKind' | 'version' | 'createdAt' | 'updatedAt'> {
  return {
    appId: item.appId,
    instanceId: item.instanceId,
    status: item.status,
    grantKind: item.grantKind,
    version: item.version,
    createdAt: item.createdAt,
    updatedAt: item.updatedAt,
  };
}

/** Every field of the record but the tokens, and whether the item holds any. */
function fieldsOf(item: InstanceItem): { record: InstanceRecord; holdsTokens: boolean } {
  const record: InstanceRecord = requiredFieldsOf(item);
  if (item.accessTokenExpiresAt !== undefined) record.accessTokenExpiresAt = item.accessTokenExpiresAt;
  if (item.leaseOwner !== undefined && item.leaseExpiresAt !== undefined) {
    record.lease = { owner: item.leaseOwner, expiresAt: item.leaseExpiresAt, ...(item.leaseMs === undefined ? {} : { lengthMs: item.leaseMs }) };
  }
  if (item.lastUsedAt !== undefined) record.lastUsedAt = item.lastUsedAt;
  if (item.dueAt !== undefined) record.refreshDueAt = item.dueAt;
  const lastError = lastErrorOf(item);
  if (lastError !== undefined) record.lastError = lastError;
  if (item.lastEventAt !== undefined) record.lastEventAt = item.lastEventAt;
  if (item.lastInstallAt !== undefined) record.lastInstallAt = item.lastInstallAt;
  if (item.originInstanceId !== undefined) record.originInstanceId = item.originInstanceId;
  if (item.ttl !== undefined) record.purgeAt = item.ttl * 1000;
  return { record, holdsTokens: item.refreshToken !== undefined || item.accessToken !== undefined };
}
