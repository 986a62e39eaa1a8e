import { randomUUID } from 'node:crypto';

import { demoAppSecret } from '../../../../infra/local/demo-app';
import { IssuedKind } from '../../../../infra/local/issued-values';
import { GrantKind, InstanceStatus, LEASE_CLOCK_SKEW_MS, type InstanceKey } from '../../../../lib/store';
import { mintAccessToken, type CacheEntry } from '../../../../lib/tokens/mint';
import { InvokeErrorName } from '../../../../lib/tokens/errors';
import { receiveWebhook, type LifecycleDeps } from '../../../../lib/tokens/lifecycle';
import { createTokenCache } from '../../../../lib/tokens/token-cache';
import type { VerifiedWebhook, WebhookVerifier } from '../../../../lib/tokens/webhook';
import { WebhookVerificationError } from '../../../../lib/tokens/webhook';
import { createMemoryWorld, issued, rejectionOf, seedLegacy, type MemoryWorld } from '../../../support/memory-world';

const app = demoAppSecret(randomUUID());

/**
 * A verifier that knows the webhooks the test signed: each is a made-up JWT string standing for
 * one verified envelope; anything else is refused as a bad signature.
 */
function fakeVerifier() {
  const signed = new Map<string, VerifiedWebhook>();
  const verify: WebhookVerifier = async (jwt) => {
    const verified = signed.get(jwt);
    if (verified === undefined) throw new WebhookVerificationError('bad_signature');
    return verified;
  };
  const sign = (eventType: 'AppInstalled' | 'AppRemoved', key: InstanceKey, iatMs: number, data: Record<string, unknown> = {}) => {
    const jwt = `jwt-${randomUUID()}`;
    const envelope = { eventType, instanceId: key.instanceId, data: JSON.stringify({ appId: key.appId, ...data }) };
    signed.set(jwt, { appId: key.appId, claims: { data: JSON.stringify(envelope), iat: iatMs / 1000 }, issuedAt: iatMs });
    return jwt;
  };
  return { verify, sign };
}

function setup(world: MemoryWorld) {
  const verifier = fakeVerifier();
  const deps: LifecycleDeps = { verify: verifier.verify, store: world.store, logger: world.logger };
  return { deps, sign: verifier.sign };
}

/** Whole seconds, as Wix's `iat` is. */
const IAT = Date.UTC(2026, 10, 25, 11, 59, 0);

