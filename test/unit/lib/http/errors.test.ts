import { DecryptionError } from '../../../../lib/crypto';
import { describeError, failureResponse, httpFailureOf, RouteNotFoundError } from '../../../../lib/http';
import { AppSecretMalformedError, SecretsUnavailableError, UnknownAppError } from '../../../../lib/secrets';
import { StaleEventError, StoreUnavailableError, TokenConflictError } from '../../../../lib/store';
import { InvalidRequestError } from '../../../../lib/tokens/errors';
import { InstallNotConfirmedError } from '../../../../lib/tokens/install';
import { InstallStateError } from '../../../../lib/tokens/install-state';
import { WebhookVerificationError } from '../../../../lib/tokens/webhook';
import {
  WixBadRequestError,
  WixCredentialsRejectedError,
  WixGrantInvalidError,
  WixMalformedResponseError,
  WixUnavailableError,
} from '../../../../lib/wix';
import { captureLogger } from '../../../support/mint-fixture';

const key = { appId: 'a', instanceId: 'i' };
const wix = { operation: 'authorization_code' as const, status: 400, requestId: 'wix-req-1' };

describe('httpFailureOf', () => {
  it.each([
    ['a route not served', new RouteNotFoundError(), 404],
    ['InvalidRequestError', new InvalidRequestError('code', 'is missing'), 400],
    ['a missing state', new InstallStateError('missing'), 400],
    ['an invalid state', new InstallStateError('invalid'), 403],
    ['an expired state', new InstallStateError('expired'), 403],
    ['a used state', new InstallStateError('used'), 403],
    ['an unverified webhook', new WebhookVerificationError('bad_signature'), 401],
    ['an unknown app', new UnknownAppError('x'), 400],
    ['an uninstall after the consent', new StaleEventError(key, 1, 2), 409],
    ['Wix refusing the code the browser brought (issue 8: a 4xx, not a 502 anyone could cause)', new WixGrantInvalidError('refused', { ...wix, operation: 'authorization_code' }), 400],
    ['Wix refusing a grant other than the code', new WixGrantInvalidError('refused', { ...wix, operation: 'token_info' }), 502],
    ['Wix refusing the exchange of the code the browser brought as a bad request (a 502 anyone could cause before)', new WixBadRequestError('refused', wix), 400],
    ['Wix refusing a Token Info request', new WixBadRequestError('refused', { ...wix, operation: 'token_info' }), 502],
    ['Wix refusing our secret', new WixCredentialsRejectedError('refused', wix), 502],
    ['Token Info not confirming', new InstallNotConfirmedError('inactive'), 502],
    ['Wix unavailable', new WixUnavailableError('WIX_HTTP_503', 'down', { ...wix, status: 503 }), 503],
    ['Wix answering nonsense', new WixMalformedResponseError('nonsense', { ...wix, status: 200 }), 503],
    ['the store throttled', new StoreUnavailableError('ThrottlingException', 'op', new Error('x')), 503],
    ['a lost store race', new TokenConflictError(key, 'version', undefined), 503],
    ['secrets unavailable', new SecretsUnavailableError('a', new Error('x')), 503],
    ['a malformed secret', new AppSecretMalformedError('a', 'appSecret', 'is missing'), 503],
    ['an undecryptable token', new DecryptionError('malformed', 'bad envelope'), 503],
    ['a plain Error', new Error('boom with details'), 500],
    ['a thrown string', 'boom', 500],
  ])('maps %s to %i', (_name, error, status) => {
    expect(httpFailureOf(error).status).toBe(status);
  });

  it('gives a 500 a generic message that says nothing about the error', () => {
    const failure = httpFailureOf(new TypeError('Cannot read properties of undefined (reading "secret-value")'));

    expect(failure).toMatchObject({ status: 500, code: 'INTERNAL_ERROR', level: 'error' });
    expect(failure.message).not.toContain('secret-value');
  });

  it('tells the user to start again when Wix refused the code', () => {
    expect(httpFailureOf(new WixGrantInvalidError('refused', wix)).message).toMatch(/start the installation again/);
  });
});

describe('describeError', () => {
  it('keeps a foreign error to its name', () => {
    expect(describeError(new Error('token OauthNG.JWS.abc leaked here'))).toEqual({ errorName: 'Error' });
  });

  it('adds code, message and the Wix request id for our own errors', () => {
    expect(describeError(new WixGrantInvalidError('Wix authorization_code failed: invalid_grant', { ...wix, error: 'invalid_grant' }))).toEqual({
      errorName: 'WixGrantInvalidError',
      errorCode: 'WIX_GRANT_INVALID',
      errorMessage: 'Wix authorization_code failed: invalid_grant',
      wixStatus: 400,
      wixError: 'invalid_grant',
      wixRequestId: 'wix-req-1',
    });
  });
});

describe('failureResponse', () => {
  it('logs once with the reference id and answers an HTML page carrying the same id', () => {
    const logger = captureLogger();

    const page = failureResponse(new InstallStateError('used'), { referenceId: 'ref-1', logger, format: 'html', attributes: { route: 'GET /oauth/callback' } });

    expect(page.statusCode).toBe(403);
    expect(page.body).toContain('ref-1');
    expect(logger.lines).toHaveLength(1);
    expect(JSON.parse(logger.lines[0] as string)).toMatchObject({ level: 'WARN', message: 'request refused', referenceId: 'ref-1', status: 403, code: 'INSTALL_STATE_USED', route: 'GET /oauth/callback' });
  });

  it('answers JSON for machines, logging a 500 as an error', () => {
    const logger = captureLogger();

    const answer = failureResponse(new Error('kaboom'), { referenceId: 'ref-2', logger, format: 'json' });

    expect(answer.statusCode).toBe(500);
    expect(JSON.parse(answer.body)).toEqual({ error: 'INTERNAL_ERROR', message: 'The request could not be completed. Please try again later.', referenceId: 'ref-2' });
    expect(logger.lines[0]).toContain('"level":"ERROR"');
    expect(logger.lines.join('')).not.toContain('kaboom');
  });
});
