import { randomUUID } from 'node:crypto';

import { demoAppSecret } from '../../../../infra/local/demo-app';
import { IssuedKind } from '../../../../infra/local/issued-values';
import { createEventSink, LifecycleEventType, type EventPublisher, type LifecycleEvent } from '../../../../lib/events';
import { eventBridgePublisher, EVENT_SOURCE } from '../../../../lib/events/eventbridge';
import { InstanceStatus, type InstanceKey } from '../../../../lib/store';
import { WixErrorKind } from '../../../../lib/wix';
import { receiveWebhook } from '../../../../lib/tokens/lifecycle';
import { refreshOne } from '../../../../lib/tokens/refresh';
import type { VerifiedWebhook, WebhookVerifier } from '../../../../lib/tokens/webhook';
import { createMemoryWorld, issued, refresher, seedClientCredentials, seedLegacy, wixError, type MemoryWorld } from '../../../support/memory-world';

const app = demoAppSecret(randomUUID());
const IAT = Date.UTC(2026, 10, 25, 11, 59, 0);

/** A recording publisher: what the EventBridge adapter would have been handed. */
function recorder() {
  const published: LifecycleEvent[] = [];
  const publisher: EventPublisher = { publish: async (events) => void published.push(...events) };
  return { published, publisher };
}

function webhooks(world: MemoryWorld, publisher: EventPublisher) {
  const signed = new Map<string, VerifiedWebhook>();
  const verify: WebhookVerifier = async (jwt) => signed.get(jwt) as VerifiedWebhook;
  const sign = (eventType: 'AppInstalled' | 'AppRemoved', key: InstanceKey, iatMs: number) => {
    const jwt = `jwt-${randomUUID()}`;
    const envelope = { eventType, instanceId: key.instanceId, data: JSON.stringify({ appId: key.appId }) };
    signed.set(jwt, { appId: key.appId, claims: { data: JSON.stringify(envelope), iat: iatMs / 1000 }, issuedAt: iatMs });
    return jwt;
  };
  const events = createEventSink({ publisher, logger: world.logger });
  return { deps: { verify, store: world.store, logger: world.logger, events, now: world.clock.now }, sign };
}

const deadline = (w: MemoryWorld) => ({ deadline: w.clock.now() + 10_000 });

