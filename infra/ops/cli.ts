/**
 * The operator's CLI: `npm run ops -- <command> [options]`. It uses the AWS SDK's normal
 * credentials and region, so it works against a deployment and against `npm start`'s stack
 * (whose banner prints the environment to point it there).
 *
 *   status --instance <id> [--app <id>]                 one instance's state (never a token)
 *   status --state <active|needs_reauth|uninstalled>    a page of that state, with counts
 *          [--app <id>] [--limit N] [--cursor C]
 *
 *   keys [--app <id>]                                   how many items each token key id still
 *                                                       holds, per field (a Scan; no key needed)
 *   rewrap [--app <id>] [--from-key <keyId>]            re-encrypts items under another key id than
 *          [--rate N/s] [--resume <cursor>]             the ring's current one (lib/ops/keys);
 *          [--page-size N] [--pages N]                  progress and a cursor on stderr per page
 *   import <file.jsonl> [--app <id>]                    existing installs, checked with Wix
 *                                                       (lib/ops/import); a summary by line number
 *
 * The table comes from --table or TOKENS_TABLE; the apps served from --app or WIX_APP_IDS. What
 * `status` prints is what the `status` function answers (lib/ops/status), as JSON. `rewrap` and
 * `import` read the app's secret the way the functions do (APP_SECRET_PREFIX + app id in Secrets
 * Manager; AWS_ENDPOINT_URL_SECRETS_MANAGER for the local stand-in); `import` calls Wix at
 * WIX_API_URL. Nothing here prints or logs a token.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';

import { readFile } from 'node:fs/promises';

import { ServiceError } from '../../lib/errors';
import { importInstalls } from '../../lib/ops/import';
import { countKeys, rewrap } from '../../lib/ops/keys';
import { answerStatus, parseStatusRequest } from '../../lib/ops/status';
import { cipherSource } from '../../lib/runtime';
import { SecretsManagerClient } from '../../lib/secrets/secrets-manager';
import { createAppSecretsProvider, type AppSecretsProvider } from '../../lib/secrets';
import { createDynamoTokenStore, type TokenStore } from '../../lib/store';
import { createWixClient } from '../../lib/wix';

const USAGE = `usage:
  npm run ops -- status --instance <instanceId> [--app <appId>] [--table <name>]
  npm run ops -- status --state <active|needs_reauth|uninstalled> [--app <appId>] [--limit N] [--cursor C] [--table <name>]
  npm run ops -- keys [--app <appId>] [--table <name>]
  npm run ops -- rewrap [--app <appId>] [--from-key <keyId>] [--rate N/s] [--resume <cursor>] [--page-size N] [--pages N] [--table <name>]
  npm run ops -- import <file.jsonl> [--app <appId>] [--table <name>]
environment: TOKENS_TABLE (or --table), WIX_APP_IDS (or --app), APP_SECRET_PREFIX and WIX_API_URL
(rewrap, import), and the AWS SDK's own (AWS_REGION, AWS_PROFILE or keys, AWS_ENDPOINT_URL_DYNAMODB
and AWS_ENDPOINT_URL_SECRETS_MANAGER for a local stack)`;

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

function allowOnly(given: Map<string, string>, allowed: readonly string[]): void {
  for (const name of given.keys()) if (!allowed.includes(name)) throw new UsageError(`unknown option --${name}`);
}

function positiveInteger(given: Map<string, string>, name: string): number | undefined {
  const text = given.get(name);
  if (text === undefined) return undefined;
  if (!/^[1-9][0-9]{0,5}$/.test(text)) throw new UsageError(`--${name} must be a whole number from 1`);
  return Number(text);
}

function servedApps(given: Map<string, string>): string[] {
  const app = given.get('app');
  return app !== undefined ? [app.toLowerCase()] : (process.env['WIX_APP_IDS'] ?? '').split(',').map((id) => id.trim().toLowerCase()).filter(Boolean);
}

function secretsFor(apps: readonly string[]): AppSecretsProvider {
  const prefix = process.env['APP_SECRET_PREFIX'];
  if (!prefix) throw new UsageError('no APP_SECRET_PREFIX: the app secrets are named by it');
  return createAppSecretsProvider({
    client: new SecretsManagerClient({}),
    secretIdFor: (appId) => (apps.includes(appId) ? `${prefix}${appId}` : undefined),
  });
}

/** A store on the table, and the DynamoDB client to destroy after. */
function tableStore(given: Map<string, string>, secrets?: AppSecretsProvider): { store: TokenStore; close: () => void } {
  const tableName = given.get('table') ?? process.env['TOKENS_TABLE'];
  if (!tableName) throw new UsageError('no table: pass --table or set TOKENS_TABLE');
  const client = new DynamoDBClient({});
  const store = createDynamoTokenStore({
    documentClient: DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } }),
    tableName,
    cipherFor: secrets === undefined ? () => Promise.reject(new Error('this command holds no token key')) : cipherSource(secrets),
  });
  return { store, close: () => client.destroy() };
}

