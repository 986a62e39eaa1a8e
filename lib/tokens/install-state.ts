import type { Clock } from '../runtime/clock';
import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

import { RefusalError } from '../errors';
import type { AppSecretsProvider } from '../secrets';

/**
 * The `state` of the install handshake: which app the install is for, a random nonce and when it
 * was issued, signed so the callback can trust all three without storing anything up front.
 *
 * ```
 * v2.<appId>.<nonce: 16 random bytes, base64url>.<issuedAt: epoch ms>.<binding: b | u>.<mac: base64url>
 * mac = HMAC-SHA256(key, "v2.<appId>.<nonce>.<issuedAt>.<binding>")
 * key = HKDF-SHA256(ikm = app secret, salt = "", info = STATE_KEY_INFO, 32 bytes)
 * ```
 *
 * `binding` says whether the state was issued to a top-level navigation (`b`, bound: its callback
 * must bring the browser cookie GET /install set, see install-binding.ts) or not (`u`: a framed
 * load, an old browser, a non-browser). It is under the MAC, so nobody can unbind a state. The
 * older `v1.<appId>.<nonce>.<issuedAt>.<mac>` (no binding) is still accepted as unbound, so states
 * in flight across the deploy that introduced v2 keep working; none has been issued since, and
 * each lives ten minutes, so the v1 branch can go in the release after.
 *
 * The key is derived, never the raw secret, so a MAC can tell nothing about the secret and the
 * secret's other uses (the Wix token calls) never share a key with this one. Everything before
 * the MAC is the state's id: what {@link InstallStateStore.consume} records (hashed) to make it
 * single use. The format is checked with one strict pattern before any decoding, and the MAC must
 * be in its canonical encoding, so no two strings verify as the same state.
 */

/** How long a state is accepted after it was issued. */
export const INSTALL_STATE_TTL_MS = 10 * 60_000;

/** How far in the future an issue time may lie (another container's clock). */
const FUTURE_SKEW_MS = 30_000;

const STATE_KEY_INFO = 'wix-token-service/install-state/v1';
const BINDING_KEY_INFO = 'wix-token-service/install-binding/v1';
const VERSION = 'v2';
const NONCE_BYTES = 16;
const STATE_PATTERN =
  /^(?:v2\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{22})\.([1-9][0-9]{0,14})\.([bu])|v1\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{22})\.([1-9][0-9]{0,14}))\.([A-Za-z0-9_-]{43})$/;

/** Why a state was refused; each has its own page. */
export const InstallStateFailure = {
  Missing: 'missing',
  /** Malformed, for an app we do not serve, or a MAC that does not verify. */
  Invalid: 'invalid',
  Expired: 'expired',
  /** Consumed already: the callback was replayed or reloaded. */
  Used: 'used',
  /** A bound state whose callback did not bring the cookie of the browser it was issued to. */
  OtherBrowser: 'other_browser',
} as const;
export type InstallStateFailure = (typeof InstallStateFailure)[keyof typeof InstallStateFailure];

/** The callback's state cannot be accepted (code `INSTALL_STATE_<REASON>`); never carries the state. */
export class InstallStateError extends RefusalError<InstallStateFailure> {
  /** A missing state is a malformed request (400); any other refusal is a forbidden one (403). */
  override readonly httpStatus: number;

  constructor(reason: InstallStateFailure) {
    super(`INSTALL_STATE_${reason.toUpperCase()}`, reason, STATE_ERROR_TEXT[reason]);
    this.httpStatus = reason === InstallStateFailure.Missing ? 400 : 403;
  }
}

const STATE_ERROR_TEXT: Record<InstallStateFailure, string> = {
  missing: 'The install state is missing',
  invalid: 'The install state is invalid',
  expired: 'The install state is expired',
  used: 'The install state is already used',
  other_browser: 'The install state was issued to another browser',
};

/** A state whose MAC verified. */
export interface VerifiedState {
  appId: string;
  /** What makes it single use (everything but the MAC); secret-ish: never log it. */
  id: string;
  issuedAt: number;
  /** Epoch ms after which it is refused. */
  expiresAt: number;
  /**
   * Issued to a top-level navigation: the callback must bring {@link browserTag} in the cookie
   * GET /install set. False for framed loads, old browsers and non-browsers (and v1 states).
   */
  bound: boolean;
  /** What the bound state's cookie must carry (keyed hash of the nonce); secret: never log it. */
  browserTag?: string;
}

/** A state issued to a top-level navigation, and what its browser's cookie carries. */
export interface BoundState {
  state: string;
  /** The cookie value: a keyed hash of the nonce, which the state alone does not give away. */
  browserTag: string;
}

export interface InstallStateDeps {
  secrets: Pick<AppSecretsProvider, 'get' | 'getPrevious'>;
  /** The apps this deployment serves (lower case). */
  appIds: readonly string[];
  now: Clock['now'];
}

