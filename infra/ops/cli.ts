/**
 * The operator's CLI: `npm run ops -- <command> [options]`. It uses the AWS SDK's normal
 * credentials and region, so it works against a deployment and against `npm start`'s stack
 * (whose banner prints the environment to point it there).
 *
 *   status --instance <id> [--app <id>]                 one instance's state (never a token)
 *   status --state <active|needs_reauth|uninstalled>    a page of that state, with counts
 *          [--app <id>] [--limit N] [--cursor C]
 *
 * The table comes from --table or TOKENS_TABLE; the apps served from --app or WIX_APP_IDS.
 * What it prints is what the `status` function answers (lib/ops/status), as JSON.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { ServiceError } from '../../lib/errors';
import { answerStatus, parseStatusRequest } from '../../lib/ops/status';
import { createDynamoTokenStore } from '../../lib/store';

const USAGE = `usage:
  npm run ops -- status --instance <instanceId> [--app <appId>] [--table <name>]
  npm run ops -- status --state <active|needs_reauth|uninstalled> [--app <appId>] [--limit N] [--cursor C] [--table <name>]
environment: TOKENS_TABLE (or --table), WIX_APP_IDS (or --app), and the AWS SDK's own
(AWS_REGION, AWS_PROFILE or keys, AWS_ENDPOINT_URL_DYNAMODB for a local stack)`;

class UsageError extends Error {}

function options(argv: readonly string[]): Map<string, string> {
  const found = new Map<string, string>();
  for (let i = 0; i < argv.length; i += 2) {
    const name = argv[i];
    const value = argv[i + 1];
    if (name === undefined || !name.startsWith('--') || value === undefined) throw new UsageError(`expected --option value pairs, got ${JSON.stringify(name)}`);
    found.set(name.slice(2), value);
  }
  return found;
}

async function status(argv: readonly string[]): Promise<unknown> {
  const given = options(argv);
  for (const name of given.keys()) {
    if (!['instance', 'state', 'app', 'limit', 'cursor', 'table'].includes(name)) throw new UsageError(`unknown option --${name}`);
  }
  const tableName = given.get('table') ?? process.env['TOKENS_TABLE'];
  if (!tableName) throw new UsageError('no table: pass --table or set TOKENS_TABLE');
  const app = given.get('app');
  const served = app !== undefined ? [app.toLowerCase()] : (process.env['WIX_APP_IDS'] ?? '').split(',').map((id) => id.trim().toLowerCase()).filter(Boolean);

  const payload: Record<string, unknown> = {};
  if (given.has('instance')) payload['instanceId'] = given.get('instance');
  if (given.has('state')) payload['state'] = given.get('state');
  if (app !== undefined) payload['appId'] = app;
  if (given.has('limit')) payload['limit'] = Number(given.get('limit'));
  if (given.has('cursor')) payload['cursor'] = given.get('cursor');
  if (!given.has('instance') && !given.has('state')) throw new UsageError('pass --instance or --state');

  const client = new DynamoDBClient({});
  try {
    const store = createDynamoTokenStore({
      documentClient: DynamoDBDocumentClient.from(client),
      tableName,
      // status never decrypts: it reads no token attribute.
      cipherFor: () => Promise.reject(new Error('the ops CLI holds no token key')),
    });
    return await answerStatus(store, parseStatusRequest(payload, served));
  } finally {
    client.destroy();
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'status') {
      process.stdout.write(`${JSON.stringify(await status(rest), null, 2)}\n`);
      return 0;
    }
    throw new UsageError(command === undefined ? 'no command' : `unknown command ${JSON.stringify(command)}`);
  } catch (error) {
    if (error instanceof UsageError) {
      process.stderr.write(`${error.message}\n${USAGE}\n`);
      return 2;
    }
    // Typed errors say what went wrong in a line; anything else is a bug worth its stack.
    if (error instanceof ServiceError) {
      process.stderr.write(`${error.name}: ${error.message}\n`);
      return 1;
    }
    throw error;
  }
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
});
