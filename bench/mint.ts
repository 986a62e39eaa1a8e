/**
 * bench/mint: how fast `mint` answers from each tier, and how many Wix calls it saves.
 *
 * 1. p50 / p99 per tier against DynamoDB Local and the simulator: container memory (with the
 *    default status read on every warm call, read your uninstall, and with MINT_RECHECK_SECONDS
 *    = 300, no read), the store (a cold container with a good stored token), and Wix (a miss).
 *    The warm path's DynamoDB reads per mint are counted and priced.
 * 2. Wix calls per 1,000 mints spread over ten simulated containers and 20 instances, side by
 *    side with a baseline in which each container holds one @wix/sdk AppStrategy per instance
 *    (its best case: the SDK caches in the strategy object). Printed as a ratio.
 */
import { randomUUID } from 'node:crypto';

import { AppStrategy } from '@wix/sdk';

import { demoAppSecret } from '../infra/local/demo-app';
import { startWixSimulator } from '../infra/local/wix-simulator';
import { lambdaContext, mintContainer } from '../test/support/mint-fixture';
import { percentile, report, runPool, startBenchDynamoDb } from './support';

const SIMULATED_WIX_LATENCY_MS = 20;
const TIER_SAMPLES = 300;
const SPREAD_MINTS = 1000;
const CONTAINERS = 10;
const INSTANCES = 20;
/** DynamoDB on-demand, us-east-1, per million read request units (a strongly consistent read up to 4 KB is 1). */
const USD_PER_MILLION_READ_UNITS = 0.125;

async function timed(samples: number, task: (index: number) => Promise<unknown>): Promise<number[]> {
  const latencies: number[] = [];
  for (let index = 0; index < samples; index++) {
    const started = performance.now();
    await task(index);
    latencies.push(performance.now() - started);
  }
  return latencies;
}

/** A seeded sequence of (container, instance) picks, the same for both contenders. */
function picks(count: number): Array<[number, number]> {
  let seed = 7;
  const next = () => {
    seed = (seed * 1103515245 + 12345) % 2 ** 31;
    return seed / 2 ** 31;
  };
  return Array.from({ length: count }, () => [Math.floor(next() * CONTAINERS), Math.floor(next() * INSTANCES)]);
}

