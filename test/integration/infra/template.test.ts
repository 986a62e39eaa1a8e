import { randomUUID } from 'node:crypto';
import { execFile, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

import type { SpecDatabase } from '@aws-cdk/service-spec-types';
import { parse as parseYaml } from 'yaml';

import { METRICS_NAMESPACE } from '../../../functions/refresh';
import { lambdaNodeBinary } from '../../../infra/local/lambda-node';
import { PROJECT_ROOT } from '../../../infra/local/stack';
import { mapStackTrace } from '../../../infra/package/stack-trace';
import { unzip } from '../../../infra/package/unzip';
import { instancePk, statePk } from '../../../lib/store/item';
import { emptySummary, summaryMetrics } from '../../../lib/tokens/refresh-summary';
import { CFN_LINT_CONFIG, cfnLint, describeFinding } from '../../support/cfn-lint';
import { evaluateTemplate, type EvaluatedTemplate } from '../../support/cloudformation-eval';
import {
  awsServiceSpec,
  renderIntrinsic,
  validateTemplate,
  type CloudFormationTemplate,
  type TemplateResource,
} from '../../support/cloudformation-spec';
import { copyService, type ServiceCopy } from '../../support/service-copy';

/**
 * `serverless package` (what `npm run package` runs) builds the deployment offline, and the template
 * it writes is one CloudFormation accepts and that grants each function only what it uses.
 *
 * It packages a private copy of the service (test/support/service-copy.ts), so it shares no
 * `.esbuild` or `.serverless` folder with the e2e test, another run, or a developer's checkout.
 * The artifacts it writes are then run as Lambda runs them: unzipped, with the function's
 * environment from the template, on the machine's Node and on Lambda's Node 22.
 */

const STAGE = 'test';
const SERVICE = 'wix-token-service';
const FUNCTIONS = ['mint', 'refresh', 'install', 'webhooks', 'status'] as const;
/** Two roles for the allowedMintCallers option (one with a path). */
const ALLOWED_CALLERS = ['arn:aws:iam::123456789012:role/app-orders', 'arn:aws:iam::123456789012:role/service-role/app-billing'];
type FunctionName = (typeof FUNCTIONS)[number];

const TABLE = '${TokensTable.Arn}';
const DUE_INDEX = '${TokensTable.Arn}/index/due-index';
const STATUS_INDEX = '${TokensTable.Arn}/index/status-index';
const EVENT_BUS = 'arn:${AWS::Partition}:events:${AWS::Region}:${AWS::AccountId}:event-bus/default';
const APP_SECRETS = `arn:\${AWS::Partition}:secretsmanager:\${AWS::Region}:\${AWS::AccountId}:secret:${SERVICE}/${STAGE}/apps/*`;
/** install's PutItem and DeleteItem hold only on install-state items (lib/store/item.ts statePk). */
const INSTALL_STATE_KEYS = { 'ForAllValues:StringLike': { 'dynamodb:LeadingKeys': ['state#*'] } };
/** A resource as {@link permissionsOf} renders it when its statement has a condition. */
const when = (target: string, condition: unknown) => `${target} when ${JSON.stringify(condition)}`;
const ownLogs = (fn: FunctionName) => {
  const group = `\${${logicalPrefix(fn)}LogGroup.Arn}`;
  return { 'logs:CreateLogStream': [group], 'logs:PutLogEvents': [group] };
};

/** Every action each function's role allows, and on what: exactly what its code calls (see infra/iam.yml). */
const EXPECTED_PERMISSIONS: Record<FunctionName, Record<string, string[]>> = {
  mint: {
    ...ownLogs('mint'),
    'dynamodb:GetItem': [TABLE],
    'dynamodb:UpdateItem': [TABLE],
    'secretsmanager:GetSecretValue': [APP_SECRETS],
    'events:PutEvents': [EVENT_BUS],
  },
  refresh: {
    ...ownLogs('refresh'),
    'dynamodb:UpdateItem': [TABLE],
    'dynamodb:Query': [DUE_INDEX, STATUS_INDEX],
    'secretsmanager:GetSecretValue': [APP_SECRETS],
    'events:PutEvents': [EVENT_BUS],
  },
  install: {
    ...ownLogs('install'),
    'dynamodb:GetItem': [TABLE],
    'dynamodb:UpdateItem': [TABLE],
    'dynamodb:PutItem': [when(TABLE, INSTALL_STATE_KEYS)],
    'dynamodb:DeleteItem': [when(TABLE, INSTALL_STATE_KEYS)],
    'secretsmanager:GetSecretValue': [APP_SECRETS],
    'events:PutEvents': [EVENT_BUS],
  },
  webhooks: {
    ...ownLogs('webhooks'),
    'dynamodb:UpdateItem': [TABLE],
    'secretsmanager:GetSecretValue': [APP_SECRETS],
    'events:PutEvents': [EVENT_BUS],
  },
  // No secret: status cannot decrypt, so it cannot read a token whatever the table holds.
  status: {
    ...ownLogs('status'),
    'dynamodb:GetItem': [TABLE],
    'dynamodb:Query': [STATUS_INDEX],
  },
};

interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
  [key: string]: unknown;
}

let service: ServiceCopy;
let template: CloudFormationTemplate;
let state: { service: { functions: Record<string, { events?: Array<Record<string, unknown>>; versionFunction?: boolean }> } };
let spec: SpecDatabase;

function logicalPrefix(fn: FunctionName): string {
  return fn.charAt(0).toUpperCase() + fn.slice(1);
}

function resource(logicalId: string): TemplateResource {
  const found = template.Resources[logicalId];
  if (found === undefined) throw new Error(`no resource ${logicalId} in the template`);
  return found;
}

function resourcesOfType(type: string): Array<[string, TemplateResource]> {
  return Object.entries(template.Resources).filter(([, candidate]) => candidate.Type === type);
}

function lambdaOf(fn: FunctionName): TemplateResource {
  return resource(`${logicalPrefix(fn)}LambdaFunction`);
}

/** The logical id of the role a function runs as. */
function roleIdOf(fn: FunctionName): string {
  const role = lambdaOf(fn).Properties?.['Role'] as { 'Fn::GetAtt'?: [string, string] } | undefined;
  const getAtt = role?.['Fn::GetAtt'];
  if (getAtt === undefined || getAtt[1] !== 'Arn') throw new Error(`${fn} does not run as a role of this template: ${JSON.stringify(role)}`);
  return getAtt[0];
}

/**
 * The statements of a role as CloudFormation would create them with these parameter values (the
 * template's defaults unless overridden): each `Fn::If` resolved, an `AWS::NoValue` left out.
 */
