import { randomUUID } from 'node:crypto';

import { DeleteTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { createTable } from '../../lib/store/table-definition';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from './dynamodb-local';

/** A uniquely named table built from infra/dynamodb-table.yml on the suite's DynamoDB Local. */
export interface TestTable {
  tableName: string;
  client: DynamoDBClient;
  documentClient: DynamoDBDocumentClient;
  /** Deletes the table and closes the clients. */
  drop(): Promise<void>;
}

/** The endpoint test/global-setup.ts exported; fails clearly when it did not start one. */
export function dynamoDbEndpoint(): string {
  const endpoint = process.env.AWS_ENDPOINT_URL_DYNAMODB;
  if (endpoint === undefined || endpoint === '') {
    throw new Error('AWS_ENDPOINT_URL_DYNAMODB is not set: DynamoDB Local did not start (is Java 17 installed?)');
  }
  return endpoint;
}

/** A client for the suite's DynamoDB Local; `destroy()` it when done. */
export function localDynamoDbClient(): DynamoDBClient {
  return new DynamoDBClient({ endpoint: dynamoDbEndpoint(), region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
}

/** Creates a fresh table from the template (deletion protection off so it can be dropped). */
export async function createTestTable(prefix = 'test'): Promise<TestTable> {
  const client = localDynamoDbClient();
  const documentClient = DynamoDBDocumentClient.from(client);
  const tableName = `${prefix}-${randomUUID()}`;
  await createTable(client, tableName, { deletionProtection: false });
  return {
    tableName,
    client,
    documentClient,
    async drop() {
      try {
        await client.send(new DeleteTableCommand({ TableName: tableName }));
      } finally {
        documentClient.destroy();
        client.destroy();
      }
    },
  };
}
