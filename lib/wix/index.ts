export { createWixClient, DEFAULT_WIX_API_URL } from './client';
export type { RetryEvent, WixClient, WixClientOptions } from './client';
export {
  WixBadRequestError,
  WixCredentialsRejectedError,
  WixErrorKind,
  WixGrantInvalidError,
  WixMalformedResponseError,
  WixOAuthError,
  WixResponseTooLargeError,
  WixUnavailableError,
} from './errors';
export type { WixOperation } from './errors';
export { DEFAULT_EXPIRES_IN_SECONDS } from './responses';
export type { AccessToken, AppCredentials, CallOptions, FetchLike, LegacyTokens, TokenInfo } from './types';
