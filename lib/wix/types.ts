/** The fetch the client uses; the global one by default, a wrapped one in tests and benchmarks. */
export type FetchLike = (input: string, init: RequestInit) => Promise<Response>;

/** The app's credentials as Wix knows them (`client_id` is the app id). */
export interface AppCredentials {
  appId: string;
  appSecret: string;
}

/** Per-call limits. */
export interface CallOptions {
  /**
   * Epoch ms after which no attempt starts and any attempt in flight is aborted: typically
   * `Date.now() + context.getRemainingTimeInMillis()` minus a margin for storing the result.
   */
  deadline?: number;
  /** Aborts the whole call, retries included. */
  signal?: AbortSignal;
}

/** A legacy grant's result (authorization_code or refresh_token on /oauth/access). */
export interface LegacyTokens {
  accessToken: string;
  refreshToken: string;
  /** Epoch ms; from `expires_in` when Wix sends it, else five minutes (legacy tokens' documented life). */
  expiresAt: number;
}

/** A client-credentials access token (/oauth2/token). */
export interface AccessToken {
  accessToken: string;
  tokenType: 'Bearer';
  /** Epoch ms, from `expires_in`. */
  expiresAt: number;
}

/** What Token Info says about an access token, coerced to proper types. */
export interface TokenInfo {
  active: boolean;
  subjectType?: string;
  subjectId?: string;
  /** Epoch ms. */
  expiresAt?: number;
  /** Epoch ms. */
  issuedAt?: number;
  clientId?: string;
  siteId?: string;
  instanceId?: string;
}
