import { loadConfig } from '../lib/config';
import { failureResponse, httpStack, jsonResponse, rawBodyOf, referenceIdOf, RouteNotFoundError, routeOf, type HttpHandler } from '../lib/http';
import { createRuntime, lazyHandler, systemClock, type Clock, type ServiceLogger } from '../lib/runtime';
import type { AppSecretsProvider } from '../lib/secrets';
import { receiveWebhook, type LifecycleDeps } from '../lib/tokens/lifecycle';
import { createWebhookVerifier } from '../lib/tokens/webhook';

export interface WebhooksHandlerDeps {
  appIds: readonly string[];
  secrets: Pick<AppSecretsProvider, 'get'>;
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
  const runtime = createRuntime(loadConfig(), 'webhooks');
  return createWebhooksHandler({ ...runtime, appIds: runtime.config.appIds, now: systemClock.now });
});