async function main(): Promise<void> {
  const dynamo = await startBenchDynamoDb();
  const { documentClient } = dynamo;
  const sim = await startWixSimulator({ latencyMs: SIMULATED_WIX_LATENCY_MS });
  const realFetch = globalThis.fetch;
  try {
    const tableName = await dynamo.createTable('bench-mint');
    const app = demoAppSecret(randomUUID());
    sim.addApp({ appId: app.appId, appSecret: app.appSecret });
    let reads = 0;
    const counting = {
      send: (command: { constructor: { name: string } }) => {
        if (command.constructor.name === 'GetCommand') reads += 1;
        return (documentClient.send as (c: unknown) => Promise<unknown>)(command);
      },
    } as unknown as typeof documentClient;
    const container = (overrides: Parameters<typeof mintContainer>[0]['overrides'] = {}) =>
      mintContainer({ documentClient: counting, tableName, wixUrl: sim.url, app, overrides });
    const install = () => sim.install(app.appId);

    // Tier: Wix (a miss: nothing stored, nothing cached).
    const missIds = Array.from({ length: TIER_SAMPLES }, install);
    const warmContainer = container();
    await warmContainer.handler({ instanceId: install() }, lambdaContext()); // JIT and sockets
    const wixTier = await timed(TIER_SAMPLES, (i) => warmContainer.handler({ instanceId: missIds[i] as string }, lambdaContext()));
    // Tier: store (a new container each time, the token stored by the misses above).
    const storeTier = await timed(TIER_SAMPLES, (i) => container().handler({ instanceId: missIds[i] as string }, lambdaContext()));
    // Tier: memory (the container that minted them), reading the status on every call (the default).
    reads = 0;
    const memoryTier = await timed(TIER_SAMPLES * 10, (i) => warmContainer.handler({ instanceId: missIds[i % TIER_SAMPLES] as string }, lambdaContext()));
    const readsPerWarmMint = reads / (TIER_SAMPLES * 10);
    // Tier: memory with a recheck window (MINT_RECHECK_SECONDS=300): no read at all between rechecks.
    const windowed = container({ recheckIntervalMs: 300_000 });
    for (const id of missIds) await windowed.handler({ instanceId: id }, lambdaContext());
    reads = 0;
    const windowTier = await timed(TIER_SAMPLES * 10, (i) => windowed.handler({ instanceId: missIds[i % TIER_SAMPLES] as string }, lambdaContext()));
    const readsPerWindowedMint = reads / (TIER_SAMPLES * 10);

    // Wix calls per 1,000 mints over ten containers.
    const sequence = picks(SPREAD_MINTS);
    const spreadIds = Array.from({ length: INSTANCES }, install);
    const ours = Array.from({ length: CONTAINERS }, container);
    sim.resetCalls();
    await runPool(SPREAD_MINTS, CONTAINERS, async (index) => {
      const [c, i] = sequence[index] as [number, number];
      await (ours[c] as ReturnType<typeof container>).handler({ instanceId: spreadIds[i] as string }, lambdaContext());
    });
    const ourWixCalls = sim.calls.total;

    // The SDK calls https://www.wixapis.com with the global fetch: point it at the simulator.
    globalThis.fetch = (input, init) => realFetch(String(input).replace('https://www.wixapis.com', sim.url), init);
    const baselineIds = Array.from({ length: INSTANCES }, install);
    const strategies = Array.from({ length: CONTAINERS }, () =>
      baselineIds.map((instanceId) => AppStrategy({ appId: app.appId, appSecret: app.appSecret, instanceId })),
    );
    sim.resetCalls();
    await runPool(SPREAD_MINTS, CONTAINERS, async (index) => {
      const [c, i] = sequence[index] as [number, number];
      // AppStrategy ignores the host; the type asks for one.
      await strategies[c]?.[i]?.getAuthHeaders(undefined);
    });
    const sdkWixCalls = sim.calls.total;

    report('mint', {
      'simulated Wix latency ms': SIMULATED_WIX_LATENCY_MS,
      'memory tier p50 ms (status read per call, the default)': percentile(memoryTier, 0.5),
      'memory tier p99 ms': percentile(memoryTier, 0.99),
      'DynamoDB reads per warm mint (default)': readsPerWarmMint,
      'USD per million warm mints for the status read (on-demand, 1 RRU each)': readsPerWarmMint * USD_PER_MILLION_READ_UNITS,
      'memory tier p50 ms (MINT_RECHECK_SECONDS=300)': percentile(windowTier, 0.5),
      'memory tier p99 ms (MINT_RECHECK_SECONDS=300)': percentile(windowTier, 0.99),
      'DynamoDB reads per warm mint (MINT_RECHECK_SECONDS=300)': readsPerWindowedMint,
      'store tier p50 ms (cold container, 1 GetItem)': percentile(storeTier, 0.5),
      'store tier p99 ms': percentile(storeTier, 0.99),
      'Wix tier p50 ms (miss)': percentile(wixTier, 0.5),
      'Wix tier p99 ms': percentile(wixTier, 0.99),
      [`Wix calls per ${SPREAD_MINTS} mints, ${CONTAINERS} containers, ${INSTANCES} instances: ours`]: ourWixCalls,
      [`Wix calls per ${SPREAD_MINTS} mints: @wix/sdk AppStrategy per container`]: sdkWixCalls,
      'Wix calls ratio (ours / AppStrategy)': ourWixCalls / sdkWixCalls,
    });
  } finally {
    globalThis.fetch = realFetch;
    await sim.stop();
    await dynamo.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
