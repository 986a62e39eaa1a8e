import { loadConfig } from '../lib/config';
import { failureResponse, httpStack, queryReader, redirect, referenceIdOf, RouteNotFoundError, routeOf, type HttpHandler } from '../lib/http';
import { createRuntime, lazyHandler, systemClock, type ServiceLogger } from '../lib/runtime';
import { completeInstall, startInstall, type InstallDeps } from '../lib/tokens/install';
import { cookiesOf } from '../lib/tokens/install-binding';

export interface InstallHandlerDeps extends InstallDeps {
  logger: ServiceLogger;
}

/** Kept back from the invocation's remaining time to shape and send the answer. */
const ANSWER_MARGIN_MS = 500;
const ROUTES = new Set(['GET /install', 'GET /oauth/callback']);

/** `install`: GET /install (the App URL) and GET /oauth/callback (the Redirect URL) of the legacy handshake. */
export function createInstallHandler(deps: InstallHandlerDeps): HttpHandler {
  return httpStack(async (event, context) => {
    const referenceId = referenceIdOf(context);
    const route = routeOf(event);
    try {
      const query = queryReader(event);
      if (route === 'GET /install') {
        const fetchMetadata = { dest: event.headers?.['sec-fetch-dest'], mode: event.headers?.['sec-fetch-mode'] };
        const started = await startInstall(deps, { appId: query('appId'), token: query('token'), fetchMetadata });
        deps.logger.info('install started', { referenceId, appId: started.appId, fromWix: started.fromWix, bound: started.bound });
        const answer = redirect(started.location);
        return started.cookie === undefined ? answer : { ...answer, cookies: [started.cookie] };
      }
      if (route === 'GET /oauth/callback') {
        const deadline = deps.now() + context.getRemainingTimeInMillis() - ANSWER_MARGIN_MS;
        const request = { code: query('code'), state: query('state'), instanceId: query('instanceId'), cookies: cookiesOf(event) };
        const done = await completeInstall(deps, request, { deadline });
        deps.logger.info('install completed', { referenceId, appId: done.appId, instanceId: done.instanceId, version: done.version });
        return redirect(done.location);
      }
      throw new RouteNotFoundError();
    } catch (error) {
      const attributes = { route: ROUTES.has(route) ? route : 'other' };
      return failureResponse(error, { referenceId, logger: deps.logger, format: 'html', attributes });
    }
  }, deps.logger);
}

export const handler = lazyHandler(() => {
  const runtime = createRuntime(loadConfig(), 'install');
  return createInstallHandler({
    ...runtime,
    appIds: runtime.config.appIds,
    installerUrl: runtime.config.wixInstallerUrl,
    publicUrl: runtime.config.publicUrl,
    now: systemClock.now,
    sleep: systemClock.sleep,
  });
});
