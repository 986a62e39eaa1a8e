import type { DemoAppSecret } from '../../infra/local/demo-app';
import { UnknownAppError, type AppCredentials, type AppSecretsProvider } from '../../lib/secrets';

/** What a test may script on the fake: an AWSPREVIOUS per app, or an error get() throws for an app. */
export interface MemorySecretsOptions {
  previous?: Record<string, string>;
  fail?: Record<string, Error>;
}

/** The credentials the service reads from a demo app's secret (`appSecret` in place of its own, e.g. an AWSPREVIOUS). */
export function credentialsOf(app: DemoAppSecret, appSecret = app.appSecret): AppCredentials {
  return Object.freeze({ appId: app.appId, appSecret, webhookPublicKey: app.webhookPublicKey, tokenKeys: app.tokenKeys });
}

/**
 * The one secrets provider of the tests: several apps' credentials held in memory, no Secrets Manager.
 * `previous` gives an app an AWSPREVIOUS; `fail` makes get() throw for an app (e.g. a
 * SecretsUnavailableError). `gets` lists the appIds asked for, in order, so a test can prove a
 * path read no secret.
 */
export function memorySecrets(apps: DemoAppSecret[], options: MemorySecretsOptions = {}): AppSecretsProvider & { gets: string[] } {
  const gets: string[] = [];
  const find = (appId: string) => {
    const app = apps.find((candidate) => candidate.appId === appId);
    if (app === undefined) throw new UnknownAppError(appId);
    return app;
  };
  return {
    gets,
    get: async (appId) => {
      gets.push(appId);
      const failure = options.fail?.[appId];
      if (failure) throw failure;
      return credentialsOf(find(appId));
    },
    getPrevious: async (appId) => {
      const app = find(appId);
      const previous = options.previous?.[appId];
      return previous === undefined ? undefined : credentialsOf(app, previous);
    },
    invalidate: () => undefined,
  };
}