function statementsOf(role: TemplateResource, parameters: Record<string, string> = {}): Statement[] {
  const policies = (role.Properties?.['Policies'] ?? []) as Array<{ PolicyDocument: { Statement: unknown[] } }>;
  return policies.flatMap((policy) => policy.PolicyDocument.Statement.map((statement) => resolveIf(statement, parameters)).filter((statement): statement is Statement => statement !== NO_VALUE));
}

const NO_VALUE = Symbol('AWS::NoValue');

/** One level of `{"Fn::If": [condition, then, else]}`, the way the roles use it. */
function resolveIf(value: unknown, parameters: Record<string, string>): unknown {
  const branches = (value as { 'Fn::If'?: [string, unknown, unknown] })['Fn::If'];
  if (branches === undefined) return value;
  const chosen = conditionHolds(branches[0], parameters) ? branches[1] : branches[2];
  return (chosen as { Ref?: string }).Ref === 'AWS::NoValue' ? NO_VALUE : chosen;
}

/** A condition of the template of the form `Fn::Equals: [{Ref: parameter}, 'literal']`. */
function conditionHolds(name: string, parameters: Record<string, string>): boolean {
  const condition = template.Conditions?.[name] as { 'Fn::Equals'?: [{ Ref: string }, string] } | undefined;
  const equals = condition?.['Fn::Equals'];
  if (equals === undefined || typeof equals[0]?.Ref !== 'string' || typeof equals[1] !== 'string') throw new Error(`condition ${name} is not Fn::Equals [Ref, literal]`);
  const parameter = equals[0].Ref;
  const value = parameters[parameter] ?? (template.Parameters?.[parameter] as { Default?: string } | undefined)?.Default;
  if (value === undefined) throw new Error(`parameter ${parameter} has no value`);
  return value === equals[1];
}

function asList<T>(value: T | T[]): T[] {
  return Array.isArray(value) ? value : [value];
}

/** Action to rendered resources, over every statement of the role; a condition is rendered with its resource ({@link when}). */
function permissionsOf(role: TemplateResource, parameters: Record<string, string> = {}): Record<string, string[]> {
  const permissions: Record<string, string[]> = {};
  for (const statement of statementsOf(role, parameters)) {
    const targets = asList(statement.Resource)
      .map(renderIntrinsic)
      .map((target) => (statement['Condition'] === undefined ? target : when(target, statement['Condition'])));
    for (const action of asList(statement.Action)) {
      permissions[action] = [...(permissions[action] ?? []), ...targets].sort();
    }
  }
  return permissions;
}

/** Every metric an alarm watches, single-metric or metric math. */
function alarmMetrics(alarm: TemplateResource): Array<{ Namespace: string; MetricName: string; Dimensions?: Array<{ Name: string; Value: unknown }> }> {
  const properties = alarm.Properties ?? {};
  if (properties['MetricName'] !== undefined) {
    return [{ Namespace: properties['Namespace'] as string, MetricName: properties['MetricName'] as string, Dimensions: properties['Dimensions'] as never }];
  }
  const queries = (properties['Metrics'] ?? []) as Array<{ MetricStat?: { Metric: { Namespace: string; MetricName: string; Dimensions?: never } } }>;
  return queries.flatMap((query) => (query.MetricStat === undefined ? [] : [query.MetricStat.Metric]));
}

function dimensionsOf(metric: { Dimensions?: Array<{ Name: string; Value: unknown }> }): Record<string, string> {
  return Object.fromEntries((metric.Dimensions ?? []).map((dimension) => [dimension.Name, renderIntrinsic(dimension.Value)]));
}

interface Packaged {
  service: ServiceCopy;
  template: CloudFormationTemplate;
  state: typeof state;
}

/** `serverless package` of a private copy of the service, with serverless params given as `--param`. */
async function packageService(label: string, params: Record<string, string> = {}): Promise<Packaged> {
  const copy = await copyService(label);
  const env: NodeJS.ProcessEnv = { ...process.env, SLS_TELEMETRY_DISABLED: '1', SLS_NOTIFICATIONS_MODE: 'off' };
  // The template must not depend on the shell it was packaged from.
  for (const name of ['WIX_API_URL', 'WIX_INSTALLER_URL', 'PUBLIC_URL', 'WIX_APP_IDS', 'APP_SECRET_PREFIX']) delete env[name];
  const paramArgs = Object.entries(params).map(([name, value]) => `--param=${name}=${value}`);
  try {
    await promisify(execFile)(join(PROJECT_ROOT, 'node_modules/.bin/serverless'), ['package', '--stage', STAGE, ...paramArgs], {
      cwd: copy.dir,
      env,
      timeout: 170_000,
      maxBuffer: 16 * 1024 * 1024,
    });
  } catch (error) {
    await copy.remove();
    const { stdout, stderr } = error as { stdout?: string; stderr?: string };
    throw new Error(`serverless package failed:\n${stdout ?? ''}\n${stderr ?? ''}`, { cause: error });
  }
  const output = join(copy.dir, '.serverless');
  return {
    service: copy,
    template: JSON.parse(readFileSync(join(output, 'cloudformation-template-update-stack.json'), 'utf8')) as CloudFormationTemplate,
    state: JSON.parse(readFileSync(join(output, 'serverless-state.json'), 'utf8')) as typeof state,
  };
}

beforeAll(async () => {
  ({ service, template, state } = await packageService('package'));
  spec = await awsServiceSpec();
}, 180_000);

afterAll(async () => {
  await service?.remove();
});

describe('serverless package', () => {
  it('builds one artifact per function, offline', () => {
    for (const fn of FUNCTIONS) {
      expect(existsSync(join(service.dir, '.serverless', `${fn}.zip`))).toBe(true);
      expect(lambdaOf(fn).Properties).toMatchObject({
        FunctionName: `${SERVICE}-${STAGE}-${fn}`,
        Handler: `functions/${fn}.handler`,
        Runtime: 'nodejs22.x',
        Architectures: ['arm64'],
      });
    }
  });
});

