import { loadAwsServiceSpec } from '@aws-cdk/aws-service-spec';
import type { Property, PropertyType, Resource, SpecDatabase } from '@aws-cdk/service-spec-types';

/**
 * Checks a CloudFormation template against the resource specs in @aws-cdk/aws-service-spec (the
 * CloudFormation registry schemas CDK generates its L1 classes from), the way CloudFormation's own
 * validation would refuse it before creating anything:
 *
 * - every resource type exists;
 * - every property, at every depth, is one its type defines, and every required one is there;
 * - values have the right shape (object, list, scalar) for their property;
 * - every Ref, Fn::GetAtt (and its attribute), Fn::Sub reference and Condition names something
 *   the template defines.
 *
 * Intrinsic functions are taken as valid values of any type; only the names they refer to are checked.
 */

export interface CloudFormationTemplate {
  Parameters?: Record<string, unknown>;
  Conditions?: Record<string, unknown>;
  Resources: Record<string, TemplateResource>;
  Outputs?: Record<string, unknown>;
}

export interface TemplateResource {
  Type: string;
  Properties?: Record<string, unknown>;
  DependsOn?: string | string[];
  Condition?: string;
  DeletionPolicy?: string;
  UpdateReplacePolicy?: string;
  [attribute: string]: unknown;
}

const RESOURCE_ATTRIBUTES = new Set([
  'Type',
  'Properties',
  'DependsOn',
  'Condition',
  'DeletionPolicy',
  'UpdateReplacePolicy',
  'Metadata',
  'CreationPolicy',
  'UpdatePolicy',
]);
const PSEUDO_PARAMETERS = new Set([
  'AWS::AccountId',
  'AWS::NotificationARNs',
  'AWS::NoValue',
  'AWS::Partition',
  'AWS::Region',
  'AWS::StackId',
  'AWS::StackName',
  'AWS::URLSuffix',
]);

let loaded: Promise<SpecDatabase> | undefined;

/** The spec database, loaded once per test file (about a second). */
export function awsServiceSpec(): Promise<SpecDatabase> {
  loaded ??= loadAwsServiceSpec();
  return loaded;
}

/** The spec of a resource type, or undefined when CloudFormation has no such type. */
export function resourceSpec(db: SpecDatabase, type: string): Resource | undefined {
  return db.lookup('resource', 'cloudFormationType', 'equals', type)[0];
}

/** Every problem found, as `<path>: <what>`; empty when the template passes. */
export function validateTemplate(db: SpecDatabase, template: CloudFormationTemplate): string[] {
  const problems: string[] = [];
  const resources = template.Resources ?? {};
  const conditions = new Set(Object.keys(template.Conditions ?? {}));
  const refTargets = new Set([...Object.keys(resources), ...Object.keys(template.Parameters ?? {}), ...PSEUDO_PARAMETERS]);

  for (const [logicalId, resource] of Object.entries(resources)) {
    const path = `Resources.${logicalId}`;
    for (const key of Object.keys(resource)) {
      if (!RESOURCE_ATTRIBUTES.has(key)) problems.push(`${path}: unknown resource attribute ${key}`);
    }
    if (resource.Condition !== undefined && !conditions.has(resource.Condition)) problems.push(`${path}: unknown condition ${resource.Condition}`);
    for (const dependency of [resource.DependsOn ?? []].flat()) {
      if (!(dependency in resources)) problems.push(`${path}.DependsOn: no resource ${dependency}`);
    }
    const spec = resourceSpec(db, resource.Type);
    if (spec === undefined) {
      problems.push(`${path}: unknown resource type ${resource.Type}`);
      continue;
    }
    checkProperties(db, spec.properties, resource.Properties ?? {}, `${path}.Properties`, problems);
  }

  // Names used by intrinsics, anywhere in the template.
  walkIntrinsics(template, '', (name, argument, path) => {
    if (name === 'Ref') {
      if (typeof argument !== 'string' || !refTargets.has(argument)) problems.push(`${path}: Ref to unknown ${String(argument)}`);
    } else if (name === 'Fn::GetAtt') {
      const [target, attribute] = Array.isArray(argument) ? argument : String(argument).split(/\.(.*)/);
      const resource = typeof target === 'string' ? resources[target] : undefined;
      const spec = resource === undefined ? undefined : resourceSpec(db, resource.Type);
      if (resource === undefined) problems.push(`${path}: GetAtt of unknown resource ${String(target)}`);
      else if (spec !== undefined && typeof attribute === 'string' && !(attribute in spec.attributes)) {
        problems.push(`${path}: ${resource.Type} has no attribute ${attribute}`);
      }
    } else if (name === 'Fn::If') {
      const condition = Array.isArray(argument) ? argument[0] : undefined;
      if (typeof condition !== 'string' || !conditions.has(condition)) problems.push(`${path}: Fn::If on unknown condition ${String(condition)}`);
    } else if (name === 'Fn::Sub') {
      const [text, variables] = Array.isArray(argument) ? argument : [argument, {}];
      for (const [, reference] of String(text).matchAll(/\$\{(?!!)([^}]+)\}/g)) {
        const [target] = (reference as string).split('.');
        if (!refTargets.has(target as string) && !(target as string in (variables as object))) problems.push(`${path}: Fn::Sub of unknown ${reference}`);
      }
    }
  });
  return problems;
}

