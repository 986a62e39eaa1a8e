/**
 * What a test's worker process (mint-worker, crash-worker: one Lambda container each, run with
 * `node --import tsx`) needs from the environment the test passes it.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import type { DemoAppSecret } from '../../infra/local/demo-app';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './dynamodb-local';

/** A variable the test must have set: a missing one is a broken test, never a default. */
export function env(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
}

/** The table, Wix simulator and app the test named; the client is the worker's to destroy() when done. */
export function workerSetting(): { client: DynamoDBClient; documentClient: DynamoDBDocumentClient; tableName: string; wixUrl: string; app: DemoAppSecret } {
  const client = new DynamoDBClient({ endpoint: env('AWS_ENDPOINT_URL_DYNAMODB'), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
  return {
    client,
    documentClient: DynamoDBDocumentClient.from(client),
    tableName: env('TABLE_NAME'),
    wixUrl: env('WIX_URL'),
    app: JSON.parse(env('APP_JSON')) as DemoAppSecret,
  };
}
