/**
 * The whole service on this machine, with no AWS account: what `npm start` runs and what the e2e
 * tests drive.
 *
 * ```
 *   browser / curl ──HTTP API──▶ serverless-offline ──▶ install, webhooks ─┐
 *   other Lambdas ──invoke─────▶ (Lambda endpoint)   ──▶ mint, refresh ────┤
 *                                                                          ├─▶ DynamoDB Local (-sharedDb)
 *                                                                          ├─▶ Secrets Manager stand-in
 *                                                                          └─▶ Wix simulator (unless WIX_API_URL)
 * ```
 *
 * Parts start in that order from the bottom up and stop in the reverse order. If one fails to
 * start, or the start is aborted, everything started so far is stopped before the error surfaces.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

import { generateKey } from '../../lib/crypto';
import { createTable } from '../../lib/store/table-definition';
import { demoAppSecret } from './demo-app';
import { freePort, LOCAL_CREDENTIALS, LOCAL_REGION, startDynamoDbLocal } from './dynamodb-local';
import { offlineEnv, PROJECT_ROOT, startOffline, type OfflineOutput, type Part } from './offline';
import { startSecretsManagerStandIn, type SecretsManagerStandIn } from './secrets-manager-stand-in';
import { startWixSimulator, type WixSimulator } from './wix-simulator';

/** The serverless.yml `service`. */
export const SERVICE = 'wix-token-service';
/** The project root: where serverless.yml is (re-exported from ./offline, which runs serverless there). */
export { PROJECT_ROOT };

/** Where each part listens. */
export interface LocalPorts {
  /** serverless-offline's HTTP API (install, webhooks). */
  http: number;
  /** serverless-offline's Lambda invoke endpoint (mint, refresh). */
  lambda: number;
  secrets: number;
  wix: number;
  dynamodb: number;
}

/** The ports of DESIGN.md's `npm start` contract. */
export const DEFAULT_PORTS: Readonly<LocalPorts> = { http: 3000, lambda: 3002, secrets: 3010, wix: 3100, dynamodb: 8000 };

export interface LocalStackOptions {
  /** Ports to listen on, each defaulting to {@link DEFAULT_PORTS}; 0 picks a free one. */
  ports?: Partial<LocalPorts>;
  /**
   * Where the stack's settings are read: WIX_APP_ID, WIX_APP_SECRET and WIX_WEBHOOK_PUBLIC_KEY (all
   * three, or none for a demo app), WIX_API_URL (no simulator when set), WIX_INSTALLER_URL and
   * PUBLIC_URL. Default `process.env`.
   */
  env?: NodeJS.ProcessEnv;
  /** serverless's stage; default `local`. Function names are `wix-token-service-<stage>-<function>`. */
  stage?: string;
  /**
   * The directory serverless runs in (its serverless.yml and sources); default the project root.
   * serverless-esbuild builds in `<serviceDir>/.esbuild` and deletes it on exit, so two stacks (or a
   * stack and `serverless package`) must not share one.
   */
  serviceDir?: string;
  /** serverless-offline's output, which after start-up is the functions' logs. */
  onOutput?: OfflineOutput;
  /** Aborting stops what has started and rejects the start. */
  signal?: AbortSignal;
  /** How long serverless-offline may take to listen (it bundles every function first). Default 120 s. */
  readyTimeoutMs?: number;
  /**
   * The Node binary serverless-offline runs on, and so the handlers, which it runs in worker threads
   * of its own process (e.g. `lambdaNodeBinary()`, Lambda's Node 22). Default the one running this.
   */
  node?: string;
  /** The Wix simulator's installer shows a consent page with an Allow button (for browser tests); default false. */
  wixConsentPage?: boolean;
}

/** The app the stack serves. */
export interface LocalApp {
  appId: string;
  appSecret: string;
  /** PEM (SPKI). */
  webhookPublicKey: string;
  /** PEM (PKCS#8) that signs webhooks the public key verifies: the demo app's only. */
  webhookPrivateKey?: string;
  /** A demo app made up for this run, not the developer's own from the environment. */
  demo: boolean;
}

