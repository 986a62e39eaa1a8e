/**
 * EventBridge's PutEvents, the one operation the functions call, over lib/aws/json-client (which
 * says why not the SDK's client), in the SDK's shapes: a client whose `send` takes a command
 * holding the input.
 */
import { AwsJsonClient, type AwsJsonClientConfig } from '../aws/json-client';

export interface PutEventsRequestEntry {
  EventBusName?: string;
  Source?: string;
  DetailType?: string;
  Detail?: string;
  /** Sent as epoch seconds, as the protocol writes a timestamp. */
  Time?: Date;
}

export interface PutEventsCommandOutput {
  FailedEntryCount?: number;
  Entries?: Array<{ EventId?: string; ErrorCode?: string; ErrorMessage?: string }>;
}

export class PutEventsCommand {
  readonly input: { Entries: PutEventsRequestEntry[] };

  constructor(input: { Entries: PutEventsRequestEntry[] }) {
    this.input = input;
  }
}

/** What the publisher needs of a client; `send` a property so that its parameter is checked strictly (not the SDK's client). */
export interface EventSender {
  send: (command: PutEventsCommand, options?: { abortSignal?: AbortSignal }) => Promise<PutEventsCommandOutput>;
}

export const EVENTBRIDGE = { signingName: 'events', targetPrefix: 'AWSEvents', endpointId: 'EVENTBRIDGE', fipsInGovCloudIsStandard: true } as const;

export class EventBridgeClient {
  private readonly client: AwsJsonClient;

  constructor(config: AwsJsonClientConfig = {}) {
    this.client = new AwsJsonClient(EVENTBRIDGE, config);
  }

  send(command: PutEventsCommand, options?: { abortSignal?: AbortSignal }): Promise<PutEventsCommandOutput> {
    const Entries = command.input.Entries.map(({ Time, ...entry }) => (Time === undefined ? entry : { ...entry, Time: Time.getTime() / 1000 }));
    return this.client.call('PutEvents', { Entries }, options);
  }

  destroy(): void {
    this.client.destroy();
  }
}
