/**
 * An instance as the store keeps it: its key, status, grant kind, lease and last error, the
 * record the use cases read (tokens in plaintext) and the two views of it without tokens.
 */
/** Where an instance stands; `as const` object so callers can branch without string literals. */
export const InstanceStatus = {
  Active: 'active',
  /** Wix refused what we hold (refresh token or client credentials); nothing to refresh until a reinstall. */
  NeedsReauth: 'needs_reauth',
  /** A tombstone: AppRemoved was applied, tokens are gone, the item expires after a while. */
  Uninstalled: 'uninstalled',
} as const;
export type InstanceStatus = (typeof InstanceStatus)[keyof typeof InstanceStatus];

/** How tokens for an instance are obtained. */
export const GrantKind = {
  /** A refresh token from the legacy install handshake (refresh_token grant). */
  Legacy: 'legacy',
  /** Nothing per instance but its id (client_credentials grant). */
  ClientCredentials: 'client_credentials',
} as const;
export type GrantKind = (typeof GrantKind)[keyof typeof GrantKind];

/** Identifies one install of one app; neither id may contain `#`. */
export interface InstanceKey {
  appId: string;
  instanceId: string;
}

/** Who holds an instance's lease, and until when (epoch ms). */
export interface Lease {
  owner: string;
  /** By the holder's clock. */
  expiresAt: number;
  /** How long it was taken for (absent on leases written before this was recorded). */
  lengthMs?: number;
}

/** The last failed attempt to get a token; no secret ever goes in here. */
export interface LastError {
  /** A failure class, e.g. a `WixErrorKind` (`transient`, `grant_invalid`, ...). */
  kind: string;
  /** A stable error code, e.g. `WIX_INVALID_GRANT`. */
  code: string;
  /** When it happened, epoch ms. */
  at: number;
  /** Failures in a row since the last success. */
  count: number;
}

/**
 * One app instance as the use cases see it: tokens in plaintext, times in epoch ms.
 *
 * It carries secrets: never log it whole (`withoutTokens` in ./record).
 */
export interface InstanceRecord extends InstanceKey {
  status: InstanceStatus;
  grantKind: GrantKind;
  refreshToken?: string;
  accessToken?: string;
  accessTokenExpiresAt?: number;
  /** Bumped by every write that changes tokens or status; lease and last-use writes leave it alone. */
  version: number;
  lease?: Lease;
  lastUsedAt?: number;
  /** When the sweep should next look at this instance; absent when there is nothing to refresh. */
  refreshDueAt?: number;
  lastError?: LastError;
  createdAt: number;
  updatedAt: number;
  /** The newest lifecycle event time applied (install callback, AppInstalled, AppRemoved). */
  lastEventAt?: number;
  /** Wix's issue time of the install callback's token whose tokens are stored, epoch ms. */
  lastInstallAt?: number;
  originInstanceId?: string;
  /** Tombstones only: when DynamoDB's TTL may delete the item, epoch ms. */
  purgeAt?: number;
}

/** An instance as an operator sees it: no token. Times are epoch ms. */
export interface InstanceDescription extends InstanceKey {
  status: InstanceStatus;
  grantKind: GrantKind;
  version: number;
  accessTokenExpiresAt?: number;
  /** The last token write (a mint, a refresh, an install), by this service's clock. */
  refreshedAt?: number;
  refreshDueAt?: number;
  lastUsedAt?: number;
  lastEventAt?: number;
  lastError?: LastError;
  createdAt: number;
  updatedAt: number;
}

/** The small projection mint reads on every warm call: enough to refuse, never a token. */
export interface InstanceStatusView extends InstanceKey {
  status: InstanceStatus;
  version: number;
  lastUsedAt?: number;
  lastError?: LastError;
}