export interface LocalStack {
  ports: LocalPorts;
  urls: {
    /** The base URL Wix redirects to (PUBLIC_URL): App URL `<public>/install`, and so on. */
    public: string;
    /** serverless-offline's HTTP API, on loopback. */
    http: string;
    /** The Lambda invoke endpoint: an SDK client's `endpoint`. */
    lambda: string;
    wixApi: string;
    wixInstaller: string;
    dynamodb: string;
    secrets: string;
  };
  app: LocalApp;
  stage: string;
  tableName: string;
  secretName: string;
  /** The names to invoke. */
  functionNames: { install: string; webhooks: string; mint: string; refresh: string; status: string };
  /** The Wix simulator, unless WIX_API_URL pointed elsewhere. */
  simulator: WixSimulator | undefined;
  secrets: SecretsManagerStandIn;
  /** Processes the stack runs: the JVM and serverless-offline (the leader of its process group). */
  pids: { dynamodb: number; offline: number };
  /** Settles when serverless-offline exits, whether stop() ended it or not. */
  exited: Promise<void>;
  /** Stops every part, the last started first. Idempotent. */
  stop(): Promise<void>;
}

/**
 * Starts DynamoDB Local (with the token table), the Secrets Manager stand-in seeded with the app,
 * the Wix simulator (unless WIX_API_URL is set) and serverless-offline, and resolves once all of
 * them answer.
 *
 * @throws Error when a part fails to start (everything started is stopped first), or when the
 *   app settings are incomplete, or the start was aborted.
 */
export async function startLocalStack(options: LocalStackOptions = {}): Promise<LocalStack> {
  const env = options.env ?? process.env;
  const stage = options.stage ?? 'local';
  const parts: Part[] = [];
  let stopping: Promise<void> | undefined;
  const stop = () => {
    stopping ??= stopParts(parts);
    return stopping;
  };
  const checkAborted = () => {
    if (options.signal?.aborted) throw new Error('the local stack was stopped while starting');
  };

  try {
    checkAborted();
    const app = localApp(env);
    const ports = await resolvePorts(options.ports);
    const publicUrl = env['PUBLIC_URL'] ?? `http://localhost:${ports.http}`;
    const secretPrefix = `${SERVICE}/${stage}/apps/`;
    const tableName = `${SERVICE}-${stage}-tokens`;

    const dynamo = await startDynamoDbLocal({ port: ports.dynamodb });
    parts.push({ name: 'DynamoDB Local', stop: () => dynamo.stop() });
    checkAborted();
    const client = new DynamoDBClient({ endpoint: dynamo.endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS });
    try {
      await createTable(client, tableName, { deletionProtection: false });
    } finally {
      client.destroy();
    }

    const secretName = `${secretPrefix}${app.appId}`;
    const secrets = await startSecretsManagerStandIn({ port: ports.secrets, secrets: [{ name: secretName, value: app.secretString }] });
    parts.push({ name: 'Secrets Manager stand-in', stop: () => secrets.stop() });
    checkAborted();
    ports.secrets = portOf(secrets.url);

    let simulator: WixSimulator | undefined;
    let wixApiUrl = env['WIX_API_URL'];
    let wixInstallerUrl = env['WIX_INSTALLER_URL'];
    if (!wixApiUrl) {
      const sim = await startWixSimulator({
        port: ports.wix,
        apps: [{ appId: app.appId, appSecret: app.appSecret }],
        consentPage: options.wixConsentPage ?? false,
      });
      parts.push({ name: 'Wix simulator', stop: () => sim.stop() });
      checkAborted();
      simulator = sim;
      ports.wix = portOf(sim.url);
      wixApiUrl = sim.url;
      wixInstallerUrl ??= simulator.url;
    }
    wixInstallerUrl ??= 'https://www.wix.com';

    const offline = await startOffline(parts, {
      serviceDir: options.serviceDir ?? PROJECT_ROOT,
      stage,
      ports,
      readyTimeoutMs: options.readyTimeoutMs ?? 120_000,
      node: options.node ?? process.execPath,
      onOutput: options.onOutput,
      signal: options.signal,
      env: offlineEnv({
        AWS_ENDPOINT_URL_DYNAMODB: dynamo.endpoint,
        // No EventBridge locally: the functions print the lifecycle events they would publish.
        LIFECYCLE_EVENTS: 'log',
        AWS_ENDPOINT_URL_SECRETS_MANAGER: secrets.url,
        WIX_API_URL: wixApiUrl,
        WIX_INSTALLER_URL: wixInstallerUrl,
        PUBLIC_URL: publicUrl,
        WIX_APP_IDS: app.appId,
        APP_SECRET_PREFIX: secretPrefix,
      }),
    });
    checkAborted();

    const name = (fn: string) => `${SERVICE}-${stage}-${fn}`;
    return {
      ports,
      urls: {
        public: publicUrl,
        http: `http://127.0.0.1:${ports.http}`,
        lambda: `http://127.0.0.1:${ports.lambda}`,
        wixApi: wixApiUrl,
        wixInstaller: wixInstallerUrl,
        dynamodb: dynamo.endpoint,
        secrets: secrets.url,
      },
      app: {
        appId: app.appId,
        appSecret: app.appSecret,
        webhookPublicKey: app.webhookPublicKey,
        ...(app.webhookPrivateKey === undefined ? {} : { webhookPrivateKey: app.webhookPrivateKey }),
        demo: app.demo,
      },
      stage,
      tableName,
      secretName,
      functionNames: { install: name('install'), webhooks: name('webhooks'), mint: name('mint'), refresh: name('refresh'), status: name('status') },
      simulator,
      secrets,
      pids: { dynamodb: dynamo.pid, offline: offline.pid },
      exited: offline.exited,
      stop,
    };
  } catch (error) {
    await stop();
    throw error;
  }
}

