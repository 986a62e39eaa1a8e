import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:net';

import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { importPKCS8, SignJWT } from 'jose';

import { freePort } from '../../infra/local/dynamodb-local';
import { lambdaNodeBinary } from '../../infra/local/lambda-node';
import { startLocalStack, type LocalStack } from '../../infra/local/stack';
import { APP_INSTANCE_PATH, WixSimulatorPaths, type WixSimulator } from '../../infra/local/wix-simulator';
import { createTokenClient, InstanceUninstalledError, InvalidRequestError, type TokenClient } from '@wix-token-service/client';
import type { RefreshSummary } from '../../lib/tokens/refresh-summary';
import { startE2eStack } from '../support/e2e-stack';
import { copyService, type ServiceCopy } from '../support/service-copy';

/**
 * The local stack of `npm start`, driven from outside the way Wix, a browser and another Lambda
 * would: through serverless-offline's HTTP API and its Lambda invoke endpoint, on free ports.
 *
 * It runs serverless from a private copy of the service (test/support/service-copy.ts), so its
 * `.esbuild` folder is its own: not the package test's, not a developer's running `npm start`.
 *
 * The whole flow runs twice, one stack after the other: on the Node running the tests (the
 * machine's, what `npm start` uses) and on Lambda's Node 22 (the `node@22` devDependency's binary),
 * serverless-offline started with it, so the handlers, which it runs in worker threads of its
 * process, run on it too; the SDK's user agent, as the Secrets Manager stand-in received it from
 * the handlers, says which Node they ran on.
 */

const START_TIMEOUT_MS = 150_000;

/** The Nodes to run the stack on: this one, and Lambda's (once when they are the same version). */
const NODES = [
  { version: process.version, binary: process.execPath },
  { version: execFileSync(lambdaNodeBinary(), ['--version'], { encoding: 'utf8' }).trim(), binary: lambdaNodeBinary() },
].filter((node, index, all) => all.findIndex((other) => other.version === node.version) === index);

let service: ServiceCopy;
let stack: LocalStack;
let simulator: WixSimulator;
let lambda: LambdaClient;
let tokens: TokenClient;
/** serverless-offline's output (the functions' logs), shown when a step fails. */
let output = '';
/** The instance installed through the App URL flow, once it has been. */
let installedInstanceId: string | undefined;

async function get(url: string): Promise<Response> {
  return fetch(url, { redirect: 'manual', signal: AbortSignal.timeout(20_000) });
}

function locationOf(response: Response): URL {
  const location = response.headers.get('location');
  if (response.status !== 302 || location === null) throw new Error(`expected a redirect, got ${response.status}\n${output.slice(-4000)}`);
  return new URL(location);
}

async function invoke(functionName: string, payload: unknown): Promise<{ functionError: string | undefined; body: Record<string, unknown> }> {
  const response = await lambda.send(new InvokeCommand({ FunctionName: functionName, Payload: new TextEncoder().encode(JSON.stringify(payload)) }));
  const text = new TextDecoder().decode(response.Payload);
  return { functionError: response.FunctionError, body: JSON.parse(text) as Record<string, unknown> };
}

async function postWebhook(eventType: 'AppInstalled' | 'AppRemoved', instanceId: string): Promise<Response> {
  const privateKey = stack.app.webhookPrivateKey;
  if (privateKey === undefined) throw new Error('the stack serves no demo app');
  const envelope = { eventType, instanceId, data: JSON.stringify({ appId: stack.app.appId }) };
  const jwt = await new SignJWT({ data: JSON.stringify(envelope) })
    .setProtectedHeader({ alg: 'RS256' })
    .setIssuedAt()
    .setExpirationTime('5m')
    .sign(await importPKCS8(privateKey, 'RS256'));
  return fetch(`${stack.urls.public}/webhooks`, { method: 'POST', body: jwt, headers: { 'content-type': 'text/plain' }, signal: AbortSignal.timeout(20_000) });
}