describe('the CloudFormation template', () => {
  it('uses only resource types, properties and attributes CloudFormation knows, with every required property', () => {
    expect(validateTemplate(spec, template)).toEqual([]);
  });

  it('is checked for real: the validator refuses an unknown type, an unknown property, a missing required one, a mistyped value and a dangling Ref', () => {
    const broken: CloudFormationTemplate = {
      Resources: {
        Typo: { Type: 'AWS::DynamoDB::Tabel' },
        Table: { Type: 'AWS::DynamoDB::Table', Properties: { KeySchema: [], PointInTimeRecoverySpecification: { Enabled: true } } },
        Fn: { Type: 'AWS::Lambda::Function', Properties: { Code: { ZipFile: 'exports.handler = async () => 1' } } },
        Alarm: { Type: 'AWS::CloudWatch::Alarm', Properties: { EvaluationPeriods: 'one', AlarmActions: [{ Ref: 'Nowhere' }] } },
      },
    };

    const problems = validateTemplate(spec, broken);

    expect(problems).toEqual(
      expect.arrayContaining([
        'Resources.Typo: unknown resource type AWS::DynamoDB::Tabel',
        'Resources.Table.Properties.PointInTimeRecoverySpecification: unknown property Enabled',
        'Resources.Fn.Properties: missing required property Role',
        'Resources.Alarm.Properties.EvaluationPeriods: expected a number',
        'Resources.Alarm.Properties.AlarmActions[0]: Ref to unknown Nowhere',
      ]),
    );
  });
});

describe('cfn-lint (AWS\u2019s CloudFormation linter, as a user\u2019s pipeline runs it)', () => {
  let lintDir: string;

  beforeAll(() => {
    lintDir = mkdtempSync(join(tmpdir(), 'wix-token-service-cfn-lint-'));
  });

  afterAll(() => {
    rmSync(lintDir, { recursive: true, force: true });
  });

  it('finds no error and no warning in the packaged template, but for the rules .cfnlintrc ignores', async () => {
    const findings = await cfnLint(join(service.dir, '.serverless', 'cloudformation-template-update-stack.json'));

    expect(findings.map(describeFinding)).toEqual([]);
  }, 120_000);

  it('is checked for real: it still reports an empty alarm action (E3033), and ignores only the rules .cfnlintrc names, each with its reason', async () => {
    const file = join(lintDir, 'broken.json');
    writeFileSync(
      file,
      JSON.stringify({
        Resources: {
          Topic: { Type: 'AWS::SNS::Topic' },
          Alarm: {
            Type: 'AWS::CloudWatch::Alarm',
            // A DependsOn a Ref already implies: W3005, the one rule .cfnlintrc ignores.
            DependsOn: ['Topic'],
            Properties: {
              Namespace: 'AWS/Lambda',
              MetricName: 'Errors',
              Statistic: 'Sum',
              Period: 60,
              EvaluationPeriods: 1,
              Threshold: 1,
              ComparisonOperator: 'GreaterThanOrEqualToThreshold',
              AlarmActions: [''],
              OKActions: [{ Ref: 'Topic' }],
            },
          },
        },
      }),
    );
    const ignored = (parseYaml(readFileSync(CFN_LINT_CONFIG, 'utf8')) as { ignore_checks: string[] }).ignore_checks;

    const findings = await cfnLint(file);

    expect(findings.map((finding) => finding.Rule.Id)).toContain('E3033');
    expect(findings.filter((finding) => ignored.includes(finding.Rule.Id))).toEqual([]);
    expect(ignored).toEqual(['W3005']);
    for (const id of ignored) expect(readFileSync(CFN_LINT_CONFIG, 'utf8')).toMatch(new RegExp(`^ *# ${id} .+\\n( *#.*\\n)* *- ${id}$`, 'm'));
  }, 120_000);

  it('says how to install cfn-lint when it is missing', async () => {
    await expect(cfnLint(join(lintDir, 'any.json'), { command: 'cfn-lint-not-installed-here' })).rejects.toThrow(
      /cfn-lint-not-installed-here is not installed .*pip install cfn-lint/,
    );
  });
});

