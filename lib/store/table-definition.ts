import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import {
  CreateTableCommand,
  DescribeTimeToLiveCommand,
  UpdateTimeToLiveCommand,
  waitUntilTableExists,
  type AttributeDefinition,
  type CreateTableCommandInput,
  type DynamoDBClient,
  type GlobalSecondaryIndex,
  type KeySchemaElement,
  type Projection,
} from '@aws-sdk/client-dynamodb';
import { parse } from 'yaml';

/**
 * Tooling only (tests, benchmarks, the local stack): it reads the template from disk with a YAML
 * parser, so the Lambda bundles import lib/store (index) and never this file.
 */

/** infra/dynamodb-table.yml, the one definition of the table. */
export const TABLE_TEMPLATE_PATH = resolve(__dirname, '../../infra/dynamodb-table.yml');

/** The table's logical id in the template. */
export const TABLE_LOGICAL_ID = 'TokensTable';

export interface TableDefinitionOptions {
  /** Another template file (tests of the translation). */
  templatePath?: string;
  /**
   * Overrides the template's DeletionProtectionEnabled. DynamoDB Local enforces it, so tests that
   * delete their tables pass false.
   */
  deletionProtection?: boolean;
}

/** The parts of the template CreateTable cannot express, applied after creation. */
export interface TableExtras {
  timeToLive?: { attributeName: string; enabled: boolean };
  pointInTimeRecovery: boolean;
}

/**
 * Turns the table resource of infra/dynamodb-table.yml into CreateTable input named `tableName`.
 *
 * Time to live and point-in-time recovery are not CreateTable parameters: see {@link tableExtrasFromTemplate}
 * and {@link createTable}.
 *
 * @throws {Error} when the template has no table named {@link TABLE_LOGICAL_ID} or uses a property this
 * translation does not know (so a new one is not silently dropped).
 */
export function tableDefinitionFromTemplate(tableName: string, options: TableDefinitionOptions = {}): CreateTableCommandInput {
  const properties = readTableProperties(options.templatePath);
  const known = new Set([
    'TableName',
    'BillingMode',
    'AttributeDefinitions',
    'KeySchema',
    'GlobalSecondaryIndexes',
    'PointInTimeRecoverySpecification',
    'TimeToLiveSpecification',
    'DeletionProtectionEnabled',
    'SSESpecification',
  ]);
  const unknown = Object.keys(properties).filter((name) => !known.has(name));
  if (unknown.length > 0) throw new Error(`Table template property not translated: ${unknown.join(', ')}`);

  const input: CreateTableCommandInput = {
    TableName: tableName,
    BillingMode: stringProperty(properties, 'BillingMode') as CreateTableCommandInput['BillingMode'],
    AttributeDefinitions: arrayProperty(properties, 'AttributeDefinitions') as AttributeDefinition[],
    KeySchema: arrayProperty(properties, 'KeySchema') as KeySchemaElement[],
  };
  if (properties.GlobalSecondaryIndexes !== undefined) {
    input.GlobalSecondaryIndexes = (arrayProperty(properties, 'GlobalSecondaryIndexes') as Record<string, unknown>[]).map(
      (index): GlobalSecondaryIndex => ({
        IndexName: index.IndexName as string,
        KeySchema: index.KeySchema as KeySchemaElement[],
        Projection: index.Projection as Projection,
      }),
    );
  }
  const sse = properties.SSESpecification as { SSEEnabled?: boolean; SSEType?: string; KMSMasterKeyId?: string } | undefined;
  if (sse !== undefined) {
    input.SSESpecification = { Enabled: sse.SSEEnabled === true };
    if (sse.SSEType !== undefined) input.SSESpecification.SSEType = sse.SSEType as 'KMS';
    if (sse.KMSMasterKeyId !== undefined) input.SSESpecification.KMSMasterKeyId = sse.KMSMasterKeyId;
  }
  const protection = options.deletionProtection ?? properties.DeletionProtectionEnabled;
  if (protection !== undefined) input.DeletionProtectionEnabled = protection === true;
  return input;
}

/** The template's TTL and point-in-time recovery settings. */
export function tableExtrasFromTemplate(templatePath?: string): TableExtras {
  const properties = readTableProperties(templatePath);
  const ttl = properties.TimeToLiveSpecification as { AttributeName?: string; Enabled?: boolean } | undefined;
  const pitr = properties.PointInTimeRecoverySpecification as { PointInTimeRecoveryEnabled?: boolean } | undefined;
  const extras: TableExtras = { pointInTimeRecovery: pitr?.PointInTimeRecoveryEnabled === true };
  if (ttl?.AttributeName !== undefined) extras.timeToLive = { attributeName: ttl.AttributeName, enabled: ttl.Enabled === true };
  return extras;
}

/**
 * Creates the table from the template and switches TTL on; safe to call again (an existing table
 * is kept, TTL is set only when off). Point-in-time recovery is left to CloudFormation: DynamoDB
 * Local has none.
 */
export async function createTable(
  client: DynamoDBClient,
  tableName: string,
  options: TableDefinitionOptions = {},
): Promise<void> {
  try {
    await client.send(new CreateTableCommand(tableDefinitionFromTemplate(tableName, options)));
  } catch (error) {
    if ((error as { name?: unknown }).name !== 'ResourceInUseException') throw error;
  }
  await waitUntilTableExists({ client, maxWaitTime: 60, minDelay: 1, maxDelay: 2 }, { TableName: tableName });

  const { timeToLive } = tableExtrasFromTemplate(options.templatePath);
  if (timeToLive?.enabled !== true) return;
  const current = await client.send(new DescribeTimeToLiveCommand({ TableName: tableName }));
  const status = current.TimeToLiveDescription?.TimeToLiveStatus;
  if (status === 'ENABLED' || status === 'ENABLING') return;
  await client.send(
    new UpdateTimeToLiveCommand({
      TableName: tableName,
      TimeToLiveSpecification: { AttributeName: timeToLive.attributeName, Enabled: true },
    }),
  );
}

function readTableProperties(templatePath: string = TABLE_TEMPLATE_PATH): Record<string, unknown> {
  const template = parse(readFileSync(templatePath, 'utf8')) as { Resources?: Record<string, unknown> } | null;
  const resource = template?.Resources?.[TABLE_LOGICAL_ID] as { Type?: unknown; Properties?: unknown } | undefined;
  if (resource?.Type !== 'AWS::DynamoDB::Table' || typeof resource.Properties !== 'object' || resource.Properties === null) {
    throw new Error(`${templatePath} has no AWS::DynamoDB::Table named ${TABLE_LOGICAL_ID}`);
  }
  return resource.Properties as Record<string, unknown>;
}

function stringProperty(properties: Record<string, unknown>, name: string): string {
  const value = properties[name];
  if (typeof value !== 'string') throw new Error(`Table template property ${name} must be a string`);
  return value;
}

function arrayProperty(properties: Record<string, unknown>, name: string): unknown[] {
  const value = properties[name];
  if (!Array.isArray(value)) throw new Error(`Table template property ${name} must be a list`);
  return value;
}
