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

  afterEach(() => {
    process.env = { ...saved };
  });

  it('gives up on a DynamoDB call that never answers, as a transient store error', async () => {
    process.env['AWS_ENDPOINT_URL_DYNAMODB'] = hanging.url;
    process.env['AWS_MAX_ATTEMPTS'] = '1';
    const runtime = testRuntime();
    const started = Date.now();

    const error = await runtime.states
      .consume('a-state-that-hangs', Date.now() + 60_000, 'consumer')
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('issue 11 defect 7: bounds one DynamoDB call by two SDK attempts of at most 1.5 s each, not 3 × 3 s', async () => {
    process.env['AWS_ENDPOINT_URL_DYNAMODB'] = hanging.url;
    delete process.env['AWS_MAX_ATTEMPTS'];
    const runtime = testRuntime();
    const started = Date.now();

    const error = await runtime.states.consume('a-state-that-hangs', Date.now() + 60_000, 'consumer').catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(StoreUnavailableError);
    // Two request timeouts of 1 s and the SDK's backoff; the budget assumes a loaded machine adds < 1 s.
    expect(Date.now() - started).toBeLessThan(3500);
  });

  it('issue 11 defect 7: abandons a write at the time limit it is given, whatever the SDK budget', async () => {
    process.env['AWS_ENDPOINT_URL_DYNAMODB'] = hanging.url;
    delete process.env['AWS_MAX_ATTEMPTS'];
    const runtime = testRuntime();
    const started = Date.now();

    const error = await runtime.states
      .consume('a-state-that-hangs', Date.now() + 60_000, 'consumer', { timeoutMs: 300 })
      .catch((caught: unknown) => caught);

    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).awsErrorName).toBe('AbortError');
    // 300 ms and a loaded machine's slack; without the deadline this takes two full attempts (> 2 s).
    expect(Date.now() - started).toBeLessThan(1500);
  });
});
