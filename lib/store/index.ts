/**
 * The token store: the port the use cases depend on and its DynamoDB implementation.
 * Table creation from the template is in ./table-definition (tooling only, not re-exported here).
 */
export { createDynamoInstallStateStore, createDynamoTokenStore } from './dynamo-token-store';
export type { DynamoInstallStateStoreDeps, DynamoTokenStoreDeps } from './dynamo-token-store';
export { createMemoryInstallStateStore, createMemoryTokenStore, type MemoryTokenStore } from './memory-token-store';
export { DEFAULT_LEASE_TTL_MS, DEFAULT_TOMBSTONE_TTL_MS, UNREADABLE_KEY_ID } from './token-store';
export { LEASE_CLOCK_SKEW_MS, Refusal } from './transitions';
export {
  ConflictReason,
  LeaseWaitTimeoutError,
  StaleEventError,
  StoreUnavailableError,
  TokenConflictError,
} from './errors';
export { DEFAULT_DUE_SHARDS, DUE_INDEX, dueShardOf, STATUS_INDEX } from './item';
export { LAST_USED_RESOLUTION_MS, shouldTouchLastUsed, withoutTokens } from './record';
export { GrantKind, InstanceStatus } from './types';
export type {
  AcquireLeaseOptions,
  AppInstalledEvent,
  AppRemovedEvent,
  DueItem,
  DuePage,
  EnvelopeKeyIds,
  ImportOutcome,
  ImportTokens,
  KeyIdPage,
  RewrapOutcome,
  FailureOutcome,
  InstallTokens,
  InstanceKey,
  InstanceRecord,
  InstanceState,
  InstanceStatusView,
  InstanceDescription,
  StatusPage,
  InstallStateStore,
  LastError,
  Lease,
  LeasedReschedule,
  LeasedTokenWrite,
  LeaseResult,
  RotatedTokenWrite,
  LifecycleResult,
  QueryDueOptions,
  TokenCipher,
  TokenStore,
  WaitForReleaseOptions,
  WriteOptions,
} from './types';
