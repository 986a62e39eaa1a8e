/**
 * bench/load (issue 8): a bounded load run on the local stack of `npm start`, loopback only.
 *
 * Starts the stack (infra/local/stack.ts: DynamoDB Local, the Secrets Manager stand-in, the Wix
 * simulator and serverless-offline, on free ports, from a private copy of the service), then:
 *
 * 1. installs: LOAD_INSTALLS legacy installs through the HTTP API, LOAD_INSTALL_CONCURRENCY at a
 *    time: App URL, the simulator's installer, the callback, until the close-window redirect;
 * 2. mints: LOAD_MINTS invokes of `mint` through the Lambda endpoint, LOAD_MINT_CONCURRENCY at a
 *    time, spread over the installed instances (each instance is asked for many times, from
 *    several of serverless-offline's workers at once);
 *
 * counting answers, errors by type and Wix calls by grant, within LOAD_CAP_MS for both phases
 * together (requests not started by then are counted as not run). Every token the simulator
 * issued is then searched for in serverless-offline's output (the functions' logs).
 * Prints its figures and writes bench/results/load.json. `tsx bench/load.ts`.
 */
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';

import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../infra/local/dynamodb-local';
import { enableIssuedValues, issuedValues } from '../infra/local/issued-values';
import { startLocalStack, type LocalStack } from '../infra/local/stack';
import { copyService, type ServiceCopy } from '../test/support/service-copy';
import { percentile, report, runPool } from './support';

const INSTALLS = numberFrom('LOAD_INSTALLS', 200);
const MINTS = numberFrom('LOAD_MINTS', 2000);
const INSTALL_CONCURRENCY = numberFrom('LOAD_INSTALL_CONCURRENCY', 10);
const MINT_CONCURRENCY = numberFrom('LOAD_MINT_CONCURRENCY', 20);
const CAP_MS = numberFrom('LOAD_CAP_MS', 60_000);
const REQUEST_TIMEOUT_MS = 20_000;

