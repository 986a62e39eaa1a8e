import { escapeHtml, htmlPage, jsonResponse, redirect } from '../../../../lib/http';

describe('escapeHtml', () => {
  it('escapes the five characters that matter in HTML text and quoted attributes', () => {
    expect(escapeHtml(`<a href="x" title='y'>&</a>`)).toBe('&lt;a href=&quot;x&quot; title=&#39;y&#39;&gt;&amp;&lt;/a&gt;');
  });

  it('leaves ordinary text alone', () => {
    expect(escapeHtml('Reference 1b2c-3d')).toBe('Reference 1b2c-3d');
  });
});

describe('htmlPage', () => {
  it('renders the status, an escaped title and message, and the reference id, not cacheable', () => {
    const page = htmlPage({ status: 403, title: 'No <entry>', message: 'Say "hi" & go', referenceId: 'ref-<1>' });

    expect(page.statusCode).toBe(403);
    expect(page.headers).toEqual({ 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
    expect(page.body).toContain('<title>No &lt;entry&gt;</title>');
    expect(page.body).toContain('<p>Say &quot;hi&quot; &amp; go</p>');
    expect(page.body).toContain('Reference: <code>ref-&lt;1&gt;</code>');
    expect(page.body).not.toMatch(/<script|<style|<img|<link/i);
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
