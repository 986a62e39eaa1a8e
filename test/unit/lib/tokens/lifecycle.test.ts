import { randomUUID } from 'node:crypto';

import type { AppInstalledEvent, AppRemovedEvent, InstanceKey, InstanceState, LifecycleResult } from '../../../../lib/store';
import { InvalidRequestError } from '../../../../lib/tokens/errors';
import { receiveWebhook, type LifecycleDeps } from '../../../../lib/tokens/lifecycle';
import { rejectionOf } from '../../../support/failures';
import { captureLogger } from '../../../support/mint-fixture';

const appId = randomUUID();
const IAT_MS = Date.UTC(2030, 0, 1);

/** A verifier that accepts anything and hands back `envelope` as the claims' data. */
function setup(envelope: unknown, outcome: LifecycleResult['outcome'] = 'applied') {
  const calls: Array<{ type: string; key: InstanceKey; event: AppInstalledEvent | AppRemovedEvent }> = [];
  const logger = captureLogger();
  const result = (key: InstanceKey) => ({ outcome, record: { ...key } as InstanceState });
  const deps: LifecycleDeps = {
    verify: async () => ({ appId, claims: { data: typeof envelope === 'string' ? envelope : JSON.stringify(envelope), iat: IAT_MS / 1000 }, issuedAt: IAT_MS }),
    store: {
      recordAppInstalled: async (key, event) => {
        calls.push({ type: 'installed', key, event });
        return result(key);
      },
      recordAppRemoved: async (key, event) => {
        calls.push({ type: 'removed', key, event });
        return result(key);
      },
    },
    logger,
  };
  return { deps, calls, logger };
}

const refusal = (promise: Promise<unknown>) => rejectionOf(promise);

describe('receiveWebhook', () => {
  it('records AppInstalled at the JWT iat, keeping a duplicated site’s originInstanceId', async () => {
    const instanceId = randomUUID();
    const origin = randomUUID();
    const { deps, calls } = setup({ eventType: 'AppInstalled', instanceId: instanceId.toUpperCase(), data: JSON.stringify({ appId, originInstanceId: origin }) });

    const receipt = await receiveWebhook(deps, ' jwt\n');

    expect(calls).toEqual([{ type: 'installed', key: { appId, instanceId }, event: { eventAt: IAT_MS, originInstanceId: origin } }]);
    expect(receipt).toEqual({ outcome: 'applied', eventType: 'AppInstalled', appId, instanceId });
  });

  it('records AppInstalled without originInstanceId when it is absent, null or empty', async () => {
    for (const originInstanceId of [undefined, null, '']) {
      const { deps, calls } = setup({ eventType: 'AppInstalled', instanceId: randomUUID(), data: JSON.stringify({ appId, originInstanceId }) });

      await receiveWebhook(deps, 'jwt');

      expect(calls[0]?.event).toEqual({ eventAt: IAT_MS });
    }
  });

  it('records AppRemoved at the JWT iat', async () => {
    const instanceId = randomUUID();
    const { deps, calls } = setup({ eventType: 'AppRemoved', instanceId, data: JSON.stringify({ appId }) });

    const receipt = await receiveWebhook(deps, 'jwt');

    expect(calls).toEqual([{ type: 'removed', key: { appId, instanceId }, event: { eventAt: IAT_MS } }]);
    expect(receipt.outcome).toBe('applied');
  });

  it.each(['duplicate', 'stale'] as const)('passes a %s outcome through as a normal answer', async (outcome) => {
    const { deps } = setup({ eventType: 'AppRemoved', instanceId: randomUUID(), data: '{}' }, outcome);

    const receipt = await receiveWebhook(deps, 'jwt');

    expect(receipt.outcome).toBe(outcome);
  });

  it('acknowledges and logs an event type it does not handle, touching nothing', async () => {
    const { deps, calls, logger } = setup({ eventType: 'PaidPlanPurchased', instanceId: randomUUID(), data: '{}' });

    const receipt = await receiveWebhook(deps, 'jwt');

    expect(receipt).toEqual({ outcome: 'ignored', eventType: 'other', appId });
    expect(calls).toEqual([]);
    expect(logger.lines.some((line) => line.includes('PaidPlanPurchased') && line.includes('ignored'))).toBe(true);
  });

  it.each([
    ['not JSON', 'not json'],
    ['a JSON array', '[1]'],
    ['an object, not a JSON string', { some: 'thing' }],
  ])('acknowledges an event type it does not handle even when its payload is %s (a 400 made Wix redeliver it)', async (_name, data) => {
    const { deps, calls } = setup({ eventType: 'SomeFutureEvent', instanceId: randomUUID(), data });

    const receipt = await receiveWebhook(deps, 'jwt');

    expect(receipt).toEqual({ outcome: 'ignored', eventType: 'other', appId });
    expect(calls).toEqual([]);
  });

  it('does not print an unknown event type that is not a plain name', async () => {
    const { deps, logger } = setup({ eventType: '<script>x</script>', instanceId: randomUUID() });

    await receiveWebhook(deps, 'jwt');

    expect(logger.lines.join('\n')).not.toContain('<script>');
  });

  it.each([
    ['an empty body', '  ', undefined, 'body is empty'],
    ['a body too large to be a webhook', 'x'.repeat(70_000), undefined, 'body is too large'],
    ['no instanceId', 'jwt', { eventType: 'AppInstalled', data: '{}' }, 'data.instanceId is missing'],
    ['an instanceId that is not a GUID', 'jwt', { eventType: 'AppRemoved', instanceId: 'abc', data: '{}' }, 'data.instanceId must be a GUID'],
    ['another app id in the payload', 'jwt', { eventType: 'AppRemoved', instanceId: randomUUID(), data: JSON.stringify({ appId: randomUUID() }) }, 'data.data.appId is not the app whose key signed the webhook'],
    ['a malformed originInstanceId', 'jwt', { eventType: 'AppInstalled', instanceId: randomUUID(), data: JSON.stringify({ originInstanceId: 42 }) }, 'data.data.originInstanceId must be a GUID'],
    ['a payload that is not JSON', 'jwt', { eventType: 'AppRemoved', instanceId: randomUUID(), data: 'appId=x' }, 'data.data is not valid JSON'],
    ['a null instanceId', 'jwt', { eventType: 'AppInstalled', instanceId: null, data: '{}' }, 'data.instanceId is missing'],
  ])('refuses %s', async (_name, body, envelope, message) => {
    const { deps, calls } = setup(envelope ?? {});

    const error = await refusal(receiveWebhook(deps, body));

    expect(error).toBeInstanceOf(InvalidRequestError);
    expect(error.message).toBe(message);
    expect(calls).toEqual([]);
  });
});
