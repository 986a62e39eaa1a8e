import { DynamoDBClient, ListTablesCommand } from '@aws-sdk/client-dynamodb';

import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from '../../support/dynamodb-local';

function isRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

describe('startDynamoDbLocal', () => {
  it('answers on a free loopback port other than 8000 and leaves no java process behind once stopped', async () => {
    const dynamoDb = await startDynamoDbLocal();
    const client = new DynamoDBClient({ endpoint: dynamoDb.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    try {
      const tables = await client.send(new ListTablesCommand({}));

      expect(tables.TableNames).toEqual([]);
      expect(dynamoDb.port).not.toBe(8000);
      expect(isRunning(dynamoDb.pid)).toBe(true);
    } finally {
      client.destroy();
      await dynamoDb.stop();
      await dynamoDb.stop();
    }

    expect(isRunning(dynamoDb.pid)).toBe(false);
  }, 150_000);
});