describe('receiveWebhook on the memory store', () => {
  it('applies AppInstalled: an active client-credentials instance at the webhook’s iat', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const { deps, sign } = setup(w);
    const key = w.newKey();
    const origin = randomUUID();

    const receipt = await receiveWebhook(deps, sign('AppInstalled', key, IAT, { originInstanceId: origin }));
    const record = await w.store.getInstance(key);

    expect(receipt).toEqual({ outcome: 'applied', eventType: 'AppInstalled', ...key });
    expect(record).toMatchObject({
      status: InstanceStatus.Active,
      grantKind: GrantKind.ClientCredentials,
      lastEventAt: IAT,
      originInstanceId: origin,
      version: 1,
    });
  });

  it('issue 17: a record a mint created carries an event-time floor: an AppRemoved older than its creation does not remove it', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const { deps, sign } = setup(w);
    const key = w.newKey();
    const lease = await w.store.acquireLease(key, { owner: 'mint-1', createIfMissing: true });
    const createdAt = w.clock.now();

    const old = await receiveWebhook(deps, sign('AppRemoved', key, createdAt - 200 * 86_400_000));
    const record = await w.store.getInstance(key);
    const newer = await receiveWebhook(deps, sign('AppRemoved', key, createdAt + 1000));

    expect(lease.acquired).toBe(true);
    expect(old.outcome).toBe('stale');
    expect(record).toMatchObject({ status: InstanceStatus.Active, lastEventAt: createdAt - LEASE_CLOCK_SKEW_MS });
    expect(newer.outcome).toBe('applied');
  });

  it.each([
    { name: 'answers a redelivered AppInstalled as a duplicate and changes nothing', eventType: 'AppInstalled' },
    { name: 'answers a redelivered AppRemoved as a duplicate', eventType: 'AppRemoved' },
  ] as const)('$name', async ({ eventType }) => {
    const w = createMemoryWorld({ apps: [app] });
    const { deps, sign } = setup(w);
    const key = w.newKey();
    const jwt = sign(eventType, key, IAT);
    await receiveWebhook(deps, jwt);
    const before = await w.store.getInstance(key);

    const receipt = await receiveWebhook(deps, jwt);

    expect(receipt.outcome).toBe('duplicate');
    expect(await w.store.getInstance(key)).toEqual(before);
  });

  it('applies AppRemoved to a legacy instance: a tombstone without tokens, out of the due index', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const { deps, sign } = setup(w);
    const key = w.newKey();
    await seedLegacy(w.store, key, {
      installedAt: IAT - 60_000,
      refreshToken: issued(IssuedKind.RefreshToken, 'rt'),
      accessToken: issued(IssuedKind.AccessToken, 'at'),
      expiresAt: w.clock.now() + 300_000,
      dueAt: w.clock.now() - 1,
    });

    const receipt = await receiveWebhook(deps, sign('AppRemoved', key, IAT));
    const record = await w.store.getInstance(key);
    const due = await w.store.queryDue({ now: w.clock.now(), limit: 100 });

    expect(receipt).toEqual({ outcome: 'applied', eventType: 'AppRemoved', ...key });
    expect(record).toMatchObject({ status: InstanceStatus.Uninstalled, lastEventAt: IAT });
    expect(record?.refreshToken).toBeUndefined();
    expect(record?.accessToken).toBeUndefined();
    expect(record?.refreshDueAt).toBeUndefined();
    expect(due.items.map((item) => item.instanceId)).not.toContain(key.instanceId);
  });

  it('lets an AppRemoved win a tie with AppInstalled, whichever arrives first', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const { deps, sign } = setup(w);
    const removedFirst = w.newKey();
    const installedFirst = w.newKey();

    await receiveWebhook(deps, sign('AppRemoved', removedFirst, IAT));
    const lateInstall = await receiveWebhook(deps, sign('AppInstalled', removedFirst, IAT));
    await receiveWebhook(deps, sign('AppInstalled', installedFirst, IAT));
    const lateRemoval = await receiveWebhook(deps, sign('AppRemoved', installedFirst, IAT));

    expect(lateInstall.outcome).toBe('stale');
    expect(lateRemoval.outcome).toBe('applied');
    expect((await w.store.getInstance(removedFirst))?.status).toBe(InstanceStatus.Uninstalled);
    expect((await w.store.getInstance(installedFirst))?.status).toBe(InstanceStatus.Uninstalled);
  });

  it('revives a tombstone with a newer AppInstalled', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const { deps, sign } = setup(w);
    const key = w.newKey();
    await receiveWebhook(deps, sign('AppRemoved', key, IAT));

    const receipt = await receiveWebhook(deps, sign('AppInstalled', key, IAT + 1000));

    expect(receipt.outcome).toBe('applied');
    expect(await w.store.getInstance(key)).toMatchObject({ status: InstanceStatus.Active, grantKind: GrantKind.ClientCredentials, lastEventAt: IAT + 1000 });
  });

  it('refuses a webhook the verifier does not accept, writing nothing', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const { deps } = setup(w);

    const error = await rejectionOf(receiveWebhook(deps, 'jwt-forged'));

    expect(error).toBeInstanceOf(WebhookVerificationError);
    expect(w.store.items.size).toBe(0);
  });

  it('stops every container serving the instance once AppRemoved is applied (read your uninstall)', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const { deps, sign } = setup(w);
    const key = w.newKey();
    await receiveWebhook(deps, sign('AppInstalled', key, IAT));
    const mintDeps = {
      store: w.store,
      wix: w.wix,
      secrets: w.secrets,
      cache: createTokenCache<CacheEntry>(),
      now: w.clock.now,
      random: () => 0.5,
      newLeaseOwner: randomUUID,
      logger: w.logger,
      sleep: w.sleep,
    };
    const request = { ...key, minValidityMs: 300_000 };
    await mintAccessToken(mintDeps, request, { deadline: w.clock.now() + 10_000 });

    const receipt = await receiveWebhook(deps, sign('AppRemoved', key, IAT + 1000));
    const error = await rejectionOf(mintAccessToken(mintDeps, request, { deadline: w.clock.now() + 10_000 }));

    expect(receipt.outcome).toBe('applied');
    expect(error.name).toBe(InvokeErrorName.InstanceUninstalled);
    expect(w.wix.count('client_credentials')).toBe(1);
  });
});
