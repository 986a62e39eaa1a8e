import { createHash } from 'node:crypto';

import { escapeHtml, htmlPage, jsonResponse, redirect } from '../../../../lib/http';
import { PAGE_STYLE, PAGE_STYLE_HASH, PRODUCT_NAME } from '../../../../lib/http/responses';

describe('escapeHtml', () => {
  it('escapes the five characters that matter in HTML text and quoted attributes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('leaves ordinary text alone', () => {
    expect(escapeHtml('Reference 1b2c-3d')).toBe('Reference 1b2c-3d');
  });
});

describe('htmlPage', () => {
  it('renders the product, an escaped title and message, what to do next, the HTTP status and the reference id, not cacheable', () => {
    const page = htmlPage({ status: 403, title: 'No <entry>', message: 'Say "hi" & go', next: 'Go <back>', referenceId: 'ref-<1>' });

    expect(page.statusCode).toBe(403);
    expect(page.headers).toEqual({ 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    expect(page.body).toContain('<title>No &lt;entry&gt;</title>');
    expect(page.body).toContain(`<div class="product">${PRODUCT_NAME}</div><h1>No &lt;entry&gt;</h1>`);
    expect(page.body).toContain('<p class="message">Say &quot;hi&quot; &amp; go</p>');
    expect(page.body).toContain('<p class="next"><strong>What to do next:</strong> Go &lt;back&gt;</p>');
    expect(page.body).toContain('<p class="ref">HTTP 403 Forbidden \u00b7 Reference: <code>ref-&lt;1&gt;</code></p>');
    expect(page.body).toContain('<meta name="viewport" content="width=device-width, initial-scale=1">');
  });

  it('says what to do next by the status when the caller does not: try again for a 5xx, quote the reference for a 4xx', () => {
    expect(htmlPage({ status: 503, title: 'Down', message: 'Down' }).body).toMatch(/<p class="next"><strong>What to do next:<\/strong> Wait a minute and try again\./);
    expect(htmlPage({ status: 400, title: 'Bad', message: 'Bad' }).body).toMatch(/<p class="next"><strong>What to do next:<\/strong> If you need help, contact/);
  });

  it('carries one inline stylesheet, whose hash is the CSP source, and nothing to fetch or run', () => {
    const { body } = htmlPage({ status: 400, title: 'Bad', message: 'Bad', referenceId: 'ref-1' });
    const styles = [...body.matchAll(/<style>([^<]*)<\/style>/g)].map((match) => match[1]);

    expect(styles).toEqual([PAGE_STYLE]);
    expect(PAGE_STYLE_HASH).toBe(`'sha256-${createHash('sha256').update(styles[0] as string).digest('base64')}'`);
    expect(body).not.toMatch(/<script|<img|<link|<iframe|\sstyle=|url\(|@import/i);
  });

  it('omits the reference line when there is none', () => {
    expect(htmlPage({ status: 404, title: 'Not found', message: 'Nothing' }).body).not.toContain('Reference');
  });
});

describe('redirect and jsonResponse', () => {
  it('redirects with a 302, no body and no caching', () => {
    expect(redirect('https://www.wix.com/installer/install?appId=a')).toEqual({
      statusCode: 302,
      headers: { Location: 'https://www.wix.com/installer/install?appId=a', 'Cache-Control': 'no-store' },
      body: '',
    });
  });

  it('answers JSON with its content type', () => {
    const answer = jsonResponse(200, { outcome: 'applied' });

    expect(answer.headers['Content-Type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(answer.body)).toEqual({ outcome: 'applied' });
  });
});
