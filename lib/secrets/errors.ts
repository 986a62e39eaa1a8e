import { Dependency, ErrorCategory, ServiceError } from '../errors';

/**
 * Secrets Manager could not be reached or refused the call, and no cached value was young enough to serve.
 * `cause` is the SDK error; `awsErrorName` its name (e.g. `ResourceNotFoundException`, `TimeoutError`).
 */
export class SecretsUnavailableError extends ServiceError {
  override readonly category = ErrorCategory.Unavailable;
  override readonly dependency = Dependency.Secrets;
  readonly appId: string;
  readonly awsErrorName: string | undefined;

  constructor(appId: string, cause: unknown) {
    const awsErrorName = cause instanceof Error ? cause.name : undefined;
    super('SECRETS_UNAVAILABLE', `App credentials for ${appId} could not be read from Secrets Manager${awsErrorName ? ` (${awsErrorName})` : ''}`, { cause });
    this.appId = appId;
    this.awsErrorName = awsErrorName;
  }
}

/**
 * The app's secret is not the JSON this service expects. `field` names the missing or mistyped
 * field (`appSecret`, `tokenKeys.keys.k1`, `SecretString` for the document itself); no value is
 * ever part of the error, and the JSON parser's own error is dropped because it quotes its input.
 */
export class AppSecretMalformedError extends ServiceError {
  override readonly category = ErrorCategory.Misconfigured;
  override readonly dependency = Dependency.Secrets;
  readonly appId: string;
  readonly field: string;
  /** `AWSCURRENT` or `AWSPREVIOUS`. */
  readonly versionStage: string;

  constructor(appId: string, field: string, reason: string, versionStage = 'AWSCURRENT') {
    super('APP_SECRET_MALFORMED', `The ${versionStage} secret of app ${appId} is malformed: ${field} ${reason}`);
    this.appId = appId;
    this.field = field;
    this.versionStage = versionStage;
  }
}

/** The app id is not one this deployment serves (no secret is configured for it). */
export class UnknownAppError extends ServiceError {
  override readonly category = ErrorCategory.Refused;
  override readonly dependency = Dependency.Secrets;
  readonly appId: string;

  constructor(appId: string) {
    super('UNKNOWN_APP', `App ${appId} is not served by this deployment`);
    this.appId = appId;
  }
}
