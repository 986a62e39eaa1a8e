import { loadConfig } from '../lib/config';
import { failureResponse, httpStack, jsonResponse, rawBodyOf, referenceIdOf, RouteNotFoundError, routeOf, type HttpHandler } from '../lib/http';
import { createRuntime, lazyHandler, systemClock, type Clock, type ServiceLogger } from '../lib/runtime';
import { receiveWebhook, type LifecycleDeps } from '../lib/tokens/lifecycle';
import { configuredWebhookKeys, createWebhookVerifier, type WebhookKeySource } from '../lib/tokens/webhook';

export interface WebhooksHandlerDeps {
  appIds: readonly string[];
  /** Where each app's webhook public key comes from: its secret, or WIX_WEBHOOK_PUBLIC_KEYS. */
  secrets: WebhookKeySource;
  store: LifecycleDeps['store'];
  now: Clock['now'];
  logger: ServiceLogger;
  events?: LifecycleDeps['events'];
}

/**
 * `webhooks`: POST /webhooks, Wix's AppInstalled / AppRemoved. The body is the JWT whatever the
 * Content-Type says; every outcome Wix should not retry (applied, duplicate, stale, ignored) is a 200.
 */
export function createWebhooksHandler(deps: WebhooksHandlerDeps): HttpHandler {
  const lifecycle: LifecycleDeps = {
    verify: createWebhookVerifier(deps),
    store: deps.store,
    logger: deps.logger,
    now: deps.now,
    ...(deps.events === undefined ? {} : { events: deps.events }),
  };
  return httpStack(async (event, context) => {
    const referenceId = referenceIdOf(context);
    try {
      if (routeOf(event) !== 'POST /webhooks') throw new RouteNotFoundError();
      const receipt = await receiveWebhook(lifecycle, rawBodyOf(event));
      deps.logger.info('webhook handled', { referenceId, ...receipt });
      return jsonResponse(200, { outcome: receipt.outcome });
    } catch (error) {
      return failureResponse(error, { referenceId, logger: deps.logger, format: 'json', attributes: { route: 'POST /webhooks' } });
    }
  }, deps.logger);
}

export const handler = lazyHandler(() => {
  // No token cipher: recording a lifecycle event never opens a token (lib/store stateFromItem).
  const runtime = createRuntime(loadConfig(), 'webhooks', { tokenCipher: 'none' });
  const { webhookPublicKeys } = runtime.config;
  // With WIX_WEBHOOK_PUBLIC_KEYS set, no app secret is read (and infra/iam.yml grants none).
  const secrets = webhookPublicKeys === undefined ? runtime.secrets : configuredWebhookKeys(webhookPublicKeys);
  return createWebhooksHandler({ ...runtime, secrets, appIds: runtime.config.appIds, now: systemClock.now });
});
