import { Dependency, ErrorCategory, ServiceError } from '../errors';

/** What every secrets error shares: it comes from Secrets Manager, about one app (`appId`). */
abstract class SecretsError extends ServiceError {
  override readonly dependency = Dependency.Secrets;
  readonly appId: string;

  constructor(code: string, appId: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.appId = appId;
  }
}

/**
 * Secrets Manager could not be reached or refused the call, and no cached value was young enough to serve.
 * `cause` is the SDK error; `awsErrorName` its name (e.g. `ResourceNotFoundException`, `TimeoutError`).
 */
export class SecretsUnavailableError extends SecretsError {
  override readonly category = ErrorCategory.Unavailable;
  readonly awsErrorName: string | undefined;

  constructor(appId: string, cause: unknown) {
    const awsErrorName = cause instanceof Error ? cause.name : undefined;
    super('SECRETS_UNAVAILABLE', appId, `App credentials for ${appId} could not be read from Secrets Manager${awsErrorName ? ` (${awsErrorName})` : ''}`, { cause });
    this.awsErrorName = awsErrorName;
  }
}

/**
 * The app's secret is not the JSON this service expects. `field` names the missing or mistyped
 * field (`appSecret`, `tokenKeys.keys.k1`, `SecretString` for the document itself); no value is
 * ever part of the error, and the JSON parser's own error is dropped because it quotes its input.
 */
export class AppSecretMalformedError extends SecretsError {
  override readonly category = ErrorCategory.Misconfigured;
  readonly field: string;
  /** `AWSCURRENT` or `AWSPREVIOUS`. */
  readonly versionStage: string;

  constructor(appId: string, field: string, reason: string, versionStage = 'AWSCURRENT') {
    super('APP_SECRET_MALFORMED', appId, `The ${versionStage} secret of app ${appId} is malformed: ${field} ${reason}`);
    this.field = field;
    this.versionStage = versionStage;
  }
}

/** The app id is not one this deployment serves (no secret is configured for it). */
export class UnknownAppError extends SecretsError {
  override readonly category = ErrorCategory.Refused;

  constructor(appId: string) {
    super('UNKNOWN_APP', appId, `App ${appId} is not served by this deployment`);
  }
}
