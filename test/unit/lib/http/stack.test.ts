import { httpStack, htmlPage, InvalidQueryError, jsonResponse, queryReader, rawBodyOf, redirect, referenceIdOf, routeOf, type HttpResult } from '../../../../lib/http';
import { PAGE_STYLE_HASH } from '../../../../lib/http/responses';
import { captureLogger } from '../../../support/mint-fixture';
import { httpContext, httpEvent } from '../../../support/http-fixture';

async function answer(result: HttpResult | Error) {
  const logger = captureLogger();
  const handler = httpStack(async () => {
    if (result instanceof Error) throw result;
    return result;
  }, logger);
  return { response: await handler(httpEvent('GET', '/install'), httpContext(10_000, 'req-123')), logger };
}

describe('httpStack', () => {
  it.each([
    ['an HTML page', htmlPage({ status: 400, title: 'Bad', message: 'Bad' })],
    ['a redirect', redirect('https://www.wix.com/installer/close-window')],
    ['JSON', jsonResponse(200, { outcome: 'applied' })],
  ])('sends COOP unsafe-none and never forbids framing on %s', async (_name, result) => {
    const { response } = await answer(result);

    expect(response.headers['Cross-Origin-Opener-Policy']).toBe('unsafe-none');
    expect(Object.keys(response.headers).map((name) => name.toLowerCase())).not.toContain('x-frame-options');
    expect(response.headers['Content-Security-Policy'] ?? '').not.toContain('frame-ancestors');
    expect(response.headers['Strict-Transport-Security']).toMatch(/^max-age=/);
    expect(response.headers['X-Content-Type-Options']).toBe('nosniff');
    expect(response.headers['Referrer-Policy']).toBe('no-referrer');
    expect(Object.entries(response.headers).filter(([, value]) => typeof value !== 'string' || value === '')).toEqual([]);
  });

  it('gives HTML pages a CSP that allows no script, only the pages\u2019 own stylesheet by its hash, and lets Wix embed them', async () => {
    const { response } = await answer(htmlPage({ status: 400, title: 'Bad', message: 'Bad' }));

    const directives = (response.headers['Content-Security-Policy'] ?? '').split(/;\s*/);
    expect(directives).toContain("default-src 'none'");
    expect(directives).toContain(`style-src ${PAGE_STYLE_HASH}`);
    expect(directives.filter((directive) => /^script-src|unsafe-inline|unsafe-eval/.test(directive))).toEqual([]);
    expect(response.headers['Cross-Origin-Resource-Policy']).toBe('cross-origin');
    expect(response.headers['Cross-Origin-Embedder-Policy']).toBeUndefined();
  });

  it('sends exactly the headers the middy stack sent (helmet less framing limits, COOP unsafe-none), plus the pages\u2019 stylesheet hash', async () => {
    const { response } = await answer(redirect('https://www.wix.com/x'));

    expect(response.headers).toEqual({
      Location: 'https://www.wix.com/x',
      'Cache-Control': 'no-store',
      'Cross-Origin-Opener-Policy': 'unsafe-none',
      'Origin-Agent-Cluster': '?1',
      'Referrer-Policy': 'no-referrer',
      'Strict-Transport-Security': 'max-age=15552000; includeSubDomains; preload',
      'X-Content-Type-Options': 'nosniff',
      'X-DNS-Prefetch-Control': 'off',
      'X-Download-Options': 'noopen',
      'X-Permitted-Cross-Domain-Policies': 'none',
    });
    const { response: page } = await answer(htmlPage({ status: 400, title: 'Bad', message: 'Bad' }));
    expect(page.headers['Content-Security-Policy']).toBe(
      `default-src 'none'; style-src ${PAGE_STYLE_HASH}; base-uri 'none'; form-action 'none'; require-trusted-types-for 'script'; trusted-types 'none'; sandbox; upgrade-insecure-requests`,
    );
    expect(page.headers['Permissions-Policy']).toMatch(/^accelerometer=\(\), ambient-light-sensor=\(\), .*, vertical-scroll=\(\)$/);
    expect(page.headers['Permissions-Policy']?.split(', ')).toHaveLength(41);
  });

  it('lower-cases request header names before the handler sees them', async () => {
    let seen: Record<string, string | undefined> | undefined;
    const handler = httpStack(async (event) => {
      seen = event.headers;
      return jsonResponse(200, {});
    }, captureLogger());
    await handler(httpEvent('POST', '/webhooks', { headers: { 'Content-Type': 'text/plain' } }), httpContext(10_000, 'req-1'));

    expect(seen?.['content-type']).toBe('text/plain');
    expect(seen?.['Content-Type']).toBeUndefined();
  });

  it('answers the generic 500 page, logged as a TimeoutError, for a handler still running 5 ms before the end', async () => {
    const logger = captureLogger();
    const handler = httpStack(() => new Promise<never>(() => undefined), logger);
    const response = await handler(httpEvent('GET', '/install'), httpContext(30, 'req-9'));

    expect(response.statusCode).toBe(500);
    expect(response.headers['Cross-Origin-Opener-Policy']).toBe('unsafe-none');
    expect(logger.lines[0]).toContain('TimeoutError');
  });

  it('keeps the handler’s status, body and Location', async () => {
    const { response } = await answer(redirect('https://www.wix.com/x'));

    expect(response.statusCode).toBe(302);
    expect(response.headers['Location']).toBe('https://www.wix.com/x');
    expect(response.headers['Cache-Control']).toBe('no-store');
  });

  it('turns anything escaping the handler into a generic 500 page with the request id, logged', async () => {
    const { response, logger } = await answer(new Error('secret detail in a bug'));

    expect(response.statusCode).toBe(500);
    expect(response.body).toContain('req-123');
    expect(response.body).not.toContain('secret detail');
    expect(response.headers['Cross-Origin-Opener-Policy']).toBe('unsafe-none');
    expect(logger.lines).toHaveLength(1);
    expect(logger.lines[0]).toContain('req-123');
    expect(logger.lines[0]).not.toContain('secret detail');
  });
});

