import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

import { parse } from 'yaml';

import { instancePk, keyFromPk, statePk } from '../../../lib/store/item';

/**
 * Issue 17: install may PutItem / DeleteItem only install-state items, by a dynamodb:LeadingKeys
 * condition in infra/iam.yml. The pattern there and the keys lib/store writes must not drift apart:
 * this reads the pattern from the file and checks it against the functions that build the keys.
 */

interface Statement {
  Sid?: string;
  Action: string | string[];
  Condition?: Record<string, Record<string, string | string[]>>;
}

const IAM_TEMPLATE = resolve(__dirname, '../../../infra/iam.yml');

function installStatements(): Statement[] {
  const template = parse(readFileSync(IAM_TEMPLATE, 'utf8')) as {
    Resources: Record<string, { Properties: { Policies: Array<{ PolicyDocument: { Statement: Statement[] } }> } }>;
  };
  return template.Resources['InstallFunctionRole']!.Properties.Policies.flatMap((policy) => policy.PolicyDocument.Statement);
}

/** IAM's StringLike: `*` any run of characters, `?` any one, everything else itself. */
function globToRegExp(glob: string): RegExp {
  const body = glob.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, 's');
}

const actionsOf = (statement: Statement) => (Array.isArray(statement.Action) ? statement.Action : [statement.Action]);

describe('infra/iam.yml: install’s PutItem and DeleteItem', () => {
  const statements = installStatements();
  const writers = statements.filter((statement) => actionsOf(statement).some((action) => action === 'dynamodb:PutItem' || action === 'dynamodb:DeleteItem'));
  const patterns = writers.flatMap((statement) => {
    const values = statement.Condition?.['ForAllValues:StringLike']?.['dynamodb:LeadingKeys'];
    return values === undefined ? [] : Array.isArray(values) ? values : [values];
  });

  it('are granted by one statement, conditioned on dynamodb:LeadingKeys and nothing else', () => {
    expect(writers).toHaveLength(1);
    expect(actionsOf(writers[0]!).sort()).toEqual(['dynamodb:DeleteItem', 'dynamodb:PutItem']);
    expect(Object.keys(writers[0]!.Condition ?? {})).toEqual(['ForAllValues:StringLike']);
    expect(patterns.length).toBeGreaterThan(0);
  });

  it('match every install-state key lib/store writes (statePk)', () => {
    for (const stateId of [randomUUID(), 'x', 'a'.repeat(300), 'with#hash and spaces']) {
      const pk = statePk(stateId);
      expect(patterns.some((pattern) => globToRegExp(pattern).test(pk))).toBe(true);
      // The same key is one the store reads as no instance.
      expect(keyFromPk(pk)).toBeUndefined();
    }
  });

  it('match no instance key (app ids are GUIDs), so no instance record can be put or deleted', () => {
    for (let i = 0; i < 50; i++) {
      const pk = instancePk({ appId: randomUUID(), instanceId: randomUUID() });
      expect(patterns.filter((pattern) => globToRegExp(pattern).test(pk))).toEqual([]);
    }
  });

  it('is checked for real: the glob translation accepts and refuses what IAM would', () => {
    expect(globToRegExp('state#*').test('state#ab')).toBe(true);
    expect(globToRegExp('state#*').test('xstate#ab')).toBe(false);
    expect(globToRegExp('state#?').test('state#ab')).toBe(false);
    expect(globToRegExp('a.b').test('axb')).toBe(false);
  });
});
