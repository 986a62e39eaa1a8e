import { WixBadRequestError, WixCredentialsRejectedError, WixGrantInvalidError, WixMalformedResponseError, WixOAuthError, WixUnavailableError, type WixOperation } from '../../../../lib/wix';
import {
  errorFromResponse,
  parseAccessToken,
  parseLegacyTokens,
  parseRetryAfter,
  parseTokenInfo,
  redact,
  type ResponseContext,
} from '../../../../lib/wix/responses';

const secret = 'app-secret-value-0001';
const receivedAt = Date.UTC(2030, 0, 1);

function context(status: number, operation: WixOperation = 'client_credentials'): ResponseContext {
  return { operation, status, requestId: 'req-1', receivedAt, sentSecrets: [secret] };
}

function thrown(parse: () => unknown): WixOAuthError {
  try {
    parse();
  } catch (error) {
    if (error instanceof WixOAuthError) return error;
    throw error;
  }
  throw new Error('expected the parse to fail');
}

describe('errorFromResponse', () => {
  it.each([
    [500, '{"error":"invalid_grant"}', WixUnavailableError, 'WIX_SERVER_ERROR'],
    [408, '', WixUnavailableError, 'WIX_SERVER_ERROR'],
    [429, '', WixUnavailableError, 'WIX_RATE_LIMITED'],
    [400, '<html><body>Bad Request</body></html>', WixGrantInvalidError, 'WIX_GRANT_INVALID'],
    [403, '{"message":"forbidden"}', WixGrantInvalidError, 'WIX_GRANT_INVALID'],
    [401, '', WixCredentialsRejectedError, 'WIX_CREDENTIALS_REJECTED'],
    [400, '{"error":"invalid_scope"}', WixBadRequestError, 'WIX_BAD_REQUEST'],
    [501, '', WixUnavailableError, 'WIX_SERVER_ERROR'],
  ] as const)('classifies a %i with body %s on a grant', (status, body, errorClass, code) => {
    const error = errorFromResponse(body, context(status), undefined);

    expect(error).toBeInstanceOf(errorClass);
    expect(error.code).toBe(code);
    expect(error.status).toBe(status);
  });

  it('decides on the status before the body: a 5xx saying invalid_grant is transient', () => {
    const error = errorFromResponse('{"error":"invalid_grant"}', context(503), undefined);

    expect(error.retryable).toBe(true);
    expect(error.error).toBe('invalid_grant');
  });

  it('maps a 401 from token info to WixBadRequestError, since token info sends no app credentials', () => {
    const error = errorFromResponse('', context(401, 'token_info'), undefined);

    expect(error).toBeInstanceOf(WixBadRequestError);
  });

  it('reads the code and description of a Wix applicationError body', () => {
    const body = JSON.stringify({ message: 'outer', details: { applicationError: { code: 'INSTANCE_NOT_FOUND', description: 'inner' } } });

    const error = errorFromResponse(body, context(404), undefined);

    expect(error).toBeInstanceOf(WixGrantInvalidError);
    expect(error.error).toBe('INSTANCE_NOT_FOUND');
    expect(error.errorDescription).toBe('inner');
    expect(error.message).toBe('Wix client_credentials failed: HTTP 404 INSTANCE_NOT_FOUND (x-wix-request-id req-1)');
  });

  it('redacts a sent secret that Wix echoes in its error code, in the field and in the message', () => {
    const error = errorFromResponse(JSON.stringify({ error: `bad_${secret}` }), context(400), undefined);

    expect(error.error).toBe('[redacted]');
    expect(error.message).not.toContain(secret);
    expect(JSON.stringify(error)).not.toContain(secret);
  });

  it('redacts a sent secret echoed in a Wix applicationError code', () => {
    const body = JSON.stringify({ message: 'm', details: { applicationError: { code: secret, description: 'd' } } });

    const error = errorFromResponse(body, context(400), undefined);

    expect(error.error).toBe('[redacted]');
    expect(error.message).not.toContain(secret);
  });

  it('keeps an error code that is free text or too long out of the message', () => {
    const freeText = 'the token OauthNG.JWS.eyJhbGciOi is not valid for this instance';

    const error = errorFromResponse(JSON.stringify({ error: freeText }), context(400), undefined);

    expect(error.error).toBe('[unrecognised]');
    expect(error.message).not.toContain('OauthNG');
  });

  it('classifies on the code Wix sent even when it is kept out of the message', () => {
    const error = errorFromResponse(JSON.stringify({ error: 'invalid_client' }), context(400), undefined);

    expect(error).toBeInstanceOf(WixCredentialsRejectedError);
  });

  it('keeps Retry-After and the whole body, the body off enumerable properties', () => {
    const body = JSON.stringify({ error: 'slow_down', error_description: `saw ${secret}` });

    const error = errorFromResponse(body, context(429), 2000);

    expect(error.retryAfterMs).toBe(2000);
    expect(error.body).toBe(body);
    expect(Object.keys(error)).not.toContain('body');
    expect(error.errorDescription).toBe('saw [redacted]');
  });
});