function numberFrom(name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a non-negative integer`);
  return value;
}

/** Only loopback: refuse any other host before a request leaves. */
function loopback(url: string): URL {
  const parsed = new URL(url);
  if (parsed.hostname === 'localhost') parsed.hostname = '127.0.0.1';
  if (parsed.hostname !== '127.0.0.1' && parsed.hostname !== '[::1]') throw new Error(`not a loopback URL: ${parsed.origin}`);
  return parsed;
}

async function get(url: string): Promise<Response> {
  return fetch(loopback(url), { redirect: 'manual', signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) });
}

function count(counts: Record<string, number>, key: string): void {
  counts[key] = (counts[key] ?? 0) + 1;
}

/** The name of a failed invoke: real Lambda sets errorType; serverless-offline puts it first in `trace`. */
function errorTypeOf(body: Record<string, unknown>): string {
  const trace = Array.isArray(body['trace']) ? String(body['trace'][0] ?? '') : '';
  const fromTrace = /^([A-Za-z]+):/.exec(trace)?.[1];
  const errorType = typeof body['errorType'] === 'string' ? body['errorType'] : undefined;
  return errorType !== undefined && errorType !== 'Error' ? errorType : (fromTrace ?? errorType ?? 'unknown');
}

async function main(): Promise<void> {
  enableIssuedValues();
  let service: ServiceCopy | undefined;
  let stack: LocalStack | undefined;
  let output = '';
  const lambdaClient = () => new LambdaClient({ endpoint: stack?.urls.lambda, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 1 });
  let lambda: LambdaClient | undefined;
  try {
    const startedAt = performance.now();
    service = await copyService('load');
    stack = await startLocalStack({
      ports: { http: 0, lambda: 0, secrets: 0, wix: 0, dynamodb: 0 },
      env: {},
      serviceDir: service.dir,
      onOutput: (text) => {
        output += text;
      },
    });
    const startMs = performance.now() - startedAt;
    const sim = stack.simulator;
    if (sim === undefined) throw new Error('the stack started without the Wix simulator');
    loopback(stack.urls.http);
    loopback(stack.urls.lambda);
    loopback(stack.urls.wixApi);
    lambda = lambdaClient();
    const capAt = Date.now() + CAP_MS;

    // 1. Installs through the HTTP API.
    sim.resetCalls();
    const installAnswers: Record<string, number> = {};
    const installMs: number[] = [];
    const instances: string[] = [];
    let installsNotRun = 0;
    const installStarted = performance.now();
    await runPool(INSTALLS, INSTALL_CONCURRENCY, async () => {
      if (Date.now() >= capAt) {
        installsNotRun += 1;
        return;
      }
      const started = performance.now();
      try {
        const toInstaller = await get(`${stack?.urls.http}/install`);
        const toCallback = toInstaller.status === 302 ? await get(toInstaller.headers.get('location') as string) : undefined;
        const callback = toCallback?.status === 302 ? toCallback.headers.get('location') : null;
        if (callback === null) {
          count(installAnswers, `failed before the callback (${toInstaller.status}/${toCallback?.status})`);
          return;
        }
        const done = await get(callback);
        const closeWindow = done.headers.get('location') ?? '';
        if (done.status === 302 && closeWindow.includes('/installer/close-window?access_token=')) {
          count(installAnswers, 'completed');
          instances.push(new URL(callback).searchParams.get('instanceId') as string);
        } else {
          count(installAnswers, `callback ${done.status}`);
        }
        installMs.push(performance.now() - started);
      } catch (error) {
        count(installAnswers, `error ${(error as Error).name}`);
      }
    });
    const installPhaseMs = performance.now() - installStarted;
    const installWixCalls = { ...sim.calls.byGrant, tokenInfo: sim.calls.byPath['/oauth2/token-info'] ?? 0 };

    // 2. Mints through the Lambda invoke endpoint.
    sim.resetCalls();
    const mintAnswers: Record<string, number> = {};
    const mintMs: number[] = [];
    let mintsNotRun = 0;
    const mintStarted = performance.now();
    if (instances.length > 0) {
      await runPool(MINTS, MINT_CONCURRENCY, async (index) => {
        if (Date.now() >= capAt) {
          mintsNotRun += 1;
          return;
        }
        const instanceId = instances[index % instances.length] as string;
        const started = performance.now();
        try {
          const response = await (lambda as LambdaClient).send(
            new InvokeCommand({ FunctionName: stack?.functionNames.mint, Payload: new TextEncoder().encode(JSON.stringify({ instanceId })) }),
            { abortSignal: AbortSignal.timeout(REQUEST_TIMEOUT_MS) },
          );
          const body = JSON.parse(new TextDecoder().decode(response.Payload)) as Record<string, unknown>;
          if (response.FunctionError === undefined && typeof body['accessToken'] === 'string') count(mintAnswers, 'ok');
          else count(mintAnswers, errorTypeOf(body));
          mintMs.push(performance.now() - started);
        } catch (error) {
          count(mintAnswers, `invoke failed (${(error as Error).name})`);
        }
      });
    } else {
      mintsNotRun = MINTS;
    }
    const mintPhaseMs = performance.now() - mintStarted;
    const mintWixCalls = { ...sim.calls.byGrant };

    // Every token, code and state issued during the run, searched for in the functions' logs.
    let leaks = 0;
    for (const value of issuedValues().keys()) if (output.includes(value)) leaks += 1;

    const mintsOk = mintAnswers['ok'] ?? 0;
    const clientCredentialsCalls = mintWixCalls['client_credentials'] ?? 0;
    report('load', {
      'stack start (s)': startMs / 1000,
      'installs asked / completed': `${INSTALLS} / ${installAnswers['completed'] ?? 0}`,
      'install answers': installAnswers,
      'installs not run (cap)': installsNotRun,
      'install p50 / p99 (ms)': `${percentile(installMs, 0.5).toFixed(0)} / ${percentile(installMs, 0.99).toFixed(0)}`,
      'installs per second': ((installAnswers['completed'] ?? 0) / installPhaseMs) * 1000,
      'Wix calls during installs': installWixCalls,
      'mints asked / ok': `${MINTS} / ${mintsOk}`,
      'mint answers': mintAnswers,
      'mint errors': MINTS - mintsNotRun - mintsOk,
      'mints not run (cap)': mintsNotRun,
      'mint p50 / p99 (ms)': `${percentile(mintMs, 0.5).toFixed(1)} / ${percentile(mintMs, 0.99).toFixed(1)}`,
      'mints per second': (mintsOk / mintPhaseMs) * 1000,
      'Wix calls during mints': mintWixCalls,
      'Wix calls per instance minted': instances.length === 0 ? 0 : clientCredentialsCalls / instances.length,
      'issued values found in the functions logs': leaks,
      'load phases (s), cap': `${((installPhaseMs + mintPhaseMs) / 1000).toFixed(1)}, ${CAP_MS / 1000}`,
    });
    if (leaks > 0) process.exitCode = 1;
  } finally {
    lambda?.destroy();
    await stack?.stop();
    await service?.remove();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