async function keys(argv: readonly string[]): Promise<unknown> {
  const given = options(argv);
  allowOnly(given, ['app', 'table']);
  const { store, close } = tableStore(given);
  try {
    const app = given.get('app')?.toLowerCase();
    return await countKeys(store, app === undefined ? {} : { appId: app });
  } finally {
    close();
  }
}

async function rewrapCommand(argv: readonly string[]): Promise<unknown> {
  const given = options(argv);
  allowOnly(given, ['app', 'from-key', 'rate', 'resume', 'page-size', 'pages', 'table']);
  const rateText = given.get('rate');
  const rate = rateText === undefined ? undefined : /^[0-9]+(\.[0-9]+)?(\/s)?$/.test(rateText) ? parseFloat(rateText) : NaN;
  if (rate !== undefined && !(rate > 0)) throw new UsageError('--rate must be a positive number of writes a second, such as 25/s');
  const apps = servedApps(given);
  const secrets = secretsFor(apps);
  const { store, close } = tableStore(given, secrets);
  try {
    const app = given.get('app')?.toLowerCase();
    const pageSize = positiveInteger(given, 'page-size');
    const maxPages = positiveInteger(given, 'pages');
    const fromKey = given.get('from-key');
    const cursor = given.get('resume');
    return await rewrap(store, {
      ...(app === undefined ? {} : { appId: app }),
      currentKeyIdFor: async (appId) => (apps.includes(appId) ? (await secrets.get(appId)).tokenKeys.currentKeyId : undefined),
      ...(fromKey === undefined ? {} : { fromKeyId: fromKey }),
      ...(rate === undefined ? {} : { ratePerSecond: rate }),
      ...(cursor === undefined ? {} : { cursor }),
      ...(pageSize === undefined ? {} : { pageSize }),
      ...(maxPages === undefined ? {} : { maxPages }),
      onProgress: (progress) => process.stderr.write(`${JSON.stringify({ progress })}\n`),
    });
  } finally {
    close();
  }
}

async function importCommand(argv: readonly string[]): Promise<unknown> {
  const [file, ...rest] = argv;
  if (file === undefined || file.startsWith('--')) throw new UsageError('import needs a file: import <file.jsonl>');
  const given = options(rest);
  allowOnly(given, ['app', 'table']);
  const apps = servedApps(given);
  const appId = apps[0];
  if (appId === undefined) throw new UsageError('no app: pass --app or set WIX_APP_IDS');
  const secrets = secretsFor(apps);
  const { store, close } = tableStore(given, secrets);
  try {
    const text = await readFile(file, 'utf8');
    const credentials = await secrets.get(appId);
    const wix = createWixClient(process.env['WIX_API_URL'] ? { baseUrl: process.env['WIX_API_URL'] } : {});
    return { appId, ...(await importInstalls({ store, wix, credentials }, text)) };
  } finally {
    close();
  }
}

async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  try {
    if (command === 'status') {
      process.stdout.write(`${JSON.stringify(await status(rest), null, 2)}\n`);
      return 0;
    }
    const commands: Record<string, (argv: readonly string[]) => Promise<unknown>> = { keys, rewrap: rewrapCommand, import: importCommand };
    const run = command === undefined ? undefined : commands[command];
    if (run !== undefined) {
      process.stdout.write(`${JSON.stringify(await run(rest), null, 2)}\n`);
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
