/**
 * bench/grants: what the grant library costs on top of Wix.
 *
 * 1. Throughput: client-credentials calls per second through lib/wix against the simulator.
 * 2. Resilience: latency of the same calls when 10 % of Wix's answers are 5xx, next to a clean
 *    run in the same process, so the figure is a ratio and the machine's noise cancels out.
 */
import { createWixClient, type WixClient } from '../lib/wix';
import { startWixSimulator, wixFaults } from '../infra/local/wix-simulator';
import { percentile, report, runPool } from './support';

const CALLS = Number(process.env['BENCH_CALLS'] ?? 2000);
const CONCURRENCY = 16;
const SIMULATED_LATENCY_MS = 5;
const app = { appId: 'b0000000-0000-4000-8000-000000000001', appSecret: 'bench-secret' };

async function measure(client: WixClient, instanceIds: string[]): Promise<{ latencies: number[]; failures: number; seconds: number }> {
  const latencies: number[] = [];
  let failures = 0;
  const started = performance.now();
  await runPool(CALLS, CONCURRENCY, async (index) => {
    const t0 = performance.now();
    try {
      await client.createAccessToken(app, instanceIds[index % instanceIds.length] as string);
      latencies.push(performance.now() - t0);
    } catch {
      failures++;
    }
  });
  return { latencies, failures, seconds: (performance.now() - started) / 1000 };
}

async function main(): Promise<void> {
  const sim = await startWixSimulator({ apps: [app] });
  try {
    const instanceIds = Array.from({ length: 100 }, () => sim.install(app.appId));
    const client = createWixClient({ baseUrl: sim.url });
    await measure(client, instanceIds); // warm-up: JIT, sockets

    const raw = await measure(client, instanceIds);
    sim.setLatency(SIMULATED_LATENCY_MS);
    const clean = await measure(client, instanceIds);
    sim.resetCalls();
    sim.intercept(wixFaults.status(503, { path: '/oauth2/token', rate: 0.1 }));
    const faulty = await measure(client, instanceIds);
    const wixCalls = sim.calls.byPath['/oauth2/token'] ?? 0;

    const mean = (values: number[]) => values.reduce((sum, value) => sum + value, 0) / values.length;
    report('grants', {
      calls: CALLS,
      concurrency: CONCURRENCY,
      'calls/s, simulator without latency': raw.latencies.length / raw.seconds,
      'p50 ms, no latency': percentile(raw.latencies, 0.5),
      'p99 ms, no latency': percentile(raw.latencies, 0.99),
      [`p50 ms, ${SIMULATED_LATENCY_MS} ms latency, clean`]: percentile(clean.latencies, 0.5),
      [`p99 ms, ${SIMULATED_LATENCY_MS} ms latency, clean`]: percentile(clean.latencies, 0.99),
      'p50 ms, 10 % 5xx': percentile(faulty.latencies, 0.5),
      'p99 ms, 10 % 5xx': percentile(faulty.latencies, 0.99),
      'added mean latency ms at 10 % 5xx': mean(faulty.latencies) - mean(clean.latencies),
      'mean latency ratio (10 % 5xx / clean)': mean(faulty.latencies) / mean(clean.latencies),
      'succeeded at 10 % 5xx (of calls)': faulty.latencies.length,
      'Wix calls per success at 10 % 5xx': wixCalls / faulty.latencies.length,
    });
  } finally {
    await sim.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
