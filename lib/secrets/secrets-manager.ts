/**
 * The part of the Secrets Manager SDK the service uses, imported only when the first secret is
 * read (`import('./secrets-manager')`, from ./app-secrets-provider and lib/runtime): esbuild then
 * evaluates the client's own modules (about 13 KiB minified; what it shares with the DynamoDB
 * client is loaded anyway) on that first read instead of at every cold start, where a request
 * refused before any secret is needed never uses them. A module of its own so that the bundle
 * keeps only these exports of the package, as a static import would.
 */
export { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
