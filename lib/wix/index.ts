export { createWixClient, DEFAULT_WIX_API_URL } from './client';
export type { RetryEvent, WixClient, WixClientOptions } from './client';
/** Every Wix error class, its kinds and operations (the whole of ./errors). */
export * from './errors';
export { DEFAULT_EXPIRES_IN_SECONDS } from './responses';
export type { AccessToken, AppCredentials, CallOptions, FetchLike, LegacyTokens, TokenInfo } from './types';
