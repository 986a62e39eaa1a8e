import { createJsonLogger, type JsonLoggerOptions } from '../../../../lib/runtime';

const NOW = Date.parse('2026-03-01T12:00:00.000Z');

function capture(options: Partial<JsonLoggerOptions> = {}) {
  const lines: Array<{ stream: string; line: Record<string, unknown> }> = [];
  const logger = createJsonLogger({
    serviceName: 'mint',
    env: {},
    now: () => NOW,
    write: (stream, text) => {
      expect(text.endsWith('\n')).toBe(true);
      lines.push({ stream, line: JSON.parse(text) as Record<string, unknown> });
    },
    ...options,
  });
  return { logger, lines };
}

describe('createJsonLogger', () => {
  it('writes one JSON line per call in the Powertools shape: level, message, timestamp, service, then the attributes', () => {
    const { logger, lines } = capture();

    logger.info('minted', { appId: 'a', instanceId: 'i' });

    expect(lines).toEqual([
      { stream: 'stdout', line: { level: 'INFO', message: 'minted', timestamp: '2026-03-01T12:00:00.000Z', service: 'mint', appId: 'a', instanceId: 'i' } },
    ]);
    expect(Object.keys(lines[0]?.line ?? {})).toEqual(['level', 'message', 'timestamp', 'service', 'appId', 'instanceId']);
  });

  it('writes warnings and errors to stderr, as Powertools does through console.warn and console.error', () => {
    const { logger, lines } = capture();

    logger.warn('w');
    logger.error('e');

    expect(lines.map(({ stream, line }) => [stream, line['level']])).toEqual([
      ['stderr', 'WARN'],
      ['stderr', 'ERROR'],
    ]);
  });

  it('adds the X-Ray trace id of the current invocation when Lambda sets one', () => {
    const env: Record<string, string | undefined> = {};
    const { logger, lines } = capture({ env });

    logger.info('before');
    env['_X_AMZN_TRACE_ID'] = 'Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1';
    logger.info('during');

    expect(lines[0]?.line).not.toHaveProperty('xray_trace_id');
    expect(lines[1]?.line['xray_trace_id']).toBe('1-5759e988-bd862e3fe1be46a994272793');
  });

  it.each([
    [{ POWERTOOLS_LOG_LEVEL: 'WARN' }, ['WARN', 'ERROR']],
    [{ LOG_LEVEL: 'error' }, ['ERROR']],
    [{ AWS_LAMBDA_LOG_LEVEL: 'ERROR', POWERTOOLS_LOG_LEVEL: 'INFO' }, ['ERROR']],
    [{ AWS_LAMBDA_LOG_LEVEL: 'FATAL' }, []],
    [{ POWERTOOLS_LOG_LEVEL: 'SILENT' }, []],
    [{ POWERTOOLS_LOG_LEVEL: 'DEBUG' }, ['INFO', 'WARN', 'ERROR']],
    [{ POWERTOOLS_LOG_LEVEL: 'nonsense' }, ['INFO', 'WARN', 'ERROR']],
  ])('with %j in the environment writes only %j', (env, levels) => {
    const { logger, lines } = capture({ env });

    logger.info('i');
    logger.warn('w');
    logger.error('e');

    expect(lines.map(({ line }) => line['level'])).toEqual(levels);
  });

  it('writes an error attribute as its name, code and message only, a bigint as a string, and drops a cycle', () => {
    const { logger, lines } = capture();
    const error = Object.assign(new TypeError('bad input'), { code: 'E_BAD', body: 'a-response-body-never-logged' });
    const cyclic: Record<string, unknown> = { a: 1 };
    cyclic['self'] = cyclic;

    logger.error('failed', { error, big: 10n, cyclic });

    expect(lines[0]?.line).toMatchObject({ error: { name: 'TypeError', message: 'bad input', code: 'E_BAD' }, big: '10', cyclic: { a: 1 } });
    expect(JSON.stringify(lines[0]?.line)).not.toContain('a-response-body-never-logged');
    expect(JSON.stringify(lines[0]?.line)).not.toContain('stack');
  });
});
