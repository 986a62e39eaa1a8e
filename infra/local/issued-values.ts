/**
 * A per-process record of the secret values the local stand-ins hand out: the Wix simulator's
 * codes and tokens (and the states and install tokens its installer sees), the demo app's secret
 * and keys, the secrets stand-in's values. The test suite's log audit (test/support/log-audit.ts)
 * searches everything a test process printed for them.
 *
 * Local-stack and test code only: lib/ and functions/ never import it. It records nothing until
 * {@link enableIssuedValues} is called (the audit does, `npm start` does not), so a long-running
 * local stack does not keep every token it ever issued a second time.
 */

/** What kind of value was issued; the audit names the kind of a leak, never the value. */
export const IssuedKind = {
  AccessToken: 'access token',
  RefreshToken: 'refresh token',
  AuthorizationCode: 'authorization code',
  InstallState: 'install state',
  InstallToken: 'install token',
  AppSecret: 'app secret',
  TokenKey: 'token encryption key',
  WebhookPrivateKey: 'webhook private key',
  SecretValue: 'secret value',
} as const;
export type IssuedKind = (typeof IssuedKind)[keyof typeof IssuedKind];

/**
 * Values shorter than this are not recorded: a short value would match ordinary text (and none
 * of the values above is this short when real).
 */
export const MIN_AUDITED_LENGTH = 12;

interface Registry {
  enabled: boolean;
  /** Value to kind, in the order the values were recorded. */
  values: Map<string, IssuedKind>;
}

const REGISTRY = Symbol.for('wix-token-service.local.issued-values');

function registry(): Registry {
  const holder = globalThis as typeof globalThis & { [REGISTRY]?: Registry };
  holder[REGISTRY] ??= { enabled: false, values: new Map() };
  return holder[REGISTRY];
}

/** Starts recording in this process (or test file context). */
export function enableIssuedValues(): void {
  registry().enabled = true;
}

/** True once {@link enableIssuedValues} was called. */
export function issuedValuesEnabled(): boolean {
  return registry().enabled;
}

/** Records a value handed out; a no-op while recording is off or for a value too short to audit. */
export function recordIssued(kind: IssuedKind, value: unknown): void {
  const { enabled, values } = registry();
  if (!enabled || typeof value !== 'string' || value.length < MIN_AUDITED_LENGTH) return;
  if (!values.has(value)) values.set(value, kind);
}

/**
 * Records the values inside a secret's JSON (an app secret as lib/secrets reads it): the app
 * secret and every token key; a value that is not that JSON is recorded whole.
 */
export function recordSecretString(secretString: string): void {
  let document: unknown;
  try {
    document = JSON.parse(secretString);
  } catch {
    recordIssued(IssuedKind.SecretValue, secretString);
    return;
  }
  const { appSecret, tokenKeys } = (typeof document === 'object' && document !== null ? document : {}) as Record<string, unknown>;
  if (appSecret === undefined && tokenKeys === undefined) {
    recordIssued(IssuedKind.SecretValue, secretString);
    return;
  }
  recordIssued(IssuedKind.AppSecret, appSecret);
  const keys = (tokenKeys as { keys?: unknown } | undefined)?.keys;
  if (typeof keys === 'object' && keys !== null) {
    for (const key of Object.values(keys)) recordIssued(IssuedKind.TokenKey, key);
  }
}

/** Every value recorded so far with its kind, oldest first (a live view: do not modify). */
export function issuedValues(): ReadonlyMap<string, IssuedKind> {
  return registry().values;
}
