/**
 * `npm start`: the whole service on this machine, with no AWS account.
 *
 * DynamoDB Local (port 8000, -sharedDb), a Secrets Manager stand-in seeded with the app, the Wix
 * simulator (unless WIX_API_URL is set) and serverless-offline (HTTP API on 3000, Lambda invoke
 * on 3002). The app is WIX_APP_ID / WIX_APP_SECRET / WIX_WEBHOOK_PUBLIC_KEY when set, else a
 * demo app. Ctrl-C, or any part failing to start, stops everything this started.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';

import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

import { generateKey } from '../../lib/crypto';
import { createTable } from '../../lib/store/table-definition';
import { demoAppSecret } from './demo-app';
import { LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from './dynamodb-local';
import { startSecretsManagerStandIn } from './secrets-manager-stand-in';
import { startWixSimulator } from './wix-simulator';

// The AWS SDK warns about Node 20 on every client; the local stack's output is easier to read without it.
process.env['AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED'] ??= 'true';

const SERVICE = 'wix-token-service';
const STAGE = 'local';

export const LocalPorts = { http: 3000, lambda: 3002, secrets: 3010, wix: 3100, dynamodb: 8000 } as const;

interface Part {
  name: string;
  stop(): Promise<void>;
}

/** The app the local stack serves: the developer's real one from the environment, else a demo. */
function localApp(env: NodeJS.ProcessEnv): { appId: string; appSecret: string; secretString: string; demo: boolean; webhookPrivateKey?: string } {
  const { WIX_APP_ID: appId, WIX_APP_SECRET: appSecret, WIX_WEBHOOK_PUBLIC_KEY: publicKey } = env;
  if (appId && appSecret && publicKey) {
    const webhookPublicKey = publicKey.replace(/\\n/g, '\n');
    const tokenKeys = { currentKeyId: 'local1', keys: { local1: generateKey() } };
    return { appId, appSecret, demo: false, secretString: JSON.stringify({ appId, appSecret, webhookPublicKey, tokenKeys }) };
  }
  if (appId || appSecret || publicKey) {
    throw new Error('set all three of WIX_APP_ID, WIX_APP_SECRET and WIX_WEBHOOK_PUBLIC_KEY, or none for the demo app');
  }
  const demo = demoAppSecret();
  return { ...demo, demo: true };
}

async function main(): Promise<void> {
  const parts: Part[] = [];
  let stopping = false;
  const stopAll = async (code: number) => {
    if (stopping) return;
    stopping = true;
    for (const part of parts.reverse()) {
      try {
        await part.stop();
      } catch (error) {
        console.error(`could not stop ${part.name}: ${(error as Error).message}`);
      }
    }
    process.exit(code);
  };
  process.on('SIGINT', () => {
    console.log('\nstopping…');
    void stopAll(0);
  });
  process.on('SIGTERM', () => void stopAll(0));

  try {
    const app = localApp(process.env);
    const publicUrl = process.env['PUBLIC_URL'] ?? `http://localhost:${LocalPorts.http}`;
    const secretPrefix = `${SERVICE}/${STAGE}/apps/`;

    const dynamo = await startDynamoDbLocal({ port: LocalPorts.dynamodb });
    parts.push({ name: 'DynamoDB Local', stop: () => dynamo.stop() });
    const tableName = `${SERVICE}-${STAGE}-tokens`;
    const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    await createTable(client, tableName, { deletionProtection: false });
    client.destroy();

    const secrets = await startSecretsManagerStandIn({
      port: LocalPorts.secrets,
      secrets: [{ name: `${secretPrefix}${app.appId}`, value: app.secretString }],
    });
    parts.push({ name: 'Secrets Manager stand-in', stop: () => secrets.stop() });

    let wixApiUrl = process.env['WIX_API_URL'];
    let wixInstallerUrl = process.env['WIX_INSTALLER_URL'];
    if (!wixApiUrl) {
      const sim = await startWixSimulator({ port: LocalPorts.wix, apps: [{ appId: app.appId, appSecret: app.appSecret }] });
      parts.push({ name: 'Wix simulator', stop: () => sim.stop() });
      wixApiUrl = sim.url;
      wixInstallerUrl ??= sim.url;
    }
    wixInstallerUrl ??= 'https://www.wix.com';

    const offline = await startOffline(parts, {
      ...process.env,
      AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
      AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
      AWS_REGION: LOCAL_REGION,
      AWS_ACCESS_KEY_ID: LOCAL_CREDENTIALS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: LOCAL_CREDENTIALS.secretAccessKey,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      WIX_API_URL: wixApiUrl,
      WIX_INSTALLER_URL: wixInstallerUrl,
      PUBLIC_URL: publicUrl,
      WIX_APP_IDS: app.appId,
      APP_SECRET_PREFIX: secretPrefix,
    });
    offline.exited.then(() => {
      if (!stopping) {
        console.error('serverless-offline exited; stopping everything');
        void stopAll(1);
      }
    });

    printBanner({ app, publicUrl, wixApiUrl, wixInstallerUrl, dynamoEndpoint: dynamo.endpoint, secretsUrl: secrets.url, tableName, secretPrefix });
  } catch (error) {
    console.error(`npm start failed: ${(error as Error).message}`);
    await stopAll(1);
  }
}

