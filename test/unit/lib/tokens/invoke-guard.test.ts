import { ServiceError } from '../../../../lib/errors';
import {
  InstanceUninstalledError,
  InvalidRequestError,
  ServiceUnavailableError,
  WixRejectedError,
  TokenUnavailableError,
} from '../../../../lib/tokens/errors';
import { toContractError } from '../../../../lib/tokens/invoke-guard';

function recordingLogger() {
  const lines: Array<{ level: string; message: string; attributes: Record<string, unknown> }> = [];
  return {
    lines,
    info: (message: string, attributes: Record<string, unknown> = {}) => lines.push({ level: 'info', message, attributes }),
    warn: (message: string, attributes: Record<string, unknown> = {}) => lines.push({ level: 'warn', message, attributes }),
    error: (message: string, attributes: Record<string, unknown> = {}) => lines.push({ level: 'error', message, attributes }),
  };
}

describe('toContractError', () => {
  it.each([
    ['info', new InvalidRequestError('instanceId', 'must be a GUID')],
    ['info', new InstanceUninstalledError()],
    ['info', new WixRejectedError('Wix refused to issue a token for this instance')],
    ['warn', new TokenUnavailableError('Wix is unavailable (WIX_TIMEOUT)')],
    ['warn', new ServiceUnavailableError('a dependency is unavailable (STORE_UNAVAILABLE)')],
  ] as const)('passes the documented error through unchanged and logs it at %s', (level, error) => {
    const logger = recordingLogger();

    const result = toContractError(error, logger, { function: 'mint' });

    expect(result).toBe(error);
    expect(logger.lines).toEqual([
      { level, message: 'invoke refused', attributes: { function: 'mint', errorType: error.name, code: error.code, reason: error.message } },
    ]);
  });

  it('names the cause of an outage by its code', () => {
    const logger = recordingLogger();
    const cause = new ServiceError('STORE_UNAVAILABLE', 'Token store unavailable during getInstance: ThrottlingException');

    toContractError(new ServiceUnavailableError('a dependency is unavailable (STORE_UNAVAILABLE)', { cause }), logger, {});

    expect(logger.lines[0]?.attributes['cause']).toBe('STORE_UNAVAILABLE');
  });

  it('does not pass through a foreign error that merely borrows a contract name (issue 5 review)', () => {
    const logger = recordingLogger();
    const impostor = Object.assign(new Error('OauthNG.JWS.secret inside'), { name: 'InvalidRequest' });

    const result = toContractError(impostor, logger, {});

    expect(result).toBeInstanceOf(ServiceUnavailableError);
    expect(result.message).toBe('internal error');
  });

  it('replaces an unexpected error by a generic ServiceUnavailable and logs only its name', () => {
    const logger = recordingLogger();
    const internal = new TypeError("Cannot read properties of undefined (reading 'OauthNG.JWS.leaked')");

    const result = toContractError(internal, logger, { function: 'mint' });

    expect(result).toBeInstanceOf(ServiceUnavailableError);
    expect(result.name).toBe('ServiceUnavailable');
    expect(result.message).toBe('internal error');
    expect((result as Error & { cause?: unknown }).cause).toBeUndefined();
    expect(JSON.stringify(logger.lines)).not.toContain('leaked');
    expect(logger.lines).toEqual([{ level: 'error', message: 'invoke failed', attributes: { function: 'mint', error: { name: 'TypeError' } } }]);
  });

  it('logs the code and message of one of our own errors that is not part of the contract', () => {
    const logger = recordingLogger();

    const result = toContractError(new ServiceError('STORE_INVARIANT', 'Lease refused without a holder'), logger, {});

    expect(result.name).toBe('ServiceUnavailable');
    expect(logger.lines[0]?.attributes['error']).toEqual({ name: 'ServiceError', code: 'STORE_INVARIANT', message: 'Lease refused without a holder' });
  });

  it('copes with a thrown value that is not an Error', () => {
    const logger = recordingLogger();

    const result = toContractError('OauthNG.JWS.thrown-string', logger, {});

    expect(result).toBeInstanceOf(ServiceUnavailableError);
    expect(JSON.stringify(logger.lines)).not.toContain('thrown-string');
  });
});
