import { APP_INSTANCE_PATH, startWixSimulator, type WixSimulator } from '../../../../infra/local/wix-simulator';

/** The simulator's one authenticated Wix API route (issue 13), kept apart from the OAuth tests. */

const APP = { appId: '11111111-1111-4111-8111-111111111111', appSecret: 'secret-one' };
const START = Date.UTC(2025, 0, 1, 12, 0, 0);

let sim: WixSimulator;
let clock: number;

async function mint(instanceId: string): Promise<string> {
  const response = await fetch(`${sim.url}/oauth2/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ grant_type: 'client_credentials', client_id: APP.appId, client_secret: APP.appSecret, instance_id: instanceId }),
  });
  return ((await response.json()) as { access_token: string }).access_token;
}

async function appInstance(authorization?: string, method = 'GET'): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${sim.url}${APP_INSTANCE_PATH}`, { method, headers: authorization === undefined ? {} : { authorization } });
  return { status: response.status, body: await response.json().catch(() => undefined) };
}

beforeEach(async () => {
  clock = START;
  sim = await startWixSimulator({ apps: [APP], now: () => clock });
});

afterEach(async () => {
  await sim.stop();
});

describe('GET /apps/v1/instance', () => {
  it('answers the instance for a live access token sent bare', async () => {
    const instanceId = sim.install(APP.appId);
    const token = await mint(instanceId);

    expect(await appInstance(token)).toEqual({ status: 200, body: { instance: { instanceId, appId: APP.appId } } });
  });

  it('answers 401 without a token, for an unknown one, a Bearer-prefixed one, an expired one and after uninstall', async () => {
    const instanceId = sim.install(APP.appId);
    const token = await mint(instanceId);

    expect((await appInstance()).status).toBe(401);
    expect((await appInstance('OauthNG.JWS.not-issued')).status).toBe(401);
    expect((await appInstance(`Bearer ${token}`)).status).toBe(401);
    clock += 4 * 3600_000 + 1000;
    expect((await appInstance(token)).status).toBe(401);

    clock = START;
    const fresh = await mint(instanceId);
    expect((await appInstance(fresh)).status).toBe(200);
    sim.uninstall(APP.appId, instanceId);
    expect((await appInstance(fresh)).status).toBe(401);
  });

  it('answers only GET', async () => {
    const token = await mint(sim.install(APP.appId));

    expect((await appInstance(token, 'POST')).status).toBe(405);
  });
});