/** The app to serve: the developer's real one from the environment, else a fresh demo app. */
function localApp(env: NodeJS.ProcessEnv): LocalApp & { secretString: string } {
  const { WIX_APP_ID: appId, WIX_APP_SECRET: appSecret, WIX_WEBHOOK_PUBLIC_KEY: publicKey } = env;
  if (appId && appSecret && publicKey) {
    const webhookPublicKey = publicKey.replace(/\\n/g, '\n');
    const tokenKeys = { currentKeyId: 'local1', keys: { local1: generateKey() } };
    const secretString = JSON.stringify({ appId, appSecret, webhookPublicKey, tokenKeys });
    return { appId, appSecret, webhookPublicKey, demo: false, secretString };
  }
  if (appId || appSecret || publicKey) {
    throw new Error('set all three of WIX_APP_ID, WIX_APP_SECRET and WIX_WEBHOOK_PUBLIC_KEY, or none for the demo app');
  }
  const demo = demoAppSecret();
  return {
    appId: demo.appId,
    appSecret: demo.appSecret,
    webhookPublicKey: demo.webhookPublicKey,
    webhookPrivateKey: demo.webhookPrivateKey,
    demo: true,
    secretString: demo.secretString,
  };
}

async function resolvePorts(requested: Partial<LocalPorts> = {}): Promise<LocalPorts> {
  const ports = { ...DEFAULT_PORTS, ...requested };
  // serverless-offline needs its ports up front; the others pick their own when given 0.
  if (ports.http === 0) ports.http = await freePort();
  if (ports.lambda === 0) ports.lambda = await freePort();
  if (ports.dynamodb === 0) ports.dynamodb = await freePort();
  return ports;
}

function portOf(url: string): number {
  return Number(new URL(url).port);
}

async function stopParts(parts: Part[]): Promise<void> {
  const failures: string[] = [];
  for (const part of [...parts].reverse()) {
    try {
      await part.stop();
    } catch (error) {
      failures.push(`${part.name}: ${(error as Error).message}`);
    }
  }
  if (failures.length > 0) throw new Error(`could not stop ${failures.join('; ')}`);
}
