/**
 * The instance lifecycle: every write any function makes to an instance record, as a named
 * transition that says when it applies, why it is refused, and what it changes. The stores
 * (./dynamo-token-store on DynamoDB, ./memory-token-store in memory) only carry these out; no
 * rule lives anywhere else.
 *
 * ```
 *                 install callback (newer) / AppInstalled (newer)
 *      (none) ───────────────────────────────────────────────▶ active ◀──┐ leased token write
 *        │                                                    │  ▲  │    │ (success clears
 *        │ AppRemoved                    leased failure,      │  │  └────┘  lastError)
 *        │                               refused by Wix       ▼  │
 *        │                                        needs_reauth ──┘ install callback / AppInstalled
 *        ▼                                                          (newer) / leased token write
 *   uninstalled (tombstone) ◀──── AppRemoved (newer, or a tie with an install) ── from any state
 *        │
 *        └── install callback or AppInstalled newer than the removal ──▶ active
 * ```
 *
 * Who may write what, and when:
 *
 * | transition          | applies when                                              | version | lease            |
 * |---------------------|-----------------------------------------------------------|---------|------------------|
 * | installCallback     | record read at `version` unchanged; no tombstone at or    | +1      | untouched (the   |
 * |                     | after the install's Wix time; no newer install stored     |         | holder loses)    |
 * | appInstalled        | event newer than the newest applied (ties: removal wins)  | +1      | untouched        |
 * | appRemoved          | event newer, or equal to a non-removal                    | +1      | removed          |
 * | acquireLease        | not a tombstone; lease free, ours, expired by more than   | -       | set              |
 * |                     | the clock skew, or watched out by the caller; a record it |         |                  |
 * |                     | creates gets lastEventAt = now - skew (event-time floor)  |         |                  |
 * | leasedTokenWrite    | version unchanged, lease ours and live; leaving the due   | +1      | removed          |
 * |                     | index only if no use was recorded since the read          |         |                  |
 * | rotatedTokenWrite   | version unchanged; never removes a live holder's lease    | +1      | removed if ours  |
 * | leasedFailure       | version unchanged, lease ours and live                    | +1      | removed          |
 * | leasedReschedule    | version unchanged, lease ours and live                    | -       | removed          |
 * | releaseLease        | lease ours                                                | -       | removed          |
 * | deferDue            | due time as read, lease free or expired, not a tombstone  | -       | untouched        |
 * | touchLastUsed       | not a tombstone; stored use a minute old or absent (puts  | -       | untouched        |
 * |                     | an instance out of the due index back in, due now)        |         |                  |
 * | scheduleNow         | version as read, active, out of the due index (after an   | -       | untouched        |
 * |                     | AppInstalled over a record that holds tokens)             |         |                  |
 * | rewrapTokens        | version as read and each envelope exactly as read (the    | -       | untouched        |
 * |                     | ops re-wrap: same tokens under the ring's current key)    |         |                  |
 * | importTokens        | no record, or a bare one (no token, not a tombstone) at   | +1      | free or expired  |
 * |                     | the version read, its lease free (the ops import)         |         | (left as is)     |
 * ```
 *
 * Ordering uses Wix's clock only: a webhook's `iat`, and for the install callback the issue time
 * Token Info reports for the token the code was exchanged for. This service's clocks (`at`) stamp
 * `updatedAt` and judge leases: a holder judges its own lease by the clock that wrote it; anyone
 * else either allows {@link LEASE_CLOCK_SKEW_MS} or watches one lease run a whole length on its
 * own clock, so containers whose clocks are each within 5 s of true time never hold one lease at once.
 *
 * A write whose answer was lost (the SDK timed out after DynamoDB applied it, and the retry met
 * its own write) is recognised by `writer`: every versioned write records who made it, and a
 * refusal that finds the writer's own mark at the version it would have written is `applied`.
 *
 * Each transition is written in the part of ./transitions/ named for who writes it (install,
 * lifecycle for the webhooks, lease, without-lease, operator), over the shared refusals and guards
 * of ./transitions/guards; this file is their one list, and what the stores import.
 */

// Every transition, by who writes it (the table above gives each one's rule):
export { LEASE_CLOCK_SKEW_MS, Refusal, type DuePlacement, type Transition } from './transitions/guards';
/** The install callback (lib/tokens/install). */
export { installCallback, type InstallCallbackInput } from './transitions/install';
/** The webhooks (lib/tokens/webhook): appInstalled, appRemoved, and scheduleNow after an AppInstalled. */
export { appInstalled, appRemoved, scheduleNow, type LifecycleEventInput } from './transitions/lifecycle';
/** The lease and its holder (mint, the refresh sweep): acquireLease, releaseLease, leased*, rotatedTokenWrite. */
export {
  acquireLease,
  leasedFailure,
  leasedReschedule,
  leasedTokenWrite,
  releaseLease,
  rotatedTokenWrite,
  type AcquireLeaseInput,
  type FailureInput,
  type LeasedInput,
  type TokenWriteInput,
} from './transitions/lease';
/** Without the lease: deferDue (the sweep), touchLastUsed (mint). */
export { deferDue, LAST_USED_RESOLUTION_MS, lastUseWorthWriting, touchLastUsed } from './transitions/without-lease';
/** The operator (infra/ops): rewrapTokens, importTokens. */
export { importTokens, rewrapTokens, type ImportInput, type RewrapInput } from './transitions/operator';