describe('least privilege', () => {
  it.each(FUNCTIONS)('gives %s a role of its own holding exactly the actions its code uses, on only its table, index, secrets and logs', (fn) => {
    const roleId = roleIdOf(fn);
    const role = resource(roleId);

    expect(role.Type).toBe('AWS::IAM::Role');
    expect(FUNCTIONS.filter((other) => roleIdOf(other) === roleId)).toEqual([fn]);
    expect(permissionsOf(role)).toEqual(
      Object.fromEntries(Object.entries(EXPECTED_PERMISSIONS[fn]).map(([action, resources]) => [action, [...resources].sort()])),
    );
    expect(role.Properties?.['ManagedPolicyArns']).toBeUndefined();
  });

  it('issue 17: lets install put and delete only install-state items (dynamodb:LeadingKeys), the keys lib/store gives them', () => {
    const writers = statementsOf(resource(roleIdOf('install'))).filter((statement) =>
      asList(statement.Action).some((action) => action === 'dynamodb:PutItem' || action === 'dynamodb:DeleteItem'),
    );

    expect(writers).toHaveLength(1);
    expect(asList(writers[0]!.Action).sort()).toEqual(['dynamodb:DeleteItem', 'dynamodb:PutItem']);
    expect(writers[0]!['Condition']).toEqual(INSTALL_STATE_KEYS);
    const [pattern] = INSTALL_STATE_KEYS['ForAllValues:StringLike']['dynamodb:LeadingKeys'];
    // IAM's StringLike as a regular expression (test/unit/infra/iam-leading-keys.test.ts checks the same translation).
    const escaped = pattern!.replace(/[.+^$()|[\]\\{}]/g, '\\$&');
    const glob = new RegExp('^' + escaped.replace(/\*/g, '.*').replace(/\?/g, '.') + '$');
    expect(statePk(randomUUID())).toMatch(glob);
    expect(instancePk({ appId: randomUUID(), instanceId: randomUUID() })).not.toMatch(glob);
    // No other role may put or delete an item at all.
    for (const fn of FUNCTIONS.filter((other) => other !== 'install')) {
      const actions = statementsOf(resource(roleIdOf(fn))).flatMap((statement) => asList(statement.Action));
      expect(actions.filter((action) => action === 'dynamodb:PutItem' || action === 'dynamodb:DeleteItem')).toEqual([]);
    }
  });

  it('issue 17: lets webhooks read the app secrets only while its webhook keys come from them, from the same setting as its WIX_WEBHOOK_PUBLIC_KEYS', () => {
    const role = resource(roleIdOf('webhooks'));
    const environment = (lambdaOf('webhooks').Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables;
    const parameter = template.Parameters?.['WebhookPublicKeys'] as { Type: string; Default: string };

    // Packaged with webhookPublicKeys empty (the default): the keys are read from the secrets.
    expect(environment['WIX_WEBHOOK_PUBLIC_KEYS']).toBe('');
    expect(parameter).toMatchObject({ Type: 'String', Default: '' });
    expect(permissionsOf(role)['secretsmanager:GetSecretValue']).toEqual([APP_SECRETS]);
    // Configured: no Secrets Manager action at all, and nothing else changes.
    const configured = permissionsOf(role, { WebhookPublicKeys: `${randomUUID()}=MIIBIjANBg` });
    expect(configured['secretsmanager:GetSecretValue']).toBeUndefined();
    const { 'secretsmanager:GetSecretValue': _secrets, ...others } = EXPECTED_PERMISSIONS.webhooks;
    expect(configured).toEqual(Object.fromEntries(Object.entries(others).map(([action, resources]) => [action, [...resources].sort()])));
    // The other functions' grants do not depend on it.
    for (const fn of FUNCTIONS.filter((other) => other !== 'webhooks')) {
      expect(permissionsOf(resource(roleIdOf(fn)), { WebhookPublicKeys: 'x' })).toEqual(permissionsOf(resource(roleIdOf(fn))));
    }
  });

  it.each(FUNCTIONS)('lets %s write only to the log group of its own name', (fn) => {
    expect(resource(`${logicalPrefix(fn)}LogGroup`).Properties?.['LogGroupName']).toBe(`/aws/lambda/${SERVICE}-${STAGE}-${fn}`);
  });

  it('has no shared role, no wildcard action and no wildcard resource in any IAM policy', () => {
    const roles = resourcesOfType('AWS::IAM::Role');
    const statements = roles.flatMap(([, role]) => statementsOf(role));

    expect(roles.map(([id]) => id).sort()).toEqual(FUNCTIONS.map(roleIdOf).sort());
    expect(resourcesOfType('AWS::IAM::Policy')).toEqual([]);
    expect(resourcesOfType('AWS::IAM::ManagedPolicy')).toEqual([]);
    expect(statements.length).toBeGreaterThan(0);
    for (const statement of statements) {
      expect(statement.Effect).toBe('Allow');
      expect(Object.keys(statement).filter((key) => key.startsWith('Not'))).toEqual([]);
      for (const action of asList(statement.Action)) expect(action).toMatch(/^[a-z0-9-]+:[A-Za-z]+$/);
      for (const target of asList(statement.Resource).map(renderIntrinsic)) {
        // The one trailing wildcard allowed: the secret name suffix Secrets Manager adds, under our prefix.
        if (target.includes('*')) expect(target).toBe(APP_SECRETS);
      }
    }
  });

  it('lets only Lambda assume the function roles', () => {
    for (const [, role] of resourcesOfType('AWS::IAM::Role')) {
      expect(role.Properties?.['AssumeRolePolicyDocument']).toEqual({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
      });
    }
  });

  it('routes only install and webhooks through the HTTP API; mint, refresh and status have no public route', () => {
    const routes = resourcesOfType('AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties?.['RouteKey']);
    const integrated = resourcesOfType('AWS::ApiGatewayV2::Integration').map(([, integration]) =>
      renderIntrinsic(integration.Properties?.['IntegrationUri']),
    );
    const invokers = (fn: FunctionName) =>
      resourcesOfType('AWS::Lambda::Permission')
        .filter(([, permission]) => renderIntrinsic(permission.Properties?.['FunctionName']).includes(`${logicalPrefix(fn)}LambdaFunction`))
        .map(([, permission]) => permission.Properties?.['Principal']);

    expect(routes.sort()).toEqual(['GET /install', 'GET /oauth/callback', 'POST /webhooks']);
    expect(integrated.sort()).toEqual(['${InstallLambdaFunction.Arn}', '${WebhooksLambdaFunction.Arn}']);
    expect(invokers('mint')).toEqual([]);
    expect(invokers('status')).toEqual([]);
    expect(invokers('refresh')).toEqual(['events.amazonaws.com']);
    for (const fn of ['mint', 'refresh', 'status']) {
      const events = state.service.functions[fn]?.events ?? [];
      expect(events.filter((event) => 'httpApi' in event || 'http' in event)).toEqual([]);
    }
  });
});

describe('the token table', () => {
  it('is on demand, with point-in-time recovery, TTL, deletion protection and encryption, and kept on stack deletion', () => {
    const table = resource('TokensTable');

    expect(table.DeletionPolicy).toBe('Retain');
    expect(table.UpdateReplacePolicy).toBe('Retain');
    expect(table.Properties).toMatchObject({
      TableName: `${SERVICE}-${STAGE}-tokens`,
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
      DeletionProtectionEnabled: true,
      SSESpecification: { SSEEnabled: true },
    });
    expect(table.Properties?.['ProvisionedThroughput']).toBeUndefined();
  });
});

describe('alarms', () => {
  const alarms = () => resourcesOfType('AWS::CloudWatch::Alarm');
  const watching = (namespace: string, metricName: string, dimensions: Record<string, string>) =>
    alarms().filter(([, alarm]) =>
      alarmMetrics(alarm).some(
        (metric) => metric.Namespace === namespace && metric.MetricName === metricName && expect.objectContaining(dimensions).asymmetricMatch(dimensionsOf(metric)),
      ),
    );

  it('notify the alarm topic, or the one given in alarmTopicArn, on alarm and on recovery', () => {
    const topicActions = [{ 'Fn::If': ['CreateAlarmTopic', { Ref: 'AlarmTopic' }, { Ref: 'AlarmTopicArn' }] }];

    expect(alarms().length).toBeGreaterThan(0);
    for (const [, alarm] of alarms()) {
      expect(alarm.Properties?.['AlarmActions']).toEqual(topicActions);
      expect(alarm.Properties?.['OKActions']).toEqual(topicActions);
    }
    expect(resource('AlarmTopic')).toMatchObject({ Type: 'AWS::SNS::Topic', Condition: 'CreateAlarmTopic' });
    expect(template.Conditions?.['CreateAlarmTopic']).toEqual({ 'Fn::Equals': [{ Ref: 'AlarmTopicArn' }, ''] });
    // The serverless param alarmTopicArn (empty unless given) is the CloudFormation parameter's default.
    expect(template.Parameters?.['AlarmTopicArn']).toMatchObject({ Type: 'String', Default: '' });
    const pattern = new RegExp((template.Parameters?.['AlarmTopicArn'] as { AllowedPattern: string }).AllowedPattern);
    expect(pattern.test('')).toBe(true);
    expect(pattern.test('arn:aws:sns:us-east-1:123456789012:ops-alarms')).toBe(true);
    expect(pattern.test('arn:aws:sqs:us-east-1:123456789012:ops-alarms')).toBe(false);
  });

  it('watch only refresh metrics the function publishes, under its namespace and dimensions (a sweep, or a direct invoke)', () => {
    const published = new Set(Object.keys(summaryMetrics(emptySummary('sweep'))));
    const serviceMetrics = alarms().flatMap(([, alarm]) => alarmMetrics(alarm).filter((metric) => metric.Namespace === METRICS_NAMESPACE));

    expect(serviceMetrics.length).toBeGreaterThan(0);
    for (const metric of serviceMetrics) {
      expect(published).toContain(metric.MetricName);
      expect([{ service: 'refresh', mode: 'sweep' }, { service: 'refresh', mode: 'instance' }]).toContainEqual(dimensionsOf(metric));
    }
  });

  it('issue 11: alarm on a rotated refresh token that could not be stored, from a sweep or a direct invoke', () => {
    expect(watching(METRICS_NAMESPACE, 'FailedRotatedTokenLost', { service: 'refresh', mode: 'sweep' })).not.toEqual([]);
    expect(watching(METRICS_NAMESPACE, 'FailedRotatedTokenLost', { service: 'refresh', mode: 'instance' })).not.toEqual([]);
  });

  it('cover failing refreshes, mint errors and throttling of every function and of the table', () => {
    const sweep = { service: 'refresh', mode: 'sweep' };
    const fn = (name: FunctionName) => ({ FunctionName: `\${${logicalPrefix(name)}LambdaFunction}` });
    const table = { TableName: '${TokensTable}' };

    expect(watching(METRICS_NAMESPACE, 'Failed', sweep)).not.toEqual([]);
    expect(watching(METRICS_NAMESPACE, 'FailedCredentialsRejected', sweep)).not.toEqual([]);
    expect(watching('AWS/Lambda', 'Errors', fn('refresh'))).not.toEqual([]);
    expect(watching('AWS/Lambda', 'Errors', fn('mint'))).not.toEqual([]);
    for (const name of FUNCTIONS) expect(watching('AWS/Lambda', 'Throttles', fn(name))).not.toEqual([]);
    expect(watching('AWS/DynamoDB', 'ReadThrottleEvents', table)).not.toEqual([]);
    expect(watching('AWS/DynamoDB', 'WriteThrottleEvents', table)).not.toEqual([]);
  });
});

describe('the operations dashboard', () => {
  it('charts mint answers by source and refusals by type, the sweep, instances by state and what the alarms watch', () => {
    const body = JSON.parse(resource('OperationsDashboard').Properties?.['DashboardBody'] as string) as { widgets: Array<{ properties: { title: string } }> };
    const text = JSON.stringify(body);

    expect(body.widgets.map((widget) => widget.properties.title)).toHaveLength(6);
    for (const metric of ['Answered', 'Refused', 'Refreshed', 'LeftForNextRun', 'FailedRotatedTokenLost', 'Instances', 'Errors', 'Throttles', 'ReadThrottleEvents', 'WriteThrottleEvents']) {
      expect(text).toContain(metric);
    }
    expect(text).toContain(`${SERVICE}-${STAGE}-tokens`);
  });
});

describe('capacity (issue 17): HTTP API stage throttling and reserved concurrency, from parameters', () => {
  it('throttles the HTTP API stage from the httpApiThrottling* parameters: 50 requests a second, bursts of 100, by default', () => {
    const stages = resourcesOfType('AWS::ApiGatewayV2::Stage');
    const evaluated = evaluateTemplate(template);

    expect(stages).toHaveLength(1);
    const [, stage] = stages[0] as [string, TemplateResource];
    expect(stage.Properties?.['DefaultRouteSettings']).toEqual({
      DetailedMetricsEnabled: false,
      ThrottlingRateLimit: { Ref: 'HttpApiThrottlingRateLimit' },
      ThrottlingBurstLimit: { Ref: 'HttpApiThrottlingBurstLimit' },
    });
    expect(evaluated.resolve(stage.Properties?.['DefaultRouteSettings'])).toEqual({ DetailedMetricsEnabled: false, ThrottlingRateLimit: '50', ThrottlingBurstLimit: '100' });
    for (const name of ['HttpApiThrottlingRateLimit', 'HttpApiThrottlingBurstLimit']) expect(template.Parameters?.[name]).toMatchObject({ Type: 'Number', MinValue: 1 });
  });

  it('reserves concurrency for mint and caps refresh, install and webhooks, each from its parameter; status is left unreserved', () => {
    const evaluated = evaluateTemplate(template);
    const reserved = Object.fromEntries(FUNCTIONS.map((fn) => [fn, evaluated.resolve(lambdaOf(fn).Properties?.['ReservedConcurrentExecutions'])]));

    expect(reserved).toEqual({ mint: '20', refresh: '2', install: '10', webhooks: '10', status: undefined });
    for (const fn of FUNCTIONS) {
      const name = logicalPrefix(fn);
      expect(lambdaOf(fn).Properties?.['ReservedConcurrentExecutions']).toEqual({
        'Fn::If': [`Reserve${name}Concurrency`, { Ref: `${name}ReservedConcurrency` }, { Ref: 'AWS::NoValue' }],
      });
      expect(template.Conditions?.[`Reserve${name}Concurrency`]).toEqual({ 'Fn::Not': [{ 'Fn::Equals': [{ Ref: `${name}ReservedConcurrency` }, 'none'] }] });
    }
    // Lambda keeps 100 of the account's concurrency unreserved; the usual account limit is 1,000.
    const total = Object.values(reserved).reduce((sum: number, value) => sum + (value === undefined ? 0 : Number(value)), 0);
    expect(total + 100).toBeLessThanOrEqual(1000);
  });

  it('takes none or a whole number of executions for a reservation, and nothing else', () => {
    for (const fn of FUNCTIONS) {
      const pattern = new RegExp((template.Parameters?.[`${logicalPrefix(fn)}ReservedConcurrency`] as { AllowedPattern: string }).AllowedPattern);

      for (const accepted of ['none', '0', '20', '1000']) expect(pattern.test(accepted)).toBe(true);
      for (const refused of ['', 'None', '-1', '1.5', ' 20', '20 ', 'off', '123456']) expect(pattern.test(refused)).toBe(false);
    }
  });
});

describe('who may mint (issue 17), by default', () => {
  it('restricts nothing and records nothing: no resource policy on mint, no trail, no audit bucket, no SCP output', () => {
    const evaluated = evaluateTemplate(template);

    expect(template.Parameters?.['AllowedMintCallers']).toMatchObject({ Type: 'String', Default: '' });
    expect(template.Parameters?.['MintAuditTrailEnabled']).toMatchObject({ Type: 'String', Default: 'off', AllowedValues: ['on', 'off'] });
    expect(evaluated.condition('RestrictMintCallers')).toBe(false);
    expect(evaluated.condition('AuditMintInvokes')).toBe(false);
    for (const id of ['MintInvokeGuard', 'MintAuditBucket', 'MintAuditBucketPolicy', 'MintAuditTrail']) {
      expect(resource(id).Condition).toMatch(/^(RestrictMintCallers|AuditMintInvokes)$/);
      expect(evaluated.created(id)).toBeUndefined();
    }
    expect(evaluated.createdOfType('AWS::Lambda::ResourcePolicy')).toEqual([]);
    expect(evaluated.createdOfType('AWS::CloudTrail::Trail')).toEqual([]);
    expect(template.Outputs?.['MintInvokeGuardScp']).toMatchObject({ Condition: 'RestrictMintCallers' });
    expect(template.Outputs?.['MintAuditTrailArn']).toMatchObject({ Condition: 'AuditMintInvokes' });
  });

  it('publishes no version of mint, since a version has a resource policy of its own that the guard would not cover', () => {
    expect(state.service.functions['mint']).toMatchObject({ versionFunction: false });
    expect(resourcesOfType('AWS::Lambda::Version').map(([id]) => id).filter((id) => id.startsWith('MintLambdaVersion'))).toEqual([]);
    // The other functions keep serverless's default, so the check above is not vacuous.
    expect(resourcesOfType('AWS::Lambda::Version').length).toBeGreaterThan(0);
  });

  it('takes only IAM role or user ARNs, comma-separated without spaces, as allowed mint callers', () => {
    const pattern = new RegExp((template.Parameters?.['AllowedMintCallers'] as { AllowedPattern: string }).AllowedPattern);

    for (const accepted of ['', ALLOWED_CALLERS[0], ALLOWED_CALLERS.join(','), 'arn:aws:iam::123456789012:user/ops', 'arn:aws-us-gov:iam::123456789012:role/app']) {
      expect(pattern.test(accepted as string)).toBe(true);
    }
    for (const refused of [
      `${ALLOWED_CALLERS[0]}, ${ALLOWED_CALLERS[1]}`,
      `${ALLOWED_CALLERS[0]},`,
      ',',
      'arn:aws:iam::123456789012:role/*',
      'arn:aws:sts::123456789012:assumed-role/app-orders/session',
      'arn:aws:iam::123456789012:root',
      'arn:aws:iam::12345678901:role/app',
      '*',
    ]) {
      expect(pattern.test(refused)).toBe(false);
    }
  });
});

describe('with every option set (packaged with --param)', () => {
  const PARAMS = {
    allowedMintCallers: ALLOWED_CALLERS.join(','),
    mintAuditTrail: 'on',
    mintReservedConcurrency: 'none',
    installReservedConcurrency: '3',
    httpApiThrottlingRateLimit: '7',
    httpApiThrottlingBurstLimit: '9',
  };
  const MINT = '${MintLambdaFunction.Arn}';
  let options: Packaged;
  let evaluated: EvaluatedTemplate;
  const optionResource = (logicalId: string): TemplateResource => {
    const found = evaluated.created(logicalId);
    if (found === undefined) throw new Error(`${logicalId} would not be created`);
    return found;
  };

  beforeAll(async () => {
    options = await packageService('package-options', PARAMS);
    evaluated = evaluateTemplate(options.template);
  }, 180_000);

  afterAll(async () => {
    await options?.service.remove();
  });

  it('makes each serverless param the default of its CloudFormation parameter', () => {
    expect(Object.fromEntries(Object.entries(options.template.Parameters ?? {}).map(([name, parameter]) => [name, (parameter as { Default: unknown }).Default]))).toMatchObject({
      AllowedMintCallers: PARAMS.allowedMintCallers,
      MintAuditTrailEnabled: 'on',
      MintReservedConcurrency: 'none',
      InstallReservedConcurrency: '3',
      WebhooksReservedConcurrency: '10',
      HttpApiThrottlingRateLimit: '7',
      HttpApiThrottlingBurstLimit: '9',
    });
  });

  it('throttles and reserves from the params given: the stage at 7 a second and bursts of 9, install at 3, mint unreserved with none', () => {
    const [, stage] = Object.entries(options.template.Resources).find(([, candidate]) => candidate.Type === 'AWS::ApiGatewayV2::Stage') as [string, TemplateResource];
    const reservation = (fn: FunctionName) => evaluated.resolve(options.template.Resources[`${logicalPrefix(fn)}LambdaFunction`]?.Properties?.['ReservedConcurrentExecutions']);

    expect(evaluated.resolve(stage.Properties?.['DefaultRouteSettings'])).toMatchObject({ ThrottlingRateLimit: '7', ThrottlingBurstLimit: '9' });
    expect(reservation('install')).toBe('3');
    expect(reservation('mint')).toBeUndefined();
    expect(reservation('webhooks')).toBe('10');
  });

  it('with allowedMintCallers, denies invoking mint, by its ARN or a qualified one, to every principal but the listed roles', () => {
    expect(evaluated.createdOfType('AWS::Lambda::ResourcePolicy')).toEqual(['MintInvokeGuard']);
    expect(evaluated.resolve(optionResource('MintInvokeGuard').Properties)).toEqual({
      ResourceArn: MINT,
      PolicyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            Sid: 'OnlyListedCallersMayInvokeMint',
            Effect: 'Deny',
            Principal: '*',
            Action: 'lambda:InvokeFunction',
            Resource: [MINT, `${MINT}:*`],
            Condition: { ArnNotLike: { 'aws:PrincipalArn': ALLOWED_CALLERS } },
          },
        ],
      },
    });
    // PutResourcePolicy replaces the whole policy: nothing else may hold statements on mint.
    const permissionsOnMint = Object.values(options.template.Resources).filter(
      (candidate) => candidate.Type === 'AWS::Lambda::Permission' && renderIntrinsic(candidate.Properties?.['FunctionName']).includes('MintLambdaFunction'),
    );
    expect(permissionsOnMint).toEqual([]);
  });

  it('outputs the same Deny as a service control policy, as JSON, for the management account to attach', () => {
    const output = options.template.Outputs?.['MintInvokeGuardScp'] as { Condition: string; Value: unknown };

    expect(evaluated.condition(output.Condition)).toBe(true);
    expect(JSON.parse(evaluated.resolve(output.Value) as string)).toEqual({
      Version: '2012-10-17',
      Statement: [
        {
          Sid: 'OnlyListedCallersMayInvokeMint',
          Effect: 'Deny',
          Action: 'lambda:InvokeFunction',
          Resource: [MINT, `${MINT}:*`],
          Condition: { ArnNotLike: { 'aws:PrincipalArn': ALLOWED_CALLERS } },
        },
      ],
    });
  });

  it('with mintAuditTrail on, records the data events of mint and nothing else, in a bucket of its own that only that trail may write', () => {
    const trailName = `${SERVICE}-${STAGE}-mint-invokes`;
    const trailArn = `arn:\${AWS::Partition}:cloudtrail:\${AWS::Region}:\${AWS::AccountId}:trail/${trailName}`;
    const trail = optionResource('MintAuditTrail');
    const bucket = optionResource('MintAuditBucket');
    const statements = (evaluated.resolve(optionResource('MintAuditBucketPolicy').Properties) as { PolicyDocument: { Statement: Statement[] } }).PolicyDocument.Statement;

    expect(evaluated.createdOfType('AWS::CloudTrail::Trail')).toEqual(['MintAuditTrail']);
    expect([trail.DependsOn].flat()).toEqual(['MintAuditBucketPolicy']);
    expect(evaluated.resolve(trail.Properties)).toEqual({
      TrailName: trailName,
      S3BucketName: '${MintAuditBucket}',
      IsLogging: true,
      IsMultiRegionTrail: false,
      IncludeGlobalServiceEvents: false,
      EnableLogFileValidation: true,
      AdvancedEventSelectors: [
        {
          Name: `Invokes of ${SERVICE}-${STAGE}-mint`,
          FieldSelectors: [
            { Field: 'eventCategory', Equals: ['Data'] },
            { Field: 'resources.type', Equals: ['AWS::Lambda::Function'] },
            { Field: 'resources.ARN', StartsWith: [MINT] },
          ],
        },
      ],
    });
    expect(bucket.DeletionPolicy).toBe('Retain');
    expect(evaluated.resolve(bucket.Properties)).toMatchObject({
      PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
      OwnershipControls: { Rules: [{ ObjectOwnership: 'BucketOwnerEnforced' }] },
      LifecycleConfiguration: { Rules: [{ Status: 'Enabled', ExpirationInDays: '365' }] },
    });
    const allows = statements.filter((statement) => statement.Effect === 'Allow');
    expect(allows.map((statement) => statement.Action).sort()).toEqual(['s3:GetBucketAcl', 's3:PutObject']);
    for (const statement of allows) {
      expect(statement['Principal']).toEqual({ Service: 'cloudtrail.amazonaws.com' });
      expect(statement['Condition']).toMatchObject({ StringEquals: { 'aws:SourceArn': trailArn } });
    }
    expect(allows.find((statement) => statement.Action === 's3:PutObject')?.Resource).toBe('${MintAuditBucket.Arn}/AWSLogs/${AWS::AccountId}/*');
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Principal: '*', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
  });

  it('uses only resource types, properties and attributes CloudFormation knows, with every required property', () => {
    expect(validateTemplate(spec, options.template)).toEqual([]);
  });

  it('passes cfn-lint with no error and no warning, but for the rules .cfnlintrc ignores', async () => {
    const findings = await cfnLint(join(options.service.dir, '.serverless', 'cloudformation-template-update-stack.json'));

    expect(findings.map(describeFinding)).toEqual([]);
  }, 120_000);
});