/**
 * Issues a state for an install of `appId`, signed with a key derived from its current secret.
 * @throws {UnknownAppError} / {SecretsUnavailableError} / {AppSecretMalformedError} from the secrets provider
 */
export async function issueInstallState(deps: InstallStateDeps, appId: string, random: (size: number) => Buffer = randomBytes): Promise<string> {
  return (await issue(deps, appId, random, false)).state;
}

/**
 * Issues a bound state (for a top-level navigation) and the tag its browser's cookie must carry.
 * @throws as {@link issueInstallState}
 */
export async function issueBoundInstallState(deps: InstallStateDeps, appId: string, random: (size: number) => Buffer = randomBytes): Promise<BoundState> {
  const { state, appSecret, nonce } = await issue(deps, appId, random, true);
  return { state, browserTag: browserTagOf(appSecret, nonce) };
}

async function issue(deps: InstallStateDeps, appId: string, random: (size: number) => Buffer, bound: boolean) {
  const { appSecret } = await deps.secrets.get(appId);
  const nonce = random(NONCE_BYTES).toString('base64url');
  const signed = `${VERSION}.${appId}.${nonce}.${deps.now()}.${bound ? 'b' : 'u'}`;
  return { state: `${signed}.${mac(appSecret, signed).toString('base64url')}`, appSecret, nonce };
}

/**
 * Checks a state's form, app, MAC and age; does not consume it. A MAC made with the app's previous
 * secret (AWSPREVIOUS) is accepted too, so rotating the secret does not break installs in flight.
 *
 * @throws {InstallStateError} missing, invalid or expired
 * @throws {SecretsUnavailableError} / {AppSecretMalformedError} when the app's secret cannot be read
 */
export async function verifyInstallState(deps: InstallStateDeps, state: string | undefined): Promise<VerifiedState> {
  if (state === undefined || state === '') throw new InstallStateError(InstallStateFailure.Missing);
  const match = STATE_PATTERN.exec(state);
  if (match === null) throw new InstallStateError(InstallStateFailure.Invalid);
  const groups = match as unknown as Array<string | undefined>;
  const v2 = groups[1] !== undefined;
  const [appId, nonce, issuedAtText] = (v2 ? groups.slice(1, 4) : groups.slice(5, 8)) as [string, string, string];
  const bound = v2 && groups[4] === 'b';
  const macText = groups[8] as string;
  if (!deps.appIds.includes(appId)) throw new InstallStateError(InstallStateFailure.Invalid);

  const given = Buffer.from(macText, 'base64url');
  // base64url has spare bits in its last character: insist on the one canonical spelling.
  if (given.toString('base64url') !== macText) throw new InstallStateError(InstallStateFailure.Invalid);
  const signed = state.slice(0, state.length - macText.length - 1);

  // The secret that signed the state also keys its browser tag.
  let signer = (await deps.secrets.get(appId)).appSecret;
  if (!macMatches(signer, signed, given)) {
    const previous = await deps.secrets.getPrevious(appId);
    if (previous === undefined || !macMatches(previous.appSecret, signed, given)) {
      throw new InstallStateError(InstallStateFailure.Invalid);
    }
    signer = previous.appSecret;
  }

  const issuedAt = Number(issuedAtText);
  const now = deps.now();
  if (issuedAt > now + FUTURE_SKEW_MS) throw new InstallStateError(InstallStateFailure.Invalid);
  const expiresAt = issuedAt + INSTALL_STATE_TTL_MS;
  if (now >= expiresAt) throw new InstallStateError(InstallStateFailure.Expired);
  return { appId, id: signed, issuedAt, expiresAt, bound, ...(bound ? { browserTag: browserTagOf(signer, nonce) } : {}) };
}

/**
 * The cookie value of a bound state: HMAC of its nonce under a key of its own derived from the app
 * secret. Keyed, because the nonce is in the state: a plain hash of it could be computed (and sent
 * as a cookie) by whoever holds a leaked callback URL.
 */
function browserTagOf(appSecret: string, nonce: string): string {
  const key = Buffer.from(hkdfSync('sha256', appSecret, Buffer.alloc(0), BINDING_KEY_INFO, 32));
  return createHmac('sha256', key).update(nonce, 'utf8').digest('base64url');
}

/** The state key of an app secret; exported for tests that forge states. */
export function installStateKey(appSecret: string): Buffer {
  return Buffer.from(hkdfSync('sha256', appSecret, Buffer.alloc(0), STATE_KEY_INFO, 32));
}

function mac(appSecret: string, signed: string): Buffer {
  return createHmac('sha256', installStateKey(appSecret)).update(signed, 'utf8').digest();
}

function macMatches(appSecret: string, signed: string, given: Buffer): boolean {
  const expected = mac(appSecret, signed);
  return given.length === expected.length && timingSafeEqual(given, expected);
}