/** Pids of running processes whose command line contains `text`. */
function processesMatching(text: string): number[] {
  const lines = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n');
  return lines.filter((line) => line.includes(text)).map((line) => Number.parseInt(line.trim(), 10));
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

beforeAll(async () => {
  service = await copyService('e2e');
});

afterAll(async () => {
  await service?.remove();
});

describe.each(NODES)('the local stack (npm start), serverless-offline and the handlers on Node $version', ({ version, binary }) => {
  beforeAll(async () => {
    output = '';
    installedInstanceId = undefined;
    ({ stack, simulator, lambda } = await startE2eStack({ serviceDir: service.dir, node: binary }, (text) => {
      output = (output + text).slice(-64_000);
    }));
    tokens = createTokenClient({ functionName: stack.functionNames.mint, lambda });
  }, START_TIMEOUT_MS);

  afterAll(async () => {
    lambda?.destroy();
    await stack?.stop();
  }, 30_000);

  it('serves the install flow: App URL, the Wix installer, the callback, close-window with the token Wix issued', async () => {
    const appUrl = `${stack.urls.public}/install?token=${randomUUID()}`;

    const toInstaller = locationOf(await get(appUrl));
    expect(`${toInstaller.origin}${toInstaller.pathname}`).toBe(`${stack.urls.wixInstaller}${WixSimulatorPaths.install}`);
    expect(toInstaller.searchParams.get('appId')).toBe(stack.app.appId);
    expect(toInstaller.searchParams.get('redirectUrl')).toBe(`${stack.urls.public}/oauth/callback`);

    const toCallback = locationOf(await get(toInstaller.href));
    expect(`${toCallback.origin}${toCallback.pathname}`).toBe(`${stack.urls.public}/oauth/callback`);
    const instanceId = toCallback.searchParams.get('instanceId') as string;

    const toCloseWindow = locationOf(await get(toCallback.href));
    expect(`${toCloseWindow.origin}${toCloseWindow.pathname}`).toBe(`${stack.urls.wixApi}${WixSimulatorPaths.closeWindow}`);
    const accessToken = toCloseWindow.searchParams.get('access_token') as string;
    expect(simulator.issuedSecrets()).toContain(accessToken);

    const closed = await get(toCloseWindow.href);
    expect(closed.status).toBe(200);
    expect(simulator.closedWindows).toContain(accessToken);
    expect(simulator.isInstalled(stack.app.appId, instanceId)).toBe(true);
    installedInstanceId = instanceId;

    // The state in the installer redirect is good once.
    const replay = await get(toCallback.href);
    expect(replay.status).toBeGreaterThanOrEqual(400);
    expect(replay.status).toBeLessThan(500);
  });

  it('mints a token for the installed instance through the Lambda invoke endpoint, never a refresh token', async () => {
    const instanceId = installedInstanceId as string;
    expect(instanceId).toBeDefined();

    const { functionError, body } = await invoke(stack.functionNames.mint, { instanceId });

    expect(functionError).toBeUndefined();
    expect(body).toEqual({
      accessToken: expect.any(String),
      tokenType: 'Bearer',
      expiresAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      instanceId,
      appId: stack.app.appId,
    });
    expect(simulator.issuedSecrets()).toContain(body['accessToken']);
    expect(Date.parse(body['expiresAt'] as string)).toBeGreaterThan(Date.now() + 290_000);
  });

  it('serves lib/client: a token, and a refusal read back from serverless-offline\u2019s errorType "Error" and trace', async () => {
    const instanceId = installedInstanceId as string;

    const token = await tokens.getAccessToken(instanceId);
    const raw = await invoke(stack.functionNames.mint, { instanceId: 'not-a-guid' });

    expect(token).toMatchObject({ instanceId, appId: stack.app.appId, tokenType: 'Bearer', expiresAt: expect.any(Date) });
    expect(simulator.issuedSecrets()).toContain(token.accessToken);
    expect(raw.functionError).toBeDefined();
    expect(raw.body['errorType']).toBe('Error');
    expect(String((raw.body['trace'] as string[])[0])).toMatch(/^InvalidRequest: /);
    await expect(tokens.getAccessToken('not-a-guid')).rejects.toBeInstanceOf(InvalidRequestError);
  });

  it('answers the installed instance\u2019s state through status, never a token', async () => {
    const instanceId = installedInstanceId as string;

    const { functionError, body } = await invoke(stack.functionNames.status, { instanceId });

    expect(functionError).toBeUndefined();
    expect(body).toMatchObject({ appId: stack.app.appId, instanceId, status: 'active', grantKind: 'legacy', accessTokenExpiresAt: expect.any(String) });
    for (const issued of simulator.issuedSecrets()) expect(JSON.stringify(body)).not.toContain(issued);
  });

  it('wixFetch calls an authenticated Wix route with a minted token; the route refuses any other token with a 401', async () => {
    const instanceId = installedInstanceId as string;
    const route = new URL(APP_INSTANCE_PATH, simulator.url).toString();

    const response = await tokens.wixFetch(instanceId, route);
    const bogus = await fetch(route, { headers: { authorization: 'OauthNG.JWS.not-issued' }, signal: AbortSignal.timeout(20_000) });

    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ instance: { instanceId, appId: stack.app.appId } });
    expect(bogus.status).toBe(401);
  });

  it('refreshes one instance on a direct invoke, and sweeps on a scheduled event', async () => {
    const instanceId = installedInstanceId as string;

    const one = await invoke(stack.functionNames.refresh, { instanceId });
    const sweep = await invoke(stack.functionNames.refresh, { source: 'aws.events', 'detail-type': 'Scheduled Event', detail: {} });

    expect(one.functionError).toBeUndefined();
    expect(one.body as unknown as RefreshSummary).toMatchObject({
      mode: 'instance',
      examined: 1,
      refreshed: 1,
      instance: { appId: stack.app.appId, instanceId, outcome: 'refreshed' },
    });
    expect(sweep.functionError).toBeUndefined();
    expect(sweep.body as unknown as RefreshSummary).toMatchObject({ mode: 'sweep', complete: true });
  });

  it('takes a signed AppInstalled webhook, and mint serves the new instance with client credentials', async () => {
    const instanceId = simulator.install(stack.app.appId);

    const installed = await postWebhook('AppInstalled', instanceId);
    const token = await tokens.getAccessToken(instanceId, { minValiditySeconds: 3600 });

    expect(installed.status).toBe(200);
    expect(await installed.json()).toEqual({ outcome: 'applied' });
    expect(simulator.issuedSecrets()).toContain(token.accessToken);
  });

  it('takes a signed AppRemoved webhook: mint then refuses the instance and refresh leaves it alone', async () => {
    const instanceId = simulator.install(stack.app.appId);
    expect((await postWebhook('AppInstalled', instanceId)).status).toBe(200);
    simulator.uninstall(stack.app.appId, instanceId);

    const removed = await postWebhook('AppRemoved', instanceId);
    const refresh = await invoke(stack.functionNames.refresh, { instanceId });

    expect(removed.status).toBe(200);
    expect(await removed.json()).toEqual({ outcome: 'applied' });
    await expect(tokens.getAccessToken(instanceId)).rejects.toBeInstanceOf(InstanceUninstalledError);
    expect(refresh.body).toMatchObject({ mode: 'instance', instance: { instanceId, outcome: 'skipped', detail: 'uninstalled' } });
  });

  it(`ran the handlers on Node ${version}: the SDK's user agent in them says so`, () => {
    // Every flow above read the app's secret from the stand-in through the handlers' SDK client.
    expect(stack.secrets.userAgents.length).toBeGreaterThan(0);
    for (const userAgent of stack.secrets.userAgents) expect(userAgent).toContain(`md/nodejs#${version.slice(1)}`);
  });

  it('stops everything it started: no java, no serverless left, the ports free', async () => {
    const { pids, ports } = stack;
    expect(isAlive(pids.dynamodb)).toBe(true);
    expect(isAlive(pids.offline)).toBe(true);

    await stack.stop();

    expect(isAlive(pids.dynamodb)).toBe(false);
    expect(isAlive(-pids.offline)).toBe(false); // the whole process group serverless ran in
    expect(processesMatching(`-port ${ports.dynamodb} `)).toEqual([]);
    expect(processesMatching(`--httpPort ${ports.http} `)).toEqual([]);
    for (const url of [stack.urls.http, stack.urls.lambda, stack.urls.dynamodb, stack.urls.secrets, stack.urls.wixApi]) {
      await expect(fetch(url, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
    }
  }, 30_000);
});

describe('startLocalStack when a part cannot start', () => {
  let blocker: Server;

  afterEach(async () => {
    await new Promise<void>((resolve) => blocker.close(() => resolve()));
  });

  it('stops the parts it had started and says which failed', async () => {
    const taken = await freePort();
    blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen(taken, '127.0.0.1', resolve));
    const dynamodbPort = await freePort();

    const start = startLocalStack({ ports: { http: 0, lambda: 0, secrets: taken, wix: 0, dynamodb: dynamodbPort }, env: {}, serviceDir: service.dir });

    await expect(start).rejects.toThrow(/EADDRINUSE/);
    expect(processesMatching(`-port ${dynamodbPort} `)).toEqual([]);
    await expect(fetch(`http://127.0.0.1:${dynamodbPort}`, { signal: AbortSignal.timeout(2000) })).rejects.toThrow();
  }, 60_000);
});