/** Runs a packaged handler in a fresh Node process, as Lambda would: its answer or error, and what it wrote. */
function runPackaged(node: string, file: string, env: Record<string, string>, event: unknown) {
  const script = `
    const { writeSync } = require('node:fs');
    const done = (outcome) => writeSync(3, JSON.stringify(outcome));
    Promise.resolve()
      .then(() => require(${JSON.stringify(file)}).handler(${JSON.stringify(event)}, { awsRequestId: 'req-1', getRemainingTimeInMillis: () => 5000 }))
      .then((result) => done({ result }), (error) => done({ error: { name: error.name, code: error.code, stack: error.stack } }));
  `;
  const run = spawnSync(node, ['-e', script], { env: { PATH: process.env['PATH'], ...env }, stdio: ['ignore', 'pipe', 'pipe', 'pipe'], encoding: 'utf8' });
  if (!run.output[3]) throw new Error(`the bundle did not answer (exit ${run.status}):\n${run.stderr}`);
  return JSON.parse(run.output[3]) as { result?: { statusCode: number }; error?: { name: string; code: string; stack: string } };
}

/** The same as {@link runPackaged}, without blocking this process, so that a loopback stand-in here can answer the bundle. */
function runPackagedAsync(node: string, file: string, env: Record<string, string>, event: unknown) {
  const script = `
    const { writeSync } = require('node:fs');
    const done = (outcome) => writeSync(3, JSON.stringify(outcome));
    Promise.resolve()
      .then(() => require(${JSON.stringify(file)}).handler(${JSON.stringify(event)}, { awsRequestId: 'req-1', getRemainingTimeInMillis: () => 5000 }))
      .then((result) => done({ result }), (error) => done({ error: { name: error.name, code: error.code } }));
  `;
  const child = spawn(node, ['-e', script], { env: { PATH: process.env['PATH'], ...env }, stdio: ['ignore', 'pipe', 'pipe', 'pipe'] });
  // What the bundle logged, both streams (the logger writes errors to stderr).
  const streams = { stdout: '', outcome: '' };
  child.stdout?.on('data', (chunk: Buffer) => (streams.stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (streams.stdout += chunk.toString()));
  (child.stdio[3] as NodeJS.ReadableStream).on('data', (chunk: Buffer) => (streams.outcome += chunk.toString()));
  return new Promise<{ error?: { name: string; code?: string }; stdout: string }>((resolve, reject) => {
    child.once('error', reject);
    child.once('close', () => (streams.outcome ? resolve({ ...(JSON.parse(streams.outcome) as { error?: { name: string } }), stdout: streams.stdout }) : reject(new Error('the bundle did not answer'))));
  });
}

/** An AWS endpoint on loopback that refuses every call (AccessDenied) and records who signed it. */
async function refusingAwsEndpoint() {
  const requests: IncomingHttpHeaders[] = [];
  const server = createServer((request, response) => {
    requests.push(request.headers);
    request.resume().on('end', () => {
      response.writeHead(400, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#AccessDeniedException', message: 'denied' }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const signers = () => requests.map((headers) => /Credential=([^/]+)\//.exec(headers['authorization'] ?? '')?.[1]);
  return { url, requests, signers, close: () => new Promise<void>((resolve) => server.close(() => resolve())) };
}

describe('the packaged bundles, run as Lambda runs them', () => {
  const NODES = [process.execPath, lambdaNodeBinary()];
  let taskRoot: string;

  const environmentOf = (fn: FunctionName): Record<string, string> => ({
    ...(lambdaOf(fn).Properties?.['Environment'] as { Variables: Record<string, string> }).Variables,
    AWS_REGION: 'us-east-1',
    AWS_ACCESS_KEY_ID: 'test',
    AWS_SECRET_ACCESS_KEY: 'test',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  });

  beforeAll(() => {
    taskRoot = mkdtempSync(join(tmpdir(), 'wix-token-service-task-'));
    for (const fn of FUNCTIONS) unzip(join(service.dir, '.serverless', `${fn}.zip`), join(taskRoot, fn));
  });

  afterAll(() => {
    rmSync(taskRoot, { recursive: true, force: true });
  });

  it('hold only the bundle, with its source map beside the zip, and no environment asks Node to parse maps at load', () => {
    for (const fn of FUNCTIONS) {
      const files = unzip(join(service.dir, '.serverless', `${fn}.zip`), join(taskRoot, `${fn}-listing`));
      const variables = (lambdaOf(fn).Properties?.['Environment'] as { Variables: Record<string, unknown> }).Variables;

      expect(files).toEqual([`functions/${fn}.js`]);
      expect(existsSync(join(service.dir, '.serverless', 'source-maps', 'functions', `${fn}.js.map`))).toBe(true);
      expect(variables['NODE_OPTIONS']).toBeUndefined();
    }
  });

  it('carry the Lambda credential chain, not the SDK\u2019s: no profile, SSO, process, web-identity or STS code is in them', () => {
    for (const fn of FUNCTIONS) {
      const bundle = readFileSync(join(taskRoot, fn, 'functions', `${fn}.js`), 'utf8');
      for (const absent of ['credential-provider-ini', 'credential-provider-sso', 'credential-provider-process', 'credential-provider-web-identity', 'AssumeRoleWithWebIdentity', 'sso-oidc', '@aws-sdk/client-secrets-manager', '@aws-sdk/client-eventbridge']) {
        expect({ fn, absent, found: bundle.includes(absent) }).toEqual({ fn, absent, found: false });
      }
      expect(bundle).toContain('no AWS credentials: this bundle reads only what the Lambda runtime provides');
    }
  });

  it.each(NODES)('sign their AWS calls with the credentials Lambda puts in the environment, else a container endpoint\u2019s, else refuse in a typed error (mint, on %s)', async (node) => {
    const aws = await refusingAwsEndpoint();
    const container = createServer((_, response) => {
      response.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ AccessKeyId: 'ASIACONTAINER0000001', SecretAccessKey: 'container-secret', Token: 'container-token', Expiration: new Date(Date.now() + 3_600_000).toISOString() }));
    });
    await new Promise<void>((resolve) => container.listen(0, '127.0.0.1', resolve));
    try {
      const { AWS_ACCESS_KEY_ID: _key, AWS_SECRET_ACCESS_KEY: _secret, ...deployed } = environmentOf('mint');
      const withoutKeys = { ...deployed, AWS_ENDPOINT_URL: aws.url };
      const mint = join(taskRoot, 'mint', 'functions', 'mint.js');
      const event = { instanceId: '5e1f0c2a-7d3b-4c9e-9a61-0d2b8f4c3e17' };

      const fromEnvironment = await runPackagedAsync(node, mint, { ...withoutKeys, AWS_ACCESS_KEY_ID: 'ASIAENVIRONMENT00001', AWS_SECRET_ACCESS_KEY: 'env-secret' }, event);
      const signedFromEnvironment = aws.signers();
      const fromContainer = await runPackagedAsync(node, mint, { ...withoutKeys, AWS_CONTAINER_CREDENTIALS_FULL_URI: `http://127.0.0.1:${(container.address() as AddressInfo).port}/creds` }, event);
      const signedFromContainer = aws.signers().slice(signedFromEnvironment.length);
      const calls = aws.requests.length;
      const withNone = await runPackagedAsync(node, mint, withoutKeys, event);

      expect(signedFromEnvironment.length).toBeGreaterThan(0);
      expect(new Set(signedFromEnvironment)).toEqual(new Set(['ASIAENVIRONMENT00001']));
      expect(signedFromContainer.length).toBeGreaterThan(0);
      expect(new Set(signedFromContainer)).toEqual(new Set(['ASIACONTAINER0000001']));
      expect(aws.requests.length).toBe(calls);
      for (const outcome of [fromEnvironment, fromContainer, withNone]) expect(outcome.error).toMatchObject({ name: 'ServiceUnavailable' });
      expect(withNone.stdout).toContain('CredentialsProviderError');
      expect(withNone.stdout).not.toContain('container-secret');
    } finally {
      await aws.close();
      await new Promise<void>((resolve) => container.close(() => resolve()));
    }
  });

  it.each(NODES)('log an error with its class name and code (install refusing an unknown route, on %s)', (node) => {
    const stdout = execFileSync(
      node,
      [
        '-e',
        `require(${JSON.stringify(join(taskRoot, 'install', 'functions', 'install.js'))}).handler(
          { version: '2.0', routeKey: 'GET /nowhere', rawPath: '/nowhere', headers: {}, requestContext: { http: { method: 'GET', path: '/nowhere' } } },
          { awsRequestId: 'req-1', getRemainingTimeInMillis: () => 5000 },
        ).then((result) => process.stdout.write('status ' + result.statusCode + '\\n'));`,
      ],
      { env: { PATH: process.env['PATH'], ...environmentOf('install') }, encoding: 'utf8' },
    );

    const lines = stdout.trim().split('\n');
    expect(lines.at(-1)).toBe('status 404');
    expect(JSON.parse(lines[0] as string)).toMatchObject({ level: 'INFO', message: 'request refused', service: 'install', errorName: 'RouteNotFoundError', errorCode: 'NOT_FOUND' });
  });

  it.each(NODES)('throw an error with its class name and code, whose stack maps back to the TypeScript (mint without WIX_APP_IDS, on %s)', (node) => {
    const { WIX_APP_IDS: _, ...env } = environmentOf('mint');

    const { error } = runPackaged(node, join(taskRoot, 'mint', 'functions', 'mint.js'), env, { instanceId: '5e1f0c2a-7d3b-4c9e-9a61-0d2b8f4c3e17' });

    expect(error).toMatchObject({ name: 'ConfigError', code: 'CONFIG_INVALID' });
    expect(error?.stack).toMatch(/functions\/mint\.js:\d+:\d+/);
    const mapped = mapStackTrace(error?.stack ?? '', join(service.dir, '.serverless', 'source-maps'));
    expect(mapped).toMatch(/^ConfigError: WIX_APP_IDS is not set\n\s+at lib\/config\/index\.ts:\d+:\d+\n/);
    expect(mapped).toMatch(/\n\s+at functions\/mint\.ts:\d+:\d+\n/);
  });
});
