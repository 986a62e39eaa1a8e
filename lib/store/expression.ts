import type { InstanceItem } from './item';

/**
 * A small typed language for the conditions and updates of one item write, with two readers:
 * {@link compileWrite} turns a write into DynamoDB's expression strings, and {@link evaluate} /
 * {@link applyUpdate} run it on a plain object (the in-memory store). The lifecycle rules
 * (./transitions) are written once in it, so both stores enforce exactly the same rules and a
 * reader sees every rule as data, not as string fragments.
 *
 * Written here rather than taken from a library (dynamodb-toolbox, electrodb): those bring a
 * schema layer and a few hundred KiB to every cold start, and none of them evaluates its
 * expressions in memory, which is the point of this one.
 *
 * Semantics follow DynamoDB's: a comparison with a missing attribute is false (whatever the
 * operator, `<>` included), `ifNotExists` keeps a present value, `add` counts from `from` when
 * the attribute is missing.
 */

export type Attribute = keyof InstanceItem & string;
export type Scalar = string | number;

export type Comparison = '=' | '<>' | '<' | '<=' | '>' | '>=';

export type Condition =
  | { readonly op: 'exists'; readonly attribute: Attribute }
  | { readonly op: 'missing'; readonly attribute: Attribute }
  | { readonly op: Comparison; readonly attribute: Attribute; readonly value: Scalar }
  | { readonly op: 'and' | 'or'; readonly of: readonly Condition[] }
  | { readonly op: 'not'; readonly of: Condition };

/** How one attribute is set. */
export type Assignment =
  | { readonly to: Scalar }
  /** Keep the stored value; write `to` only when the attribute is missing. */
  | { readonly ifMissing: Scalar }
  /** `if_not_exists(a, from) + by` */
  | { readonly add: number; readonly from: number };

export interface Update {
  readonly set: Readonly<Partial<Record<Attribute, Assignment>>>;
  readonly remove: readonly Attribute[];
}

/** Builders, so rules read as sentences: `and(eq('version', 3), missing('leaseOwner'))`. */
export const exists = (attribute: Attribute): Condition => ({ op: 'exists', attribute });
export const missing = (attribute: Attribute): Condition => ({ op: 'missing', attribute });
export const eq = (attribute: Attribute, value: Scalar): Condition => ({ op: '=', attribute, value });
export const ne = (attribute: Attribute, value: Scalar): Condition => ({ op: '<>', attribute, value });
export const lt = (attribute: Attribute, value: Scalar): Condition => ({ op: '<', attribute, value });
export const le = (attribute: Attribute, value: Scalar): Condition => ({ op: '<=', attribute, value });
export const gt = (attribute: Attribute, value: Scalar): Condition => ({ op: '>', attribute, value });
export const ge = (attribute: Attribute, value: Scalar): Condition => ({ op: '>=', attribute, value });
export const and = (...of: Condition[]): Condition => ({ op: 'and', of });
export const or = (...of: Condition[]): Condition => ({ op: 'or', of });
export const not = (of: Condition): Condition => ({ op: 'not', of });

/** True when `condition` holds on `item` (undefined: no item). */
export function evaluate(condition: Condition, item: Partial<InstanceItem> | undefined): boolean {
  const value = (attribute: Attribute) => (item === undefined ? undefined : (item[attribute] as Scalar | undefined));
  switch (condition.op) {
    case 'exists':
      return value(condition.attribute) !== undefined;
    case 'missing':
      return value(condition.attribute) === undefined;
    case 'and':
      return condition.of.every((part) => evaluate(part, item));
    case 'or':
      return condition.of.some((part) => evaluate(part, item));
    case 'not':
      return !evaluate(condition.of, item);
    default: {
      const stored = value(condition.attribute);
      if (stored === undefined || typeof stored !== typeof condition.value) return false;
      return compare(condition.op, stored, condition.value);
    }
  }
}

function compare(op: Comparison, a: Scalar, b: Scalar): boolean {
  switch (op) {
    case '=':
      return a === b;
    case '<>':
      return a !== b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '>':
      return a > b;
    case '>=':
      return a >= b;
  }
}

/** The item after `update`, as DynamoDB would write it (a new object; `item` is left alone). */
export function applyUpdate(item: Partial<InstanceItem> | undefined, update: Update): Partial<InstanceItem> {
  const next: Record<string, Scalar | undefined> = { ...(item ?? {}) };
  const before = (item ?? {}) as Record<string, Scalar | undefined>;
  for (const [attribute, assignment] of Object.entries(update.set) as [Attribute, Assignment][]) {
    if ('to' in assignment) next[attribute] = assignment.to;
    else if ('ifMissing' in assignment) next[attribute] = before[attribute] ?? assignment.ifMissing;
    else next[attribute] = ((before[attribute] as number | undefined) ?? assignment.from) + assignment.add;
  }
  for (const attribute of update.remove) if (!(attribute in update.set)) delete next[attribute];
  return next as Partial<InstanceItem>;
}

/** DynamoDB's form of one conditional write. */
export interface CompiledWrite {
  UpdateExpression: string;
  ConditionExpression: string;
  ExpressionAttributeNames: Record<string, string>;
  /** Absent when no value is used (DynamoDB refuses an empty map). */
  ExpressionAttributeValues?: Record<string, Scalar>;
}

/**
 * Compiles a condition and an update into DynamoDB's strings; every attribute goes through a
 * `#name` placeholder (status and ttl are reserved words), every value through a `:v` one.
 */
export function compileWrite(condition: Condition, update: Update): CompiledWrite {
  const names: Record<string, string> = {};
  const values: Record<string, Scalar> = {};
  let counter = 0;
  const n = (attribute: Attribute) => {
    names[`#${attribute}`] = attribute;
    return `#${attribute}`;
  };
  const v = (value: Scalar) => {
    const placeholder = `:v${counter++}`;
    values[placeholder] = value;
    return placeholder;
  };
  const cond = (c: Condition): string => {
    switch (c.op) {
      case 'exists':
        return `attribute_exists(${n(c.attribute)})`;
      case 'missing':
        return `attribute_not_exists(${n(c.attribute)})`;
      case 'and':
      case 'or':
        return c.of.length === 1 ? cond(c.of[0] as Condition) : `(${c.of.map(cond).join(` ${c.op.toUpperCase()} `)})`;
      case 'not':
        return `(NOT ${cond(c.of)})`;
      default:
        return `${n(c.attribute)} ${c.op} ${v(c.value)}`;
    }
  };
  const sets = (Object.entries(update.set) as [Attribute, Assignment][]).map(([attribute, assignment]) => {
    const name = n(attribute);
    if ('to' in assignment) return `${name} = ${v(assignment.to)}`;
    if ('ifMissing' in assignment) return `${name} = if_not_exists(${name}, ${v(assignment.ifMissing)})`;
    return `${name} = if_not_exists(${name}, ${v(assignment.from)}) + ${v(assignment.add)}`;
  });
  const removes = update.remove.filter((attribute) => !(attribute in update.set)).map(n);
  const parts: string[] = [];
  if (sets.length > 0) parts.push(`SET ${sets.join(', ')}`);
  if (removes.length > 0) parts.push(`REMOVE ${removes.join(', ')}`);
  const ConditionExpression = cond(condition);
  return {
    UpdateExpression: parts.join(' '),
    ConditionExpression,
    ExpressionAttributeNames: names,
    ...(counter === 0 ? {} : { ExpressionAttributeValues: values }),
  };
}
