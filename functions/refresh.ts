import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { loadConfig } from '../lib/config';
import { createEmfMetrics, createRuntime, lazyHandler, METRICS_NAMESPACE, MetricUnit, systemClock, type ServiceLogger } from '../lib/runtime';
import { DEFAULT_LEASE_TTL_MS, type TokenStore } from '../lib/store';
import { toContractError } from '../lib/tokens/invoke-guard';
import { refreshNow, type RefreshDeps } from '../lib/tokens/refresh';
import { parseRefreshRequest } from '../lib/tokens/refresh-request';
import { summaryMetrics, type RefreshSummary } from '../lib/tokens/refresh-summary';
import { sweep } from '../lib/tokens/sweep';

/** The metrics the handler publishes (lib/runtime's EMF writer, or a fake). */
export interface CountMetrics {
  addDimension(name: string, value: string): unknown;
  addMetric(name: string, unit: typeof MetricUnit.Count, value: number): unknown;
  publishStoredMetrics(): unknown;
}

export interface RefreshHandlerDeps extends RefreshDeps {
  appIds: readonly string[];
  logger: ServiceLogger;
  metrics: CountMetrics;
  /** Wix calls in flight during a sweep. */
  concurrency: number;
  /** Counts instances by state for the `Instances` metric, on the first sweep of each hour; none when absent. */
  census?: Pick<TokenStore, 'countByStatus'>;
}

/** Sweeps run every 5 minutes: the one starting in the first 5 minutes of an hour takes the census. */
const CENSUS_MINUTES = 5;

export { METRICS_NAMESPACE };

/** Wix calls a sweep keeps in flight: about 100 instances a second at Wix's usual latency. */
const SWEEP_CONCURRENCY = 16;
/** Time kept back from the invoke's remaining time for the summary and the answer. */
const ANSWER_MARGIN_MS = 1000;
/** The sweep stops taking instances this long before the end, so the ones in flight finish: one lease. */
const IN_FLIGHT_RESERVE_MS = DEFAULT_LEASE_TTL_MS;

/** `refresh`: on its schedule, the refresh-ahead sweep; invoked with `{instanceId, appId?}`, that one instance now. */
export function createRefreshHandler(deps: RefreshHandlerDeps) {
  return async (event: unknown, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<RefreshSummary> => {
    try {
      const request = parseRefreshRequest(event, deps.appIds);
      const remainingMs = context.getRemainingTimeInMillis() - ANSWER_MARGIN_MS;
      const deadline = deps.now() + remainingMs;
      const summary =
        request.kind === 'sweep'
          ? await sweep(deps, { budgetMs: remainingMs - IN_FLIGHT_RESERVE_MS, deadline, concurrency: deps.concurrency })
          : await refreshNow(deps, request.key, { deadline });
      deps.metrics.addDimension('mode', summary.mode);
      for (const [name, count] of Object.entries(summaryMetrics(summary))) deps.metrics.addMetric(name, MetricUnit.Count, count);
      deps.metrics.publishStoredMetrics();
      deps.logger.info('refresh summary', { ...summary });
      if (request.kind === 'sweep' && new Date(deps.now()).getUTCMinutes() < CENSUS_MINUTES) await takeCensus(deps);
      return summary;
    } catch (error) {
      throw toContractError(error, deps.logger, { function: 'refresh' });
    }
  };
}

/**
 * Publishes how many instances each app has in each state (one count query per app and state on
 * the status index; infra/dynamodb-table.yml has its cost). A failure only costs this hour's figure.
 */
async function takeCensus(deps: RefreshHandlerDeps): Promise<void> {
  if (deps.census === undefined) return;
  try {
    for (const appId of deps.appIds) {
      const counts = await deps.census.countByStatus({ appId });
      for (const [state, count] of Object.entries(counts)) {
        deps.metrics.addDimension('appId', appId);
        deps.metrics.addDimension('state', state);
        deps.metrics.addMetric('Instances', MetricUnit.Count, count);
        deps.metrics.publishStoredMetrics();
      }
    }
  } catch (error) {
    deps.logger.warn('instance census not taken', { errorName: error instanceof Error ? error.name : typeof error });
  }
}

export const handler = lazyHandler(() => {
  const runtime = createRuntime(loadConfig(), 'refresh');
  return createRefreshHandler({
    ...runtime,
    appIds: runtime.config.appIds,
    metrics: createEmfMetrics({ namespace: METRICS_NAMESPACE, serviceName: 'refresh' }),
    concurrency: SWEEP_CONCURRENCY,
    census: runtime.store,
    now: systemClock.now,
    random: Math.random,
    newLeaseOwner: randomUUID,
  });
});
