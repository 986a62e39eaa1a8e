import { loadConfig } from '../lib/config';
import { answerStatus, parseStatusRequest, type InstanceStatusAnswer, type StatePageAnswer, type StatusStore } from '../lib/ops/status';
import { createRuntime, lazyHandler, type ServiceLogger } from '../lib/runtime';
import { toContractError } from '../lib/tokens/invoke-guard';

export interface StatusHandlerDeps {
  store: StatusStore;
  appIds: readonly string[];
  logger: ServiceLogger;
}

/**
 * `status` (direct invoke only): one instance's state, or a page of the instances in one state
 * with counts by state; never a token (lib/ops/status). Its role reads the table and the status
 * index, and nothing that could decrypt a token.
 */
export function createStatusHandler(deps: StatusHandlerDeps) {
  return async (event: unknown): Promise<InstanceStatusAnswer | StatePageAnswer> => {
    try {
      const request = parseStatusRequest(event, deps.appIds);
      const answer = await answerStatus(deps.store, request);
      deps.logger.info('status answered', request.kind === 'instance' ? { ...request.key } : { state: request.state, appId: request.appId });
      return answer;
    } catch (error) {
      throw toContractError(error, deps.logger, { function: 'status' });
    }
  };
}

export const handler = lazyHandler(() => {
  const runtime = createRuntime(loadConfig(), 'status');
  return createStatusHandler({ store: runtime.store, appIds: runtime.config.appIds, logger: runtime.logger });
});
