import { randomUUID } from 'node:crypto';
import type { Context } from 'aws-lambda';
import { loadConfig } from '../lib/config';
import { createEmfMetrics, createRuntime, lazyHandler, METRICS_NAMESPACE, MetricUnit, systemClock, type ServiceLogger } from '../lib/runtime';
import { createElevation, type Elevation } from '../lib/tokens/elevation';
import { mintAccessToken, type MintDeps } from '../lib/tokens/mint';
import { toContractError } from '../lib/tokens/invoke-guard';
import { parseMintRequest } from '../lib/tokens/mint-request';
import { createRejectedTokens } from '../lib/tokens/rejected-tokens';
import { createTokenCache } from '../lib/tokens/token-cache';

/** What `mint` answers; never a refresh token. */
export interface MintResponse {
  accessToken: string;
  tokenType: 'Bearer';
  /** ISO 8601. */
  expiresAt: string;
  instanceId: string;
  appId: string;
}

export interface MintHandlerDeps extends MintDeps {
  appIds: readonly string[];
  logger: ServiceLogger;
  /** Turns a Wix frontend's token (`wixAccessToken`) into its instance. */
  elevation: Elevation;
  /**
   * One EMF line per answer (namespace WixTokenService): `Answered` by `source`, `Refused` by
   * `errorType`, for the dashboard (infra/dashboard.yml). None when absent.
   */
  metrics?: {
    addDimension(name: string, value: string): unknown;
    addMetric(name: string, unit: typeof MetricUnit.Count, value: number): unknown;
    publishStoredMetrics(): unknown;
  };
}

/** Time kept back from the invoke's remaining time for storing the result and answering. */
const ANSWER_MARGIN_MS = 1000;

/** `mint`: an access token for one app instance, for other Lambdas that invoke it directly. */
export function createMintHandler(deps: MintHandlerDeps) {
  return async (event: unknown, context: Pick<Context, 'getRemainingTimeInMillis'>): Promise<MintResponse> => {
    try {
      const parsed = parseMintRequest(event, deps.appIds);
      const deadline = deps.now() + context.getRemainingTimeInMillis() - ANSWER_MARGIN_MS;
      const elevated = 'wixAccessToken' in parsed;
      const request = elevated ? await deps.elevation.resolve(parsed, deadline) : parsed;
      const token = await mintAccessToken(deps, request, { deadline });
      deps.logger.info('minted', {
        appId: token.appId,
        instanceId: token.instanceId,
        source: token.source,
        ...(elevated ? { elevated } : {}),
        ...(request.rejectedTokenHash === undefined ? {} : { replacedRejected: true }),
      });
      count(deps, 'source', token.source, 'Answered');
      return {
        accessToken: token.accessToken,
        tokenType: 'Bearer',
        expiresAt: new Date(token.expiresAt).toISOString(),
        instanceId: token.instanceId,
        appId: token.appId,
      };
    } catch (error) {
      const refusal = toContractError(error, deps.logger, { function: 'mint' });
      count(deps, 'errorType', refusal.name, 'Refused');
      throw refusal;
    }
  };
}

function count(deps: Pick<MintHandlerDeps, 'metrics'>, dimension: string, value: string, metric: string): void {
  if (deps.metrics === undefined) return;
  deps.metrics.addDimension(dimension, value);
  deps.metrics.addMetric(metric, MetricUnit.Count, 1);
  deps.metrics.publishStoredMetrics();
}

export const handler = lazyHandler(() => {
  const runtime = createRuntime(loadConfig(), 'mint');
  const now = systemClock.now;
  return createMintHandler({
    ...runtime,
    appIds: runtime.config.appIds,
    elevation: createElevation({ wix: runtime.wix, appIds: runtime.config.appIds, now, logger: runtime.logger }),
    cache: createTokenCache(),
    rejected: createRejectedTokens(),
    metrics: createEmfMetrics({ namespace: METRICS_NAMESPACE, serviceName: 'mint' }),
    recheckIntervalMs: runtime.config.mintRecheckMs,
    now,
    random: Math.random,
    newLeaseOwner: randomUUID,
  });
});