function checkProperties(db: SpecDatabase, specs: Record<string, Property>, value: unknown, path: string, problems: string[]): void {
  if (isIntrinsic(value)) return;
  if (!isPlainObject(value)) {
    problems.push(`${path}: expected an object`);
    return;
  }
  for (const [name, property] of Object.entries(value)) {
    const spec = specs[name];
    if (spec === undefined) problems.push(`${path}: unknown property ${name}`);
    else checkValue(db, [spec.type, ...(spec.previousTypes ?? [])], property, `${path}.${name}`, problems);
  }
  for (const [name, spec] of Object.entries(specs)) {
    if (spec.required === true && !(name in value)) problems.push(`${path}: missing required property ${name}`);
  }
}

/** Passes when `value` fits one of `types`; reports the first type's problems otherwise. */
function checkValue(db: SpecDatabase, types: PropertyType[], value: unknown, path: string, problems: string[]): void {
  let first: string[] | undefined;
  for (const type of types) {
    const found: string[] = [];
    checkType(db, type, value, path, found);
    if (found.length === 0) return;
    first ??= found;
  }
  problems.push(...(first ?? []));
}

function checkType(db: SpecDatabase, type: PropertyType, value: unknown, path: string, problems: string[]): void {
  if (isIntrinsic(value)) return;
  switch (type.type) {
    case 'ref':
      checkProperties(db, db.get('typeDefinition', type.reference).properties, value, path, problems);
      return;
    case 'array':
      if (!Array.isArray(value)) problems.push(`${path}: expected a list`);
      else value.forEach((element, index) => checkType(db, type.element, element, `${path}[${index}]`, problems));
      return;
    case 'map':
      if (!isPlainObject(value)) problems.push(`${path}: expected a map`);
      else for (const [key, element] of Object.entries(value)) checkType(db, type.element, element, `${path}.${key}`, problems);
      return;
    case 'union':
      checkValue(db, type.types, value, path, problems);
      return;
    case 'tag':
      checkTag(value, path, problems);
      return;
    case 'json':
      return;
    case 'boolean':
      if (typeof value !== 'boolean' && value !== 'true' && value !== 'false') problems.push(`${path}: expected a boolean`);
      return;
    case 'number':
    case 'integer':
      if (typeof value !== 'number' && !(typeof value === 'string' && value.trim() !== '' && Number.isFinite(Number(value)))) {
        problems.push(`${path}: expected a number`);
      }
      return;
    default:
      // string, date-time, null: CloudFormation turns numbers and booleans into strings.
      if (typeof value === 'object' && value !== null) problems.push(`${path}: expected a scalar`);
  }
}

function checkTag(value: unknown, path: string, problems: string[]): void {
  if (!isPlainObject(value) || typeof value['Key'] !== 'string' || !('Value' in value)) problems.push(`${path}: expected a {Key, Value} tag`);
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** `{Ref: ...}`, `{"Fn::...": ...}` or `{Condition: ...}` (inside Conditions). */
export function isIntrinsic(value: unknown): boolean {
  if (!isPlainObject(value)) return false;
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || (keys[0] as string).startsWith('Fn::') || keys[0] === 'Condition');
}

function walkIntrinsics(value: unknown, path: string, visit: (name: string, argument: unknown, path: string) => void): void {
  if (Array.isArray(value)) {
    value.forEach((element, index) => walkIntrinsics(element, `${path}[${index}]`, visit));
    return;
  }
  if (!isPlainObject(value)) return;
  if (isIntrinsic(value)) {
    const [name, argument] = Object.entries(value)[0] as [string, unknown];
    if (name !== 'Condition') visit(name, argument, path);
  }
  for (const [key, element] of Object.entries(value)) walkIntrinsics(element, path === '' ? key : `${path}.${key}`, visit);
}

/**
 * A string form of a value built from intrinsics, for comparing ARNs:
 * `{"Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ...]]}` becomes `arn:${AWS::Partition}...`,
 * `{"Fn::GetAtt": ["TokensTable", "Arn"]}` becomes `${TokensTable.Arn}`.
 */
export function renderIntrinsic(value: unknown): string {
  if (typeof value === 'string') return value;
  if (isPlainObject(value)) {
    if ('Ref' in value) return `\${${String(value['Ref'])}}`;
    if ('Fn::GetAtt' in value) {
      const argument = value['Fn::GetAtt'];
      return `\${${Array.isArray(argument) ? argument.join('.') : String(argument)}}`;
    }
    if ('Fn::Join' in value) {
      const [separator, parts] = value['Fn::Join'] as [string, unknown[]];
      return parts.map(renderIntrinsic).join(separator);
    }
    if ('Fn::Sub' in value && typeof value['Fn::Sub'] === 'string') return value['Fn::Sub'];
  }
  return JSON.stringify(value);
}
