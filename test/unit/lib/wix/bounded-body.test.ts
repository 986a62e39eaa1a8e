import { randomUUID } from 'node:crypto';

import { demoAppSecret } from '../../../../infra/local/demo-app';
import { MAX_WIX_BODY_BYTES } from '../../../../lib/wix/bounded-body';
import { createWixClient, WixMalformedResponseError, WixOAuthError, WixResponseTooLargeError, type FetchLike } from '../../../../lib/wix';
import { rejectionOfType } from '../../../support/failures';

const app = demoAppSecret(randomUUID());

/** A 200 whose body streams 16 KiB chunks without end (no content-length); counts what was pulled. */
function endlessFetch(pulled: { chunks: number }, headers: Record<string, string> = {}): FetchLike {
  return async () => {
    const chunk = new Uint8Array(16 * 1024).fill(0x20);
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        pulled.chunks += 1;
        controller.enqueue(chunk);
      },
    });
    return new Response(body, { status: 200, headers: { 'content-type': 'application/json', ...headers } });
  };
}

const caught = (promise: Promise<unknown>): Promise<WixOAuthError> => rejectionOfType(WixOAuthError, promise);

describe('issue 17: bodies from Wix are read with a size cap', () => {
  it('stops reading an endless body past 64 KiB and answers a typed, unusable-answer error', async () => {
    const pulled = { chunks: 0 };
    const wix = createWixClient({ baseUrl: 'http://wix.invalid', fetch: endlessFetch(pulled), maxAttempts: 1 });

    const error = await caught(wix.exchangeCode(app, 'code-1'));

    expect(error).toBeInstanceOf(WixResponseTooLargeError);
    expect(error).toBeInstanceOf(WixMalformedResponseError);
    expect(error.code).toBe('WIX_RESPONSE_TOO_LARGE');
    expect(error.retryable).toBe(true);
    expect(error.message).toContain(`over ${MAX_WIX_BODY_BYTES} bytes`);
    // Cancelled at the cap (plus what the stream had queued ahead), never read to the end.
    expect(pulled.chunks).toBeLessThan(MAX_WIX_BODY_BYTES / (16 * 1024) + 4);
  });

  it('refuses a declared content-length over the cap before reading any of it', async () => {
    const pulled = { chunks: 0 };
    const wix = createWixClient({ baseUrl: 'http://wix.invalid', fetch: endlessFetch(pulled, { 'content-length': String(10 * 1024 * 1024) }), maxAttempts: 1 });

    const error = await caught(wix.exchangeCode(app, 'code-1'));

    expect(error).toBeInstanceOf(WixResponseTooLargeError);
    expect(pulled.chunks).toBeLessThanOrEqual(1);
  });

  it('still reads a body just under the cap (an error answer is judged as before)', async () => {
    const padding = 'x'.repeat(MAX_WIX_BODY_BYTES - 200);
    const fetch: FetchLike = async () =>
      new Response(JSON.stringify({ error: 'invalid_grant', error_description: padding }), { status: 400, headers: { 'content-type': 'application/json' } });
    const wix = createWixClient({ baseUrl: 'http://wix.invalid', fetch, maxAttempts: 1 });

    const error = await caught(wix.exchangeCode(app, 'code-1'));

    expect(error).not.toBeInstanceOf(WixResponseTooLargeError);
    expect(error.error).toBe('invalid_grant');
  });
});
