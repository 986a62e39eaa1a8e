import { randomUUID } from 'node:crypto';

import { demoAppSecret } from '../../../../infra/local/demo-app';
import { IssuedKind } from '../../../../infra/local/issued-values';
import { GrantKind, InstanceStatus, LEASE_CLOCK_SKEW_MS, type InstanceKey } from '../../../../lib/store';
import { refreshNow, refreshOne, type RefreshStore } from '../../../../lib/tokens/refresh';
import { appFailureRetryAt } from '../../../../lib/tokens/refresh-policy';
import { WixErrorKind } from '../../../../lib/wix';
import { createMemoryWorld, refresher, issued, recordingStore, seedLegacy, wixError, withOutage, type MemoryWorld } from '../../../support/memory-world';

const app = demoAppSecret(randomUUID());
const MINUTE = 60_000;

/** A legacy instance installed a day ago, its refresh token `refreshToken`, due now. */
async function legacyInstance(world: MemoryWorld, refreshToken = issued(IssuedKind.RefreshToken, 'rt1')) {
  const key = world.newKey();
  const now = world.clock.now();
  await seedLegacy(world.store, key, {
    installedAt: now - 60 * MINUTE,
    refreshToken,
    accessToken: issued(IssuedKind.AccessToken, 'install'),
    expiresAt: now - 55 * MINUTE,
    dueAt: now - MINUTE,
  });
  return { key, refreshToken };
}

/** The next refresh_token grant hands back a new (rotated) refresh token. */
function rotateNext(world: MemoryWorld): string {
  const rotated = issued(IssuedKind.RefreshToken, 'rt2');
  world.wix.once('refresh_token', () => ({
    accessToken: issued(IssuedKind.AccessToken, 'legacy'),
    refreshToken: rotated,
    expiresAt: world.clock.now() + 5 * MINUTE,
  }));
  return rotated;
}

const world = () => createMemoryWorld({ apps: [app] });
const inAMinute = (w: MemoryWorld) => ({ deadline: w.clock.now() + MINUTE });

