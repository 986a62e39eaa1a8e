import { renderIntrinsic, type CloudFormationTemplate, type TemplateResource } from './cloudformation-spec';

/**
 * What a packaged template becomes when CloudFormation creates the stack with its parameters'
 * defaults (or the values given): its conditions decided, and values with Ref to a parameter,
 * Fn::If, Fn::Split and Fn::Join worked out. References to resources and pseudo parameters stay
 * symbolic, as renderIntrinsic writes them (`${MintLambdaFunction.Arn}`, `${AWS::Region}`).
 *
 * Only the intrinsics our templates use in conditions and options are evaluated; anything else is
 * an error, so a test cannot silently read an unevaluated value as a real one.
 */
export interface EvaluatedTemplate {
  /** Whether the condition holds. @throws Error for a condition the template does not have. */
  condition(name: string): boolean;
  /** The resource, when CloudFormation would create it (no condition, or one that holds). */
  created(logicalId: string): TemplateResource | undefined;
  /** The logical ids of the resources of a type that CloudFormation would create. */
  createdOfType(type: string): string[];
  /** A value worked out; `undefined` where it is AWS::NoValue. */
  resolve(value: unknown): unknown;
}

const NO_VALUE = Symbol('AWS::NoValue');

export function evaluateTemplate(template: CloudFormationTemplate, overrides: Record<string, string> = {}): EvaluatedTemplate {
  const parameters = template.Parameters ?? {};
  const parameterValue = (name: string): string => {
    if (name in overrides) return overrides[name] as string;
    const parameter = parameters[name] as { Default?: unknown } | undefined;
    if (parameter === undefined) throw new Error(`no parameter ${name}`);
    if (parameter.Default === undefined) throw new Error(`parameter ${name} has no default`);
    return String(parameter.Default);
  };

  const decided = new Map<string, boolean>();
  const condition = (name: string): boolean => {
    const known = decided.get(name);
    if (known !== undefined) return known;
    const definition = template.Conditions?.[name];
    if (definition === undefined) throw new Error(`no condition ${name}`);
    const holds = truth(definition);
    decided.set(name, holds);
    return holds;
  };

  function truth(expression: unknown): boolean {
    const [name, argument] = single(expression);
    switch (name) {
      case 'Fn::Equals': {
        const [left, right] = argument as [unknown, unknown];
        return String(scalar(left)) === String(scalar(right));
      }
      case 'Fn::Not':
        return !truth((argument as [unknown])[0]);
      case 'Fn::And':
        return (argument as unknown[]).every(truth);
      case 'Fn::Or':
        return (argument as unknown[]).some(truth);
      case 'Condition':
        return condition(argument as string);
      default:
        throw new Error(`cannot decide ${JSON.stringify(expression)}`);
    }
  }

  function scalar(value: unknown): unknown {
    const resolved = evaluate(value);
    if (typeof resolved === 'object' && resolved !== null) throw new Error(`expected a scalar: ${JSON.stringify(value)}`);
    return resolved;
  }

  function evaluate(value: unknown): unknown {
    if (Array.isArray(value)) return value.map(evaluate).filter((element) => element !== NO_VALUE);
    if (typeof value !== 'object' || value === null) return value;
    const entries = Object.entries(value);
    const [first] = entries;
    if (entries.length === 1 && first !== undefined && (first[0] === 'Ref' || first[0].startsWith('Fn::'))) {
      const [name, argument] = first;
      switch (name) {
        case 'Ref':
          if (argument === 'AWS::NoValue') return NO_VALUE;
          return typeof argument === 'string' && argument in parameters ? parameterValue(argument) : renderIntrinsic(value);
        case 'Fn::GetAtt':
          return renderIntrinsic(value);
        case 'Fn::If': {
          const [conditionName, whenTrue, whenFalse] = argument as [string, unknown, unknown];
          return evaluate(condition(conditionName) ? whenTrue : whenFalse);
        }
        case 'Fn::Split': {
          const [separator, source] = argument as [string, unknown];
          return String(scalar(source)).split(separator);
        }
        case 'Fn::Join': {
          const [separator, parts] = argument as [string, unknown];
          const list = evaluate(parts);
          if (!Array.isArray(list)) throw new Error(`Fn::Join of ${JSON.stringify(parts)}`);
          return list.map((part) => String(part)).join(separator);
        }
        default:
          throw new Error(`cannot evaluate ${name}`);
      }
    }
    const object: Record<string, unknown> = {};
    for (const [key, element] of entries) {
      const resolved = evaluate(element);
      if (resolved !== NO_VALUE) object[key] = resolved;
    }
    return object;
  }

  const created = (logicalId: string): TemplateResource | undefined => {
    const resource = template.Resources[logicalId];
    if (resource === undefined) return undefined;
    return resource.Condition === undefined || condition(resource.Condition) ? resource : undefined;
  };

  return {
    condition,
    created,
    createdOfType: (type) => Object.keys(template.Resources).filter((id) => template.Resources[id]?.Type === type && created(id) !== undefined),
    resolve: (value) => {
      const resolved = evaluate(value);
      return resolved === NO_VALUE ? undefined : resolved;
    },
  };
}

function single(expression: unknown): [string, unknown] {
  if (typeof expression !== 'object' || expression === null || Array.isArray(expression) || Object.keys(expression).length !== 1) {
    throw new Error(`not an intrinsic: ${JSON.stringify(expression)}`);
  }
  return Object.entries(expression)[0] as [string, unknown];
}
