import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdirSync, rmSync } from 'node:fs';
import { createServer, STATUS_CODES, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';

import type { LambdaClient } from '@aws-sdk/client-lambda';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';

import { PROJECT_ROOT, type LocalStack } from '../../infra/local/stack';
import { WixSimulatorPaths, type WixSimulator, wixFaults } from '../../infra/local/wix-simulator';
import { createTokenClient } from '../../lib/client';
import { PRODUCT_NAME } from '../../lib/http/responses';
import type { AppCredentials } from '../../lib/secrets';
import { INSTALL_STATE_TTL_MS, issueInstallState } from '../../lib/tokens/install-state';
import { startE2eStack } from '../support/e2e-stack';
import { copyService, type ServiceCopy } from '../support/service-copy';

/**
 * The install handshake as a site owner meets it, in a real browser: Debian's Chromium, driven by
 * playwright-core, through the local stack (serverless-offline, DynamoDB Local, the Secrets
 * Manager stand-in, the Wix simulator with its consent page), all on loopback ports of their own.
 *
 * The App URL is opened directly and inside an iframe of another origin (a page this test serves
 * on another loopback port, as a dashboard would embed it); the simulator's installer asks for
 * consent and the browser clicks Allow; the callback stores the tokens and sends the browser on to
 * close-window with the access token. Every error page the install can show is then opened, checked
 * for its HTTP status text, its reference id (the one its log line carries) and its styling, and
 * screenshotted into test-artifacts/browser-install/.
 */

const START_TIMEOUT_MS = 150_000;
const ARTIFACTS = join(PROJECT_ROOT, 'test-artifacts', 'browser-install');
/** A phone's viewport (CSS pixels), for the error pages. */
const PHONE = { width: 390, height: 844 };
/** The install pages' accent colour (lib/http/responses.ts PAGE_STYLE), as the browser computes it. */
const PAGE_ACCENT = 'rgb(185, 28, 28)';

let service: ServiceCopy;
let stack: LocalStack;
let simulator: WixSimulator;
let lambda: LambdaClient;
let browser: Browser;
let desktop: BrowserContext;
let phone: BrowserContext;
let framer: Server;
let framerUrl: string;
/** serverless-offline's output (the functions' logs): where each page's reference id is looked up. */
let output = '';
/** The callback URL of the install completed directly, for the reused-state page. */
let completedCallback: string | undefined;

/** Debian's chromium, or a failure that says how to get it. */
function chromiumPath(): string {
  try {
    return execFileSync('which', ['chromium'], { encoding: 'utf8' }).trim();
  } catch {
    throw new Error('chromium is not installed: `apt-get install -y chromium` (.ci/run installs it when it is missing)');
  }
}

/** Serves `/embed?src=<url>`: a page of another origin that frames `src`, as a site's dashboard would. */
async function startFramer(): Promise<Server> {
  const server = createServer((req, res) => {
    const src = new URL(req.url ?? '/', 'http://framer.invalid').searchParams.get('src') ?? 'about:blank';
    const escaped = src.replace(/&/g, '&amp;').replace(/"/g, '&quot;').replace(/</g, '&lt;');
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' });
    res.end(
      '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>Site dashboard</title></head>' +
        `<body><h1>Site dashboard</h1><iframe name="install" src="${escaped}" width="720" height="560"></iframe></body></html>`,
    );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return server;
}

/** A state for the demo app signed as GET /install signs it, with the given secret and clock. */
function signedState(appSecret: string, now: number): Promise<string> {
  const credentials = { appId: stack.app.appId, appSecret } as AppCredentials;
  return issueInstallState({ secrets: { get: async () => credentials, getPrevious: async () => undefined }, appIds: [stack.app.appId], now: () => now }, stack.app.appId);
}

/** A fresh, unconsumed state from the service's own App URL (the browser never takes it to Wix). */
async function freshState(): Promise<string> {
  const response = await fetch(`${stack.urls.public}/install`, { redirect: 'manual', signal: AbortSignal.timeout(20_000) });
  const state = new URL(response.headers.get('location') ?? '').searchParams.get('state');
  if (state === null) throw new Error(`GET /install gave no state (status ${response.status})`);
  return state;
}

interface SeenRequest {
  url: string;
  /** Every header Chromium sent, Sec-Fetch-* and Cookie included. */
  headers: Record<string, string>;
  setCookie?: string;
}

/** The first GET /install and GET /oauth/callback a page (or its frames) makes, with the headers sent and the cookie set. */
function watchInstallRequests(page: Page): { install: Promise<SeenRequest>; callback: Promise<SeenRequest> } {
  const first = (path: string) =>
    new Promise<SeenRequest>((resolve) => {
      const onResponse = (response: import('playwright-core').Response) => {
        if (new URL(response.url()).pathname !== path) return;
        page.off('response', onResponse);
        void (async () => {
          const headers = await response.request().allHeaders();
          const setCookie = (await response.headerValue('set-cookie')) ?? undefined;
          resolve({ url: response.url(), headers, ...(setCookie === undefined ? {} : { setCookie }) });
        })();
      };
      page.on('response', onResponse);
    });
  return { install: first('/install'), callback: first('/oauth/callback') };
}

function callbackUrl(params: Record<string, string>): string {
  return `${stack.urls.public}/oauth/callback?${new URLSearchParams(params).toString()}`;
}

/** Waits until `check` holds, polling; fails with `what` after `timeoutMs`. */
async function eventually(check: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

beforeAll(async () => {
  const executablePath = chromiumPath();
  rmSync(ARTIFACTS, { recursive: true, force: true });
  mkdirSync(ARTIFACTS, { recursive: true });
  service = await copyService('browser');
  ({ stack, simulator, lambda } = await startE2eStack({ serviceDir: service.dir, wixConsentPage: true }, (text) => {
    output = (output + text).slice(-256_000);
  }));
  framer = await startFramer();
  framerUrl = `http://127.0.0.1:${(framer.address() as AddressInfo).port}`;
  browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-background-networking'] });
  desktop = await browser.newContext({ viewport: { width: 1000, height: 720 } });
  phone = await browser.newContext({ viewport: PHONE, isMobile: true, hasTouch: true, deviceScaleFactor: 2 });
}, START_TIMEOUT_MS);

afterAll(async () => {
  await browser?.close();
  lambda?.destroy();
  await new Promise<void>((resolve) => (framer ? framer.close(() => resolve()) : resolve()));
  await stack?.stop();
  await service?.remove();
}, 30_000);

describe('the install in a browser (Chromium), through the local stack', () => {
  it('opened directly: App URL, the installer asks for consent, Allow, the callback, close-window with the issued access token, stored for mint', async () => {
    const page = await desktop.newPage();
    const callbacks: Array<{ url: string; status: number; location: string | undefined }> = [];
    page.on('response', (response) => {
      if (new URL(response.url()).pathname === '/oauth/callback') {
        callbacks.push({ url: response.url(), status: response.status(), location: response.headers()['location'] });
      }
    });

    const seen = watchInstallRequests(page);
    await page.goto(`${stack.urls.public}/install?token=${randomUUID()}`);
    const consent = new URL(page.url());
    await page.screenshot({ path: join(ARTIFACTS, 'consent.png') });
    await page.getByRole('button', { name: 'Allow' }).click();
    await page.waitForURL((url) => url.pathname === WixSimulatorPaths.closeWindow);
    const closeWindow = new URL(page.url());
    const accessToken = closeWindow.searchParams.get('access_token') ?? '';

    expect(`${consent.origin}${consent.pathname}`).toBe(`${stack.urls.wixInstaller}${WixSimulatorPaths.install}`);
    expect(callbacks).toHaveLength(1);
    const callback = callbacks[0] as (typeof callbacks)[number];
    expect(callback.status).toBe(302);
    expect(callback.location).toBe(closeWindow.href);
    expect(`${closeWindow.origin}${closeWindow.pathname}`).toBe(`${stack.urls.wixInstaller}${WixSimulatorPaths.closeWindow}`);
    expect(simulator.issuedSecrets()).toContain(accessToken);
    expect(simulator.closedWindows).toEqual([accessToken]);
    await expect(page.locator('h1').textContent()).resolves.toBe('Installation complete');
    // The refresh token was stored before close-window (DESIGN.md): mint serves the instance now.
    const instanceId = new URL(callback.url).searchParams.get('instanceId') as string;
    expect(simulator.isInstalled(stack.app.appId, instanceId)).toBe(true);
    const minted = await createTokenClient({ functionName: stack.functionNames.mint, lambda }).getAccessToken(instanceId);
    expect(simulator.issuedSecrets()).toContain(minted.accessToken);
    completedCallback = callback.url;
    // Chromium said it was a top-level navigation, got the state's cookie, and sent it back after
    // the round trip through the installer (another port): the state was bound and held.
    const started = await seen.install;
    expect(started.headers['sec-fetch-dest']).toBe('document');
    expect(started.headers['sec-fetch-mode']).toBe('navigate');
    expect(started.setCookie).toMatch(/^wts-install-[A-Za-z0-9_-]{16}=/);
    expect(new URL(callback.url).searchParams.get('state')).toMatch(/^v2\.[^.]+\.[^.]+\.\d+\.b\./);
    expect((await seen.callback).headers['cookie']).toContain((started.setCookie ?? '').split(';')[0]);
    await page.close();
  }, 60_000);

  it('a leaked callback URL opened in another browser is refused and spends nothing; the site owner\u2019s browser then completes it', async () => {
    const page = await desktop.newPage();
    let leaked: string | undefined;
    await page.goto(`${stack.urls.public}/install?token=${randomUUID()}`);
    // Playwright does not route a redirect's next hop: take the callback URL off the installer's
    // answer to Allow, and keep the browser from following it (as if it leaked on the way).
    const installer = new URL(stack.urls.wixInstaller).origin;
    await page.route(
      (url) => url.origin === installer,
      async (route) => {
        const response = await route.fetch({ maxRedirects: 0 });
        const location = response.headers()['location'];
        if (location !== undefined && new URL(location, installer).pathname === '/oauth/callback') {
          leaked = new URL(location, installer).href;
          await route.abort();
        } else {
          await route.fulfill({ response });
        }
      },
    );
    await page.getByRole('button', { name: 'Allow' }).click();
    await eventually(() => leaked !== undefined, 'the intercepted callback');
    await page.unrouteAll();
    const issuedBefore = simulator.issuedSecrets().length;

    const other = await phone.newPage();
    const refused = await other.goto(leaked as string);
    const refusedText = await other.locator('.message').textContent();
    await other.close();
    const issuedAfterRefusal = simulator.issuedSecrets().length;
    await page.goto(leaked as string);
    await page.waitForURL((url) => url.pathname === WixSimulatorPaths.closeWindow);

    expect(refused?.status()).toBe(403);
    expect(refusedText).toMatch(/started in another browser/);
    expect(issuedAfterRefusal).toBe(issuedBefore);
    await expect(page.locator('h1').textContent()).resolves.toBe('Installation complete');
    await page.close();
  }, 60_000);

  it('inside an iframe of another origin: the same consent, Allow in the frame, close-window in the frame with the token', async () => {
    const page = await desktop.newPage();
    const appUrl = `${stack.urls.public}/install?token=${randomUUID()}`;
    const closedBefore = simulator.closedWindows.length;

    const seen = watchInstallRequests(page);
    await page.goto(`${framerUrl}/embed?src=${encodeURIComponent(appUrl)}`);
    const frame = page.frameLocator('iframe[name="install"]');
    await frame.getByRole('button', { name: 'Allow' }).click();
    const installFrame = page.frame({ name: 'install' });
    if (installFrame === null) throw new Error('the install iframe is gone');
    await installFrame.waitForURL((url) => url.pathname === WixSimulatorPaths.closeWindow);
    const closeWindow = new URL(installFrame.url());
    await page.screenshot({ path: join(ARTIFACTS, 'iframe-close-window.png') });

    expect(new URL(framerUrl).origin).not.toBe(new URL(stack.urls.public).origin);
    expect(new URL(page.url()).origin).toBe(new URL(framerUrl).origin);
    expect(`${closeWindow.origin}${closeWindow.pathname}`).toBe(`${stack.urls.wixInstaller}${WixSimulatorPaths.closeWindow}`);
    expect(simulator.closedWindows.slice(closedBefore)).toEqual([closeWindow.searchParams.get('access_token')]);
    expect(simulator.issuedSecrets()).toContain(closeWindow.searchParams.get('access_token'));
    await expect(installFrame.locator('h1').textContent()).resolves.toBe('Installation complete');
    // Chromium said it was framed: the state is unbound, no cookie was set, and none was needed.
    const started = await seen.install;
    expect(started.headers['sec-fetch-dest']).toBe('iframe');
    expect(started.setCookie).toBeUndefined();
    expect(new URL((await seen.callback).url).searchParams.get('state')).toMatch(/^v2\.[^.]+\.[^.]+\.\d+\.u\./);
    await page.close();
  }, 60_000);

  describe('every error page the install can show, on a phone', () => {
    /**
     * Opens `url`, checks the page is ours (product, title, message, what next), says its HTTP
     * status with its text and a reference id that its log line carries, is styled (the inline
     * stylesheet passed the CSP) and fits a phone's width, and screenshots it.
     */
    async function openErrorPage(name: string, url: string, expected: { status: number; title: string; message: RegExp }): Promise<void> {
      const page = await phone.newPage();
      // Chromium reports a CSP refusal on the console; the page's own 4xx/5xx status is reported there too, and is expected.
      const refusals: string[] = [];
      page.on('console', (message) => {
        if (/Content Security Policy|Refused to/i.test(message.text())) refusals.push(message.text());
      });
      const requested: string[] = [];
      page.on('request', (request) => requested.push(request.url()));

      const response = await page.goto(url);
      const ref = (await page.locator('.ref').textContent()) ?? '';
      const referenceId = /Reference: (\S+)$/.exec(ref)?.[1] ?? '';
      await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: true });

      expect(response?.status()).toBe(expected.status);
      expect(ref).toBe(`HTTP ${expected.status} ${STATUS_CODES[expected.status]} \u00b7 Reference: ${referenceId}`);
      expect(referenceId).toMatch(/^[0-9a-zA-Z-]{8,}$/);
      await eventually(() => output.includes(`"referenceId":"${referenceId}"`), `the log line of ${name} with its reference id`);
      await expect(page.title()).resolves.toBe(expected.title);
      await expect(page.locator('.product').textContent()).resolves.toBe(PRODUCT_NAME);
      await expect(page.locator('h1').textContent()).resolves.toBe(expected.title);
      expect(await page.locator('.message').textContent()).toMatch(expected.message);
      expect(await page.locator('.next').textContent()).toMatch(/^What to do next: \S/);
      // Styled: the inline stylesheet was allowed by the CSP hash, and nothing else was needed.
      // (Strings, evaluated in the page: this project's TypeScript has no DOM types.)
      await expect(page.evaluate("getComputedStyle(document.querySelector('main')).borderTopColor")).resolves.toBe(PAGE_ACCENT);
      await expect(page.evaluate('document.documentElement.scrollWidth <= window.innerWidth')).resolves.toBe(true);
      expect(refusals).toEqual([]);
      expect(requested).toEqual([url]);
      await page.close();
    }

    it('missing state: 400', async () => {
      await openErrorPage('missing-state', callbackUrl({ code: 'any-code', instanceId: randomUUID() }), {
        status: 400,
        title: 'Bad request',
        message: /has no state/,
      });
    }, 30_000);

    it('forged state (signed with another key): 403', async () => {
      const forged = await signedState('not-the-app-secret', Date.now());

      await openErrorPage('forged-state', callbackUrl({ code: 'any-code', state: forged, instanceId: randomUUID() }), {
        status: 403,
        title: 'Installation refused',
        message: /could not be verified/,
      });
    }, 30_000);

    it('expired state: 403', async () => {
      const expired = await signedState(stack.app.appSecret, Date.now() - INSTALL_STATE_TTL_MS - 60_000);

      await openErrorPage('expired-state', callbackUrl({ code: 'any-code', state: expired, instanceId: randomUUID() }), {
        status: 403,
        title: 'Installation refused',
        message: /has expired/,
      });
    }, 30_000);

    it('reused state (the completed install\u2019s callback opened again): 403', async () => {
      expect(completedCallback).toBeDefined();
      // The same browser (its cookies): a reload, not another browser.
      await phone.addCookies(await desktop.cookies());

      await openErrorPage('reused-state', completedCallback as string, { status: 403, title: 'Installation refused', message: /already used/ });
    }, 30_000);

    it('a code Wix refuses: 400', async () => {
      await openErrorPage('code-refused', callbackUrl({ code: 'a-code-wix-never-issued', state: await freshState(), instanceId: randomUUID() }), {
        status: 400,
        title: 'Installation refused',
        message: /Wix did not accept this installation/,
      });
    }, 30_000);

    it('Wix unavailable: 503', async () => {
      const state = await freshState();
      simulator.intercept(wixFaults.status(503, { path: WixSimulatorPaths.legacyAccess, rate: 1 }));
      try {
        await openErrorPage('wix-unavailable', callbackUrl({ code: 'any-code', state, instanceId: randomUUID() }), {
          status: 503,
          title: 'Temporarily unavailable',
          message: /Wix could not be reached/,
        });
      } finally {
        simulator.clearIntercepts();
      }
    }, 30_000);

    it('a malformed callback (no code): 400', async () => {
      await openErrorPage('no-code', callbackUrl({ state: await freshState(), instanceId: randomUUID() }), {
        status: 400,
        title: 'Bad request',
        message: /The request is not valid: code is missing\./,
      });
    }, 30_000);
  });
});
