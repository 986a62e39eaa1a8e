/**
 * The AWS credential chain of the deployed bundles: what the Lambda runtime gives a function, and
 * nothing else. infra/esbuild/plugins.js puts this module in place of
 * `@aws-sdk/credential-provider-node` (the SDK's default chain), in the bundles only; tests and
 * `npm start`, which run the TypeScript, keep the SDK's own chain.
 *
 * Why not the SDK's chain: it carries every way a machine can hold credentials (profiles and
 * their files, SSO and its token cache, `aws login`, credential processes, web identity, STS role
 * chaining, the EC2 metadata service), with the STS, SSO, SSO-OIDC and sign-in clients they call:
 * about 125 KiB of each 480 KiB bundle, which every cold start parses, and none of which a Lambda
 * function uses. Lambda puts the execution role's credentials in the environment
 * (AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN; Lambda's "Defined runtime
 * environment variables"), which is the first link of the SDK's chain too. Where a runtime
 * serves them from a container endpoint instead (AWS_CONTAINER_CREDENTIALS_FULL_URI or
 * _RELATIVE_URI), the SDK's own HTTP provider reads it, as the SDK's chain would. Without either
 * the first AWS call fails with a CredentialsProviderError that says so (bench/bundles measures
 * the difference; README, Deploying).
 */
import { fromEnv } from '@aws-sdk/credential-provider-env';
import { fromHttp } from '@aws-sdk/credential-provider-http';
import type { AwsCredentialIdentityProvider } from '@smithy/types';
import { doesIdentityRequireRefresh, isIdentityExpired, memoizeIdentityProvider } from '@smithy/core';
import { CredentialsProviderError } from '@smithy/core/config';

/** What the SDK's clients pass their `credentialDefaultProvider`. */
type ProviderInit = Parameters<typeof fromEnv>[0] & Parameters<typeof fromHttp>[0];

const CONTAINER_URIS = ['AWS_CONTAINER_CREDENTIALS_FULL_URI', 'AWS_CONTAINER_CREDENTIALS_RELATIVE_URI'] as const;

/** The same export, and the same call shape, as `@aws-sdk/credential-provider-node`'s. */
export function defaultProvider(init: ProviderInit = {}): AwsCredentialIdentityProvider {
  const fromEnvironment = fromEnv(init);
  let fromContainer: AwsCredentialIdentityProvider | undefined;
  return async () => {
    if (process.env['AWS_ACCESS_KEY_ID'] && process.env['AWS_SECRET_ACCESS_KEY']) return fromEnvironment();
    // Kept until five minutes before they expire: the SDK's clients memoize only credentials they
    // are given, not what a default provider answers (the SDK's own chain memoizes itself).
    if (CONTAINER_URIS.some((name) => process.env[name])) {
      fromContainer ??= memoizeIdentityProvider(fromHttp(init), isIdentityExpired, doesIdentityRequireRefresh) as AwsCredentialIdentityProvider;
      return fromContainer();
    }
    throw new CredentialsProviderError(
      'no AWS credentials: this bundle reads only what the Lambda runtime provides (AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, or AWS_CONTAINER_CREDENTIALS_FULL_URI or _RELATIVE_URI)',
      { logger: init.logger, tryNextLink: false },
    );
  };
}
