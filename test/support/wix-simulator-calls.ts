/**
 * Calls to the Wix simulator as a client would make them, and a simulator started afresh for
 * every test on a clock the test moves, for the simulator's own tests.
 */
import { startWixSimulator, type WixSimulator, type WixSimulatorOptions } from '../../infra/local/wix-simulator';

export const APP = { appId: '11111111-1111-4111-8111-111111111111', appSecret: 'secret-one' };
export const OTHER_APP = { appId: '22222222-2222-4222-8222-222222222222', appSecret: 'secret-two' };
export const START = Date.UTC(2025, 0, 1, 12, 0, 0);

export interface Answer {
  status: number;
  headers: Headers;
  text: string;
  json: Record<string, unknown>;
}

export async function post(
  sim: WixSimulator,
  route: string,
  body: unknown,
  init: { contentType?: string; signal?: AbortSignal; raw?: string } = {},
): Promise<Answer> {
  const response = await fetch(`${sim.url}${route}`, {
    method: 'POST',
    headers: { 'content-type': init.contentType ?? 'application/json' },
    body: init.raw ?? JSON.stringify(body),
    ...(init.signal ? { signal: init.signal } : {}),
  });
  return read(response);
}

export async function get(sim: WixSimulator, route: string, method = 'GET'): Promise<Answer> {
  return read(await fetch(`${sim.url}${route}`, { method, redirect: 'manual' }));
}

export async function read(response: Response): Promise<Answer> {
  const text = await response.text();
  let json: Record<string, unknown> = {};
  try {
    json = JSON.parse(text) as Record<string, unknown>;
  } catch {
    // not every answer is JSON; tests that care look at `text`
  }
  return { status: response.status, headers: response.headers, text, json };
}

export function exchangeCode(sim: WixSimulator, code: string, app = APP): Promise<Answer> {
  return grant(sim, '/oauth/access', 'authorization_code', app, { code });
}

export function refresh(sim: WixSimulator, refreshToken: string, app = APP): Promise<Answer> {
  return grant(sim, '/oauth/access', 'refresh_token', app, { refresh_token: refreshToken });
}

export function clientCredentials(sim: WixSimulator, instanceId: string, app = APP): Promise<Answer> {
  return grant(sim, '/oauth2/token', 'client_credentials', app, { instance_id: instanceId });
}

function grant(sim: WixSimulator, route: string, grantType: string, app: typeof APP, fields: Record<string, string>): Promise<Answer> {
  return post(sim, route, { grant_type: grantType, client_id: app.appId, client_secret: app.appSecret, ...fields });
}

export function tokenInfo(sim: WixSimulator, token: string): Promise<Answer> {
  return post(sim, '/oauth2/token-info', { token });
}

/** The simulator a test runs against: `sim` is replaced by each test's own, `clock` is its `now`. */
export interface SimulatorPerTest {
  sim: WixSimulator;
  clock: number;
  /** Stops the current simulator and starts one with these options (the clock stays). */
  restart(options?: WixSimulatorOptions): Promise<void>;
}

/** Starts a simulator knowing {@link APP}, clock at {@link START}, before each test and stops it after. */
export function simulatorPerTest(): SimulatorPerTest {
  const running = {
    clock: START,
    async restart(options: WixSimulatorOptions = {}): Promise<void> {
      await running.sim.stop();
      running.sim = await startWixSimulator({ apps: [APP], now: () => running.clock, ...options });
    },
  } as SimulatorPerTest;
  beforeEach(async () => {
    running.clock = START;
    running.sim = await startWixSimulator({ apps: [APP], now: () => running.clock });
  });
  afterEach(async () => {
    await running.sim.stop();
  });
  return running;
}

/** Asserts that stop() fails the pending `request` and returns promptly. */
export async function expectStopToCutShort(request: Promise<unknown>, sim: WixSimulator): Promise<void> {
  const outcome = request.then(
    () => 'answered',
    () => 'failed',
  );
  await new Promise((resolve) => setTimeout(resolve, 50));

  const started = Date.now();
  await sim.stop();

  expect(await outcome).toBe('failed');
  expect(Date.now() - started).toBeLessThan(1000);
}

export function isJson(text: string): boolean {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
}