describe('request helpers', () => {
  it('reads query parameters from the raw query string', () => {
    const query = queryReader(httpEvent('GET', '/oauth/callback', { query: 'code=a%2Bb&state=s' }));

    expect(query('code')).toBe('a+b');
    expect(query('state')).toBe('s');
    expect(query('instanceId')).toBeUndefined();
  });

  it('refuses a parameter given twice (API Gateway would join them with a comma)', () => {
    const query = queryReader(httpEvent('GET', '/oauth/callback', { query: 'code=a&code=b' }));

    expect(() => query('code')).toThrow(new InvalidQueryError('code', 'is given more than once'));
  });

  it('falls back to queryStringParameters when there is no raw query string', () => {
    const event = { ...httpEvent('GET', '/install'), rawQueryString: undefined as unknown as string, queryStringParameters: { token: 't' } };

    expect(queryReader(event)('token')).toBe('t');
  });

  it('decodes a base64-encoded body and passes a plain one through', () => {
    expect(rawBodyOf(httpEvent('POST', '/webhooks', { body: Buffer.from('a.b.c').toString('base64'), isBase64Encoded: true }))).toBe('a.b.c');
    expect(rawBodyOf(httpEvent('POST', '/webhooks', { body: 'a.b.c' }))).toBe('a.b.c');
    expect(rawBodyOf(httpEvent('POST', '/webhooks'))).toBe('');
  });

  it('routes on the route key, or on method and path under $default', () => {
    expect(routeOf(httpEvent('GET', '/install'))).toBe('GET /install');
    expect(routeOf({ ...httpEvent('POST', '/webhooks'), routeKey: '$default' })).toBe('POST /webhooks');
  });

  it('uses the Lambda request id as the reference id, or a random one', () => {
    expect(referenceIdOf(httpContext(1000, 'abc-123'))).toBe('abc-123');
    expect(referenceIdOf({ getRemainingTimeInMillis: () => 1000 })).toMatch(/^[0-9a-f-]{36}$/);
    expect(referenceIdOf(httpContext(1000, '<bad id>'))).not.toContain('<');
  });
});
