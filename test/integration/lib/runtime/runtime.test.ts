import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

import { loadConfig } from '../../../../lib/config';
import { createRuntime } from '../../../../lib/runtime';
import { StoreUnavailableError } from '../../../../lib/store';

/** A server that accepts connections and never answers. */
async function hangingServer(): Promise<{ url: string; server: Server }> {
  const server = createServer(() => undefined);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}

/** The runtime as a function builds it, with the configuration every case here shares. */
function testRuntime() {
  return createRuntime(loadConfig({ TOKENS_TABLE: 'tokens', WIX_APP_IDS: '5e1f0c2a-7d3b-4c9e-9a61-0d2b8f4c3e17', APP_SECRET_PREFIX: 'test/' }), 'test');
}

describe('createRuntime', () => {
  const saved = { ...process.env };
  let hanging: { url: string; server: Server };

  beforeAll(async () => {
    hanging = await hangingServer();
  });

  afterAll(async () => {
    hanging.server.closeAllConnections();
    await new Promise((resolve) => hanging.server.close(resolve));
  });

  /**
   * Consumes a state through a runtime whose DynamoDB never answers (`maxAttempts` as AWS_MAX_ATTEMPTS,
   * the SDK's default when absent): the error it ends with, and how long that took.
   */
  async function consumeAgainstHangingDynamoDb(options: { maxAttempts?: string; timeoutMs?: number } = {}) {
    process.env['AWS_ENDPOINT_URL_DYNAMODB'] = hanging.url;
    if (options.maxAttempts === undefined) delete process.env['AWS_MAX_ATTEMPTS'];
    else process.env['AWS_MAX_ATTEMPTS'] = options.maxAttempts;
    const runtime = testRuntime();
    const started = Date.now();
    const writeOptions = options.timeoutMs === undefined ? [] : [{ timeoutMs: options.timeoutMs }];
    const error = await runtime.states
      .consume('a-state-that-hangs', Date.now() + 60_000, 'consumer', ...writeOptions)
      .catch((caught: unknown) => caught);
    return { error, elapsedMs: Date.now() - started };
  }

  afterEach(() => {
    process.env = { ...saved };
  });

  it('gives up on a DynamoDB call that never answers, as a transient store error', async () => {
    const { error, elapsedMs } = await consumeAgainstHangingDynamoDb({ maxAttempts: '1' });

    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(elapsedMs).toBeLessThan(5000);
  });

  it('issue 11 defect 7: bounds one DynamoDB call by two SDK attempts of at most 1.5 s each, not 3 × 3 s', async () => {
    const { error, elapsedMs } = await consumeAgainstHangingDynamoDb();

    expect(error).toBeInstanceOf(StoreUnavailableError);
    // Two request timeouts of 1 s and the SDK's backoff; the budget assumes a loaded machine adds < 1 s.
    expect(elapsedMs).toBeLessThan(3500);
  });

  it('issue 11 defect 7: abandons a write at the time limit it is given, whatever the SDK budget', async () => {
    const { error, elapsedMs } = await consumeAgainstHangingDynamoDb({ timeoutMs: 300 });

    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).awsErrorName).toBe('AbortError');
    // 300 ms and a loaded machine's slack; without the deadline this takes two full attempts (> 2 s).
    expect(elapsedMs).toBeLessThan(1500);
  });
});
