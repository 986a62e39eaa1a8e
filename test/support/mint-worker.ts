/**
 * One "Lambda container" in its own Node process, for the cross-process single-flight test:
 * waits until START_AT, fires MINTS concurrent mints of INSTANCE_ID, prints the tokens as JSON.
 * Run with `node --import tsx`; configuration comes from the environment the test passes.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { LOCAL_CREDENTIALS, LOCAL_REGION } from './dynamodb-local';
import { lambdaContext, mintContainer } from './mint-fixture';

async function main(): Promise<void> {
  const env = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`${name} is not set`);
    return value;
  };
  const client = new DynamoDBClient({ endpoint: env('AWS_ENDPOINT_URL_DYNAMODB'), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  const documentClient = DynamoDBDocumentClient.from(client);
  const { handler } = mintContainer({
    documentClient,
    tableName: env('TABLE_NAME'),
    wixUrl: env('WIX_URL'),
    app: JSON.parse(env('APP_JSON')),
  });
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