describe('refreshOne on the memory store', () => {
  it('stores a rotated refresh token from the legacy health pass first, in the write that frees the lease', async () => {
    const w = world();
    const { key, refreshToken } = await legacyInstance(w);
    const rotated = rotateNext(w);
    const calls: string[] = [];
    const deps = refresher(w, { store: recordingStore<RefreshStore>(w.store, calls) });

    const outcome = await refreshOne(deps, key, inAMinute(w));
    const record = await w.store.getInstance(key);

    expect(outcome).toMatchObject({ status: 'refreshed', grant: 'refresh_token', rotated: true, fellBack: false });
    expect(w.wix.calls.map((call) => call.operation)).toEqual(['refresh_token']);
    expect(w.wix.calls[0]?.refreshToken).toBe(refreshToken);
    expect(calls).toEqual(['acquireLease', 'storeLeasedTokens']);
    expect(record).toMatchObject({ refreshToken: rotated, grantKind: GrantKind.Legacy, status: InstanceStatus.Active });
    expect(record?.lease).toBeUndefined();
    expect(record?.refreshDueAt).toBeGreaterThan(w.clock.now());
  });

  it("issue 11 defect 2: the rebased write of a rotated refresh token leaves another holder's live lease in place", async () => {
    const w = world();
    const { key, refreshToken } = await legacyInstance(w);
    const ownerA = `A-${randomUUID()}`;
    const ownerB = `B-${randomUUID()}`;
    const rotated = rotateNext(w);
    const aAtWix = w.wix.hold('refresh_token');

    // A refreshes; while it is at Wix its lease runs out and B takes the lease over.
    const a = refreshOne(refresher(w, { newLeaseOwner: () => ownerA }), key, inAMinute(w));
    await aAtWix.arrived;
    w.clock.advance(6000 + LEASE_CLOCK_SKEW_MS);
    const bAtWix = w.wix.hold('refresh_token');
    // B's refresh token is the one Wix has just retired: refused; B falls back to client credentials.
    w.wix.once('refresh_token', () => {
      throw wixError(WixErrorKind.GrantInvalid, 'refresh_token');
    });
    const b = refreshOne(refresher(w, { newLeaseOwner: () => ownerB }), key, inAMinute(w));
    await bAtWix.arrived;
    const beforeA = await w.store.getInstance(key);
    aAtWix.release();
    const outcomeA = await a;
    const afterA = await w.store.getInstance(key);
    // A third caller respects B's live lease: no Wix call while B is at Wix.
    const outcomeC = await refreshOne(refresher(w), key, inAMinute(w));
    const wixCallsWhileBHeld = w.wix.calls.length;
    bAtWix.release();
    const outcomeB = await b;
    const afterB = await w.store.getInstance(key);

    expect(beforeA?.lease?.owner).toBe(ownerB);
    expect(outcomeA).toMatchObject({ status: 'refreshed', rotated: true });
    expect(afterA?.lease?.owner).toBe(ownerB);
    expect(afterA?.refreshToken).toBe(rotated);
    expect(afterA?.version).toBe((beforeA?.version ?? 0) + 1);
    expect(outcomeC).toEqual({ status: 'skipped', reason: 'leased' });
    expect(wixCallsWhileBHeld).toBe(2);
    expect(w.wix.calls.filter((call) => call.operation === 'refresh_token').map((call) => call.refreshToken)).toEqual([refreshToken, refreshToken]);
    // B's write is refused on the version; B lets the lease go and A's token stays.
    expect(outcomeB).toMatchObject({ status: 'failed', failure: 'conflict' });
    expect(afterB?.lease).toBeUndefined();
    expect(afterB).toMatchObject({ refreshToken: rotated, grantKind: GrantKind.Legacy, version: afterA?.version });
  });

  it('reports a rotated refresh token it cannot store before the deadline as rotated_token_lost, logging an error without the token', async () => {
    const w = world();
    const { key, refreshToken } = await legacyInstance(w);
    const rotated = rotateNext(w);
    const down = withOutage<RefreshStore>(w.store, 'storeLeasedTokens', 'storeRotatedTokens');
    const deadline = w.clock.now() + 10_000;

    const outcome = await refreshOne(refresher(w, { store: down }), key, { deadline });

    expect(outcome).toMatchObject({ status: 'failed', failure: 'rotated_token_lost', code: 'ROTATED_TOKEN_LOST' });
    expect(w.clock.now()).toBeLessThanOrEqual(deadline);
    expect(w.clock.sleeps.length).toBeGreaterThan(1);
    const errors = w.logger.lines.filter((line) => JSON.parse(line).level === 'ERROR');
    expect(errors).toHaveLength(1);
    expect(errors[0]).toContain('rotated refresh token lost');
    expect(errors[0]).toContain(key.instanceId);
    expect(w.logger.lines.join('\n')).not.toContain(rotated);
    expect(w.logger.lines.join('\n')).not.toContain(refreshToken);
    expect((await w.store.getInstance(key))?.lease).toBeUndefined();
  });

  it('falls back to client credentials when Wix refuses the refresh token', async () => {
    const w = world();
    const { key } = await legacyInstance(w);
    w.wix.once('refresh_token', () => {
      throw wixError(WixErrorKind.GrantInvalid, 'refresh_token');
    });

    const outcome = await refreshOne(refresher(w), key, inAMinute(w));
    const record = await w.store.getInstance(key);

    expect(outcome).toMatchObject({ status: 'refreshed', grant: 'client_credentials', fellBack: true });
    expect(w.wix.calls.map((call) => call.operation)).toEqual(['refresh_token', 'client_credentials']);
    expect(record).toMatchObject({ grantKind: GrantKind.ClientCredentials, status: InstanceStatus.Active });
    expect(record?.accessToken).toMatch(/^cc\./);
    expect(record?.lease).toBeUndefined();
  });

  it('marks the instance needs_reauth and takes it out of the due index when Wix refuses every grant', async () => {
    const w = world();
    const { key } = await legacyInstance(w);
    w.wix.answers.refresh_token = () => {
      throw wixError(WixErrorKind.GrantInvalid, 'refresh_token');
    };
    w.wix.answers.client_credentials = () => {
      throw wixError(WixErrorKind.GrantInvalid);
    };

    const outcome = await refreshOne(refresher(w), key, inAMinute(w));
    const record = await w.store.getInstance(key);
    const due = await w.store.queryDue({ now: w.clock.now() + 365 * 24 * 60 * MINUTE, limit: 100 });

    expect(outcome).toMatchObject({ status: 'failed', failure: 'grant_invalid', needsReauth: true });
    expect(record).toMatchObject({ status: InstanceStatus.NeedsReauth, lastError: { kind: WixErrorKind.GrantInvalid, count: 1 } });
    expect(record?.refreshDueAt).toBeUndefined();
    expect(record?.lease).toBeUndefined();
    expect(due.items.map((item) => item.instanceId)).not.toContain(key.instanceId);
  });

  it('releases the lease and moves the due time back by the app backoff after an app-level failure, lastError untouched', async () => {
    const w = world();
    const key: InstanceKey = w.newKey();
    await w.store.recordAppInstalled(key, { eventAt: w.clock.now() });
    // An earlier transient failure leaves a lastError and a due time.
    w.wix.once('client_credentials', () => {
      throw wixError(WixErrorKind.Transient);
    });
    await refreshOne(refresher(w), key, inAMinute(w));
    const before = await w.store.getInstance(key);
    w.clock.advance(2 * 60 * MINUTE);
    w.wix.once('client_credentials', () => {
      throw wixError(WixErrorKind.CredentialsRejected);
    });
    const now = w.clock.now();

    const outcome = await refreshOne(refresher(w), key, inAMinute(w));
    const record = await w.store.getInstance(key);

    expect(before?.lastError).toMatchObject({ kind: WixErrorKind.Transient, count: 1 });
    expect(outcome).toMatchObject({ status: 'failed', failure: 'credentials_rejected', needsReauth: false });
    expect(record?.lease).toBeUndefined();
    expect(record?.refreshDueAt).toBe(appFailureRetryAt(now, () => 0.5));
    expect(record?.lastError).toEqual(before?.lastError);
    expect(record).toMatchObject({ status: InstanceStatus.Active, version: before?.version });
  });

  it('skips an instance whose lease another caller holds, without calling Wix', async () => {
    const w = world();
    const { key } = await legacyInstance(w);
    await w.store.acquireLease(key, { owner: 'someone-else' });

    const summary = await refreshNow(refresher(w), key, inAMinute(w));

    expect(summary).toMatchObject({ examined: 1, refreshed: 0, instance: { outcome: 'skipped' } });
    expect(w.wix.calls).toEqual([]);
  });
});
