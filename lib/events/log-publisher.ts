import type { ServiceLogger } from '../runtime/logger';
import type { EventPublisher } from './index';

/** The local stack's publisher: prints each event it would publish, one JSON log line each. */
export function logPublisher(logger: Pick<ServiceLogger, 'info'>): EventPublisher {
  return {
    async publish(events) {
      for (const event of events) logger.info('lifecycle event (local: printed, not published)', { event });
    },
  };
}
