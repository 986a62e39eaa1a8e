import { GetSecretValueCommand as SdkGetSecretValueCommand, type SecretsManagerClient as SdkSecretsManagerClient } from '@aws-sdk/client-secrets-manager';

import type { SecretValueSource } from '../../lib/secrets/secrets-manager';

/**
 * The service's Secrets Manager client in front of an SDK client, so that a unit test can script
 * the answers with aws-sdk-client-mock (`mockClient(sdk).on(GetSecretValueCommand)`), which knows
 * only the SDK's classes. What goes over the wire is tested against the stand-in
 * (test/unit/lib/aws/json-client.test.ts, the integration tests).
 */
export function throughSdk(sdk: SdkSecretsManagerClient): SecretValueSource {
  return { send: (command) => sdk.send(new SdkGetSecretValueCommand(command.input)) };
}
