import { createHmac, hkdfSync, randomBytes, timingSafeEqual } from 'node:crypto';

import { ServiceError } from '../errors';
import type { AppSecretsProvider } from '../secrets';

/**
 * The `state` of the install handshake: which app the install is for, a random nonce and when it
 * was issued, signed so the callback can trust all three without storing anything up front.
 *
 * ```
 * v1.<appId>.<nonce: 16 random bytes, base64url>.<issuedAt: epoch ms>.<mac: base64url>
 * mac = HMAC-SHA256(key, "v1.<appId>.<nonce>.<issuedAt>")
 * key = HKDF-SHA256(ikm = app secret, salt = "", info = STATE_KEY_INFO, 32 bytes)
 * ```
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
const VERSION = 'v1';
const NONCE_BYTES = 16;
const STATE_PATTERN =
  /^v1\.([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\.([A-Za-z0-9_-]{22})\.([1-9][0-9]{0,14})\.([A-Za-z0-9_-]{43})$/;

/** Why a state was refused; each has its own page. */
export const InstallStateFailure = {
  Missing: 'missing',
  /** Malformed, for an app we do not serve, or a MAC that does not verify. */
  Invalid: 'invalid',
  Expired: 'expired',
  /** Consumed already: the callback was replayed or reloaded. */
  Used: 'used',
} as const;
export type InstallStateFailure = (typeof InstallStateFailure)[keyof typeof InstallStateFailure];

/** The callback's state cannot be accepted (code `INSTALL_STATE_<REASON>`); never carries the state. */
export class InstallStateError extends ServiceError {
  readonly reason: InstallStateFailure;

  constructor(reason: InstallStateFailure) {
    super(`INSTALL_STATE_${reason.toUpperCase()}`, `The install state is ${reason === 'used' ? 'already used' : reason}`);
    this.reason = reason;
  }
}

/** A state whose MAC verified. */
export interface VerifiedState {
  appId: string;
  /** What makes it single use (everything but the MAC); secret-ish: never log it. */
  id: string;
  issuedAt: number;
  /** Epoch ms after which it is refused. */
  expiresAt: number;
}

export interface InstallStateDeps {
  secrets: Pick<AppSecretsProvider, 'get' | 'getPrevious'>;
  /** The apps this deployment serves (lower case). */
  appIds: readonly string[];
  now: () => number;
}

/**
 * Issues a state for an install of `appId`, signed with a key derived from its current secret.
 * @throws {UnknownAppError} / {SecretsUnavailableError} / {AppSecretMalformedError} from the secrets provider
 */
export async function issueInstallState(deps: InstallStateDeps, appId: string, random: (size: number) => Buffer = randomBytes): Promise<string> {
  const { appSecret } = await deps.secrets.get(appId);
  const signed = `${VERSION}.${appId}.${random(NONCE_BYTES).toString('base64url')}.${deps.now()}`;
  return `${signed}.${mac(appSecret, signed).toString('base64url')}`;
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
  const [, appId, , issuedAtText, macText] = match as unknown as [string, string, string, string, string];
  if (!deps.appIds.includes(appId)) throw new InstallStateError(InstallStateFailure.Invalid);

  const given = Buffer.from(macText, 'base64url');
  // base64url has spare bits in its last character: insist on the one canonical spelling.
  if (given.toString('base64url') !== macText) throw new InstallStateError(InstallStateFailure.Invalid);
  const signed = state.slice(0, state.length - macText.length - 1);

  const current = await deps.secrets.get(appId);
  if (!macMatches(current.appSecret, signed, given)) {
    const previous = await deps.secrets.getPrevious(appId);
    if (previous === undefined || !macMatches(previous.appSecret, signed, given)) {
      throw new InstallStateError(InstallStateFailure.Invalid);
    }
  }

  const issuedAt = Number(issuedAtText);
  const now = deps.now();
  if (issuedAt > now + FUTURE_SKEW_MS) throw new InstallStateError(InstallStateFailure.Invalid);
  const expiresAt = issuedAt + INSTALL_STATE_TTL_MS;
  if (now >= expiresAt) throw new InstallStateError(InstallStateFailure.Expired);
  return { appId, id: signed, issuedAt, expiresAt };
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
