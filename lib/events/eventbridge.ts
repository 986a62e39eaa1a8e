import type { AwsJsonClientConfig } from '../aws/json-client';

import { EventBridgeClient, PutEventsCommand, type EventSender, type PutEventsCommandOutput } from './eventbridge-client';

import type { EventPublisher } from './index';

/** The `source` of every event this service puts on the bus; rules match on it. */
export const EVENT_SOURCE = 'wix-token-service';

/**
 * Publishes to an EventBridge bus with PutEvents. The client is built on the first publish:
 * events are rare (installs, uninstalls, failures), and a function that publishes none pays
 * nothing for it. The sink's signal aborts the call (and its retry) when the sink stops waiting.
 */
export function eventBridgePublisher(options: { busName: string; client?: EventSender; clientConfig?: AwsJsonClientConfig }): EventPublisher {
  let client: EventSender | undefined;
  return {
    async publish(events, { signal } = {}) {
      client ??= options.client ?? new EventBridgeClient({ maxAttempts: 2, ...options.clientConfig });
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
        signal === undefined ? {} : { abortSignal: signal },
      );
      if ((output.FailedEntryCount ?? 0) > 0) {
        const codes = [...new Set((output.Entries ?? []).map((entry) => entry.ErrorCode).filter(Boolean))];
        throw new Error(`EventBridge refused ${output.FailedEntryCount} of ${events.length} events (${codes.join(', ')})`);
      }
    },
  };
}
