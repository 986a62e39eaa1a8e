import type { Clock } from '../runtime/clock';
import { createPublicKey, type KeyObject } from 'node:crypto';

import type { JWTPayload } from 'jose';

import { RefusalError } from '../errors';
import { UnknownAppError, type AppCredentials } from '../secrets';
import { InvalidRequestError } from './errors';

/**
 * Verifying Wix's webhook JWTs and unpacking their envelope (wix-oauth.md §6).
 *
 * Which key: Wix signs each app's webhooks with that app's key, and the app id sits three layers
 * deep inside the payload. Rather than read untrusted claims to choose a key, the verifier tries
 * the key of every app this deployment serves (usually one; an RS256 check costs well under a
 * millisecond), and the key that verifies says which app sent it. Only RS256 is accepted, so a
 * token with `alg: none`, or HS256 with the public key used as an HMAC secret, is refused before
 * any key is used.
 */

/** jose, loaded on the first verification (./jose says why). */
type Jose = typeof import('./jose');

/** Why a webhook JWT was refused (answered 401). */
export const WebhookRefusal = {
  AlgorithmNotAllowed: 'algorithm_not_allowed',
  BadSignature: 'bad_signature',
  Expired: 'expired',
  IssuedInTheFuture: 'issued_in_the_future',
  /** `iat` older than {@link MAX_WEBHOOK_AGE_SECONDS}: beyond Wix's last retry, so a replay. */
  TooOld: 'too_old',
  Unsupported: 'unsupported',
} as const;
export type WebhookRefusal = (typeof WebhookRefusal)[keyof typeof WebhookRefusal];

/** The webhook's JWT did not verify (code `WEBHOOK_UNVERIFIED`); `reason` says why, and nothing else is kept. */
export class WebhookVerificationError extends RefusalError<WebhookRefusal> {
  override readonly httpStatus = 401;
  /** jose's error code, when jose refused it. */
  readonly joseCode: string | undefined;

  constructor(reason: WebhookRefusal, joseCode?: string) {
    super('WEBHOOK_UNVERIFIED', reason, `The webhook JWT was refused: ${reason.replace(/_/g, ' ')}`);
    this.joseCode = joseCode;
  }

  override logFields(): Record<string, unknown> {
    return this.joseCode === undefined ? {} : { joseCode: this.joseCode };
  }
}

/** A verified webhook: the app whose key verified it and the JWT's claims. */
export interface VerifiedWebhook {
  appId: string;
  claims: JWTPayload;
  /** The JWT's `iat`, in epoch ms: the event's time on Wix's clock. */
  issuedAt: number;
}

export type WebhookVerifier = (jwt: string) => Promise<VerifiedWebhook>;

/**
 * Where the verifier finds an app's webhook public key: the app's secret (an AppSecretsProvider),
 * or the deployment's configuration ({@link configuredWebhookKeys}); only `webhookPublicKey` is read.
 */
export interface WebhookKeySource {
  get(appId: string): Promise<Pick<AppCredentials, 'webhookPublicKey'>>;
}

/** The keys of WIX_WEBHOOK_PUBLIC_KEYS (lib/config), by app id: no secret is read. */
export function configuredWebhookKeys(keys: Readonly<Record<string, string>>): WebhookKeySource {
  return {
    async get(appId) {
      const webhookPublicKey = keys[appId];
      if (webhookPublicKey === undefined) throw new UnknownAppError(appId);
      return { webhookPublicKey };
    },
  };
}

export interface WebhookVerifierDeps {
  secrets: WebhookKeySource;
  /** The apps this deployment serves; their keys are tried in this order. */
  appIds: readonly string[];
  now: Clock['now'];
}

/** Leeway for `exp` (and how far `iat` may lie ahead): clocks differ a little. */
const CLOCK_TOLERANCE_SECONDS = 60;
/** An `iat` further ahead than this could pin an instance's event order in the future: refuse it. */
const MAX_FUTURE_IAT_MS = 5 * 60_000;
/**
 * The oldest `iat` accepted: 48 hours. Wix retries a failed delivery 12 times, at +1 min, +10 min,
 * +1 h, +2 h x3, +4 h x3, +8 h x2 and +12 h (wix-oauth.md §6), so its last attempt comes about
 * 47 h 11 min after the first; 48 h keeps every genuine retry (with margin for its own delays)
 * while a captured webhook cannot be replayed weeks later against a record created since.
 */
export const MAX_WEBHOOK_AGE_SECONDS = 48 * 60 * 60;

/**
 * Builds a verifier that keeps each imported public key for the container's life (keyed by the
 * PEM, so a rotated key is imported once more).
 *
 * The key is imported with node:crypto rather than jose's `importSPKI`, which takes only the SPKI
 * form (`BEGIN PUBLIC KEY`): lib/secrets also accepts PKCS#1 (`BEGIN RSA PUBLIC KEY`), and such a
 * key would otherwise fail every webhook. A key that cannot be imported is our configuration's
 * fault and is thrown as it is, never mistaken for a refusal of the request.
 *
 * The verifier throws {@link WebhookVerificationError} for a token that does not verify,
 * {@link InvalidRequestError} for one that is not a JWT or lacks `iat`/`exp`/`data`, and the secrets
 * provider's error when no served app's key verified it and some key could not be read.
 */
