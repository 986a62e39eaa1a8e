/**
 * One "Lambda container" in its own Node process, for the cross-process single-flight test:
 * waits until START_AT, fires MINTS concurrent mints of INSTANCE_ID, prints the tokens as JSON.
 * Run with `node --import tsx`; configuration comes from the environment the test passes.
 */
import { lambdaContext, mintContainer } from './mint-fixture';
import { env, workerSetting } from './worker-process';

async function main(): Promise<void> {
  const { client, documentClient, tableName, wixUrl, app } = workerSetting();
  const { handler } = mintContainer({ documentClient, tableName, wixUrl, app });
  const instanceId = env('INSTANCE_ID');
  await new Promise((resolve) => setTimeout(resolve, Math.max(0, Number(env('START_AT')) - Date.now())));
  const results = await Promise.allSettled(
    Array.from({ length: Number(env('MINTS')) }, () => handler({ instanceId }, lambdaContext())),
  );
  const tokens = results.map((result) => (result.status === 'fulfilled' ? result.value.accessToken : `error:${(result.reason as Error).name}`));
  process.stdout.write(JSON.stringify({ tokens }));
  client.destroy();
}

main().catch((error: unknown) => {
  process.stderr.write(`mint-worker failed: ${(error as Error).name}\n`);
  process.exitCode = 1;
});
