import { DescribeTableCommand, DescribeTimeToLiveCommand } from '@aws-sdk/client-dynamodb';

import { createTable } from '../../../../lib/store/table-definition';
import { createTestTable, type TestTable } from '../../../support/dynamodb-table';

describe('the token table on DynamoDB Local', () => {
  let table: TestTable;

  beforeAll(async () => {
    table = await createTestTable('table');
  });

  afterAll(async () => {
    await table.drop();
  });

  it('is created from the template with on-demand billing, the sparse due and status indexes and TTL on ttl', async () => {
    const { Table } = await table.client.send(new DescribeTableCommand({ TableName: table.tableName }));
    const ttl = await table.client.send(new DescribeTimeToLiveCommand({ TableName: table.tableName }));

    expect(Table?.BillingModeSummary?.BillingMode).toBe('PAY_PER_REQUEST');
    expect(Table?.KeySchema).toEqual([{ AttributeName: 'pk', KeyType: 'HASH' }]);
    expect(Table?.GlobalSecondaryIndexes?.map((index) => [index.IndexName, index.KeySchema, index.Projection])).toEqual([
      [
        'due-index',
        [
          { AttributeName: 'dueShard', KeyType: 'HASH' },
          { AttributeName: 'dueAt', KeyType: 'RANGE' },
        ],
        { ProjectionType: 'KEYS_ONLY' },
      ],
      [
        'status-index',
        [
          { AttributeName: 'status', KeyType: 'HASH' },
          { AttributeName: 'pk', KeyType: 'RANGE' },
        ],
        { ProjectionType: 'KEYS_ONLY' },
      ],
    ]);
    expect(ttl.TimeToLiveDescription).toEqual({ AttributeName: 'ttl', TimeToLiveStatus: 'ENABLED' });
  });

  it('can be created again without error (idempotent)', async () => {
    await expect(createTable(table.client, table.tableName, { deletionProtection: false })).resolves.toBeUndefined();
  });
});