describe('redact', () => {
  it('replaces every occurrence of every sent value', () => {
    expect(redact(`${secret} and ${secret} and code-1234`, [secret, 'code-1234'])).toBe('[redacted] and [redacted] and [redacted]');
  });

  it('leaves values of three characters or fewer alone, so it does not shred ordinary words', () => {
    expect(redact('the abc code', ['abc'])).toBe('the abc code');
  });

  it('cuts a description longer than 300 characters after redacting it', () => {
    const long = `${'x'.repeat(295)}${secret}`;

    const result = redact(long, [secret]);

    expect(result).toBe(`${'x'.repeat(295)}[reda…`);
    expect(result).not.toContain(secret.slice(0, 6));
  });
});

describe('parseRetryAfter', () => {
  it.each([
    [null, undefined],
    ['2', 2000],
    [' 1.5 ', 1500],
    ['-1', undefined],
    ['soon', undefined],
    [new Date(receivedAt + 3000).toUTCString(), 3000],
    [new Date(receivedAt - 60_000).toUTCString(), 0],
  ] as const)('reads %p as %p ms', (header, expected) => {
    expect(parseRetryAfter(header, receivedAt)).toBe(expected);
  });
});

describe('success body parsers', () => {
  it.each([
    ['[]', 'the body is not a JSON object'],
    ['"OauthNG.JWS.x"', 'the body is not a JSON object'],
    ['{"access_token":"   ","expires_in":14400}', 'access_token is empty'],
    ['{"access_token":null}', 'access_token is missing'],
    ['{"access_token":"OauthNG.JWS.x","token_type":"mac"}', 'token_type is not "Bearer"'],
    ['{"access_token":"OauthNG.JWS.x","token_type":7}', 'token_type is not "Bearer"'],
    ['{"access_token":"OauthNG.JWS.x","expires_in":0}', 'expires_in is not a positive number'],
    ['{"access_token":"OauthNG.JWS.x","expires_in":-5}', 'expires_in is not a positive number'],
    ['{"access_token":"OauthNG.JWS.x","expires_in":"1e3"}', 'expires_in is not a positive number'],
    ['{"access_token":"OauthNG.JWS.x","expires_in":true}', 'expires_in is not a positive number'],
  ])('rejects the client-credentials body %s', (body, reason) => {
    const error = thrown(() => parseAccessToken(body, context(200)));

    expect(error).toBeInstanceOf(WixMalformedResponseError);
    expect(error.message).toContain(reason);
    expect(error.requestId).toBe('req-1');
  });

  it('accepts token_type in any case and counts expires_in from the arrival', () => {
    const token = parseAccessToken('{"access_token":"OauthNG.JWS.x","token_type":"bearer","expires_in":"14400"}', context(200));

    expect(token).toEqual({ accessToken: 'OauthNG.JWS.x', tokenType: 'Bearer', expiresAt: receivedAt + 14_400_000 });
  });

  it('rejects a legacy answer whose refresh token is not a string', () => {
    const error = thrown(() => parseLegacyTokens('{"access_token":"OauthNG.JWS.x","refresh_token":42}', context(200, 'refresh_token')));

    expect(error.message).toContain('refresh_token is not a string');
  });

  it('keeps a token that came in a rejected body out of the message and enumerable properties', () => {
    const body = '{"access_token":"OauthNG.JWS.secret-token","token_type":"mac"}';

    const error = thrown(() => parseAccessToken(body, context(200)));

    expect(error.message).not.toContain('secret-token');
    expect(JSON.stringify(error)).not.toContain('secret-token');
    expect(error.body).toBe(body);
  });

  it.each([
    ['{"active":true,"exp":"soon"}', 'exp is not a number of seconds'],
    ['{"active":true,"iat":"-1"}', 'iat is not a number of seconds'],
    ['{"active":true,"subjectType":5}', 'subjectType is not a string'],
    ['{"active":1}', 'active is neither a boolean'],
  ])('rejects the token info body %s', (body, reason) => {
    const error = thrown(() => parseTokenInfo(body, context(200, 'token_info')));

    expect(error).toBeInstanceOf(WixMalformedResponseError);
    expect(error.message).toContain(reason);
  });

  it('reads token info with native booleans and numbers as well as strings', () => {
    const info = parseTokenInfo('{"active":false,"exp":1715096067,"iat":"1715081667","instanceId":null}', context(200, 'token_info'));

    expect(info).toEqual({ active: false, expiresAt: 1715096067_000, issuedAt: 1715081667_000 });
  });
});