/** Runs `serverless offline` and resolves once its HTTP server listens. */
async function startOffline(parts: Part[], env: NodeJS.ProcessEnv): Promise<{ exited: Promise<void> }> {
  const bin = join(__dirname, '../../node_modules/.bin/serverless');
  const child: ChildProcess = spawn(
    bin,
    ['offline', 'start', '--stage', STAGE, '--httpPort', String(LocalPorts.http), '--lambdaPort', String(LocalPorts.lambda), '--host', '127.0.0.1'],
    { cwd: join(__dirname, '../..'), env, stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let output = '';
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      const text = chunk.toString('utf8');
      output = (output + text).slice(-8000);
      if (process.env['LOCAL_VERBOSE']) process.stdout.write(text);
      if (/Server ready:/.test(output)) resolve();
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then(() => reject(new Error(`serverless-offline exited before it was ready:\n${output}`)));
  });
  // Registered before it is ready, so a Ctrl-C during start-up stops it too.
  parts.push({
    name: 'serverless-offline',
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null || child.pid === undefined) return;
      process.kill(-child.pid, 'SIGTERM'); // the whole group: serverless and its workers
      const timer = setTimeout(() => child.pid !== undefined && process.kill(-child.pid, 'SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    },
  });
  await ready;
  // After start-up, keep the logs flowing to the terminal: they are the functions' logs.
  child.stdout?.on('data', (chunk: Buffer) => process.stdout.write(chunk));
  child.stderr?.on('data', (chunk: Buffer) => process.stderr.write(chunk));
  return { exited };
}

function printBanner(info: {
  app: ReturnType<typeof localApp>;
  publicUrl: string;
  wixApiUrl: string;
  wixInstallerUrl: string;
  dynamoEndpoint: string;
  secretsUrl: string;
  tableName: string;
  secretPrefix: string;
}): void {
  const { app } = info;
  const mintName = `${SERVICE}-${STAGE}-mint`;
  const lines = [
    '',
    'Wix Token Service is running locally.',
    '',
    `  App URL        ${info.publicUrl}/install`,
    `  Redirect URL   ${info.publicUrl}/oauth/callback`,
    `  Webhook URL    ${info.publicUrl}/webhooks`,
    `  Lambda invoke  http://127.0.0.1:${LocalPorts.lambda}  (functions ${mintName}, ${SERVICE}-${STAGE}-refresh)`,
    `  Wix API        ${info.wixApiUrl}${info.wixApiUrl.startsWith('http://127.0.0.1') ? '  (simulator)' : ''}`,
    `  Wix installer  ${info.wixInstallerUrl}`,
    `  DynamoDB       ${info.dynamoEndpoint}  (table ${info.tableName}, -sharedDb, in memory)`,
    `  Secrets        ${info.secretsUrl}  (secret ${info.secretPrefix}${app.appId})`,
    '',
    app.demo ? `  Demo app       id ${app.appId}  secret ${app.appSecret}` : `  Your app       id ${app.appId} (secret from WIX_APP_SECRET, not printed)`,
    '',
    'Try it:',
    `  curl -si '${info.publicUrl}/install?token=demo-install-token' | grep -i location`,
    `  # follow that Location in a browser (or with curl) and the simulator sends you back to the callback`,
    `  aws lambda invoke --endpoint-url http://127.0.0.1:${LocalPorts.lambda} --no-cli-pager --function-name ${mintName} \\`,
    `      --cli-binary-format raw-in-base64-out --payload '{"instanceId":"<an installed instance id>"}' /dev/stdout`,
    `  # or without the AWS CLI:`,
    `  curl -s -X POST http://127.0.0.1:${LocalPorts.lambda}/2015-03-31/functions/${mintName}/invocations -d '{"instanceId":"<an installed instance id>"}'`,
    '',
    'Ctrl-C stops everything.',
    '',
  ];
  console.log(lines.join('\n'));
}

void main();