describe('lifecycle events', () => {
  it('AppInstalled and AppRemoved each send one event, keyed by the version they wrote; a redelivery sends none', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const { published, publisher } = recorder();
    const { deps, sign } = webhooks(w, publisher);
    const key = w.newKey();
    const installed = sign('AppInstalled', key, IAT);

    await receiveWebhook(deps, installed);
    await receiveWebhook(deps, installed);
    await receiveWebhook(deps, sign('AppRemoved', key, IAT + 1000));

    expect(published.map((event) => [event.type, event.version])).toEqual([
      [LifecycleEventType.InstanceInstalled, 1],
      [LifecycleEventType.InstanceUninstalled, 2],
    ]);
    expect(published[0]).toEqual({
      id: `InstanceInstalled:${key.appId}#${key.instanceId}@1`,
      type: 'InstanceInstalled',
      appId: key.appId,
      instanceId: key.instanceId,
      time: new Date(w.clock.now()).toISOString(),
      reason: 'AppInstalled',
      version: 1,
    });
  });

  it('a refresh that keeps failing sends TokenRefreshFailing once, at the Nth failure, and InstanceRecovered when it works again', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const { published, publisher } = recorder();
    const key = w.newKey();
    await seedClientCredentials(w.store, key, { installedAt: w.clock.now(), accessToken: issued(IssuedKind.AccessToken, 'cc'), expiresAt: w.clock.now() + 60_000, dueAt: w.clock.now() });
    const deps = refresher(w, { events: createEventSink({ publisher, logger: w.logger, failingAfter: 3 }) });
    w.wix.answers.client_credentials = async () => {
      throw wixError(WixErrorKind.Transient);
    };

    for (let attempt = 0; attempt < 5; attempt++) await refreshOne(deps, key, deadline(w));
    const failing = published.map((event) => event.type);
    w.wix.answers.client_credentials = async () => ({ accessToken: issued(IssuedKind.AccessToken, 'cc'), tokenType: 'Bearer', expiresAt: w.clock.now() + 4 * 3600_000 });
    await refreshOne(deps, key, deadline(w));
    await refreshOne(deps, key, deadline(w));

    expect(failing).toEqual([LifecycleEventType.TokenRefreshFailing]);
    expect(published.map((event) => event.type)).toEqual([LifecycleEventType.TokenRefreshFailing, LifecycleEventType.InstanceRecovered]);
    expect(published[0]?.reason).toMatch(/^3 failures in a row, the last /);
  });

  it('a refused grant sends InstanceNeedsReauth once, and a working token afterwards InstanceRecovered', async () => {
    const w = createMemoryWorld({ apps: [app] });
    const { published, publisher } = recorder();
    const key = w.newKey();
    const seeded = [issued(IssuedKind.RefreshToken, 'rt'), issued(IssuedKind.AccessToken, 'at')] as const;
    await seedLegacy(w.store, key, { installedAt: w.clock.now(), refreshToken: seeded[0], accessToken: seeded[1], expiresAt: w.clock.now() + 60_000, dueAt: w.clock.now() });
    const deps = refresher(w, { events: createEventSink({ publisher, logger: w.logger }) });
    w.wix.answers.refresh_token = async () => {
      throw wixError(WixErrorKind.GrantInvalid, 'refresh_token');
    };
    w.wix.answers.client_credentials = async () => {
      throw wixError(WixErrorKind.GrantInvalid);
    };

    await refreshOne(deps, key, deadline(w));
    await refreshOne(deps, key, deadline(w));
    expect((await w.store.getInstance(key))?.status).toBe(InstanceStatus.NeedsReauth);
    w.wix.answers.client_credentials = async () => ({ accessToken: issued(IssuedKind.AccessToken, 'cc'), tokenType: 'Bearer', expiresAt: w.clock.now() + 4 * 3600_000 });
    await refreshOne(deps, key, deadline(w));

    expect(published.map((event) => event.type)).toEqual([LifecycleEventType.InstanceNeedsReauth, LifecycleEventType.InstanceRecovered]);
    for (const token of seeded) expect(JSON.stringify(published)).not.toContain(token);
  });

  it('never fails or holds up the transition: a publisher that hangs is cut at the budget and logged', async () => {
    const logged: Array<Record<string, unknown>> = [];
    const sink = createEventSink({
      publisher: { publish: () => new Promise(() => undefined) },
      logger: { warn: (_message, attributes) => void logged.push(attributes ?? {}) },
      timeoutMs: 50,
    });

    await sink.emit([{ id: 'InstanceInstalled:a#b@1', type: 'InstanceInstalled', appId: 'a', instanceId: 'b', time: new Date().toISOString(), reason: 'x', version: 1 }]);

    expect(logged).toEqual([expect.objectContaining({ ids: ['InstanceInstalled:a#b@1'], errorMessage: 'timed out after 50 ms' })]);
  });

  it('aborts the publish it stops waiting for, so that its request does not run on into the next invocation, and leaves one that finished in time alone', async () => {
    const signals: AbortSignal[] = [];
    const hanging = createEventSink({
      publisher: { publish: (_events, options) => (signals.push(options?.signal as AbortSignal), new Promise(() => undefined)) },
      logger: { warn: () => undefined },
      timeoutMs: 20,
    });
    const prompt = createEventSink({
      publisher: { publish: async (_events, options) => void signals.push(options?.signal as AbortSignal) },
      logger: { warn: () => undefined },
      timeoutMs: 20,
    });
    const events = [{ id: 'InstanceInstalled:a#b@1', type: LifecycleEventType.InstanceInstalled, appId: 'a', instanceId: 'b', time: new Date().toISOString(), reason: 'x', version: 1 }];

    await hanging.emit(events);
    await prompt.emit(events);
    await new Promise((resolve) => setTimeout(resolve, 40));

    expect(signals.map((signal) => signal.aborted)).toEqual([true, false]);
  });
});

describe('the EventBridge adapter', () => {
  const event: LifecycleEvent = { id: 'InstanceUninstalled:a#b@7', type: 'InstanceUninstalled', appId: 'a', instanceId: 'b', time: '2026-12-01T00:00:00.000Z', reason: 'AppRemoved', version: 7 };

  it('puts each event on the configured bus with the service as source and the type as detail-type', async () => {
    const sent: Array<{ input: unknown }> = [];
    const options: unknown[] = [];
    const client = { send: async (command: unknown, sendOptions: unknown) => (sent.push(command as { input: unknown }), options.push(sendOptions), { FailedEntryCount: 0, Entries: [{}], $metadata: {} }) };
    const publisher = eventBridgePublisher({ busName: 'ops-bus', client: client as never });

    const signal = new AbortController().signal;
    await publisher.publish([event], { signal });

    expect(options).toEqual([{ abortSignal: signal }]);
    expect(sent.map((command) => command.input)).toEqual([
      { Entries: [{ EventBusName: 'ops-bus', Source: EVENT_SOURCE, DetailType: 'InstanceUninstalled', Time: new Date(event.time), Detail: JSON.stringify(event) }] },
    ]);
  });

  it('fails when EventBridge refuses an entry, so the sink logs it', async () => {
    const client = { send: async () => ({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure' }], $metadata: {} }) };
    const publisher = eventBridgePublisher({ busName: 'b', client: client as never });

    await expect(publisher.publish([event])).rejects.toThrow('EventBridge refused 1 of 1 events (InternalFailure)');
  });
});
