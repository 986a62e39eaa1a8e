/**
 * One Lambda container in its own process, for the crash runs (test/integration/faults/crash,
 * issue 8): it runs one `refresh`, `mint` or install callback whose token store stops dead right
 * after Wix answered, before the write. It prints `BLOCKED_BEFORE_WRITE` when it gets there and
 * waits for the test to kill it with SIGKILL. Run with `node --import tsx`; configuration comes
 * from the environment the test passes. It prints no token.
 */
import { randomUUID } from 'node:crypto';

import { cipherSource } from '../../lib/runtime';
import { createDynamoInstallStateStore, createDynamoTokenStore, type TokenStore } from '../../lib/store';
import { createWixClient } from '../../lib/wix';
import { eventFromUrl, httpContext, installHandler } from './http-fixture';
import { lambdaContext, mintContainer } from './mint-fixture';
import { memorySecrets } from './secrets';
import { refreshContainer } from './refresh-fixture';
import { env, workerSetting } from './worker-process';

/** The line the test waits for before it kills this process (test/integration/faults/crash.test.ts). */
const BLOCKED_BEFORE_WRITE = 'BLOCKED_BEFORE_WRITE';

/** The store, except that a token write announces itself and never happens. */
function blockingStore(store: TokenStore): TokenStore {
  const block = async (): Promise<never> => {
    process.stdout.write(`${BLOCKED_BEFORE_WRITE}\n`);
    return new Promise<never>(() => undefined);
  };
  return { ...store, storeLeasedTokens: block, storeInstallTokens: block };
}

async function main(): Promise<void> {
  const { client, documentClient, tableName, wixUrl, app } = workerSetting();
  const leaseTtlMs = Number(env('LEASE_TTL_MS'));
  const secrets = memorySecrets([app]);
  const store = blockingStore(createDynamoTokenStore({ documentClient, tableName, cipherFor: cipherSource(secrets), leaseTtlMs }));

  switch (env('MODE')) {
    case 'refresh': {
      const { handler } = refreshContainer({ documentClient, tableName, wixUrl, app, overrides: { store, writeMarginMs: 200, minCallMs: 100 } });
      await handler({ instanceId: env('INSTANCE_ID') }, lambdaContext(30_000));
      break;
    }
    case 'mint': {
      const { handler } = mintContainer({ documentClient, tableName, wixUrl, app, overrides: { store } });
      await handler({ instanceId: env('INSTANCE_ID') }, lambdaContext(30_000));
      break;
    }
    case 'install': {
      const states = createDynamoInstallStateStore({ documentClient, tableName });
      const handler = installHandler({ appIds: [app.appId], wixUrl, secrets, store, states, overrides: { wix: createWixClient({ baseUrl: wixUrl }) } });
      await handler(eventFromUrl(env('CALLBACK_URL')), httpContext(30_000, randomUUID()));
      break;
    }
    default:
      throw new Error('MODE must be refresh, mint or install');
  }
  // Only reached when the run never got to a write (it failed before): say so and stop.
  process.stdout.write('FINISHED_WITHOUT_WRITE\n');
  client.destroy();
}

main().catch((error: unknown) => {
  // Name and code only: a foreign error's message may quote what it was given.
  const code = (error as { code?: unknown }).code;
  process.stderr.write(`crash-worker failed: ${(error as Error).name}${typeof code === 'string' ? ` (${code})` : ''}\n`);
  process.exitCode = 1;
});
