import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

import { parse } from 'yaml';

import {
  TABLE_TEMPLATE_PATH,
  tableDefinitionFromTemplate,
  tableExtrasFromTemplate,
} from '../../../../lib/store/table-definition';

describe('infra/dynamodb-table.yml', () => {
  const text = readFileSync(TABLE_TEMPLATE_PATH, 'utf8');
  const template = parse(text) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> };
  const table = template.Resources.TokensTable;

  it('uses no short-form intrinsic tags, so a plain YAML parser reads it', () => {
    expect(text).not.toMatch(/!(Sub|Ref|GetAtt|Join|If|Equals|Select|Split|ImportValue|FindInMap|Base64|Cidr|GetAZs)\b/);
  });

  it('declares an on-demand table with PITR, TTL on ttl, deletion protection and SSE, named by Serverless variables', () => {
    expect(table?.Type).toBe('AWS::DynamoDB::Table');
    expect(table?.Properties).toMatchObject({
      TableName: '${self:service}-${sls:stage}-tokens',
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      DeletionProtectionEnabled: true,
      SSESpecification: { SSEEnabled: true },
    });
  });
});

describe('tableDefinitionFromTemplate', () => {
  it('translates the template into CreateTable input under the given name', () => {
    const input = tableDefinitionFromTemplate('my-table');

    expect(input).toEqual({
      TableName: 'my-table',
      BillingMode: 'PAY_PER_REQUEST',
      AttributeDefinitions: [
        { AttributeName: 'pk', AttributeType: 'S' },
        { AttributeName: 'dueShard', AttributeType: 'S' },
        { AttributeName: 'dueAt', AttributeType: 'N' },
        { AttributeName: 'status', AttributeType: 'S' },
      ],
      KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      GlobalSecondaryIndexes: [
        {
          IndexName: 'due-index',
          KeySchema: [
            { AttributeName: 'dueShard', KeyType: 'HASH' },
            { AttributeName: 'dueAt', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
        {
          IndexName: 'status-index',
          KeySchema: [
            { AttributeName: 'status', KeyType: 'HASH' },
            { AttributeName: 'pk', KeyType: 'RANGE' },
          ],
          Projection: { ProjectionType: 'KEYS_ONLY' },
        },
      ],
      SSESpecification: { Enabled: true },
      DeletionProtectionEnabled: true,
    });
  });

  it('lets a caller switch deletion protection off (DynamoDB Local enforces it)', () => {
    expect(tableDefinitionFromTemplate('t', { deletionProtection: false }).DeletionProtectionEnabled).toBe(false);
  });

  it('reports the settings CreateTable cannot carry', () => {
    expect(tableExtrasFromTemplate()).toEqual({ timeToLive: { attributeName: 'ttl', enabled: true }, pointInTimeRecovery: true });
  });

  it('refuses a template property it does not translate rather than dropping it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'table-template-'));
    const templatePath = join(dir, 'table.yml');
    writeFileSync(
      templatePath,
      readFileSync(TABLE_TEMPLATE_PATH, 'utf8').replace('      BillingMode: PAY_PER_REQUEST\n', '      BillingMode: PAY_PER_REQUEST\n      TableClass: STANDARD_INFREQUENT_ACCESS\n'),
    );

    expect(() => tableDefinitionFromTemplate('t', { templatePath })).toThrow('Table template property not translated: TableClass');
  });

  it('refuses a template without the TokensTable resource', () => {
    const dir = mkdtempSync(join(tmpdir(), 'table-template-'));
    const templatePath = join(dir, 'table.yml');
    writeFileSync(templatePath, 'Resources:\n  Other:\n    Type: AWS::S3::Bucket\n');

    expect(() => tableDefinitionFromTemplate('t', { templatePath })).toThrow('has no AWS::DynamoDB::Table named TokensTable');
  });
});
