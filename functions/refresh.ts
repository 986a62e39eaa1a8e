import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { loadConfig } from '../lib/config';
import { createEmfMetrics, createRuntime, lazyHandler, MetricUnit } from '../lib/runtime';
import { DEFAULT_LEASE_TTL_MS } from '../lib/store';
import { toContractError, type GuardLogger } from '../lib/tokens/invoke-guard';
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
  logger: RefreshDeps['logger'] & GuardLogger;
  metrics: CountMetrics;
  /** Wix calls in flight during a sweep. */
  concurrency: number;
}

/** CloudWatch namespace of the service's metrics. */
export const METRICS_NAMESPACE = 'WixTokenService';

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
      return summary;
    } catch (error) {
      throw toContractError(error, deps.logger, { function: 'refresh' });
    }
  };
}

export const handler = lazyHandler(() => {
  const runtime = createRuntime(loadConfig(), 'refresh');
  return createRefreshHandler({
    ...runtime,
    appIds: runtime.config.appIds,
    metrics: createEmfMetrics({ namespace: METRICS_NAMESPACE, serviceName: 'refresh' }),
    concurrency: SWEEP_CONCURRENCY,
    now: Date.now,
    random: Math.random,
    newLeaseOwner: randomUUID,
  });
});
