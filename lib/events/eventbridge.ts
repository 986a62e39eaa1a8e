import type { EventBridgeClient, PutEventsCommandOutput } from '@aws-sdk/client-eventbridge';

import type { EventPublisher } from './index';

/** The `source` of every event this service puts on the bus; rules match on it. */
export const EVENT_SOURCE = 'wix-token-service';

/**
 * Publishes to an EventBridge bus with PutEvents. The SDK client is imported and built on the
 * first publish: events are rare (installs, uninstalls, failures), and loading it at init would
 * cost every cold start for them.
 */
export function eventBridgePublisher(options: { busName: string; client?: Pick<EventBridgeClient, 'send'> }): EventPublisher {
  let sdk: Promise<{ client: Pick<EventBridgeClient, 'send'>; PutEventsCommand: typeof import('./eventbridge-sdk').PutEventsCommand }> | undefined;
  const load = () =>
    (sdk ??= import('./eventbridge-sdk').then((module) => ({
      client: options.client ?? new module.EventBridgeClient({ maxAttempts: 2 }),
      PutEventsCommand: module.PutEventsCommand,
    })));
  return {
    async publish(events) {
      const { client, PutEventsCommand } = await load();
      const output: PutEventsCommandOutput = await client.send(
        new PutEventsCommand({
          Entries: events.map((event) => ({
            EventBusName: options.busName,
            Source: EVENT_SOURCE,
            DetailType: event.type,
            Time: new Date(event.time),
            Detail: JSON.stringify(event),
          })),
        }),
      );
      if ((output.FailedEntryCount ?? 0) > 0) {
        const codes = [...new Set((output.Entries ?? []).map((entry) => entry.ErrorCode).filter(Boolean))];
        throw new Error(`EventBridge refused ${output.FailedEntryCount} of ${events.length} events (${codes.join(', ')})`);
      }
    },
  };
}
