import type { DynamoDbLocal } from './support/dynamodb-local';
import { DYNAMODB_LOCAL_HANDLE } from './global-setup';

/** Stops what test/global-setup.ts started; jest runs it whether tests passed or failed. */
export default async function globalTeardown(): Promise<void> {
  const holder = globalThis as typeof globalThis & { [DYNAMODB_LOCAL_HANDLE]?: DynamoDbLocal };
  const dynamoDb = holder[DYNAMODB_LOCAL_HANDLE];
  delete holder[DYNAMODB_LOCAL_HANDLE];
  await dynamoDb?.stop();
}
