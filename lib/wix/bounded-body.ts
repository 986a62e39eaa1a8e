/**
 * Reading a Wix response body with a byte limit. Wix's OAuth answers are JSON of well under 4 KiB
 * (a token response is two JWT-sized strings and a few numbers; an error is a code and a sentence),
 * so 64 KiB leaves sixteen times that margin while keeping what a broken or hostile endpoint (a
 * proxy's HTML page, an endless stream) can make a Lambda hold in memory small. `response.text()`
 * would buffer whatever arrives until the attempt's timeout.
 */
export const MAX_WIX_BODY_BYTES = 64 * 1024;

/**
 * The body as text (UTF-8, as `response.text()` decodes it), or undefined once it is longer than
 * `maxBytes`: the stream is cancelled there, so the rest is never downloaded.
 */
export async function readBoundedText(response: Response, maxBytes: number = MAX_WIX_BODY_BYTES): Promise<string | undefined> {
  const declared = Number(response.headers.get('content-length') ?? NaN);
  if (Number.isFinite(declared) && declared > maxBytes) {
    await response.body?.cancel().catch(() => undefined);
    return undefined;
  }
  if (response.body === null) return '';
  const reader = response.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => undefined);
      return undefined;
    }
    chunks.push(value);
  }
  return new TextDecoder().decode(Buffer.concat(chunks));
}
