/**
 * Secrets Manager's GetSecretValue, the one operation the functions call, over lib/aws/json-client
 * (which says why not the SDK's client). The shapes are the SDK's: a client whose `send` takes a
 * command holding the operation's input, so a test can stand anything with a `send` in its place.
 */
import { AwsJsonClient, type AwsJsonClientConfig } from '../aws/json-client';

export interface GetSecretValueInput {
  SecretId: string;
  VersionStage?: string;
  VersionId?: string;
}

/** The fields of the answer the service reads. */
export interface GetSecretValueOutput {
  SecretString?: string;
  VersionId?: string;
  Name?: string;
  ARN?: string;
}

export class GetSecretValueCommand {
  readonly input: GetSecretValueInput;

  constructor(input: GetSecretValueInput) {
    this.input = input;
  }
}

/**
 * What the secrets provider needs of a client. `send` is a property, not a method, so that the
 * compiler checks its parameter strictly: the SDK's own client, which would fail on this command
 * at run time, is refused at compile time.
 */
export interface SecretValueSource {
  send: (command: GetSecretValueCommand, options?: { abortSignal?: AbortSignal }) => Promise<GetSecretValueOutput>;
}

export const SECRETS_MANAGER = { signingName: 'secretsmanager', targetPrefix: 'secretsmanager', endpointId: 'SECRETS_MANAGER' } as const;

export class SecretsManagerClient {
  private readonly client: AwsJsonClient;

  constructor(config: AwsJsonClientConfig = {}) {
    this.client = new AwsJsonClient(SECRETS_MANAGER, config);
  }

  send(command: GetSecretValueCommand, options?: { abortSignal?: AbortSignal }): Promise<GetSecretValueOutput> {
    return this.client.call('GetSecretValue', command.input, options);
  }

  destroy(): void {
    this.client.destroy();
  }
}