export function createWebhookVerifier(deps: WebhookVerifierDeps): WebhookVerifier {
  let jose: Promise<Jose> | undefined;
  const keys = new Map<string, KeyObject>();
  const keyFor = (pem: string): KeyObject => {
    let key = keys.get(pem);
    if (key === undefined) {
      key = createPublicKey(pem);
      keys.set(pem, key);
    }
    return key;
  };

  return async (jwt) => {
    const [{ errors, jwtVerify }, credentials] = await Promise.all([
      (jose ??= import('./jose')),
      Promise.allSettled(deps.appIds.map((appId) => deps.secrets.get(appId))),
    ]);
    let unreadable: unknown;
    for (const [index, result] of credentials.entries()) {
      if (result.status === 'rejected') {
        unreadable ??= result.reason;
        continue;
      }
      const key = keyFor(result.value.webhookPublicKey);
      let claims: JWTPayload;
      try {
        ({ payload: claims } = await jwtVerify(jwt, key, {
          algorithms: ['RS256'],
          // exp is required: a token without one would never expire (Wix's own carry it).
          requiredClaims: ['iat', 'exp', 'data'],
          clockTolerance: CLOCK_TOLERANCE_SECONDS,
          currentDate: new Date(deps.now()),
        }));
      } catch (error) {
        if (error instanceof errors.JWSSignatureVerificationFailed) continue;
        throw refusal(error, errors);
      }
      // jose checked that iat is a number. Before 1970 is no time Wix signed an event at, and a
      // large negative one would also be beyond what DynamoDB stores (the write would fail as a 500).
      if (!((claims.iat as number) >= 0)) throw new InvalidRequestError('iat', 'is missing or invalid');
      const issuedAt = Math.floor((claims.iat as number) * 1000);
      if (issuedAt > deps.now() + MAX_FUTURE_IAT_MS) throw new WebhookVerificationError(WebhookRefusal.IssuedInTheFuture);
      // Checked here rather than by jose's maxTokenAge, which would judge a future iat before the check above.
      if (issuedAt < deps.now() - MAX_WEBHOOK_AGE_SECONDS * 1000) throw new WebhookVerificationError(WebhookRefusal.TooOld);
      return { appId: deps.appIds[index] as string, claims, issuedAt };
    }
    if (unreadable !== undefined) throw unreadable;
    throw new WebhookVerificationError(WebhookRefusal.BadSignature, errors.JWSSignatureVerificationFailed.code);
  };
}

/** Turns jose's verdict into ours; jose's messages and payloads are dropped (they may quote the token). */
function refusal(error: unknown, errors: Jose['errors']): Error {
  if (error instanceof errors.JOSEAlgNotAllowed) return new WebhookVerificationError(WebhookRefusal.AlgorithmNotAllowed, error.code);
  if (error instanceof errors.JWTExpired) return new WebhookVerificationError(WebhookRefusal.Expired, error.code);
  if (error instanceof errors.JOSENotSupported) return new WebhookVerificationError(WebhookRefusal.Unsupported, error.code);
  if (error instanceof errors.JWTClaimValidationFailed) {
    return new InvalidRequestError(error.claim === 'iat' || error.claim === 'exp' || error.claim === 'data' ? error.claim : 'claims', 'is missing or invalid');
  }
  if (error instanceof errors.JWSInvalid || error instanceof errors.JWTInvalid) return new InvalidRequestError('body', 'is not a signed JWT');
  return error instanceof Error ? error : new Error(String(error));
}

/** The envelope inside `claims.data`; its `data` (the event payload) is a JSON string again. */
export interface WebhookEnvelope {
  eventType: string;
  instanceId?: unknown;
  /** The payload as sent, still unparsed: see {@link parseEventPayload}. */
  data?: unknown;
}

/**
 * Unpacks `claims.data` (a JSON string) into the envelope. The payload is left as it is, so that
 * an event type this service does not act on is acknowledged whatever its payload looks like
 * (a refusal would only make Wix redeliver it a dozen times).
 *
 * @throws {InvalidRequestError} naming the layer that is malformed
 * @see https://dev.wix.com/docs/rest/app-management/app-instance/app-instance-installed
 */
export function unpackEnvelope(claims: JWTPayload): WebhookEnvelope {
  const envelope = parseJsonObject(claims['data'], 'data');
  const eventType = envelope['eventType'];
  if (typeof eventType !== 'string' || eventType === '') throw new InvalidRequestError('data.eventType', 'is missing');
  return { eventType, instanceId: envelope['instanceId'], data: envelope['data'] };
}

/**
 * Parses the envelope's `data` (a JSON string) into the event payload; {} when there is none.
 * Only the shape is checked here; each event type checks its own fields.
 *
 * @throws {InvalidRequestError} `data.data` is not a JSON object string
 */
export function parseEventPayload(envelope: WebhookEnvelope): Record<string, unknown> {
  return envelope.data === undefined || envelope.data === null ? {} : parseJsonObject(envelope.data, 'data.data');
}

function parseJsonObject(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'string') throw new InvalidRequestError(field, 'must be a JSON string');
  let parsed: unknown;
  try {
    parsed = JSON.parse(value);
  } catch {
    throw new InvalidRequestError(field, 'is not valid JSON');
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw new InvalidRequestError(field, 'is not a JSON object');
  return parsed as Record<string, unknown>;
}
