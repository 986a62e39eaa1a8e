export { parseAppSecret } from './app-secret';
export type { AppCredentials } from './app-secret';
export { createAppSecretsProvider } from './app-secrets-provider';
export type { AppSecretsProvider, AppSecretsProviderDeps, GetCredentialsOptions } from './app-secrets-provider';
export { AppSecretMalformedError, SecretsUnavailableError, UnknownAppError } from './errors';
export { withAppCredentials } from './with-app-credentials';
